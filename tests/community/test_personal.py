"""alerts.personal: a personal notice becomes one outbox row per contact of each active recipient, and the
worker composes it for each channel (mail via the real SMTP server; push and webhook bodies here)."""
from __future__ import annotations

import json

from alerts.outbox import Claimed
from alerts.personal import cancel_queued, personal_delivery, queue_personal
from tests.community.conftest import resident, work


def test_rows_per_contact_and_cancel(cm, smtp):
    a, b = resident(cm, "p1@example.jp"), resident(cm, "p2@example.jp")
    al = cm.alerts
    with al.db.transaction() as tx:
        ids = queue_personal(tx, al.sealer, al.clock, [a, b], "watch", "件名", "本文")
        later = queue_personal(tx, al.sealer, al.clock, [b], "library", "取消", "送らない")
        assert len(ids) == 2 and cancel_queued(tx, later) == 1
    work(cm)
    assert sorted(x for r in smtp.received for x in r.rcpt_tos) == ["p1@example.jp", "p2@example.jp"]
    assert str(smtp.received[0].message["Subject"]) == "件名"


def test_push_and_webhook_bodies():
    data = {"subject": "件名", "body": "本文", "url": "https://x.example/1", "urgent": True}
    row = Claimed(1, None, 2, 3, "webhook", "watch", 0, None, None, "ja", None)
    d = personal_delivery(row, data, json.dumps({"url": "https://hook.example", "secret": "s"}))
    assert json.loads(d.payload) == {"kind": "watch", "subject": "件名", "body": "本文", "url": "https://x.example/1"}
    push = Claimed(1, None, 2, 3, "webpush", "watch", 0, None, None, "ja", None)
    d = personal_delivery(push, data, json.dumps({"endpoint": "https://push.example/e", "keys": {}}))
    assert d.meta["urgency"] == "high" and json.loads(d.payload)["title"] == "件名"
    mail = Claimed(1, None, 2, 3, "email", "watch", 0, None, None, "ja", None)
    assert personal_delivery(mail, data, "p@example.jp")["to"] == "p@example.jp"
