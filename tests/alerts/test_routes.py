"""The web side with aiohttp's test client on the real apps: public subscribe → confirm → preferences →
RFC 8058 one-click unsubscribe in one POST; Web Push endpoints; staff compose → submit → approve → stats."""
from __future__ import annotations

import asyncio
import re

from feeds.cap import parse_cap
from machihub.principal import SYSTEM
from portal.alert_console_routes import add_staff_alert_routes
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app
from portal.subscribe_routes import add_public_alert_routes
from tests.alerts.conftest import chome_alert, send


def public_app(hub):
    app = make_public_app(hub)
    add_public_alert_routes(app)
    return app


async def test_subscribe_confirm_prefs_and_one_click_unsubscribe(al, smtp, aiohttp_client):
    client = await aiohttp_client(public_app(_hub(al)))
    form = await client.get("/13219/alerts")
    form_html = await form.text()
    assert form.status == 200 and "和泉本町一丁目" in form_html
    assert '<option value="ko" lang="ko">한국어</option>' in form_html  # languages by their own names, not codes
    data = {"topic": ["crime", "weather"], "town": "1", "email": "jiro@example.jp", "language": "ja",
            "quiet_start": "", "quiet_end": ""}
    r = await client.post("/13219/alerts", data=_multi(data))
    assert r.status == 200
    bad = await client.post("/13219/alerts", data=_multi({**data, "email": "nope"}))
    assert bad.status == 400 and "mail address" in await bad.text()
    evil = await client.post("/13219/alerts", data=_multi(data), headers={"Origin": "https://evil.example"})
    assert evil.status == 403
    await al.run_worker("t", until_idle=True)
    confirm = re.search(r"https://portal\.example\.jp(/alerts/confirm/\S+)", smtp.to("jiro@example.jp")[0].message
                        .get_content()).group(1)
    page = await client.get(confirm)                      # a mail scanner following the link changes nothing
    assert page.status == 200 and 'method="post"' in await page.text()
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT status FROM al_subscribers") == "pending"
    done = await client.post(confirm)
    prefs = re.search(r'href="(/alerts/p/[^"]+)"', await done.text()).group(1)
    settings = await client.get(prefs)
    assert settings.status == 200 and "jiro@example.jp" in await settings.text()
    assert settings.headers["Referrer-Policy"] == "no-referrer"
    saved = await client.post(prefs, data=_multi({**data, "topic": ["crime"], "chome": "和泉本町一丁目", "town": ""}),
                              allow_redirects=False)
    assert saved.status == 303
    sub = await asyncio.to_thread(al.subscribers.view, prefs.rsplit("/", 1)[1])
    assert sub.topics == ["crime"] and sub.areas == [{"kind": "chome", "name": "和泉本町一丁目"}]
    alert_id = await asyncio.to_thread(send, al, chome_alert())
    await al.run_worker("t", until_idle=True)
    mail = smtp.to("jiro@example.jp")[-1].message
    url = mail["List-Unsubscribe"].strip("<>").removeprefix("https://portal.example.jp")
    one_click = await client.post(url, data="List-Unsubscribe=One-Click",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status == 200
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_subscribers") == 0 and tx.scalar("SELECT count(*) FROM al_contacts") == 0
    assert (await client.post(url)).status == 200       # again: same answer, nothing to tell
    assert (await client.get(prefs)).status == 404
    public = await client.get(f"/alerts/a/{alert_id}")
    assert public.status == 200 and "不審者情報" in await public.text()
    drill = await asyncio.to_thread(send, al, chome_alert(status="Exercise"))
    assert (await client.get(f"/alerts/a/{drill}")).status == 404


async def test_push_endpoints(al, aiohttp_client):
    client = await aiohttp_client(public_app(_hub(al)))
    sw = await client.get("/alerts/sw.js")
    assert sw.status == 200 and sw.content_type == "application/javascript" and "showNotification" in await sw.text()
    key = await (await client.get("/alerts/push/key")).json()
    assert key["publicKey"] == al.vapid.public_key and len(key["publicKey"]) == 87
    body = {"tenant": "13219", "topics": ["quake"], "areas": [{"kind": "town"}],
            "subscription": {"endpoint": "https://push.example.com/x1", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}}}
    r = await client.post("/alerts/push/subscribe", json=body)
    assert r.status == 201 and (await r.json())["prefs"].startswith("/alerts/p/")
    r = await client.post("/alerts/push/subscribe", json={**body, "topics": []})
    assert r.status == 400
    r = await client.post("/alerts/push/unsubscribe", json={"endpoint": "https://push.example.com/x1"})
    assert (await r.json()) == {"removed": True}


async def test_staff_compose_approve_and_live_stats(al, smtp, aiohttp_client):
    hub = _hub(al)
    hub.settings = hub.settings.replace(cookie_secure=False)
    await asyncio.to_thread(al.admin.import_subscribers, SYSTEM, "13219",
                            [{"email": f"s{i}@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}]} for i in range(3)])
    app = make_staff_app(hub)
    add_staff_alert_routes(app)
    composer, approver = await aiohttp_client(app), await aiohttp_client(app)
    csrf = {}
    for c, user in ((composer, "komae_composer"), (approver, "komae_approver")):
        await c.post("/login", data={"username": user, "password": al.towns["password"]}, allow_redirects=False)
        page = await c.get("/alerts/new")
        assert page.status == 200
        csrf[user] = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
    form = {"csrf_token": csrf["komae_composer"], "topic": "crime", "event": "不審者", "severity": "Moderate",
            "urgency": "Expected", "certainty": "Likely", "status": "Actual", "headline_ja": "不審者情報 ①",
            "description_ja": "声かけ事案", "chome": "和泉本町一丁目"}
    r = await composer.post("/alerts/new", data=form, allow_redirects=False)
    assert r.status == 303
    path = r.headers["Location"]
    page = await composer.get(path)
    text = await page.text()
    assert "ISO-2022-JP" in text and "(1)" in text            # the feature-phone preview maps ①
    no_token = await composer.post(path + "/submit", data={})
    assert no_token.status == 403
    assert (await composer.post(path + "/submit", data={"csrf_token": csrf["komae_composer"]},
                                allow_redirects=False)).status == 303
    own = await composer.post(path + "/approve", data={"csrf_token": csrf["komae_composer"]})
    assert own.status == 403
    assert (await approver.post(path + "/approve", data={"csrf_token": csrf["komae_approver"]},
                                allow_redirects=False)).status == 303
    stats = await (await approver.get(path + "/stats", headers={"Accept": "application/json"})).json()
    assert stats["state"] == "sending" and stats["queued"] == 3 and stats["sent"] == 0
    await al.run_worker("t", until_idle=True)
    stats = await (await approver.get(path + "/stats", headers={"Accept": "application/json"})).json()
    assert stats["sent"] == 3 and stats["queued"] == 0
    cap = parse_cap(await (await approver.get(path + "/cap.xml")).read())
    assert cap.infos[0].headline == "不審者情報 ①" and cap.infos[0].areas[0].geocodes == [("machihub-area",
                                                                                         "chome:和泉本町一丁目")]
    listing = await approver.get("/alerts")
    assert "不審者情報" in await listing.text()


def _hub(al):
    return al.hub


def _multi(data: dict):
    from aiohttp import FormData

    fd = FormData()
    for k, v in data.items():
        for item in v if isinstance(v, list) else [v]:
            fd.add_field(k, item)
    return fd
