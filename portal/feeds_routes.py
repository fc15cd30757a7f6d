"""Feed routes. Public: RSS/Atom per tenant (?topic=, ?area= 町丁目, ?lang=), the CAP Atom index and one CAP
1.2 document per public alert, feed-only notice pages, and the HMAC-signed push endpoints for receivers.
Staff: the list of received telegrams and CAP documents (drills marked)."""
from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from alerts.model import JST, TOPICS
from feeds import publish
from feeds.service import Feeds
from machihub.errors import Invalid, Unauthorized
from portal.pages import gettext_for, render
from portal.web import HUB, PRINCIPAL, json_response, run, wants_html

SIGNATURE_HEADER = "X-Machihub-Signature"
KEY_HEADER = "X-Machihub-Key"


def _feeds(request: web.Request) -> Feeds:
    return request.app[HUB].feeds  # built by the composition root


def _xml(request: web.Request, body: bytes, content_type: str, last: str | None = None) -> web.StreamResponse:
    """Conditional GET: ETag and Last-Modified; 304 when the client's copy is current."""
    etag = publish.etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if last:
        headers["Last-Modified"] = last
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    since = request.headers.get("If-Modified-Since")
    if since and last and "If-None-Match" not in request.headers:
        try:
            if parsedate_to_datetime(last) <= parsedate_to_datetime(since):
                return web.Response(status=304, headers=headers)
        except (TypeError, ValueError):
            pass
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


def _last_modified(items: list[publish.Item]) -> str | None:
    return format_datetime(max(i.updated for i in items), usegmt=True) if items else None


async def _items(request: web.Request) -> tuple[object, list[publish.Item]]:
    hub, code = request.app[HUB], request.match_info["code"]
    tenant = await run(hub.tenants.get, code)
    items = await run(publish.public_items, hub, code)
    return tenant, items


async def news_feed(request: web.Request) -> web.StreamResponse:
    tenant, items = await _items(request)
    items = publish.filter_items(items, topic=request.query.get("topic"), area=request.query.get("area"))
    base = request.app[HUB].settings.public_base_url
    body = publish.news_feed(base, tenant, items, fmt=request.match_info["fmt"],
                             language=request.query.get("lang", "ja"), self_url=base + str(request.rel_url))
    ctype = "application/rss+xml" if request.match_info["fmt"] == "rss" else "application/atom+xml"
    return _xml(request, body, ctype, _last_modified(items))


async def cap_index(request: web.Request) -> web.StreamResponse:
    tenant, items = await _items(request)
    base = request.app[HUB].settings.public_base_url
    body = publish.cap_index(base, tenant, items, self_url=base + str(request.rel_url))
    return _xml(request, body, "application/atom+xml", _last_modified(items))


async def cap_alert(request: web.Request) -> web.StreamResponse:
    hub, code = request.app[HUB], request.match_info["code"]
    item = await run(publish.find_item, hub, code, request.match_info["kind"], int(request.match_info["id"]))
    body = await run(publish.cap_document, item)
    return _xml(request, body, "application/cap+xml", _last_modified([item]))


async def notice_page(request: web.Request) -> web.Response:
    hub, code = request.app[HUB], request.match_info["code"]
    item = await run(publish.find_item, hub, code, "notice", int(request.match_info["id"]))
    lang, text = item.alert.text_for(request.query.get("lang", "ja"))
    return render(request, "feeds/notice.html", title=text.headline, alert=item.alert, text=text, text_lang=lang,
                  tenant_code=code, jst=JST, topic_label=TOPICS[item.alert.topic][2])


async def push(request: web.Request) -> web.Response:
    """POST a JMA telegram (/feeds/push/jma) or a CAP 1.2 alert (/feeds/push/cap/{code}); the raw body is
    signed with HMAC-SHA256 by a 'receiver' API key: headers X-Machihub-Key and X-Machihub-Signature."""
    hub = request.app[HUB]
    body = await request.read()
    key_id, sig = request.headers.get(KEY_HEADER, ""), request.headers.get(SIGNATURE_HEADER, "")
    if not key_id or not sig:
        raise Unauthorized("sign the body: X-Machihub-Key and X-Machihub-Signature (HMAC-SHA256, hex)")
    by = await run(hub.users.api_signed, key_id, body, sig, "receiver")
    feeds = _feeds(request)
    if request.match_info["kind"] == "jma":
        result = await run(feeds.ingest.ingest_jma, body, f"push:{by.actor}")
    else:
        code = request.match_info.get("code", "")
        if code != by.tenant_code:
            raise Invalid("this receiver key may only push CAP alerts for its own municipality")
        result = await run(feeds.ingest.ingest_cap, body, code, f"push:{by.actor}", by)
    status = 400 if result.outcome in ("invalid", "refused") else 200
    return json_response(request, {"telegram": result.telegram_id, "outcome": result.outcome, "detail": result.detail,
                                   "alerts": [{"tenant": t, "id": a, "state": s} for t, a, s in result.alerts]},
                         status=status)


async def telegram_list(request: web.Request) -> web.StreamResponse:
    request[PRINCIPAL]  # the auth middleware put a staff member here
    rows = await run(_feeds(request).ingest.telegrams, 300)
    if wants_html(request):
        return render(request, "feeds/telegrams.html", title=gettext_for(request)("Received JMA and CAP telegrams"),
                      telegrams=rows)
    return json_response(request, {"telegrams": rows})


def _add_push(app: web.Application) -> None:
    app.router.add_post("/feeds/push/{kind:jma}", push)
    app.router.add_post(r"/feeds/push/{kind:cap}/{code:\d{5}}", push)


def add_public_feed_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(r"/{code:\d{5}}/feeds/{fmt:rss|atom}.xml", news_feed)
    r.add_get(r"/{code:\d{5}}/feeds/cap.xml", cap_index)
    r.add_get(r"/{code:\d{5}}/feeds/cap/{kind:alert|notice}-{id:\d+}.xml", cap_alert)
    r.add_get(r"/{code:\d{5}}/notices/{id:\d+}", notice_page)
    _add_push(app)


def add_staff_feed_routes(app: web.Application) -> None:
    app.router.add_get("/feeds/telegrams", telegram_list)
    _add_push(app)  # needs "/feeds/push/" in portal.staff_auth.OPEN_PATHS (HMAC replaces the session)
