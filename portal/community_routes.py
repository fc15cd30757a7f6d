"""Web routes of the community package. Public app: the map layer of recent suspicious-person reports, group
pages (private ones only for members, who are known by their alert preferences link), joining, posting and
replying, library-card linking and watch-over confirmation by the person, and the machine APIs (ILS holds,
watch-over events, liaison reports: HMAC-signed with an API key). Staff app: file, check and approve reports,
create groups, moderate posts, confirm guardians. Mounted by `add_public_community_routes(app)` and
`add_staff_community_routes(app)`; handlers take the hub from the app (`hub.community`)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from machihub.errors import Invalid, Unauthorized
from machihub.principal import Principal
from portal.pages import render
from portal.web import HUB, PRINCIPAL, dumps, run, wants_html

RESIDENT_COOKIE = "mh_resident"


def _cm(request: web.Request) -> Any:
    return request.app[HUB].community  # type: ignore[attr-defined]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


async def _resident(request: web.Request, form: Any = None, *, required: bool = True) -> int | None:
    """The resident's subscriber id from their preferences link token (form field, query or cookie)."""
    token = str((form or {}).get("t") or request.query.get("t") or request.cookies.get(RESIDENT_COOKIE) or "")
    if not token:
        if required:
            raise Unauthorized("open this page from the link in your safety mail settings")
        return None
    return int(await run(_cm(request).resident, token))


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
async def reports_layer(request: web.Request) -> web.Response:
    layer = await run(_cm(request).reports.public_layer, request.match_info["tenant"])
    resp = web.json_response(layer, dumps=dumps, content_type="application/geo+json")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


async def group_page(request: web.Request) -> web.Response:
    sid = await _resident(request, required=False)
    page = await run(_cm(request).groups.page, int(request.match_info["gid"]), sid)
    if not wants_html(request) and request.query.get("f") == "json":
        return _json({"group": page["group"].__dict__, "role": page["role"], "posts": page["posts"]})
    return render(request, "community/group.html", title=page["group"].name, page=page,
                  token=request.query.get("t", ""))


async def group_join(request: web.Request) -> web.Response:
    form = await request.post()
    sid = await _resident(request, form)
    assert sid is not None
    state = await run(_cm(request).groups.join, sid, int(request.match_info["gid"]), str(form.get("code") or ""))
    return _json({"state": state})


async def group_post(request: web.Request) -> web.Response:
    form = await request.post()
    sid = await _resident(request, form)
    pid = await run(_cm(request).groups.post, int(request.match_info["gid"]), str(form.get("title") or ""),
                    str(form.get("body") or ""), sid=sid)
    return _json({"id": pid}, status=201)


async def group_reply(request: web.Request) -> web.Response:
    form = await request.post()
    sid = await _resident(request, form)
    assert sid is not None
    pid = await run(_cm(request).groups.reply, sid, int(request.match_info["gid"]), int(form.get("parent") or 0),
                    str(form.get("body") or ""))
    return _json({"id": pid}, status=201)


async def library_link(request: web.Request) -> web.Response:
    form = await request.post()
    sid = await _resident(request, form)
    assert sid is not None
    await run(_cm(request).library.link, sid, request.match_info["tenant"], str(form.get("code") or ""),
              show_titles=bool(form.get("show_titles")))
    return _json({"linked": True})


async def watch_confirm(request: web.Request) -> web.Response:
    form = await request.post()
    await run(_cm(request).watch.confirm_by_person, str(form.get("code") or ""))
    return _json({"confirmed": True})


async def watch_register(request: web.Request) -> web.Response:
    form = await request.post()
    sid = await _resident(request, form)
    assert sid is not None
    gid, code = await run(_cm(request).watch.register, sid, request.match_info["tenant"],
                          str(form.get("person_id") or ""), str(form.get("label") or ""))
    return _json({"guardian": gid, "code_for_person": code}, status=201)


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


async def liaison_report(request: web.Request) -> web.Response:
    by, body = await _signed(request, "liaison")
    return _json({"id": await _file(request, by, _body_json(body))}, status=201)


async def _file(request: web.Request, by: Principal, form: Any) -> int:
    try:
        occurred = datetime.fromisoformat(str(form.get("occurred")))
    except ValueError:
        raise Invalid("occurred must be an ISO-8601 time") from None
    return int(await run(_cm(request).reports.file, by, str(by.tenant_code), occurred=occurred,
                         lat=_float(form, "lat"), lon=_float(form, "lon"), what=str(form.get("what") or ""),
                         person=str(form.get("person") or ""), follow_up=str(form.get("follow_up") or "")))


# -- staff ---------------------------------------------------------------------------------------------------
def _report_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "state": r.state, "occurred": r.occurred, "place": r.place_name, "texts": r.texts,
            "findings": [f.as_dict() for f in r.findings], "filed_by": r.filed_by, "alert_id": r.alert_id,
            "public_until": r.public_until}


async def staff_reports(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    reports = await run(_cm(request).reports.pending, p.tenant_code)
    if wants_html(request):
        return render(request, "community/staff_reports.html", title="不審者情報の確認", reports=reports)
    return _json([_report_json(r) for r in reports])


async def staff_file(request: web.Request) -> web.Response:
    return _json({"id": await _file(request, request[PRINCIPAL], await request.post())}, status=201)


async def staff_decide(request: web.Request) -> web.Response:
    form = await request.post()
    decisions = {int(k[2:]): str(v) for k, v in form.items() if k.startswith("f_")}
    report = await run(_cm(request).reports.decide, request[PRINCIPAL], int(request.match_info["rid"]), decisions)
    return _json(_report_json(report))


async def staff_approve(request: web.Request) -> web.Response:
    alert_id = await run(_cm(request).reports.approve, request[PRINCIPAL], int(request.match_info["rid"]))
    return _json({"alert_id": alert_id})


async def staff_group_create(request: web.Request) -> web.Response:
    form = await request.post()
    p = request[PRINCIPAL]
    area = (str(form["area_kind"]), str(form["area_name"])) if form.get("area_kind") and form.get("area_name") else None
    gid, code = await run(_cm(request).groups.create, p, str(p.tenant_code), str(form.get("name") or ""),
                          int(form.get("admin_subscriber") or 0), kind=str(form.get("kind") or "jichikai"),
                          private=bool(form.get("private")), moderated=bool(form.get("moderated")),
                          join_mode=str(form.get("join_mode") or "code"), area=area)
    return _json({"id": gid, "invite_code": code}, status=201)


async def staff_moderate(request: web.Request) -> web.Response:
    form = await request.post()
    await run(_cm(request).groups.moderate, request[PRINCIPAL], int(request.match_info["pid"]),
              form.get("decision") == "publish")
    return _json({"ok": True})


async def staff_confirm_guardian(request: web.Request) -> web.Response:
    await run(_cm(request).watch.confirm_by_school, request[PRINCIPAL], int(request.match_info["gid"]))
    return _json({"confirmed": True})


def add_public_community_routes(app: web.Application) -> None:
    app.router.add_get("/community/{tenant:\\d{5}}/reports.geojson", reports_layer)
    app.router.add_get("/community/groups/{gid:\\d+}", group_page)
    app.router.add_post("/community/groups/{gid:\\d+}/join", group_join)
    app.router.add_post("/community/groups/{gid:\\d+}/posts", group_post)
    app.router.add_post("/community/groups/{gid:\\d+}/replies", group_reply)
    app.router.add_post("/community/{tenant:\\d{5}}/library/link", library_link)
    app.router.add_post("/community/{tenant:\\d{5}}/watch/register", watch_register)
    app.router.add_post("/community/watch/confirm", watch_confirm)
    app.router.add_post("/community/api/library/events", ils_events)
    app.router.add_post("/community/api/library/link-code", ils_link_code)
    app.router.add_post("/community/api/library/unlinked", ils_unlinked)
    app.router.add_post("/community/api/watch/events", watch_event)
    app.router.add_post("/community/api/reports", liaison_report)


def add_staff_community_routes(app: web.Application) -> None:
    app.router.add_get("/community/reports", staff_reports)
    app.router.add_post("/community/reports", staff_file)
    app.router.add_post("/community/reports/{rid:\\d+}/decide", staff_decide)
    app.router.add_post("/community/reports/{rid:\\d+}/approve", staff_approve)
    app.router.add_post("/community/groups", staff_group_create)
    app.router.add_post("/community/posts/{pid:\\d+}/moderate", staff_moderate)
    app.router.add_post("/community/guardians/{gid:\\d+}/confirm", staff_confirm_guardian)
