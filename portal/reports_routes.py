"""Resident reports on the map: the public form, Open311 GeoReport v2 (JSON), the open-reports map layer,
and the staff list where the responsible department changes a report's status."""
from __future__ import annotations

import json
import re

from aiohttp import web

from layers.reports.store import MAX_PHOTO, MAX_TEXT, STATUSES, request_json, services_json
from machihub.errors import Invalid, NotFound, TooManyRequests
from portal.i18n import pick_language
from portal.pages import gettext_for, render
from portal.ratelimit import RateLimiter
from portal.web import HUB, PRINCIPAL, SESSION, json_response, run, wants_html

LIMITER: web.AppKey[RateLimiter] = web.AppKey("report_limiter", RateLimiter)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _jurisdiction(request: web.Request) -> str:
    code = request.match_info.get("code") or request.query.get("jurisdiction_id") or ""
    if not (code.isdigit() and len(code) == 5):
        raise Invalid("jurisdiction_id must be the municipality's 5-digit code")
    return code


class _Problem(Invalid):
    """A report the form can explain: the English message for API clients, plus the field at fault and a
    translatable message (msgid and parameters) for the re-rendered form."""

    def __init__(self, message: str, field: str, msgid: str, **params: object) -> None:
        super().__init__(message)
        self.field, self.msgid, self.params = field, msgid, params


def N_(msgid: str) -> str:  # marks a message for extraction; translated when the form is rendered
    return msgid


# What the store says (English, for the API) -> the field at fault and what the form says, in the reader's language.
_STORE_PROBLEMS = [
    ("describe the problem", "description", N_("Describe the problem.")),
    ("the description is longer than", "description",
     N_("The description is too long: at most %(max)d characters.")),
    ("the location is not a valid", "location", N_("This location is not valid. Click on the map or type an address.")),
    ("the location is outside", "location",
     N_("This place is outside the municipality. Click on the map inside it or type an address there.")),
    ("the photo is larger than", "photo", N_("The photo is too large: at most %(mb)d MB.")),
    ("the photo must be", "photo", N_("The photo must be a JPEG or PNG image.")),
    ("the photo cannot be read", "photo", N_("The photo cannot be read. Choose a JPEG or PNG image.")),
]


def _explain(exc: Invalid) -> _Problem:
    if isinstance(exc, _Problem):
        return exc
    for prefix, field, msgid in _STORE_PROBLEMS:
        if exc.message.startswith(prefix):
            return _Problem(exc.message, field, msgid, max=MAX_TEXT, mb=MAX_PHOTO // (1024 * 1024))
    return _Problem(exc.message, "form", N_("The report could not be accepted. Check the form and try again."))


async def _form_context(request: web.Request, code: str) -> dict:
    hub = request.app[HUB]
    tenant = await run(hub.tenants.get, code)
    services = await run(hub.reports.services, code)
    _ = gettext_for(request)
    lang = pick_language(request)
    return {"title": _("Report a problem"), "tenant": tenant,
            "tenant_name": tenant.name if lang.startswith("ja") else (tenant.name_en or tenant.name),
            "services": services_json(services, lang), "tile_url": hub.settings.tile_url,
            "tile_attribution": re.sub(r"<[^>]+>", "", hub.settings.tile_attribution),
            "values": {}, "problem": None, "max_text": MAX_TEXT}


async def report_form(request: web.Request) -> web.Response:
    code = _jurisdiction(request)
    return render(request, "report_form.html", **await _form_context(request, code))


async def _submit(request: web.Request, code: str, form) -> tuple:
    hub = request.app[HUB]
    tenant = await run(hub.tenants.get, code)

    def number(name: str, *alts: str) -> float | None:
        raw = next((form.get(n) for n in (name, *alts) if form.get(n)), None)
        if raw in (None, ""):
            return None
        try:
            return float(str(raw))
        except ValueError:
            raise _Problem(f"{name} must be a number", "location",
                           N_("This location is not valid. Click on the map or type an address.")) from None

    description = str(form.get("description") or "").strip()
    if not description:
        raise _Problem("describe the problem", "description", N_("Describe the problem."))
    if len(description) > MAX_TEXT:
        raise _Problem(f"the description is longer than {MAX_TEXT} characters", "description",
                       N_("The description is too long: at most %(max)d characters."), max=MAX_TEXT)
    lat, lon = number("lat"), number("long", "lon")
    address = str(form.get("address_string") or form.get("address") or "").strip()
    if lat is None or lon is None:
        if not address:
            raise _Problem("give the location: click on the map or type an address", "location",
                           N_("Give the location: click on the map or type an address."))
        match = await run(hub.addresses.lookup, address, code)
        if match is None:
            raise _Problem(f"address not found: {address}", "location",
                           N_("Address not found: %(address)s. Check it, or click on the map instead."),
                           address=address)
        lat, lon = match.lat, match.lng
    # counted once the form is complete: a resident correcting a typo is not throttled, a flood still is
    request.app[LIMITER].check(request.remote or "-")
    media = form.get("media")
    photo = media.file.read() if isinstance(media, web.FileField) else None
    try:
        return await run(hub.reports.submit, code, str(form.get("service_code") or ""),
                         description=description, lat=lat, lon=lon, address=address, photo=photo or None,
                         contact=str(form.get("email") or "") or None, boundary=tenant.boundary)
    except Invalid as exc:
        raise _explain(exc) from None


async def report_submit(request: web.Request) -> web.Response:
    code = _jurisdiction(request)
    form = await request.post()
    _ = gettext_for(request)
    try:
        report, token = await _submit(request, code, form)
    except (Invalid, TooManyRequests) as exc:
        if not wants_html(request):
            raise  # API clients get the JSON error from the middleware
        if isinstance(exc, TooManyRequests):
            problem = _Problem(exc.message, "form",
                               N_("Too many reports from your connection. Please wait a few minutes and try again."))
        else:
            problem = _explain(exc)
        ctx = await _form_context(request, code)
        media = form.get("media")
        ctx["values"] = {k: str(form.get(k) or "") for k in ("service_code", "description", "address_string",
                                                              "lat", "long", "email")}
        ctx["problem"] = {"field": problem.field, "text": _(problem.msgid) % problem.params if problem.params
                          else _(problem.msgid),
                          "photo_again": isinstance(media, web.FileField) and problem.field != "photo"}
        if problem.field == "photo":
            ctx["problem"]["photo_again"] = False
        return render(request, "report_form.html", status=exc.status, **ctx)
    return render(request, "report_done.html", title=_("Thank you"), report=report,
                  follow=f"/reports/{report.id}?token={token}")


async def open311_services(request: web.Request) -> web.Response:
    code = _jurisdiction(request)
    services = await run(request.app[HUB].reports.services, code)
    return json_response(request, services_json(services, request.query.get("locale", "ja")))


async def open311_requests(request: web.Request) -> web.Response:
    code = _jurisdiction(request)
    status = request.query.get("status")
    statuses = None
    if status == "open":
        statuses = [s for s in STATUSES if s != "closed"]
    elif status == "closed":
        statuses = ["closed"]
    elif status:
        raise Invalid("status must be open or closed")
    reports = await run(request.app[HUB].reports.search, code, status=statuses,
                        service_code=request.query.get("service_code"), start=request.query.get("start_date"),
                        end=request.query.get("end_date"))
    return json_response(request, [request_json(r, _base(request)) for r in reports])


async def open311_request(request: web.Request) -> web.Response:
    rid = request.match_info["rid"]
    if not rid.isdigit():
        raise NotFound(f"no request {rid}")
    report = await run(request.app[HUB].reports.get, int(rid))
    return json_response(request, [request_json(report, _base(request))])


async def open311_post(request: web.Request) -> web.Response:
    form = await request.post()
    code = str(form.get("jurisdiction_id") or "")
    if not (code.isdigit() and len(code) == 5):
        raise Invalid("jurisdiction_id must be the municipality's 5-digit code")
    report, token = await _submit(request, code, form)
    return json_response(request, [{"service_request_id": str(report.id), "token": token,
                                    "service_notice": "", "account_id": None}], status=201)


async def open_reports_geojson(request: web.Request) -> web.Response:
    """Open reports as a map layer: category, description and status only (no personal details)."""
    code = _jurisdiction(request)
    reports = await run(request.app[HUB].reports.search, code, status=[s for s in STATUSES if s != "closed"])
    services = {s.code: s for s in await run(request.app[HUB].reports.services, code)}
    lang = pick_language(request)
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": r.id, "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
         "properties": {"category": (services[r.service_code].name_ja if lang.startswith("ja") else
                                     services[r.service_code].name_en or services[r.service_code].name_ja)
                        if r.service_code in services else r.service_code,
                        "description": r.description, "status": r.status, "requested": r.requested[:10]}}
        for r in reports]}
    return json_response(request, json.dumps(fc, ensure_ascii=False), content_type="application/geo+json")


async def open_reports_page(request: web.Request) -> web.Response:
    """Text alternative of the open-reports map layer."""
    hub = request.app[HUB]
    code = _jurisdiction(request)
    tenant = await run(hub.tenants.get, code)
    reports = await run(hub.reports.search, code, status=[s for s in STATUSES if s != "closed"])
    names = {s.code: s for s in await run(hub.reports.services, code)}
    lang = pick_language(request)
    _ = gettext_for(request)
    rows = [(r, (names[r.service_code].name_ja if lang.startswith("ja") else names[r.service_code].name_en)
             if r.service_code in names else r.service_code) for r in reports]
    return render(request, "reports_list.html", title=_("Open resident reports"), tenant=tenant,
                  tenant_name=tenant.name if lang.startswith("ja") else (tenant.name_en or tenant.name), rows=rows)


async def report_photo(request: web.Request) -> web.Response:
    rid = request.match_info["rid"]
    if not rid.isdigit():
        raise NotFound("no such photo")
    data = await run(request.app[HUB].reports.photo, int(rid))
    return web.Response(body=data, content_type="image/jpeg")


def add_public_report_routes(app: web.Application) -> None:
    app[LIMITER] = RateLimiter(10, 600)
    app.router.add_get(r"/{code:\d{5}}/report", report_form)
    app.router.add_post(r"/{code:\d{5}}/report", report_submit)
    app.router.add_get(r"/{code:\d{5}}/reports", open_reports_page)
    app.router.add_get(r"/api/{code:\d{5}}/reports.geojson", open_reports_geojson)
    app.router.add_get("/open311/v2/services.json", open311_services)
    app.router.add_get("/open311/v2/requests.json", open311_requests)
    app.router.add_post("/open311/v2/requests.json", open311_post)
    app.router.add_get(r"/open311/v2/requests/{rid}.json", open311_request)
    app.router.add_get(r"/reports/{rid}/photo.jpg", report_photo)


# -- staff ---------------------------------------------------------------------------------------------
async def staff_reports(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    dept = None if p.admin_of(p.tenant_code) else p.department_id
    reports = await run(request.app[HUB].reports.search, p.tenant_code, department_id=dept)
    _ = gettext_for(request)
    return render(request, "staff/reports.html", title=_("Resident reports"), reports=reports, statuses=STATUSES,
                  csrf=request[SESSION].csrf_token)


async def staff_report_status(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    rid = request.match_info["rid"]
    if not rid.isdigit():
        raise NotFound(f"no report {rid}")
    await run(request.app[HUB].reports.set_status, request[PRINCIPAL], int(rid), str(form.get("status")),
              str(form.get("note") or ""))
    raise web.HTTPSeeOther("/reports")


def add_staff_report_routes(app: web.Application) -> None:
    app.router.add_get("/reports", staff_reports)
    app.router.add_post(r"/reports/{rid}/status", staff_report_status)
