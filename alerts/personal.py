"""Personal notices: one message for named recipients (library holds, watch-over, group posts), not an alert
for an area. `queue_personal` writes one outbox row per contact of each recipient subscriber in the caller's
transaction (kind = the notice kind, payload sealed); the worker composes them with `personal_delivery`.
They carry no alert id, so the once-per-(alert, subscriber, channel) index does not apply: callers keep
their own record of what they queued (a hold's reminder, an event id)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from alerts.channels import Delivery
from alerts.outbox import Claimed
from machihub.clock import Clock
from machihub.db import Tx
from machihub.sealing import Sealer


def queue_personal(tx: Tx, sealer: Sealer, clock: Clock, subscriber_ids: Sequence[int], kind: str, subject: str,
                   body: str, *, url: str = "", priority: int = 5, urgent: bool = False) -> list[int]:
    """Outbox rows for every contact of the given active subscribers (suppressed addresses skipped).
    Returns the row ids, so a caller can cancel what is still queued."""
    if not subscriber_ids:
        return []
    now = clock.iso()
    payload = sealer.seal(json.dumps({"subject": subject, "body": body, "url": url, "urgent": urgent},
                                     ensure_ascii=False))
    marks = ", ".join("?" for _ in subscriber_ids)
    rows = tx.query(
        "SELECT c.id AS cid, c.kind, s.id AS sid FROM al_contacts c JOIN al_subscribers s ON s.id = c.subscriber_id"
        f" WHERE s.status = 'active' AND s.id IN ({marks})"
        " AND NOT EXISTS (SELECT 1 FROM al_suppressions x WHERE x.address_hash = c.address_hash) ORDER BY c.id",
        list(subscriber_ids))
    return [tx.insert("INSERT INTO al_outbox (subscriber_id, contact_id, channel, kind, payload_sealed, state,"
                      " priority, due, created) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                      (r["sid"], r["cid"], r["kind"], kind, payload, priority, now, now)) for r in rows]


def cancel_queued(tx: Tx, row_ids: Sequence[int]) -> int:
    if not row_ids:
        return 0
    marks = ", ".join("?" for _ in row_ids)
    return tx.execute(f"UPDATE al_outbox SET state = 'cancelled' WHERE state = 'queued' AND id IN ({marks})",
                      list(row_ids)).rowcount


def personal_delivery(row: Claimed, data: dict[str, Any], target: str) -> Delivery | dict[str, Any]:
    """Web Push and webhook deliveries of a personal notice; for e-mail, the payload with its 'to' filled in
    (the mail itself is built like every other one-off notice)."""
    if row.channel == "webpush":
        body = json.dumps({"title": data["subject"], "body": data["body"], "url": data.get("url") or "",
                           "kind": row.kind}, ensure_ascii=False).encode()
        return Delivery(row, json.loads(target), body, {"ttl": 86400, "urgency": "high" if data.get("urgent") else "normal"})
    if row.channel == "webhook":
        body = json.dumps({"kind": row.kind, "subject": data["subject"], "body": data["body"],
                           "url": data.get("url") or ""}, ensure_ascii=False).encode()
        return Delivery(row, json.loads(target), body, {"content_type": "application/json; charset=utf-8"})
    return {**data, "to": target}
