"""The weekly new-arrivals digest (新着案内) end to end with a real SMTP server: the ILS posts arrivals with its
signed API key (a bad signature or a bad row stores nothing); linked patrons choose NDC classes; once a week
each opted-in patron gets one mail with that week's arrivals in their classes; nothing is sent when nothing is
new; no arrival is sent twice; a second run in the same week sends nothing. Time moves with the hub clock."""
from __future__ import annotations

import json
from datetime import datetime

from machihub.principal import SYSTEM
from tests.community.conftest import public_app, resident, signed, token_of


def _at(cm, iso_jst: str) -> None:
    target = datetime.fromisoformat(iso_jst + "+09:00")
    cm.alerts.clock.advance(target - cm.alerts.clock.now())


def _bodies(smtp, address: str) -> list[str]:
    return [m.message.get_body(("plain",)).get_content() for m in smtp.to(address)]


def _row(item: str, title: str, ndc: str, arrived: str = "2026-06-02", branch: str = "中央図書館") -> dict:
    return {"item_id": item, "title": title, "ndc": ndc, "branch": branch, "arrived": arrived}


async def test_weekly_digest_by_subject_once_and_only_when_new(cm, smtp, aiohttp_client):
    hub = cm.alerts.hub
    key_id, secret = hub.users.add_api_key(SYSTEM, "13219", "ILS", "ils")
    ils = hub.users._api_principal({"key_id": key_id, "tenant_code": "13219", "purpose": "ils"})
    client = await aiohttp_client(public_app(hub))
    novel, science, history, quiet, stranger = (resident(cm, f"{n}@example.jp") for n in (
        "novel", "science", "history", "quiet", "stranger"))
    _at(cm, "2026-06-01T08:00:00")                                   # a Monday, before the 09:00 slot
    for sid, card in ((novel, "P-1"), (science, "P-2"), (history, "P-3"), (quiet, "P-4")):
        cm.library.link(sid, "13219", cm.library.link_code(ils, card))

    async def choose(sid, *subjects):
        return await client.post("/community/13219/library/arrivals",
                                 data=[("t", token_of(cm, sid))] + [("subject", s) for s in subjects])
    assert (await choose(novel, "9", "X")).status == 400               # unknown class: nothing saved
    assert cm.arrivals.subjects(novel, "13219") == []
    assert (await choose(stranger, "9")).status == 404                 # not a linked patron
    assert (await (await choose(novel, "9")).json()) == {"subjects": ["9"]}
    assert (await (await choose(science, "4", "9")).json()) == {"subjects": ["4", "9"]}
    assert (await choose(history, "2")).status == 200
    assert (await choose(quiet, "7")).status == 200

    _at(cm, "2026-06-02T10:00:00")                                   # Tuesday: the ILS posts this week's arrivals
    week1 = {"arrivals": [_row("B1", "海辺の町の物語", "913.6"), _row("B2", "星の図鑑", "440"),
                          _row("B3", "日本の歴史 第1巻", "210.1"), _row("B4", "税のしくみ", "345")]}
    body, headers = signed(secret, key_id, week1)
    assert (await client.post("/community/api/library/arrivals", data=body,
                              headers={**headers, "X-Machihub-Signature": "00" * 32})).status == 401
    bad, bad_headers = signed(secret, key_id, {"arrivals": week1["arrivals"] + [_row("B5", "題名", "文学")]})
    r = await client.post("/community/api/library/arrivals", data=bad, headers=bad_headers)
    assert r.status == 400 and "arrival 5" in (await r.json())["message"]
    with cm.alerts.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM cm_arrivals") == 0     # all or nothing
    r = await client.post("/community/api/library/arrivals", data=body, headers=headers)
    assert r.status == 201 and await r.json() == {"received": 4, "added": 4}

    assert cm.weekly() == {"arrival_digests": 0}                      # this week's slot (Mon 09:00) was before them
    await cm.alerts.run_worker("test", until_idle=True)
    assert smtp.received == []

    _at(cm, "2026-06-08T09:00:01")                                   # next Monday, just after the slot
    assert cm.weekly() == {"arrival_digests": 3}
    assert cm.weekly() == {"arrival_digests": 0}                      # once per week, however often it runs
    await cm.alerts.run_worker("test", until_idle=True)
    (n,), (s,), (h,) = _bodies(smtp, "novel@example.jp"), _bodies(smtp, "science@example.jp"), _bodies(smtp, "history@example.jp")
    assert "海辺の町の物語" in n and "星の図鑑" not in n and "6月2日" in n and "中央図書館" in n
    assert "海辺の町の物語" in s and "星の図鑑" in s and "日本の歴史" not in s
    assert "日本の歴史 第1巻" in h and "海辺" not in h
    assert smtp.to("quiet@example.jp") == [] and smtp.to("stranger@example.jp") == []   # nothing new in 7
    assert all("税のしくみ" not in b for b in n + s + h)
    assert "新着案内" in str(smtp.to("science@example.jp")[0].message["Subject"])

    _at(cm, "2026-06-10T12:00:00")                                   # the ILS sends B1 again and one new book
    csv = "item_id,title,ndc,branch,arrived\nB1,海辺の町の物語,913.6,中央図書館,2026-06-02\nB6,風の詩集,911.5,西河原分室,2026-06-10\n"
    body, headers = signed(secret, key_id, csv)
    r = await client.post("/community/api/library/arrivals", data=body, headers={**headers, "Content-Type": "text/csv"})
    assert await r.json() == {"received": 2, "added": 1}
    _at(cm, "2026-06-15T09:30:00")
    assert cm.weekly() == {"arrival_digests": 2}                      # novel and science (class 9); not history
    await cm.alerts.run_worker("test", until_idle=True)
    latest = _bodies(smtp, "novel@example.jp")
    assert len(latest) == 2 and "風の詩集" in latest[1] and "海辺の町の物語" not in latest[1]
    assert len(_bodies(smtp, "history@example.jp")) == 1

    _at(cm, "2026-06-22T09:30:00")                                   # a week with nothing new: no mail
    assert cm.weekly() == {"arrival_digests": 0}
    with cm.alerts.db.transaction() as tx:
        sent = tx.query("SELECT subscriber_id, arrival_id FROM cm_arrival_sent")
    assert len(sent) == len({(r["subscriber_id"], r["arrival_id"]) for r in sent}) == 6
    print(json.dumps({"digests": len(smtp.received)}))


async def test_serve_schedules_the_weekly_job(cm):
    from portal.server import start_community_ticks

    hub = cm.alerts.hub
    hub.settings = hub.settings.replace(community_arrivals_weekday="fri", community_arrivals_hour=17)
    scheduler = start_community_ticks(hub)
    try:
        trigger = scheduler.get_job("community-weekly").trigger
        fields = {f.name: str(f) for f in trigger.fields}
        assert fields["day_of_week"] == "fri" and fields["hour"] == "17" and str(trigger.timezone) == "Asia/Tokyo"
        assert scheduler.get_job("community-tick") is not None
    finally:
        scheduler.shutdown(wait=False)
    assert cm.arrivals.slot(datetime.fromisoformat("2026-06-01T08:00:00+09:00")).isoformat() == "2026-05-25T09:00:00+09:00"
    assert cm.arrivals.slot(datetime.fromisoformat("2026-06-01T09:00:00+09:00")) == datetime.fromisoformat(
        "2026-06-01T09:00:00+09:00")
    assert cm.arrivals.slot(datetime.fromisoformat("2026-06-07T23:59:00+09:00")) == datetime.fromisoformat(
        "2026-06-01T09:00:00+09:00")
