"""Public alert pages: subscribe (double opt-in), confirm, preferences and one-click unsubscribe by signed link
(RFC 8058), 空メール sign-up links, Web Push (service worker, VAPID key, subscribe), and public alert pages.

Links in mails only show a page with a button: mail scanners follow GET links, so nothing changes on GET.
Nothing about a subscriber is shown without their signed link. `add_public_alert_routes(app)` mounts it all."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from alerts.model import JST, TOPICS
from alerts.prefs import LANGUAGES, topic_labels
from machihub.errors import Forbidden, HubError, Invalid, NotFound
from portal.i18n import LANGUAGES as PORTAL_LANGUAGES
from portal.i18n import pick_language
from portal.pages import gettext_for, render
from portal.web import HUB, json_response, run

TEMPLATES = Path(__file__).parent / "templates" / "alerts"
LANGUAGE_NAMES = {code: name for code, name, _ in PORTAL_LANGUAGES}  # each language in its own name
SHOWN_STATES = ("sending", "sent", "expired", "cancelled", "superseded")


def _alerts(request: web.Request) -> Any:
    return request.app[HUB].alerts  # type: ignore[attr-defined]


def _client(request: web.Request) -> str:
    return request.remote or "-"


def _same_origin(request: web.Request) -> None:
    """Browsers send Origin on form posts: refuse posts made from other sites' pages."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise Forbidden("this form can only be sent from this site")


async def area_specs(request: web.Request, form: Any, tenant_code: str) -> list[dict[str, Any]]:
    """Form fields → area specs: town, chome/school/zone (repeated), an address or lat/lon with a radius,
    a drawn area as GeoJSON."""
    specs: list[dict[str, Any]] = []
    if form.get("town"):
        specs.append({"kind": "town"})
    for kind in ("chome", "school", "zone"):
        specs += [{"kind": kind, "name": str(v)} for v in form.getall(kind, []) if str(v)]
    radius = str(form.get("radius") or "500")
    address = str(form.get("address") or "").strip()
    if form.get("lat") and form.get("lon"):
        specs.append({"kind": "point", "lat": form.get("lat"), "lon": form.get("lon"), "radius_m": radius})
    elif address:
        match = await run(request.app[HUB].addresses.lookup, address, tenant_code)
        if match is None:
            raise Invalid(gettext_for(request)("Address not found: %(address)s") % {"address": address})
        specs.append({"kind": "point", "lat": match.lat, "lon": match.lng, "radius_m": radius})
    if str(form.get("polygon") or "").strip():
        specs.append({"kind": "polygon", "geojson": str(form["polygon"])})
    return specs


async def _choices(request: web.Request, form: Any, tenant_code: str) -> Any:
    specs = await area_specs(request, form, tenant_code)
    return await run(_alerts(request).subscribers.choices, tenant_code, topics=form.getall("topic", []),
                     area_specs=specs, language=str(form.get("language") or pick_language(request)),
                     quiet_start=str(form.get("quiet_start") or ""), quiet_end=str(form.get("quiet_end") or ""))


async def _form_context(request: web.Request, tenant_code: str, current: Any = None) -> dict[str, Any]:
    al = _alerts(request)
    tenant = await run(request.app[HUB].tenants.get, tenant_code)
    units = await run(al.areas.units, tenant_code)
    lang = pick_language(request)
    chosen = {(a["kind"], a.get("name")) for a in (current.areas if current else [])}
    point = next((a for a in (current.areas if current else []) if a["kind"] == "point"), None)
    return {"topics": topic_labels(lang), "chosen_topics": set(current.topics) if current else set(),
            "units": {k: [u.name for u in units if u.kind == k] for k in ("chome", "school", "zone")},
            "chosen": chosen, "point": point, "mail_languages": LANGUAGES, "language_names": LANGUAGE_NAMES, "current": current,
            "hours": [f"{h:02d}:00" for h in range(24)], "tenant": tenant, "tenant_name": tenant.name}


def _hhmm(minutes: int | None) -> str:
    return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


# -- subscribe ---------------------------------------------------------------------------------------------
async def subscribe_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    code = request.match_info["code"]
    _ = gettext_for(request)
    ctx = await _form_context(request, code)
    return render(request, "alerts/subscribe.html", status=status, title=_("Safety mail"), error=error,
                  action=f"/{code}/alerts", mode="new", hhmm=_hhmm, push_tenant=code, **ctx)


async def subscribe(request: web.Request) -> web.Response:
    _same_origin(request)
    code = request.match_info["code"]
    form = await request.post()
    _ = gettext_for(request)
    try:
        choices = await _choices(request, form, code)
        await run(_alerts(request).subscribers.signup, code, str(form.get("email") or ""), choices, _client(request))
    except HubError as exc:
        return await subscribe_form(request, error=exc.message, status=exc.status)
    return _message(request, _("Check your mail"),
                    _("We sent a mail with a confirmation link. Open it to finish subscribing."))


def _message(request: web.Request, title: str, text: str, *, action: str | None = None, button: str = "",
             link: str | None = None, status: int = 200) -> web.Response:
    return render(request, "alerts/message.html", status=status, title=title, text=text, action=action,
                  button=button, link=link)


async def confirm_page(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    return _message(request, _("Confirm your subscription"), _("Press the button to start receiving safety mail."),
                    action=request.path, button=_("Subscribe"))


async def confirm(request: web.Request) -> web.Response:
    _same_origin(request)
    _ = gettext_for(request)
    token = await run(_alerts(request).subscribers.confirm, request.match_info["token"])
    return _message(request, _("You are subscribed"), _("You will receive safety mail from now on."),
                    link=f"/alerts/p/{token}")


# -- preferences and unsubscribe -----------------------------------------------------------------------------
async def prefs_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    token = request.match_info["token"]
    sub = await run(_alerts(request).subscribers.view, token)
    _ = gettext_for(request)
    ctx = await _form_context(request, sub.tenant_code, sub)
    resp = render(request, "alerts/subscribe.html", status=status, title=_("Your safety mail settings"), error=error,
                  action=request.path.removesuffix("/"), mode="prefs", hhmm=_hhmm, push_tenant=sub.tenant_code,
                  unsubscribe_action=f"/alerts/p/{token}/unsubscribe",
                  community_url=f"/community/{sub.tenant_code}/me?t={quote(token, safe='')}", **ctx)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp


async def prefs_save(request: web.Request) -> web.Response:
    _same_origin(request)
    token = request.match_info["token"]
    al = _alerts(request)
    sub = await run(al.subscribers.view, token)
    form = await request.post()
    try:
        choices = await _choices(request, form, sub.tenant_code)
        await run(al.subscribers.update, token, choices)
    except HubError as exc:
        return await prefs_page(request, error=exc.message, status=exc.status)
    raise web.HTTPSeeOther(f"/alerts/p/{token}?saved=1")


async def unsubscribe_page(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    await run(_alerts(request).subscribers.view, request.match_info["token"], "u")
    return _message(request, _("Stop safety mail"), _("Press the button to stop all safety mail to this address."),
                    action=request.path, button=_("Unsubscribe"))


async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click (a POST with List-Unsubscribe=One-Click, from the mail provider) or the button."""
    _ = gettext_for(request)
    try:
        await run(_alerts(request).subscribers.unsubscribe, request.match_info["token"])
    except NotFound:
        pass  # already unsubscribed: the answer is the same
    return _message(request, _("Unsubscribed"), _("You will not receive safety mail any more. Your address was deleted."))


# -- 空メール sign-up link -----------------------------------------------------------------------------------
async def mail_signup_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    tenant_code, address = await run(_alerts(request).subscribers.signup_token, request.match_info["token"])
    code = request.query.get("tenant") or tenant_code
    _ = gettext_for(request)
    if not code:
        tenants = await run(request.app[HUB].tenants.list)
        return render(request, "alerts/choose_tenant.html", title=_("Safety mail"), tenants=tenants)
    ctx = await _form_context(request, code)
    return render(request, "alerts/subscribe.html", status=status, title=_("Safety mail"), error=error,
                  action=f"{request.path}?tenant={code}", mode="mail", email=address, hhmm=_hhmm, push_tenant=None, **ctx)


async def mail_signup(request: web.Request) -> web.Response:
    _same_origin(request)
    token = request.match_info["token"]
    al = _alerts(request)
    tenant_code, _addr = await run(al.subscribers.signup_token, token)
    code = request.query.get("tenant") or tenant_code or ""
    form = await request.post()
    try:
        choices = await _choices(request, form, code)
        prefs = await run(al.subscribers.complete_mail_signup, token, code, choices)
    except HubError as exc:
        return await mail_signup_form(request, error=exc.message, status=exc.status)
    _ = gettext_for(request)
    return _message(request, _("You are subscribed"), _("You will receive safety mail from now on."),
                    link=f"/alerts/p/{prefs}")


# -- Web Push ------------------------------------------------------------------------------------------------
async def service_worker(request: web.Request) -> web.Response:
    return web.Response(text=(TEMPLATES / "sw.js").read_text(encoding="utf-8"), content_type="application/javascript",
                        headers={"Service-Worker-Allowed": "/alerts/", "Cache-Control": "no-cache"})


async def push_script(request: web.Request) -> web.Response:
    return web.Response(text=(TEMPLATES / "push.js").read_text(encoding="utf-8"), content_type="application/javascript")


async def vapid_key(request: web.Request) -> web.Response:
    return json_response(request, {"publicKey": await run(lambda: _alerts(request).vapid.public_key)})


async def push_subscribe(request: web.Request) -> web.Response:
    _same_origin(request)
    try:
        body = await request.json()
    except ValueError:
        raise Invalid("send the push subscription as JSON") from None
    code = str(body.get("tenant") or "")
    al = _alerts(request)
    choices = await run(al.subscribers.choices, code, topics=body.get("topics"), area_specs=body.get("areas"),
                        language=str(body.get("language") or pick_language(request)),
                        quiet_start=body.get("quiet_start") or None, quiet_end=body.get("quiet_end") or None)
    token = await run(al.subscribers.push_subscribe, code, body.get("subscription") or {}, choices, _client(request))
    return web.json_response({"prefs": f"/alerts/p/{token}"}, status=201)


async def push_unsubscribe(request: web.Request) -> web.Response:
    _same_origin(request)
    body = await request.json()
    removed = await run(_alerts(request).subscribers.push_unsubscribe, str(body.get("endpoint") or ""))
    return web.json_response({"removed": removed})


# -- public alert page ---------------------------------------------------------------------------------------
async def alert_page(request: web.Request) -> web.Response:
    al = _alerts(request)
    try:
        record = await run(al.lifecycle.get, int(request.match_info["id"]))
    except ValueError:
        raise NotFound("no such alert") from None
    if record.state not in SHOWN_STATES or record.alert.status != "Actual":  # drills, tests: staff only
        raise NotFound("no such alert")
    lang, text = record.alert.text_for(pick_language(request))
    tenant = await run(request.app[HUB].tenants.get, record.tenant_code)
    return render(request, "alerts/alert.html", title=text.headline, record=record, text=text, text_lang=lang,
                  tenant=tenant, tenant_name=tenant.name, jst=JST, topic_label=TOPICS[record.alert.topic][2])


def add_public_alert_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(r"/{code:\d{5}}/alerts", subscribe_form)
    r.add_post(r"/{code:\d{5}}/alerts", subscribe)
    r.add_get("/alerts/confirm/{token}", confirm_page)
    r.add_post("/alerts/confirm/{token}", confirm)
    r.add_get("/alerts/p/{token}", prefs_page)
    r.add_post("/alerts/p/{token}", prefs_save)
    r.add_post("/alerts/p/{token}/unsubscribe", unsubscribe)
    r.add_get("/alerts/u/{token}", unsubscribe_page)
    r.add_post("/alerts/u/{token}", unsubscribe)
    r.add_get("/alerts/signup/{token}", mail_signup_form)
    r.add_post("/alerts/signup/{token}", mail_signup)
    r.add_get("/alerts/sw.js", service_worker)
    r.add_get("/alerts/push.js", push_script)
    r.add_get("/alerts/push/key", vapid_key)
    r.add_post("/alerts/push/subscribe", push_subscribe)
    r.add_post("/alerts/push/unsubscribe", push_unsubscribe)
    r.add_get(r"/alerts/a/{id:\d+}", alert_page)

