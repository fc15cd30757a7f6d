"""FAQ on the web. Public app: the FAQ list, search, entry pages with "Was this helpful?" (same search as the
staff, public entries only). Staff app: the call-center console (search as you type, alerts in force pinned
on top, one-click inquiry logging, escalation to a department), entry pages with history and editing, the
department's escalations, the report, and import/export. The domain (faq/) checks roles and audits."""
from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from faq.model import CHANNELS, FaqEntry
from faq.store import can_create, can_edit
from faq.store_io import export_csv, export_json, import_entries
from faq.store_search import SearchResult
from machihub.errors import HubError, Invalid, NotFound
from portal.i18n import layer_name_language, pick_language
from portal.pages import gettext_for, render
from portal.ratelimit import RateLimiter
from portal.web import HUB, PRINCIPAL, SESSION, json_response, run

log = logging.getLogger("machihub.portal.faq")
VOTES: web.AppKey[RateLimiter] = web.AppKey("faq_votes", RateLimiter)
SEARCHES: web.AppKey[RateLimiter] = web.AppKey("faq_searches", RateLimiter)


def _int(value: Any, what: str, *, form: bool = False) -> int:
    """A number from the path (unknown → 404) or from a form (malformed → 400)."""
    try:
        return int(str(value))
    except ValueError:
        if form:
            raise Invalid(f"{what} must be a number") from None
        raise NotFound(f"no {what} {value!r}") from None


def _topic_labels(lang: str) -> dict[str, str]:
    from alerts.model import TOPICS

    return {k: (v[2] if lang.startswith("ja") else v[3]) for k, v in TOPICS.items()}


async def _layers(request: web.Request, entry: FaqEntry, principal: Any) -> list[tuple[str, str]]:
    """(key, name) of the linked map layers this reader may see; others are left out, not shown as broken."""
    lang = layer_name_language(pick_language(request))
    out = []
    for key in entry.layers:
        try:
            out.append((key, (await run(request.app[HUB].layers.get_layer, key, principal)).name(lang)))
        except HubError:
            continue
    return out


def _hits_json(result: SearchResult, base: str, query: str) -> dict[str, Any]:
    return {"query": result.query, "matched": result.matched, "hits": [
        {"id": h.entry.id, "question": h.entry.question, "question_html": h.question_html,
         "answer_html": h.answer_html, "categories": list(h.entry.categories), "shared": h.entry.shared,
         "visibility": h.entry.visibility, "lexical": h.lexical, "url": f"{base}/{h.entry.id}"}
        for h in result.hits]}


# -- public --------------------------------------------------------------------------------------------------
async def _public_tenant(request: web.Request):
    tenant = await run(request.app[HUB].tenants.get, request.match_info["code"])
    lang = pick_language(request)
    return tenant, tenant.name if lang.startswith("ja") else (tenant.name_en or tenant.name)


async def public_list(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    tenant, name = await _public_tenant(request)
    _ = gettext_for(request)
    q = (request.query.get("q") or "").strip()
    category = request.query.get("category") or None
    result = None
    if q:
        request.app[SEARCHES].check(request.remote or "-")
        result = await run(hub.faq.search, tenant.code, q, audience="public", k=20)
        top = result.hits[0].entry.id if result.hits else None
        await run(hub.faq.inquiries.public_search, tenant.code, q, result.matched, top)
    everything = await run(hub.faq.visible, tenant.code, "public")  # once: the list and its categories
    counts: dict[str, int] = {}
    for e in everything:
        for c in e.categories:
            counts[c] = counts.get(c, 0) + 1
    entries = [e for e in everything if category is None or category in e.categories] if not q else []
    return render(request, "faq/public_list.html", title=_("Frequently asked questions"), tenant=tenant,
                  tenant_name=name, q=q, result=result, entries=entries, category=category,
                  categories=sorted(counts, key=lambda c: (-counts[c], c)))


async def public_entry(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    tenant, name = await _public_tenant(request)
    entry = await run(hub.faq.for_tenant, tenant.code, _int(request.match_info["eid"], "FAQ entry"), "public")
    return render(request, "faq/public_entry.html", title=entry.question, tenant=tenant, tenant_name=name,
                  entry=entry, layers=await _layers(request, entry, None), voted=request.query.get("voted"),
                  topics=_topic_labels(pick_language(request)))


async def public_vote(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    code, eid = request.match_info["code"], _int(request.match_info["eid"], "FAQ entry")
    request.app[VOTES].check(request.remote or "-")
    form = await request.post()
    if form.get("helpful") not in ("yes", "no"):
        raise Invalid("answer yes or no")
    helpful = form.get("helpful") == "yes"
    await run(hub.faq.inquiries.vote, code, eid, helpful)
    raise web.HTTPSeeOther(f"/{code}/faq/{eid}?voted={'yes' if helpful else 'no'}&lang={pick_language(request)}")


async def public_search_json(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    request.app[SEARCHES].check(request.remote or "-")
    result = await run(request.app[HUB].faq.search, code, request.query.get("q") or "", audience="public")
    return json_response(request, _hits_json(result, f"/{code}/faq", result.query))


def add_public_faq_routes(app: web.Application) -> None:
    app[VOTES] = RateLimiter(30, 600)
    app[SEARCHES] = RateLimiter(120, 60)
    app.router.add_get(r"/{code:\d{5}}/faq", public_list)
    app.router.add_get(r"/{code:\d{5}}/faq/{eid:\d+}", public_entry)
    app.router.add_post(r"/{code:\d{5}}/faq/{eid:\d+}/helpful", public_vote)
    app.router.add_get(r"/api/{code:\d{5}}/faq/search", public_search_json)


# -- staff ---------------------------------------------------------------------------------------------------
def _alerts_in_force(hub: Any, tenant_code: str, lang: str) -> list[dict[str, Any]]:
    """The alerts in force (portal.alerts_overlay), each with its topic so the console can pin linked FAQs."""
    from portal.alerts_overlay import alerts_in_force

    if getattr(hub, "alerts", None) is None:
        return []
    try:
        alerts = alerts_in_force(hub, tenant_code, lang)
        return [{**a, "topic": hub.alerts.lifecycle.get(a["id"]).alert.topic} for a in alerts]
    except Exception:  # noqa: BLE001 - the console must still answer calls if the alerts part fails
        log.exception("alerts in force could not be read")
        return []


def _ctx(request: web.Request) -> dict[str, Any]:
    p = request[PRINCIPAL]
    return {"csrf": request[SESSION].csrf_token if SESSION in request else "", "channels": CHANNELS,
            "can_log": p.has("call_center"), "can_report": p.has("call_center") or p.has("auditor")}


async def console(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    _ = gettext_for(request)
    q = (request.query.get("q") or "").strip()
    alerts = await run(_alerts_in_force, hub, p.tenant_code, pick_language(request))
    pinned = await run(hub.faq.with_topics, p.tenant_code, {a["topic"] for a in alerts})
    result = await run(hub.faq.search, p.tenant_code, q) if q else None
    config = {"csrf": _ctx(request)["csrf"], "labels": {
        "results": _("%(n)d results"), "none": _("No FAQ found. Log the inquiry or escalate it."),
        "related": _("No entry contains these words. Perhaps related (%(n)d):"),
        "logged": _("Inquiry logged"), "answered": _("Answered with this"), "failed": _("Could not save")}}
    return render(request, "faq/console.html", title=_("Call center"), q=q, result=result, alerts=alerts,
                  pinned=pinned, categories=await run(hub.faq.categories, p.tenant_code, "staff"),
                  departments=await run(hub.tenants.departments, p.tenant_code),
                  recent=await run(hub.faq.inquiries.recent, p), logged=request.query.get("logged"),
                  topics=_topic_labels(pick_language(request)),
                  config_json=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"), **_ctx(request))


async def console_search(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    result = await run(request.app[HUB].faq.search, p.tenant_code, request.query.get("q") or "")
    return json_response(request, _hits_json(result, "/faq/entries", result.query))


async def log_inquiry(request: web.Request) -> web.StreamResponse:
    as_json = request.content_type == "application/json"
    try:
        form: Any = await request.json() if as_json else await request.post()
    except ValueError:
        raise Invalid("the request body is not JSON") from None
    if not hasattr(form, "get"):
        raise Invalid("send an object with channel, entry_id or department_id, query, note")

    def opt_int(name: str) -> int | None:
        raw = str(form.get(name) or "").strip()
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise Invalid(f"{name} must be a number") from None

    inquiry = await run(request.app[HUB].faq.inquiries.log, request[PRINCIPAL],
                        channel=str(form.get("channel") or "phone"), category=str(form.get("category") or ""),
                        entry_id=opt_int("entry_id"), query=str(form.get("query") or ""),
                        department_id=opt_int("department_id"), note=str(form.get("note") or ""),
                        matched=opt_int("matched"))
    if as_json:
        return web.json_response({"id": inquiry.id, "status": inquiry.status, "entry_id": inquiry.entry_id})
    back = str(form.get("next") or "/faq")
    back = back if back.startswith("/") and not back.startswith("//") else "/faq"
    raise web.HTTPSeeOther(f"{back}{'&' if '?' in back else '?'}logged={inquiry.id}")


async def entry_page(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    _ = gettext_for(request)
    eid = request.match_info.get("eid")
    entry = await run(hub.faq.readable, p, _int(eid, "FAQ entry")) if eid else None
    versions = await run(hub.faq.versions, entry.id) if entry else []
    editable = can_edit(p, entry) if entry else can_create(p, p.tenant_code, (p.tenant_code or "")[:2])
    local = await run(hub.faq.local_override, p.tenant_code, entry.id) if entry and entry.shared else None
    return render(request, "faq/staff_entry.html", title=entry.question if entry else _("New FAQ entry"),
                  entry=entry, versions=versions, editable=editable, q=request.query.get("q", ""),
                  layers=await _layers(request, entry, p) if entry else [],
                  layer_choices=await _layer_choices(request, entry, p),
                  departments=await run(hub.tenants.departments, p.tenant_code),
                  topics=_topic_labels(pick_language(request)), logged=request.query.get("logged"), local=local,
                  can_override=can_create(p, p.tenant_code, (p.tenant_code or "")[:2]),
                  today=hub.faq.inquiries.today(), **_ctx(request))


async def _layer_choices(request: web.Request, entry: FaqEntry | None, principal: Any) -> list[tuple[str, str]]:
    """(key, name) of every layer the editor may read, plus keys already linked (kept, even if gone)."""
    lang = layer_name_language(pick_language(request))
    readable = await run(request.app[HUB].layers.list_layers, principal)
    choices = [(la.key, f"{la.name(lang)} ({la.tenant_code})") for la in readable]
    known = {k for k, _ in choices}
    return choices + [(k, k) for k in (entry.layers if entry else ()) if k not in known]


def _fields(form: Any) -> dict[str, Any]:
    return {"question": form.get("question"), "answer": form.get("answer"), "categories": form.get("categories"),
            "department_id": form.get("department_id"), "visibility": form.get("visibility"),
            "review_date": form.get("review_date"), "layers": list(form.getall("layers", [])),
            "alert_topics": list(form.getall("alert_topics", []))}


async def entry_save(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    form = await request.post()
    eid = request.match_info.get("eid")
    if eid:
        entry = await run(hub.faq.update, p, _int(eid, "FAQ entry"), _fields(form),
                          _int(form.get("version"), "version", form=True), str(form.get("note") or ""))
    else:
        owner = p.tenant_code if form.get("owner") != "pool" else (p.tenant_code or "")[:2]
        entry = await run(lambda: hub.faq.create(p, owner, _fields(form), ref=str(form.get("ref") or "") or None,
                                                 note=str(form.get("note") or "")))
    raise web.HTTPSeeOther(f"/faq/entries/{entry.id}")


async def entry_action(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    form = await request.post()
    eid, verb = _int(request.match_info["eid"], "FAQ entry"), request.match_info["verb"]
    if verb == "override":
        entry = await run(hub.faq.override, p, p.tenant_code, eid)
    elif verb == "retire":
        entry = await run(hub.faq.retire, p, eid, _int(form.get("version"), "version", form=True))
    else:
        entry = await run(hub.faq.restore, p, eid, _int(form.get("old"), "version", form=True),
                          _int(form.get("version"), "version", form=True))
    raise web.HTTPSeeOther(f"/faq/entries/{entry.id}")


async def escalations(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    _ = gettext_for(request)
    items = await run(lambda: hub.faq.inquiries.escalations(p, include_closed=True))
    names = {d.id: d.name for d in await run(hub.tenants.departments, p.tenant_code)}
    return render(request, "faq/escalations.html", title=_("Escalated inquiries"), items=items, names=names,
                  **_ctx(request))


async def close_escalation(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await run(request.app[HUB].faq.inquiries.close, request[PRINCIPAL], _int(request.match_info["iid"], "inquiry"),
              str(form.get("note") or ""))
    raise web.HTTPSeeOther("/faq/escalations")


async def report(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    data = await run(request.app[HUB].faq.inquiries.report, request[PRINCIPAL], request.query.get("start") or None,
                     request.query.get("end") or None)
    return render(request, "faq/report.html", title=_("FAQ report"), r=data, **_ctx(request))


async def manage(request: web.Request, result: Any = None, errors: Any = None, status: int = 200) -> web.Response:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    _ = gettext_for(request)
    pool = (p.tenant_code or "")[:2]
    owners = [p.tenant_code] + ([pool] if can_create(p, None, pool) else [])
    own = {o: await run(lambda o=o: hub.faq.owned(o, include_retired=True)) for o in owners}
    return render(request, "faq/manage.html", title=_("Manage the FAQ"), owners=owners, own=own, pool=pool,
                  result=result, errors=errors, today=hub.faq.inquiries.today(), status=status,
                  can_import=p.admin_of(p.tenant_code), **_ctx(request))


async def import_upload(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise Invalid("choose a CSV or JSON file")
    owner = p.tenant_code if form.get("owner") != "pool" else (p.tenant_code or "")[:2]
    data = upload.file.read()
    try:
        result = await run(import_entries, request.app[HUB].faq, p, owner, data, upload.filename or "")
    except Invalid as exc:  # show every numbered row problem on the page, not only the first
        return await manage(request, errors={"message": exc.message, "rows": exc.details or []}, status=400)
    return await manage(request, result=result)


async def export(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    owner = request.query.get("owner") or p.tenant_code
    fmt = request.match_info["fmt"]
    if fmt == "json":
        body, ctype = await run(export_json, request.app[HUB].faq, p, owner), "application/json"
    else:
        enc = request.query.get("encoding") or "utf-8"
        body = await run(export_csv, request.app[HUB].faq, p, owner, enc)
        ctype = "text/csv; charset=" + ("Shift_JIS" if enc == "cp932" else "utf-8")
    return web.Response(body=body, headers={"Content-Type": ctype,
                                            "Content-Disposition": f'attachment; filename="faq-{owner}.{fmt}"'})


def add_staff_faq_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/faq", console)
    r.add_get("/faq/api/search", console_search)
    r.add_post("/faq/inquiries", log_inquiry)
    r.add_post(r"/faq/inquiries/{iid:\d+}/close", close_escalation)
    r.add_get("/faq/escalations", escalations)
    r.add_get("/faq/report", report)
    r.add_get("/faq/manage", manage)
    r.add_post("/faq/import", import_upload)
    r.add_get(r"/faq/export.{fmt:csv|json}", export)
    r.add_get("/faq/entries/new", entry_page)
    r.add_post("/faq/entries", entry_save)
    r.add_get(r"/faq/entries/{eid:\d+}", entry_page)
    r.add_post(r"/faq/entries/{eid:\d+}", entry_save)
    r.add_post(r"/faq/entries/{eid:\d+}/{verb:override|retire|restore}", entry_action)
