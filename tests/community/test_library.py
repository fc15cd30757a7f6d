"""Library holds over the signed REST endpoint with a real SMTP server: a bad signature is refused; a good
one sends the notice without the title (unless opted in); the reminder fires once, the day before; collecting
the hold stops it; unlinked patrons are reported back; the CSV batch drop works the same way."""
from __future__ import annotations

from datetime import datetime, timedelta

from machihub.principal import SYSTEM
from tests.community.conftest import public_app, resident, signed, token_of, work

TITLE = "センシティブな本のタイトル"


def _at_jst_noon(cm, day: str) -> None:
    target = datetime.fromisoformat(f"{day}T03:00:00+00:00")  # 12:00 JST
    cm.alerts.clock.advance(target - cm.alerts.clock.now())


async def test_hold_webhook_signature_notice_reminder_and_collect(cm, smtp, aiohttp_client):
    hub = cm.alerts.hub
    key_id, secret = hub.users.add_api_key(SYSTEM, "13219", "ILS", "ils")
    client = await aiohttp_client(public_app(hub))
    sid = resident(cm, "reader@example.jp")
    other = resident(cm, "reader2@example.jp")
    _at_jst_noon(cm, "2026-06-01")

    body, headers = signed(secret, key_id, {"patron_id": "P-100"})
    code = (await (await client.post("/community/api/library/link-code", data=body, headers=headers)).json())["code"]
    r = await client.post("/community/13219/library/link", data={"t": token_of(cm, sid), "code": code})
    assert r.status == 200
    again = await client.post("/community/13219/library/link", data={"t": token_of(cm, other), "code": code})
    assert again.status == 404                                   # one-time code

    ready = {"events": [{"event": "ready", "hold_id": "H1", "patron_id": "P-100", "branch": "中央図書館",
                         "deadline": "2026-06-05", "title": TITLE},
                        {"event": "ready", "hold_id": "H2", "patron_id": "P-100", "branch": "西河原分室",
                         "deadline": "2026-06-05", "title": TITLE},
                        {"event": "ready", "hold_id": "H3", "patron_id": "P-999", "branch": "中央図書館",
                         "deadline": "2026-06-05"}]}
    body, headers = signed(secret, key_id, ready)
    bad = await client.post("/community/api/library/events", data=body,
                            headers={**headers, "X-Machihub-Signature": "00" * 32})
    assert bad.status == 401
    tampered = await client.post("/community/api/library/events", data=body.replace(b"P-100", b"P-101"), headers=headers)
    assert tampered.status == 401
    with cm.alerts.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM cm_holds") == 0   # refused means nothing changed
    r = await client.post("/community/api/library/events", data=body, headers=headers)
    assert r.status == 200
    result = await r.json()
    assert result["applied"] == 3 and result["unlinked"] == ["P-999"]
    body, headers = signed(secret, key_id, {})
    assert (await (await client.post("/community/api/library/unlinked", data=body, headers=headers)).json()) == {
        "unlinked_holds": ["H3"]}

    await cm.alerts.run_worker("test", until_idle=True)
    mails = smtp.to("reader@example.jp")
    assert len(mails) == 2
    for m in mails:
        text = m.message.get_body(("plain",)).get_content()
        assert TITLE not in text and TITLE not in str(m.message["Subject"])
        assert "6月5日" in text
    assert {"中央図書館" in m.message.get_body(("plain",)).get_content() for m in mails} == {True, False}

    body, headers = signed(secret, key_id, {"event": "collected", "hold_id": "H2", "patron_id": "P-100"})
    assert (await client.post("/community/api/library/events", data=body, headers=headers)).status == 200

    assert cm.tick()["reminders"] == 0                           # 06-01: too early
    _at_jst_noon(cm, "2026-06-04")
    assert cm.tick()["reminders"] == 1                           # only H1: H2 was collected
    assert cm.tick()["reminders"] == 0                           # once
    cm.alerts.clock.advance(timedelta(hours=6))
    assert cm.tick()["reminders"] == 0
    await cm.alerts.run_worker("test", until_idle=True)
    mails = smtp.to("reader@example.jp")
    assert len(mails) == 3
    reminder = mails[-1].message.get_body(("plain",)).get_content()
    assert "明日" in reminder and "中央図書館" in reminder and TITLE not in reminder


def test_collecting_stops_a_queued_reminder_titles_when_opted_in_and_csv(cm, smtp):
    hub = cm.alerts.hub
    key_id, _ = hub.users.add_api_key(SYSTEM, "13219", "ILS", "ils")
    ils = hub.users._api_principal({"key_id": key_id, "tenant_code": "13219", "purpose": "ils"})
    sid = resident(cm, "fan@example.jp")
    _at_jst_noon(cm, "2026-06-04")
    cm.library.link(sid, "13219", cm.library.link_code(ils, "P-7"), show_titles=True)
    csv = "event,hold_id,patron_id,branch,deadline,title\nready,H9,P-7,中央図書館,2026-06-05,好きな本\n"
    assert cm.library.handle(ils, cm.library.parse_csv(csv))["unlinked"] == []
    assert cm.tick()["reminders"] == 1                           # deadline tomorrow: reminder queued at once
    cm.library.handle(ils, [{"event": "collected", "hold_id": "H9", "patron_id": "P-7"}])
    work(cm)
    (mail,) = smtp.to("fan@example.jp")                         # the notice; the queued reminder was cancelled
    assert "好きな本" in mail.message.get_body(("plain",)).get_content()
    with cm.alerts.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_outbox WHERE kind = 'library' AND state = 'cancelled'") == 1


def _linked_holds(cm, n: int, deadline: str, email: str = "many@example.jp") -> int:
    hub = cm.alerts.hub
    key_id, _ = hub.users.add_api_key(SYSTEM, "13219", f"ILS {email}", "ils")
    ils = hub.users._api_principal({"key_id": key_id, "tenant_code": "13219", "purpose": "ils"})
    sid = resident(cm, email)
    cm.library.link(sid, "13219", cm.library.link_code(ils, f"P-{email}"))
    cm.library.handle(ils, [{"event": "ready", "hold_id": f"{email}-{i}", "patron_id": f"P-{email}",
                             "branch": "中央図書館", "deadline": deadline} for i in range(n)])
    return sid


def _reminders(cm) -> int:
    with cm.alerts.db.transaction() as tx:
        return int(tx.scalar("SELECT count(*) FROM cm_holds WHERE reminded IS NOT NULL"))


def _library_rows(cm) -> int:
    with cm.alerts.db.transaction() as tx:
        return int(tx.scalar("SELECT count(*) FROM al_outbox WHERE kind = 'library'"))


def test_a_hold_due_today_gets_no_tomorrow_reminder(cm, smtp):
    _at_jst_noon(cm, "2026-06-04")
    _linked_holds(cm, 1, "2026-06-04", "today@example.jp")          # ready late: due today
    _linked_holds(cm, 1, "2026-06-05", "tomorrow@example.jp")
    assert cm.tick()["reminders"] == 1                               # only the one due tomorrow
    cm.alerts.clock.advance(timedelta(hours=11))                     # 23:00 JST, still the 4th
    assert cm.tick()["reminders"] == 0
    work(cm)
    assert len(smtp.to("today@example.jp")) == 1                     # the notice only, no "明日" reminder
    assert any("明日" in m.message.get_body(("plain",)).get_content() for m in smtp.to("tomorrow@example.jp"))


def test_hosts_ticking_at_once_send_each_reminder_once(cm):
    """Several hosts (one Community each, sharing the store) run the tick at the same moment."""
    import threading

    from community import build_community

    _at_jst_noon(cm, "2026-06-04")
    _linked_holds(cm, 60, "2026-06-05")
    before = _library_rows(cm)
    hosts = [build_community(cm.alerts.hub) for _ in range(4)]
    start, counts, errors = threading.Barrier(len(hosts)), [], []

    def tick(host) -> None:
        start.wait()
        try:
            counts.append(host.library.remind_due())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(h,)) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(counts) == 60
    assert _library_rows(cm) - before == 60 and _reminders(cm) == 60
    assert cm.tick()["reminders"] == 0 and _library_rows(cm) - before == 60   # a later tick: nothing again
