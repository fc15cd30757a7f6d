"""Web routes of the community package on the public app: the map layer and list of recent suspicious-person
reports and the machine APIs (ILS holds and new arrivals, watch-over events, liaison reports: HMAC-signed with an
API key). The resident's pages and forms (My community services, group pages with joining, posting and
replying, library-card linking, new-arrival subjects, watch-over registration and confirmation) live in
portal/community_resident_routes.py. Mounted by `add_public_community_routes(app)`; the staff pages live in
portal/community_staff_routes.py (`add_staff_community_routes(app)`). Handlers take the hub from the app
(`hub.community`)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from machihub.errors import Invalid
from machihub.principal import Principal
from portal.i18n import pick_language
from portal.pages import gettext_for, render
from portal.web import HUB, dumps, run


def _cm(request: web.Request) -> Any:
    return request.app[HUB].community  # type: ignore[attr-defined]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


async def _signed(request: web.Request, purpose: str) -> tuple[Principal, bytes]:
    body = await request.read()
    key_id = request.headers.get("X-Machihub-Key", "")
    signature = request.headers.get("X-Machihub-Signature", "")
    by = await run(request.app[HUB].users.api_signed, key_id, body, signature, purpose)
    return by, body


def _body_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"the body is not JSON: {exc}") from exc


def _float(form: Any, name: str) -> float:
    try:
        return float(form.get(name))
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number") from None


# -- public: reports layer and groups ------------------------------------------------------------------------
def as_points(layer: dict[str, Any]) -> dict[str, Any]:
    """The same reports as points at their generalised place's label point (what the map's point layer draws);
    never the exact point, which the public layer does not hold."""
    feats = [{**f, "geometry": {"type": "Point", "coordinates": [f["properties"]["label_lon"],
                                                                  f["properties"]["label_lat"]]}}
             for f in layer["features"]]
    return {**layer, "features": feats}


async def reports_layer(request: web.Request) -> web.Response:
    layer = await run(_cm(request).reports.public_layer, request.match_info["tenant"])
    if request.query.get("as") == "points":
        layer = as_points(layer)
    resp = web.json_response(layer, dumps=dumps, content_type="application/geo+json")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


async def reports_list(request: web.Request) -> web.Response:
    """The text alternative of the map layer."""
    tenant = await run(request.app[HUB].tenants.get, request.match_info["tenant"])
    layer = await run(_cm(request).reports.public_layer, tenant.code)
    _ = gettext_for(request)
    return render(request, "community/reports.html", title=_("Suspicious-person reports"), tenant=tenant,
                  tenant_name=tenant.name if pick_language(request).startswith("ja") else (tenant.name_en or tenant.name),
                  reports=[f["properties"] for f in layer["features"]])


async def map_layers(request: web.Request, tenant_code: str) -> list[dict[str, Any]]:
    """The public map's entry for recent suspicious-person reports, when there are any."""
    layer = await run(_cm(request).reports.public_layer, tenant_code)
    if not layer["features"]:
        return []
    _ = gettext_for(request)
    return [{"key": "community-reports", "title": _("Suspicious-person reports"), "geometry": "Point",
             "color": "#6a1b9a", "visible": False, "items": f"/community/{tenant_code}/reports.geojson?as=points",
             "list": f"/community/{tenant_code}/reports", "label_field": "place", "hazards": {}}]


# -- machine APIs (HMAC-signed) --------------------------------------------------------------------------------
async def ils_events(request: web.Request) -> web.Response:
    by, body = await _signed(request, "ils")
    lib = _cm(request).library
    if request.content_type == "text/csv":
        events = lib.parse_csv(body.decode("utf-8-sig"))
    else:
        data = _body_json(body)
        events = data.get("events") if isinstance(data, dict) and "events" in data else [data]
    return _json(await run(lib.handle, by, events))


async def ils_arrivals(request: web.Request) -> web.Response:
    """New arrivals from the ILS (JSON {"arrivals": [...]} or CSV item_id,title,ndc,branch,arrived): all or none."""
    by, body = await _signed(request, "ils")
    arrivals = _cm(request).arrivals
    if request.content_type == "text/csv":
        try:
            rows = arrivals.parse_csv(body.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise Invalid("the CSV must be UTF-8") from None
    else:
        data = _body_json(body)
        rows = data.get("arrivals") if isinstance(data, dict) and "arrivals" in data else [data]
        if not isinstance(rows, list):
            raise Invalid("arrivals must be a list")
    return _json(await run(arrivals.add, by, rows), status=201)


async def ils_link_code(request: web.Request) -> web.Response:
    by, body = await _signed(request, "ils")
    code = await run(_cm(request).library.link_code, by, str(_body_json(body).get("patron_id") or ""))
    return _json({"code": code}, status=201)


async def ils_unlinked(request: web.Request) -> web.Response:
    by, _ = await _signed(request, "ils")
    return _json({"unlinked_holds": await run(_cm(request).library.unlinked, by)})


async def watch_event(request: web.Request) -> web.Response:
    by, body = await _signed(request, "watch")
    return _json({"queued": await run(_cm(request).watch.event, by, _body_json(body))}, status=202)


async def watch_codes(request: web.Request) -> web.Response:
    """The watch system fetches a person's pending registrations with one-time codes to show the person."""
    by, body = await _signed(request, "watch")
    data = _body_json(body)
    person = str(data.get("person_id") or "") if isinstance(data, dict) else ""
    pending = await run(_cm(request).watch.issue_codes, by, person)
    return _json({"pending": pending, "confirm_url": f"{_cm(request).alerts.config.public_url}/community/watch/confirm"})


async def liaison_report(request: web.Request) -> web.Response:
    by, body = await _signed(request, "liaison")
    data = _body_json(body)
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    return _json({"id": await file_report(request, by, data)}, status=201)


async def file_report(request: web.Request, by: Principal, form: Any) -> int:
    """File a report from a form or JSON body (the staff page and the liaison API)."""
    try:
        occurred = datetime.fromisoformat(str(form.get("occurred") or "").strip())
    except ValueError:
        raise Invalid("occurred must be a date and time (ISO 8601)") from None
    return int(await run(_cm(request).reports.file, by, str(by.tenant_code), occurred=occurred,
                         lat=_float(form, "lat"), lon=_float(form, "lon"), what=str(form.get("what") or ""),
                         person=str(form.get("person") or ""), follow_up=str(form.get("follow_up") or "")))


def report_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "state": r.state, "occurred": r.occurred, "place": r.place_name, "texts": r.texts,
            "findings": [f.as_dict() for f in r.findings], "filed_by": r.filed_by, "alert_id": r.alert_id,
            "public_until": r.public_until}


def add_public_community_routes(app: web.Application) -> None:
    from portal.community_resident_routes import add_resident_community_routes

    add_resident_community_routes(app)  # the resident's pages and forms
    app.router.add_get("/community/{tenant:\\d{5}}/reports.geojson", reports_layer)
    app.router.add_get("/community/{tenant:\\d{5}}/reports", reports_list)
    app.router.add_post("/community/api/library/arrivals", ils_arrivals)
    app.router.add_post("/community/api/library/events", ils_events)
    app.router.add_post("/community/api/library/link-code", ils_link_code)
    app.router.add_post("/community/api/library/unlinked", ils_unlinked)
    app.router.add_post("/community/api/watch/events", watch_event)
    app.router.add_post("/community/api/watch/codes", watch_codes)
    app.router.add_post("/community/api/reports", liaison_report)


def add_staff_community_routes(app: web.Application) -> None:
    from portal.community_staff_routes import add_staff_community_routes as add

    add(app)
