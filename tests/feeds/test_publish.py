"""Publishing on both stores: our CAP validates against CAP 1.2, our RSS/Atom and CAP index parse with
feedparser without bozo, conditional GET, feed-only notices in feeds but not in mail, the signed push endpoint."""
from __future__ import annotations

import asyncio
import hashlib
import hmac

import feedparser
import pytest

from feeds import publish
from feeds.cap import parse_cap
from feeds.ingest import FeedIngest
from machihub.principal import SYSTEM
from portal.feeds_routes import add_public_feed_routes
from portal.public_app import make_public_app
from tests.alerts import conftest as alert_fixtures
from tests.alerts.conftest import dispatcher
from tests.feeds.test_ingest import retarget
from tests.shared_data import DATA

BASE = "http://127.0.0.1:8080"

smtp = alert_fixtures.smtp  # the real aiosmtpd sink on loopback


@pytest.fixture
def published(hub, towns, smtp):
    al = dispatcher(hub, towns, smtp)
    for code, email in (("37201", "t@example.jp"), ("13219", "k@example.jp")):
        al.admin.import_subscribers(SYSTEM, code, [{"email": email, "topics": ["weather"], "areas": [{"kind": "town"}]}])
    ingest = FeedIngest(hub)
    result = ingest.ingest_jma(retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100", "2920300": "1321900"}))
    assert [c for c, *_ in result.alerts] == ["37201"] and [c for c, _ in result.notices] == ["13219"]
    asyncio.run(hub.alerts.run_worker("t", until_idle=True))
    return hub


def test_our_cap_validates_and_round_trips(published):
    items = publish.public_items(published, "37201")
    assert len(items) == 1
    xml = publish.cap_document(items[0])          # validated against CAP-v1.2.xsd inside
    cap = parse_cap(xml)                          # and our parser (which validates too) reads it back
    # one <info> per language a subscriber can choose
    assert cap.status == "Actual" and [i.language for i in cap.infos] == ["ja", "en", "ja-x-easy", "zh-Hans",
                                                                         "zh-Hant", "ko", "vi", "pt"]
    assert cap.infos[0].headline == "高松市に大雨特別警報。命を守る行動を。"
    ko = cap.infos[5]
    assert ko.headline == "Takamatsu: 기상 특별경보 발표" and ko.instruction == "목숨을 지키기 위한 행동을 즉시 취하십시오."
    assert ("JIS-X0402", "37201") in cap.infos[0].areas[0].geocodes


def test_feed_only_notice_is_in_the_feed_but_not_mailed(published, smtp):
    assert {a for r in smtp.received for a in r.rcpt_tos} == {"t@example.jp"}
    items = publish.public_items(published, "13219")
    assert [i.kind for i in items] == ["notice"] and "注意報" in items[0].alert.event
    parse_cap(publish.cap_document(items[0]))


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_rss_and_atom_parse_without_bozo(published, fmt):
    tenant = published.tenants.get("37201")
    items = publish.public_items(published, "37201")
    body = publish.news_feed(BASE, tenant, items, fmt=fmt, self_url=f"{BASE}/37201/feeds/{fmt}.xml")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.link == f"{BASE}/37201/"  # the channel links to the town's page, not to itself
    (entry,) = parsed.entries
    assert entry.title == "高松市に大雨特別警報。命を守る行動を。"
    assert entry.link == f"{BASE}/alerts/a/{items[0].id}"
    assert entry.id == f"urn:machihub:{items[0].alert.identifier}"
    assert entry.get("published_parsed") or entry.get("updated_parsed")
    english = feedparser.parse(publish.news_feed(BASE, tenant, items, fmt=fmt, language="en", self_url=BASE + "/x"))
    assert english.entries[0].title.startswith("Heavy rain emergency warning for Takamatsu")


def test_cap_index_follows_the_atom_profile(published):
    tenant = published.tenants.get("37201")
    items = publish.public_items(published, "37201")
    parsed = feedparser.parse(publish.cap_index(BASE, tenant, items, self_url=f"{BASE}/37201/feeds/cap.xml"))
    assert not parsed.bozo
    link = parsed.entries[0].links[0]
    assert link.type == "application/cap+xml" and link.href.endswith(f"/37201/feeds/cap/alert-{items[0].id}.xml")


async def test_routes_conditional_get_and_signed_push(published, aiohttp_client):
    app = make_public_app(published)
    add_public_feed_routes(app)
    client = await aiohttp_client(app)
    resp = await client.get("/37201/feeds/rss.xml?topic=weather")
    assert resp.status == 200 and not feedparser.parse(await resp.read()).bozo
    again = await client.get("/37201/feeds/rss.xml?topic=weather", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    since = await client.get("/37201/feeds/atom.xml", headers={"If-Modified-Since": resp.headers["Last-Modified"]})
    assert since.status == 304
    index = feedparser.parse(await (await client.get("/37201/feeds/cap.xml")).read())
    cap = await client.get(index.entries[0].links[0].href.replace(BASE, ""))
    assert cap.status == 200 and parse_cap(await cap.read()).status == "Actual"
    notice = await client.get(f"/13219/notices/{publish.public_items(published, '13219')[0].id}")
    assert notice.status == 200 and "注意報" in await notice.text()

    key_id, secret = published.users.add_api_key(SYSTEM, "37201", "j-alert relay", "receiver")
    body = retarget("15_11_02_150916_VPWW54.xml", {"1620100": "3720100"})
    bad = await client.post("/feeds/push/jma", data=body, headers={"X-Machihub-Key": key_id,
                                                                  "X-Machihub-Signature": "00" * 32})
    assert bad.status == 401
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ok = await client.post("/feeds/push/jma", data=body, headers={"X-Machihub-Key": key_id,
                                                                 "X-Machihub-Signature": sig})
    assert ok.status == 200 and (await ok.json())["outcome"] == "accepted"
    cap11 = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"><identifier>x</identifier></alert>'
    refused = await client.post("/feeds/push/cap/37201", data=cap11, headers={
        "X-Machihub-Key": key_id, "X-Machihub-Signature": hmac.new(secret.encode(), cap11, hashlib.sha256).hexdigest()})
    assert refused.status == 400 and (await refused.json())["detail"]


async def test_staff_see_received_telegrams_with_drills_marked(published, towns, aiohttp_client):
    from feeds.ingest import FeedIngest
    from portal.feeds_routes import add_staff_feed_routes
    from portal.staff_app import make_staff_app

    drill = (DATA / "jma" / "32-35_01_02_240613_VXSE52.xml").read_bytes()
    await asyncio.to_thread(FeedIngest(published).ingest_jma, drill)
    published.settings = published.settings.replace(cookie_secure=False)
    app = make_staff_app(published)
    add_staff_feed_routes(app)
    client = await aiohttp_client(app)
    assert (await client.get("/feeds/telegrams")).status == 401
    await client.post("/login", data={"username": "admin37201", "password": towns["password"]}, allow_redirects=False)
    listing = await (await client.get("/feeds/telegrams", headers={"Accept": "application/json"})).json()
    rows = {r["type_code"]: r for r in listing["telegrams"]}
    assert rows["VXSE52"]["is_drill"] == 1 and rows["VXSE52"]["status"] == "訓練"
    assert rows["VPWW53"]["is_drill"] == 0
    page = await (await client.get("/feeds/telegrams", headers={"Accept": "text/html"})).text()
    drill_row = next(r for r in page.split("<tr") if "VXSE52" in r)
    assert 'class="drill"' in drill_row and "<strong>訓練・試験</strong>" in drill_row  # marked, in the staff's language
    english = await (await client.get("/feeds/telegrams?lang=en", headers={"Accept": "text/html"})).text()
    assert "<strong>Drill or test</strong>" in english and "Received JMA and CAP telegrams" in english
