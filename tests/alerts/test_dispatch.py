"""Dispatch end to end on both stores with a real SMTP server on loopback: targeting by 町丁目, town, point
and drawn area; once per subscriber; drills; two-person approval; quiet hours; relay outages; refusals."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from alerts.model import JST, AlertText
from machihub.errors import Forbidden
from machihub.principal import SYSTEM
from tests.alerts.conftest import SmtpServer, chome_alert, send

CHOME1 = (35.637363, 139.577442)      # 和泉本町一丁目
FAR = (35.621322, 139.586591)         # 駒井町三丁目, ~2 km away


def square(lat: float, lon: float, d: float = 0.0005) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                [lon - d, lat + d], [lon - d, lat - d]]]}


def population(al) -> set[str]:
    """Subscribers around 和泉本町一丁目; returns the addresses a crime warning for it must reach."""
    chome = lambda name: [{"kind": "chome", "name": name}]  # noqa: E731
    rows = [{"email": f"a{i}@example.jp", "topics": ["crime", "weather"], "areas": chome("和泉本町一丁目")} for i in range(3)]
    rows += [{"email": f"b{i}@example.jp", "topics": ["crime"], "areas": chome("和泉本町二丁目")} for i in range(3)]
    rows += [{"email": "c@example.jp", "topics": ["weather"], "areas": chome("和泉本町一丁目")},
             {"email": "d@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}]},
             {"email": "e@example.jp", "topics": ["crime"], "areas": [{"kind": "point", "lat": CHOME1[0], "lon": CHOME1[1],
                                                                   "radius_m": 300}]},
             {"email": "f@example.jp", "topics": ["crime"], "areas": [{"kind": "point", "lat": FAR[0], "lon": FAR[1],
                                                                   "radius_m": 300}]},
             {"email": "g@example.jp", "topics": ["crime"], "areas": [{"kind": "polygon", "geojson": square(*CHOME1)}]},
             {"email": "h@example.jp", "topics": ["crime"], "areas": [{"kind": "polygon", "geojson": square(*FAR)}]},
             {"email": "two@example.jp", "topics": ["crime"], "areas": chome("和泉本町一丁目") + [{"kind": "town"}]}]
    assert al.admin.import_subscribers(SYSTEM, "13219", rows) == len(rows)
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "staff@example.jp", "topics": ["crime"],
                                                   "areas": chome("中和泉一丁目")}], audience="staff")
    al.admin.import_subscribers(SYSTEM, "37201", [{"email": "takamatsu@example.jp", "topics": ["crime"],
                                                   "areas": [{"kind": "town"}]}])
    return {"a0@example.jp", "a1@example.jp", "a2@example.jp", "d@example.jp", "e@example.jp", "g@example.jp",
            "two@example.jp"}


def work(al, **kw) -> Counter:
    return asyncio.run(al.run_worker("test", until_idle=True, **kw))


def test_warning_for_one_chome_reaches_exactly_its_subscribers_once(al, smtp):
    expected = population(al)
    alert_id = send(al, chome_alert())
    assert work(al)["sent"] == len(expected)
    got = Counter(r for m in smtp.received for r in m.rcpt_tos)
    assert set(got) == expected and set(got.values()) == {1}
    for rec in smtp.received:
        msg = rec.message
        assert not msg.defects and msg["To"].addresses[0].addr_spec == rec.rcpt_tos[0]
        assert str(msg["Subject"]) == "【狛江市】不審者情報"
        assert "和泉本町一丁目付近で不審な声かけ" in msg.get_content()
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["List-Unsubscribe"].startswith("<https://portal.example.jp/alerts/u/")
        assert al.links.parse_verp(rec.mail_from) is not None          # VERP return path of that outbox row
    # nothing is sent twice: queueing again adds no rows, a second worker run sends nothing
    with al.db.transaction() as tx:
        record = al.lifecycle.get(alert_id)
        assert al.lifecycle.targeting.queue(tx, alert_id, record.alert, al.clock.now()) == 0
    assert work(al)["sent"] == 0 and len(smtp.received) == len(expected)
    stats = al.outbox.stats(alert_id)
    assert stats["sent"] == len(expected) and stats["queued"] == 0
    assert al.tick()["finished"] == 1 and al.lifecycle.get(alert_id).state == "sent"


def test_carrier_mail_and_legacy_addresses(al, smtp):
    al.admin.import_subscribers(SYSTEM, "13219", [
        {"email": "taro..yamada@docomo.ne.jp", "topics": ["crime"], "areas": [{"kind": "town"}]},
        {"email": "hanako.@ezweb.ne.jp", "topics": ["crime"], "areas": [{"kind": "town"}]}])
    send(al, chome_alert(headline="①不審者情報 ㈱ﾃｽﾄ"))
    work(al)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["hanako.@ezweb.ne.jp", "taro..yamada@docomo.ne.jp"]
    for rec in smtp.received:
        assert all(b < 128 for b in rec.data)
        msg = rec.message
        assert msg.get_content_charset() == "iso-2022-jp" and not msg.defects
        assert str(msg["Subject"]) == "【狛江市】(1)不審者情報 (株)テスト"
        assert msg.get_content().startswith("(1)不審者情報 (株)テスト")


def test_drills_never_reach_residents(al, smtp):
    population(al)
    send(al, chome_alert(status="Exercise"))
    al.lifecycle.ingest(SYSTEM, chome_alert(status="Test", headline="試験"), "jma")
    work(al)
    assert {r.rcpt_tos[0] for r in smtp.received} == {"staff@example.jp"}
    assert {str(r.message["Subject"]) for r in smtp.received} == {"【訓練】【狛江市】不審者情報", "【試験】【狛江市】試験"}


def test_two_people_approve_and_rules_for_machine_sources(al, smtp):
    t = al.towns
    population(al)
    alert_id = al.lifecycle.create(t["both"], chome_alert())
    al.lifecycle.submit(t["both"], alert_id)
    with pytest.raises(Forbidden, match="second person"):
        al.lifecycle.approve(t["both"], alert_id)
    with pytest.raises(Forbidden):
        al.lifecycle.approve(t["composer"], alert_id)
    assert al.lifecycle.approve(t["approver"], alert_id) == 7
    actions = [e["action"] for e in al.audit.entries(tenant="13219") if e["target"] == f"alert:{alert_id}"]
    assert actions == ["alert.approve", "alert.submit", "alert.create"]
    al.lifecycle.set_rule(t["komae_admin"], "13219", "jma", "crime", "Severe")
    low = al.lifecycle.ingest(SYSTEM, chome_alert(severity="Moderate"), "jma")
    high = al.lifecycle.ingest(SYSTEM, chome_alert(severity="Severe"), "jma")
    assert low[1] == "pending" and high[1] == "sending"
    assert al.lifecycle.ingest(SYSTEM, al.lifecycle.get(high[0]).alert, "jma") == (high[0], "sending")  # dedupe
    assert al.audit.verify().ok


def test_quiet_hours_hold_moderate_but_not_severe(al, smtp):
    now = al.clock.now().astimezone(JST)
    start, end = (now - timedelta(hours=1)), (now + timedelta(hours=1))
    al.admin.import_subscribers(SYSTEM, "13219", [
        {"email": "sleeper@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}],
         "quiet_start": f"{start:%H}:00", "quiet_end": f"{end:%H}:00"},
        {"email": "awake@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}]}])
    send(al, chome_alert(severity="Moderate"))
    work(al)
    assert [r.rcpt_tos[0] for r in smtp.received] == ["awake@example.jp"]
    send(al, chome_alert(severity="Severe", headline="緊急"))
    work(al)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["awake@example.jp", "awake@example.jp", "sleeper@example.jp"]
    al.clock.advance(timedelta(hours=2))
    work(al)
    assert Counter(r.rcpt_tos[0] for r in smtp.received)["sleeper@example.jp"] == 2


def test_relay_down_then_back_loses_nothing(al, smtp):
    expected = population(al)
    smtp.stop()
    alert_id = send(al, chome_alert())
    counts = work(al)
    assert counts["sent"] == 0 and counts["released"] >= 1
    assert al.outbox.stats(alert_id)["queued"] == len(expected)
    back = SmtpServer(smtp.port).start()
    try:
        al.clock.advance(timedelta(minutes=2))
        work(al)
        got = Counter(r.rcpt_tos[0] for r in back.received)
        assert set(got) == expected and set(got.values()) == {1}
    finally:
        back.stop()


def test_refusals_retry_or_suppress(al, smtp):
    al.admin.import_subscribers(SYSTEM, "13219", [
        {"email": f"{n}@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}]} for n in ("gone", "busy", "ok")])
    smtp.refuse = {"gone@example.jp": "550 5.1.1 User unknown", "busy@example.jp": "452 4.2.2 Mailbox full"}
    alert_id = send(al, chome_alert())
    work(al)
    with al.db.transaction() as tx:
        states = {r["state"]: r for r in tx.query("SELECT state, attempts, last_error FROM al_outbox WHERE alert_id = ?",
                                                  (alert_id,))}
        suppressed = tx.scalar("SELECT count(*) FROM al_suppressions")
    assert set(states) == {"sent", "failed", "queued"} and suppressed == 1
    assert states["queued"]["attempts"] == 1 and "452" in states["queued"]["last_error"]
    smtp.refuse = {}
    al.clock.advance(timedelta(minutes=5))
    work(al)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["busy@example.jp", "ok@example.jp"]
    send(al, chome_alert(headline="次"))  # the suppressed address is not even queued any more
    work(al)
    assert "gone@example.jp" not in {r.rcpt_tos[0] for r in smtp.received}


def test_cancel_update_schedule_and_expiry(al, smtp):
    t = al.towns
    expected = population(al)
    first = send(al, chome_alert())
    work(al)
    update = al.lifecycle.update_of(t["composer"], first, chome_alert(headline="続報：不審者は確保されました"))
    al.lifecycle.submit(t["composer"], update)
    al.lifecycle.approve(t["approver"], update)
    assert al.lifecycle.get(first).state == "superseded"
    upd = al.lifecycle.get(update).alert
    assert upd.msg_type == "Update" and upd.references[0].identifier == al.lifecycle.get(first).alert.identifier
    work(al)
    notice = al.lifecycle.cancel(t["composer"], update, AlertText(headline="先ほどのメールは誤りです"))
    assert al.lifecycle.get(update).state == "cancelled" and al.lifecycle.get(notice).state == "pending"
    al.lifecycle.approve(t["approver"], notice)    # the notice goes to everyone who got the update
    work(al)
    subjects = Counter(str(r.message["Subject"]) for r in smtp.received)
    assert subjects == Counter({"【狛江市】不審者情報": len(expected),
                                "【続報】【狛江市】続報：不審者は確保されました": len(expected),
                                "【取消】【狛江市】先ほどのメールは誤りです": len(expected)})
    stopped = send(al, chome_alert(headline="止める"))
    al.lifecycle.cancel(t["approver"], stopped)
    assert al.outbox.stats(stopped)["cancelled"] == len(expected) and work(al)["sent"] == 0
    later = al.lifecycle.create(t["composer"], chome_alert(headline="予定"), send_at=al.clock.now() + timedelta(hours=1))
    al.lifecycle.submit(t["composer"], later)
    assert al.lifecycle.approve(t["approver"], later) == 0 and al.lifecycle.get(later).state == "scheduled"
    al.clock.advance(timedelta(hours=1, minutes=1))
    assert al.tick()["started"] == 1 and al.outbox.stats(later)["queued"] == len(expected)
    short = chome_alert(headline="期限")
    short.expires = al.clock.now() + timedelta(minutes=10)
    gone = send(al, short)
    al.clock.advance(timedelta(minutes=11))
    al.tick()
    assert al.lifecycle.get(gone).state == "expired" and al.outbox.stats(gone)["expired"] == len(expected)


def test_sessions_are_short_and_domains_rate_limited(al, smtp):
    import time

    from alerts import build_alerts
    from tests.alerts.conftest import alert_config

    al.admin.import_subscribers(SYSTEM, "13219", [
        {"email": f"m{i}@{'docomo.ne.jp' if i % 3 == 0 else 'example.jp'}", "topics": ["crime"],
         "areas": [{"kind": "town"}]} for i in range(60)])
    al2 = build_alerts(al.hub, alert_config(al.hub, smtp.port, smtp_session_rcpts=7, smtp_pool=2,
                                            domain_rates={"docomo.ne.jp": 10.0}))
    al2.towns = al.towns
    send(al2, chome_alert())
    t0 = time.monotonic()
    assert work(al2)["sent"] == 60
    assert max(smtp.per_session.values()) <= 7 and len(smtp.per_session) >= 60 // 7
    assert time.monotonic() - t0 >= 0.9   # 20 docomo mails at 10/s: a burst of 10, then 10 more over a second
    got = Counter(r.rcpt_tos[0] for r in smtp.received)
    assert len(got) == 60 and set(got.values()) == {1}


async def test_background_services_send_on_their_own(al, smtp):
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "bg@example.jp", "topics": ["crime"],
                                                   "areas": [{"kind": "town"}]}])
    later = chome_alert(headline="予約")
    t = al.towns
    alert_id = await asyncio.to_thread(al.lifecycle.create, t["composer"], later,
                                       send_at=al.clock.now() + timedelta(seconds=1))
    await asyncio.to_thread(al.lifecycle.submit, t["composer"], alert_id)
    await asyncio.to_thread(al.lifecycle.approve, t["approver"], alert_id)
    async with al.background(inbound=False, tick_s=0.3):
        for _ in range(100):
            if smtp.received:
                break
            await asyncio.sleep(0.1)
    assert [r.rcpt_tos for r in smtp.received] == [["bg@example.jp"]]
    assert (await asyncio.to_thread(al.lifecycle.get, alert_id)).state in ("sending", "sent")


def test_dkim_signed_mail_through_the_relay_verifies(al, smtp, tmp_path):
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from alerts import build_alerts
    from tests.alerts.conftest import alert_config

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pub = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    signing = build_alerts(al.hub, alert_config(al.hub, smtp.port, dkim_key=str(pem), dkim_selector="s2025"))
    signing.towns = al.towns
    signing.admin.import_subscribers(SYSTEM, "13219", [{"email": e, "topics": ["crime"], "areas": [{"kind": "town"}]}
                                                       for e in ("x@example.jp", "taro..y@docomo.ne.jp")])
    send(signing, chome_alert())
    work(signing)
    record = {b"s2025._domainkey.city.example.lg.jp.": b"v=DKIM1; k=rsa; p=" + pub}
    assert len(smtp.received) == 2
    for rec in smtp.received:
        assert rec.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(rec.data, dnsfunc=lambda name, timeout=5: record.get(name))  # noqa: B023
        assert rec.message["Date"].endswith("+0900")


def test_cancel_reaches_mails_that_were_on_the_wire(al, smtp):
    """A worker holds some rows (handed off, acknowledgement not yet written) when the alert is cancelled:
    their subscribers may have the mail, so the Cancel notice goes to them too."""
    t = al.towns
    expected = population(al)
    first = send(al, chome_alert())
    held = al.outbox.claim("w-held", ["email"], 4)         # on the wire, not yet acknowledged
    assert len(held) == 4
    notice = al.lifecycle.cancel(t["composer"], first, AlertText(headline="先ほどのメールは取り消します"))
    al.lifecycle.approve(t["approver"], notice)
    al.outbox.mark_sent([r.id for r in held], "w-held")     # the batched acknowledgement lands late
    assert al.outbox.stats(notice)["queued"] == 4           # exactly the four that may have it
    assert work(al)["sent"] == 4
    assert {r.rcpt_tos[0] for r in smtp.received} <= expected and len(smtp.received) == 4


def test_cancel_skips_mails_given_back_unsent(al, smtp):
    """Held rows the worker gives back unsent (it was stopping) reached nobody: the Cancel does not go to them."""
    t = al.towns
    population(al)
    first = send(al, chome_alert())
    held = al.outbox.claim("w-stop", ["email"], 4)
    notice = al.lifecycle.cancel(t["composer"], first, AlertText(headline="先ほどのメールは取り消します"))
    al.outbox.release([r.id for r in held], "w-stop")
    al.lifecycle.approve(t["approver"], notice)
    assert al.outbox.stats(notice).get("queued", 0) == 0 and smtp.received == []
