"""Staff console pages for community work: suspicious-person reports (file on a map, review the generalised place
and the personal-data findings, approve or reject), community groups (create, members, join requests,
moderation), the library counter (link codes, unlinked holds, CSV batch) and watch-over guardians.

Server-rendered forms (CSRF from the staff app's middleware). A browser (Accept: text/html) gets a redirect or
the page again with the error; API clients get JSON, as before. `add_staff_community_routes(app)` mounts it."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from community.access import is_staff_of
from community.arrivals import CLASSES
from community.groups import KINDS
from community.privacy import apply_decisions
from layers.readers.encoding import decode_utf8_or_cp932
from machihub.errors import Forbidden, HubError, Invalid, NotFound
from portal.community_routes import file_report, report_json
from portal.pages import gettext_for, render
from portal.web import HUB, PRINCIPAL, SESSION, dumps, run, wants_html

CSV_MAX = 5 * 1024 * 1024
MAX_ID = 2**63 - 1


def _cm(request: web.Request) -> Any:
    return request.app[HUB].community  # type: ignore[attr-defined]


def _staff(request: web.Request) -> tuple[Any, Any]:
    """(community, principal) for community staff of their town; anyone else logged in gets 403. Every
    page and JSON read checks this: reports hold exact points and personal data."""
    p = request[PRINCIPAL]
    if not is_staff_of(p, p.tenant_code):
        raise Forbidden("community pages need the admin, alert composer or alert approver role")
    return _cm(request), p


def _csrf(request: web.Request) -> str:
    return request[SESSION].csrf_token if SESSION in request else ""


def _int(value: Any, name: str) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise Invalid(f"{name} must be a whole number") from None
    if not 0 <= n <= MAX_ID:  # beyond a 64-bit key: the stores would overflow
        raise Invalid(f"{name} is out of range")
    return n


def _page(request: web.Request, template: str, title: str, status: int = 200, **ctx: Any) -> web.Response:
    return render(request, template, status=status, title=title, csrf=_csrf(request), **ctx)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def _done(request: web.Request, key: str = "") -> str:
    """The confirmation line after a redirect (?done=…), in the reader's language."""
    _ = gettext_for(request)
    return {"filed": _("Report filed. Another staff member must review and approve it."),
            "decided": _("Your decisions are saved."), "approved": _("Approved and sent."),
            "rejected": _("The report was rejected."), "created": _("Group created."),
            "saved": _("Saved."), "confirmed": _("Guardian confirmed."), "revoked": _("Guardian removed.")
            }.get(key or request.query.get("done", ""), "")


def _map_config(request: web.Request, **extra: Any) -> str:
    s = request.app[HUB].settings
    cfg = {"tile_url": s.tile_url, "tile_attribution": s.tile_attribution, **extra}
    return json.dumps(cfg, ensure_ascii=False).replace("</", "<\\/")


async def _center(request: web.Request) -> list[float]:
    tenant = await run(request.app[HUB].tenants.get, request[PRINCIPAL].tenant_code)
    if tenant.bbox:
        return [(tenant.bbox[1] + tenant.bbox[3]) / 2, (tenant.bbox[0] + tenant.bbox[2]) / 2]
    return [35.68, 139.76]


# -- overview ------------------------------------------------------------------------------------------------
async def index(request: web.Request) -> web.Response:
    cm, p = _staff(request)
    _ = gettext_for(request)
    pending = await run(cm.reports.pending, p.tenant_code)
    posts = await run(cm.groups.pending_posts, p.tenant_code)
    counts = await run(cm.groups.counts, p.tenant_code)
    return _page(request, "staff/community/index.html", _("Community safety and notices"), pending=len(pending),
                 posts=len(posts), requests=sum(c["pending"] for c in counts.values()))


# -- suspicious-person reports --------------------------------------------------------------------------------
async def reports(request: web.Request) -> web.Response:
    cm, p = _staff(request)
    if not wants_html(request):
        return _json([report_json(r) for r in await run(cm.reports.pending, p.tenant_code)])
    _ = gettext_for(request)
    return _page(request, "staff/community/reports.html", _("Suspicious-person reports"),
                 reports=await run(cm.reports.recent, p.tenant_code), done=_done(request))


async def report_form(request: web.Request, form: Any = None, error: str = "", status: int = 200) -> web.Response:
    _staff(request)
    _ = gettext_for(request)
    return _page(request, "staff/community/report_new.html", _("File a suspicious-person report"), status=status,
                 form=form or {}, error=error, map_json=_map_config(request, center=await _center(request)))


async def report_file(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        rid = await file_report(request, request[PRINCIPAL], form)
    except HubError as exc:
        if wants_html(request):
            return await report_form(request, form, exc.message, exc.status)
        raise
    if wants_html(request):
        raise web.HTTPSeeOther(f"/community/reports/{rid}?done=filed")
    return _json({"id": rid}, status=201)


async def report_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    cm, p = _staff(request)
    rid = _int(request.match_info["rid"], "report")
    report = await run(cm.reports.get, rid)
    if report.tenant_code != p.tenant_code and not p.is_system:
        raise NotFound(f"no report {rid}")  # another town's report: as if it did not exist
    places = await run(cm.reports.places, rid)
    if not wants_html(request) and request.method == "GET":
        return _json({**report_json(report), "places": places})
    _ = gettext_for(request)
    can_approve = p.has("alert_approver") and p.actor != report.filed_by and report.state == "pending"
    return _page(request, "staff/community/report.html", _("Report %(id)d") % {"id": rid}, status=status, report=report,
                 places=places, can_approve=can_approve, error=error, done=_done(request),
                 open_findings=sum(1 for f in report.findings if not f.decision),
                 preview=apply_decisions(report.texts, report.findings),
                 map_json=_map_config(request, area=places["public_area"], point=places["public_point"],
                                      exact=places["exact"]))


async def _report_action(request: web.Request, verb: str) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]
    rid = _int(request.match_info["rid"], "report")
    form = await request.post()
    try:
        if verb == "decide":
            decisions = {_int(k[2:], "finding"): str(v) for k, v in form.items() if k.startswith("f_")}
            if not decisions:
                raise Invalid("choose keep or remove for each personal-data finding")
            result: Any = report_json(await run(cm.reports.decide, p, rid, decisions))
        elif verb == "approve":
            result = {"alert_id": await run(cm.reports.approve, p, rid)}
        else:
            await run(cm.reports.reject, p, rid, str(form.get("reason") or ""))
            result = {"rejected": True}
    except HubError as exc:
        if wants_html(request):
            return await report_page(request, exc.message, exc.status)
        raise
    if wants_html(request):
        raise web.HTTPSeeOther(f"/community/reports/{rid}?done={verb}d" if verb != "reject"
                               else f"/community/reports/{rid}?done=rejected")
    return _json(result)


async def report_decide(request: web.Request) -> web.StreamResponse:
    return await _report_action(request, "decide")


async def report_approve(request: web.Request) -> web.StreamResponse:
    return await _report_action(request, "approve")


async def report_reject(request: web.Request) -> web.StreamResponse:
    return await _report_action(request, "reject")


# -- community groups -----------------------------------------------------------------------------------------
async def groups(request: web.Request, form: Any = None, error: str = "", status: int = 200) -> web.Response:
    cm, p = _staff(request)
    _ = gettext_for(request)
    units = await run(cm.alerts.areas.units, p.tenant_code)
    return _page(request, "staff/community/groups.html", _("Community groups"), status=status,
                 groups=await run(cm.groups.list, p.tenant_code), counts=await run(cm.groups.counts, p.tenant_code),
                 queue=await run(cm.groups.pending_posts, p.tenant_code), kinds=KINDS, form=form or {}, error=error,
                 areas=[(u.kind, u.name) for u in units if u.kind in ("chome", "school")], done=_done(request))


async def group_create(request: web.Request) -> web.StreamResponse:
    cm, p = _staff(request)  # before the e-mail lookup: it must not tell outsiders who subscribes
    form = await request.post()
    try:
        area = None
        if form.get("area"):
            kind, _sep, name = str(form["area"]).partition(":")
            area = (kind, name)
        elif form.get("area_kind") and form.get("area_name"):
            area = (str(form["area_kind"]), str(form["area_name"]))
        if form.get("admin_email"):
            admin = await run(cm.groups.subscriber_by_email, p.tenant_code, str(form["admin_email"]))
        else:
            admin = _int(form.get("admin_subscriber") or "", "admin_subscriber")
        gid, code = await run(cm.groups.create, p, str(p.tenant_code), str(form.get("name") or ""), admin,
                              kind=str(form.get("kind") or "jichikai"), private=bool(form.get("private")),
                              moderated=bool(form.get("moderated")), join_mode=str(form.get("join_mode") or "code"),
                              area=area)
    except HubError as exc:
        if wants_html(request):
            return await groups(request, form, exc.message, exc.status)
        raise
    if wants_html(request):  # the invitation code is shown once, so render rather than redirect
        request.match_info["gid"] = str(gid)
        return await group_page(request, new_code=code, done="created")
    return _json({"id": gid, "invite_code": code}, status=201)


async def group_page(request: web.Request, new_code: str | None = None, error: str = "", status: int = 200,
                     done: str = "") -> web.Response:
    cm, p = _staff(request)
    gid = _int(request.match_info["gid"], "group")
    page = await run(cm.groups.page, gid, None, p)
    members = await run(cm.groups.member_rows, p, gid)
    return _page(request, "staff/community/group.html", page["group"].name, status=status, page=page,
                 members=members, new_code=new_code, error=error, done=_done(request, done))


async def _group_action(request: web.Request, work) -> web.StreamResponse:
    """Run one staff action on a group; browsers come back to the group page (with the error, if any)."""
    try:
        result = await work(await request.post())
    except HubError as exc:
        if wants_html(request):
            return await group_page(request, error=exc.message, status=exc.status)
        raise
    if wants_html(request):
        if isinstance(result, dict) and result.get("invite_code"):
            return await group_page(request, new_code=result["invite_code"])
        raise web.HTTPSeeOther(f"/community/groups/{request.match_info['gid']}?done=saved")
    return _json(result)


async def member_decide(request: web.Request) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]

    async def work(form: Any) -> Any:
        decision = str(form.get("decision") or "")
        if decision not in ("approve", "refuse"):
            raise Invalid("decision must be approve or refuse")
        await run(cm.groups.staff_decide_member, p, _int(request.match_info["gid"], "group"),
                  _int(request.match_info["sid"], "member"), decision == "approve")
        return {"ok": True}

    return await _group_action(request, work)


async def group_invite(request: web.Request) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]

    async def work(form: Any) -> Any:
        return {"invite_code": await run(cm.groups.staff_new_invite, p, _int(request.match_info["gid"], "group"))}

    return await _group_action(request, work)


async def group_post(request: web.Request) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]

    async def work(form: Any) -> Any:
        pid = await run(cm.groups.post, _int(request.match_info["gid"], "group"), str(form.get("title") or ""),
                        str(form.get("body") or ""), staff=p)
        return {"id": pid}

    return await _group_action(request, work)


async def moderate(request: web.Request) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]
    form = await request.post()
    decision = str(form.get("decision") or "")
    try:
        if decision not in ("publish", "reject"):
            raise Invalid("decision must be publish or reject")
        await run(cm.groups.moderate, p, _int(request.match_info["pid"], "post"), decision == "publish")
    except HubError as exc:
        if wants_html(request):
            return await groups(request, error=exc.message, status=exc.status)
        raise
    if wants_html(request):
        raise web.HTTPSeeOther("/community/groups?done=saved")
    return _json({"ok": True})


# -- library counter ------------------------------------------------------------------------------------------
async def library(request: web.Request, error: str = "", status: int = 200, **extra: Any) -> web.Response:
    cm, p = _staff(request)
    _ = gettext_for(request)
    return _page(request, "staff/community/library.html", _("Library notices"), status=status, error=error,
                 unlinked=await run(cm.library.unlinked_holds, p), classes=CLASSES, **extra)


async def library_link_code(request: web.Request) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]
    form = await request.post()
    try:
        patron = str(form.get("patron_id") or "").strip()
        if not patron or len(patron) > 64:
            raise Invalid("give the patron's card number (at most 64 characters)")
        code = await run(cm.library.link_code, p, patron)
    except HubError as exc:
        if wants_html(request):
            return await library(request, exc.message, exc.status)
        raise
    if wants_html(request):
        return await library(request, link_code=code)
    return _json({"code": code}, status=201)


async def library_batch(request: web.Request) -> web.StreamResponse:
    """A CSV of hold events uploaded by library staff: all rows or none."""
    cm, p = _cm(request), request[PRINCIPAL]
    form = await request.post()
    try:
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise Invalid("choose a CSV file")
        data = upload.file.read(CSV_MAX + 1)
        if len(data) > CSV_MAX:
            raise Invalid("the CSV file is larger than 5 MB")
        text = decode_utf8_or_cp932(data)
        events = await run(cm.library.parse_csv, text)
        result = await run(cm.library.handle_batch, p, events, f"upload:{upload.filename or ''}"[:80])
    except HubError as exc:
        if wants_html(request):
            return await library(request, exc.message, exc.status)
        raise
    if wants_html(request):
        return await library(request, batch=result)
    return _json(result)


# -- watch-over guardians -------------------------------------------------------------------------------------
async def watch(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    cm, p = _staff(request)
    _ = gettext_for(request)
    return _page(request, "staff/community/watch.html", _("Watch-over guardians"), status=status, error=error,
                 guardians=await run(cm.watch.guardians, p, p.tenant_code), done=_done(request))


async def _guardian(request: web.Request, confirm: bool) -> web.StreamResponse:
    cm, p = _cm(request), request[PRINCIPAL]
    try:
        gid = _int(request.match_info["gid"], "guardian")
        await run(cm.watch.confirm_by_school if confirm else cm.watch.revoke, p, gid)
    except HubError as exc:
        if wants_html(request):
            return await watch(request, exc.message, exc.status)
        raise
    if wants_html(request):
        raise web.HTTPSeeOther(f"/community/watch?done={'confirmed' if confirm else 'revoked'}")
    return _json({"confirmed": True} if confirm else {"revoked": True})


async def guardian_confirm(request: web.Request) -> web.StreamResponse:
    return await _guardian(request, True)


async def guardian_revoke(request: web.Request) -> web.StreamResponse:
    return await _guardian(request, False)


def add_staff_community_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/community", index)
    r.add_get("/community/reports", reports)
    r.add_get("/community/reports/new", report_form)
    r.add_post("/community/reports", report_file)
    r.add_get("/community/reports/{rid:\\d{1,18}}", report_page)
    r.add_post("/community/reports/{rid:\\d{1,18}}/decide", report_decide)
    r.add_post("/community/reports/{rid:\\d{1,18}}/approve", report_approve)
    r.add_post("/community/reports/{rid:\\d{1,18}}/reject", report_reject)
    r.add_get("/community/groups", groups)
    r.add_post("/community/groups", group_create)
    r.add_get("/community/groups/{gid:\\d{1,18}}", group_page)
    r.add_post("/community/groups/{gid:\\d{1,18}}/members/{sid:\\d{1,18}}", member_decide)
    r.add_post("/community/groups/{gid:\\d{1,18}}/invite", group_invite)
    r.add_post("/community/groups/{gid:\\d{1,18}}/posts", group_post)
    r.add_post("/community/posts/{pid:\\d{1,18}}/moderate", moderate)
    r.add_get("/community/library", library)
    r.add_post("/community/library/link-code", library_link_code)
    r.add_post("/community/library/batch", library_batch)
    r.add_get("/community/watch", watch)
    r.add_post("/community/guardians/{gid:\\d{1,18}}/confirm", guardian_confirm)
    r.add_post("/community/guardians/{gid:\\d{1,18}}/revoke", guardian_revoke)
