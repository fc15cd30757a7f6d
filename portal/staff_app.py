"""The staff console app (LGWAN side; login required): layers dashboard, map/table editor, imports with
progress, history/diff/rollback, publishing, audit log, and OGC API Part 4 writes."""
from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from layers.export import credit
from layers.importer import import_file
from layers.permissions import can_manage
from machihub.compose import Hub
from machihub.errors import Forbidden, HubError, Invalid
from portal import ogc
from portal.alert_console_routes import add_staff_alert_routes
from portal.community_routes import add_staff_community_routes
from portal.faq_routes import add_staff_faq_routes  # faq (issue 7)
from portal.feeds_routes import add_staff_feed_routes
from portal.jobs import Jobs
from portal.pages import gettext_for, render
from portal.public_app import STATIC, openapi, tile
from portal.reports_routes import add_staff_report_routes
from portal.staff_auth import auth_middleware, login, login_form, logout
from portal.web import HUB, PRINCIPAL, PUBLIC, SESSION, error_middleware, run, security_headers

JOBS: web.AppKey[Jobs] = web.AppKey("jobs", Jobs)


def _csrf(request: web.Request) -> str:
    return request[SESSION].csrf_token if SESSION in request else ""


async def _dept_names(hub: Hub) -> dict[int, str]:
    return {d.id: d.name for d in await run(hub.tenants.departments)}


async def home(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    user = request[SESSION].user
    p = request[PRINCIPAL]
    layers = await run(hub.layers.list_layers, p)
    depts = await _dept_names(hub)
    rows = [(la, depts.get(la.owner_department_id, "?"), await run(hub.layers.editable, la.key, p)) for la in layers]
    tenant = await run(hub.tenants.get, user.tenant_code)
    _ = gettext_for(request)
    return render(request, "staff/home.html", title=_("Staff console"), user=user, tenant_name=tenant.name,
                  department=depts.get(user.department_id), roles=", ".join(sorted(user.roles)), layers=rows,
                  csrf=_csrf(request), can_import=p.has("layer_editor"), layer_slug="")


def _fmt_input(value) -> str:
    return "" if value is None else ("true" if value is True else "false" if value is False else str(value))


async def layer_page(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    key = request.match_info["key"]
    layer = await run(hub.layers.get_layer, key, p)
    feats = await run(lambda: hub.layers.features(key, p, limit=2000))
    revisions = await run(hub.layers.revisions, key, p)
    diff = None
    try:
        d_from = int(request.query.get("from", max(0, layer.revision - 1)))
        d_to = int(request.query.get("to", layer.revision))
    except ValueError:
        raise Invalid("revision numbers must be integers") from None
    if "from" in request.query:
        diff = await run(hub.layers.diff, key, d_from, d_to, p)
    depts = await _dept_names(hub)
    can_edit = await run(hub.layers.editable, key, p)
    _ = gettext_for(request)
    tenant = await run(hub.tenants.get, layer.tenant_code)
    center = [(tenant.bbox[1] + tenant.bbox[3]) / 2, (tenant.bbox[0] + tenant.bbox[2]) / 2] if tenant.bbox else [35.68, 139.76]
    editor = {"layer": key, "csrf": _csrf(request), "editable": can_edit, "geometry": layer.geometry_type,
              "center": center, "tile_url": hub.settings.tile_url, "tile_attribution": hub.settings.tile_attribution,
              "required": [f.name for f in layer.schema.fields if f.required],
              "labels": {"added": _("Feature added"), "moved": _("Feature moved"), "deleted": _("Feature deleted"),
                         "saved": _("Saved"), "confirm_delete": _("Delete this feature?")}}
    return render(request, "staff/layer.html", title=layer.name_ja, layer=layer, owner=depts.get(layer.owner_department_id),
                  features=feats, revisions=revisions, diff=diff, diff_from=d_from, diff_to=d_to,
                  can_edit=can_edit, can_manage=can_manage(p, layer), credit=credit(layer), csrf=_csrf(request),
                  editor_json=json.dumps(editor, ensure_ascii=False).replace("</", "<\\/"), fmt_input=_fmt_input)


async def set_classification(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    key = request.match_info["key"]
    await run(request.app[HUB].layers.set_classification, request[PRINCIPAL], key, str(form.get("classification")))
    raise web.HTTPSeeOther(f"/layers/{key}")


async def rollback(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    key = request.match_info["key"]
    try:
        rev = int(str(form.get("rev")))
    except ValueError:
        raise Invalid("revision must be a number") from None
    await run(request.app[HUB].layers.rollback, request[PRINCIPAL], key, rev)
    raise web.HTTPSeeOther(f"/layers/{key}")


async def start_import(request: web.Request) -> web.StreamResponse:
    """Save the upload to a scratch folder, then import it in a worker thread; the page polls /jobs/{id}."""
    hub = request.app[HUB]
    p = request[PRINCIPAL]
    if not p.has("layer_editor"):
        raise Forbidden("importing needs the layer editor role")
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise Invalid("choose a file to import")
    slug = str(form.get("layer", "")).strip()
    scratch = Path(tempfile.mkdtemp(prefix="mh-upload-"))
    name = Path(upload.filename or "upload").name
    dest = scratch / name
    with dest.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    job = request.app[JOBS].start(p.actor)
    classification = str(form.get("classification") or "internal")
    credit_line = str(form.get("credit") or "")

    def progress(phase: str, done: int, total: int) -> None:
        # upload took 0–30 %, reading the file 30–60 %, writing to the store 60–99 %
        start, span = (30, 30) if phase == "read" else (60, 39)
        job.percent = min(99, start + span * done // max(total, 1))
        job.message = f"{phase} {done}/{total}"

    def work() -> None:
        try:
            report = import_file(hub.layers, p, dest, tenant_code=p.tenant_code, slug=slug,
                                 name_ja=str(form.get("name") or slug), owner_department_id=p.department_id,
                                 classification=classification, metadata={"credit": credit_line} if credit_line else None,
                                 original_name=name, progress=progress)
            job.state, job.percent = "done", 100
            job.message = f"{report.count} features → {report.layer_key} r{report.revision}"
            job.result = {"layer": report.layer_key}
        except HubError as exc:
            job.state, job.message = "failed", exc.message
        except Exception as exc:  # noqa: BLE001 - the page must hear about every failure
            job.state, job.message = "failed", f"import failed: {exc.__class__.__name__}"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    asyncio.get_running_loop().run_in_executor(None, work)
    return web.json_response({"job": job.id}, status=202)


async def job_status(request: web.Request) -> web.Response:
    job = request.app[JOBS].get(request.match_info["job"], request[PRINCIPAL].actor)
    if job is None:
        raise web.HTTPNotFound()
    return web.json_response({"state": job.state, "percent": job.percent, "message": job.message, **job.result})


async def audit_page(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    if not (p.has("auditor") or p.admin_of(p.tenant_code)):
        raise Forbidden("the audit log is for auditors and admins")
    hub = request.app[HUB]
    entries = await run(hub.audit.entries, tenant=p.tenant_code, limit=200)
    verify = await run(hub.audit.verify)
    _ = gettext_for(request)
    return render(request, "staff/audit.html", title=_("Audit log"), entries=entries, verify=verify)


def make_staff_app(hub: Hub) -> web.Application:
    app = web.Application(middlewares=[error_middleware, security_headers, auth_middleware],
                          client_max_size=hub.settings.upload_max_mb * 1024 * 1024)
    app[HUB] = hub
    app[PUBLIC] = False
    app[JOBS] = Jobs()
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/layers/{key}", layer_page)
    app.router.add_post("/layers/{key}/classification", set_classification)
    app.router.add_post("/layers/{key}/rollback", rollback)
    app.router.add_post("/import", start_import)
    app.router.add_get("/jobs/{job}", job_status)
    app.router.add_get("/audit", audit_page)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get(r"/tiles/{key}/{z:\d+}/{x:\d+}/{y:\d+}.mvt", tile)
    ogc.add_read_routes(app)
    ogc.add_write_routes(app)
    add_staff_report_routes(app)
    add_staff_faq_routes(app)  # faq (issue 7)
    add_staff_alert_routes(app)
    add_staff_community_routes(app)
    add_staff_feed_routes(app)
    app.router.add_static("/static/", STATIC)
    return app
