"""Staff pages: times shown as Japanese time ('YYYY-MM-DD HH:MM', JST) whatever zone the store keeps them in
(the hub stores UTC, with or without '+00:00'; a JMA telegram's ReportDateTime comes as +09:00), and the home
page's who-am-I line without an empty part."""
from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta, timezone

from feeds.ingest import FeedIngest
from portal.pages import jst
from tests.shared_data import DATA

TELEGRAM = DATA / "jma" / "15_08_01_130412_VPWW53.xml"  # <ReportDateTime>2011-09-03T12:00:00+09:00


def test_jst_filter():
    assert jst("2026-11-23T22:33:38") == "2026-11-24 07:33"                # no offset: the hub's UTC
    assert jst("2026-11-23T22:33:38.123456+00:00") == "2026-11-24 07:33"
    assert jst("2026-05-12T07:23:00+09:00") == "2026-05-12 07:23"          # already Japanese time: as it is
    assert jst(datetime(2026, 1, 1, 15, 0, tzinfo=UTC)) == "2026-01-02 00:00"
    assert jst(datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5)))) == "2026-01-01 22:00"
    assert jst(None) == "" and jst("") == "" and jst("not a time") == "not a time"


async def test_telegrams_page_shows_jst(hub, towns, aiohttp_client):
    from portal.feeds_routes import add_staff_feed_routes
    from portal.staff_app import make_staff_app

    assert "2011-09-03T12:00:00+09:00" in TELEGRAM.read_text(encoding="utf-8")
    await asyncio.to_thread(FeedIngest(hub).ingest_jma, TELEGRAM.read_bytes())
    hub.settings = hub.settings.replace(cookie_secure=False)
    app = make_staff_app(hub)
    add_staff_feed_routes(app)
    client = await aiohttp_client(app)
    await client.post("/login", data={"username": "admin37201", "password": towns["password"]}, allow_redirects=False)
    stored = (await (await client.get("/feeds/telegrams", headers={"Accept": "application/json"})).json())["telegrams"]
    row = next(r for r in stored if r["type_code"] == "VPWW53")
    received = datetime.fromisoformat(row["received"])
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    page = await (await client.get("/feeds/telegrams", headers={"Accept": "text/html"})).text()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", next(r for r in page.split("<tr") if "VPWW53" in r), re.S)
    assert "2011-09-03 12:00" in cells                                      # 報告日時: 12:00+09:00 stays 12:00
    assert received.astimezone(timezone(timedelta(hours=9))).strftime("%Y-%m-%d %H:%M") in cells  # 受信日時
    assert not any("+00:00" in c or re.search(r"\dT\d", c) for c in cells)  # no raw ISO times left


async def test_home_line_leaves_out_an_empty_department(hub, towns, aiohttp_client):
    from portal.staff_app import make_staff_app

    hub.settings = hub.settings.replace(cookie_secure=False)
    client = await aiohttp_client(make_staff_app(hub))
    await client.post("/login", data={"username": "admin37201", "password": towns["password"]}, allow_redirects=False)
    page = await (await client.get("/", headers={"Accept": "text/html"})).text()
    assert "admin37201 · 高松市 · admin" in page and "· ·" not in page  # an admin belongs to no department
    client2 = await aiohttp_client(make_staff_app(hub))
    await client2.post("/login", data={"username": "sato", "password": towns["password"]}, allow_redirects=False)
    page = await (await client2.get("/", headers={"Accept": "text/html"})).text()
    assert "sato · 高松市 · 危機管理課 · layer_editor" in page
