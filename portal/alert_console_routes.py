"""Staff console for alerts: compose (with the feature-phone preview), submit, approve by a second person,
reject, cancel (optionally with a cancel notice), updates, CAP XML, and per-alert statistics that refresh
while the send runs. Every action goes through the domain, which checks roles and writes the audit log.
`add_staff_alert_routes(app)` mounts it on the staff app (login and CSRF come from its middleware)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from alerts.model import CERTAINTIES, JST, SEVERITIES, TOPICS, URGENCIES, Alert, AlertArea, AlertText
from feeds.cap import CapCircle, to_cap_xml
from machihub.errors import HubError, Invalid, NotFound
from portal.pages import gettext_for, render
from portal.web import HUB, PRINCIPAL, SESSION, json_response, run

TEXT_LANGS = (("ja", "日本語"), ("ja-x-easy", "やさしい日本語"), ("en", "English"))


def _alerts(request: web.Request) -> Any:
    return request.app[HUB].alerts  # type: ignore[attr-defined]


def _csrf(request: web.Request) -> str:
    return request[SESSION].csrf_token if SESSION in request else ""


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such alert") from None


def _when(value: str, name: str) -> datetime | None:
    """datetime-local input (JST wall time) → aware datetime."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=JST)
    except ValueError:
        raise Invalid(f"{name} is not a date and time") from None


def alert_from_form(form: Any, tenant_code: str) -> tuple[Alert, datetime | None]:
    texts = {lang: AlertText(headline=str(form.get(f"headline_{lang}", "")).strip(),
                             description=str(form.get(f"description_{lang}", "")).strip(),
                             instruction=str(form.get(f"instruction_{lang}", "")).strip())
             for lang, _ in TEXT_LANGS if str(form.get(f"headline_{lang}", "")).strip()}
    codes = [("JIS-X0402", tenant_code)] if form.get("town") else []
    codes += [("machihub-area", f"{kind}:{v}") for kind in ("chome", "school", "zone") for v in form.getall(kind, [])]
    areas = [AlertArea(desc=str(form.get("area_desc") or "").strip() or "、".join(v.split(":", 1)[1] for _, v in codes
                                                                              if ":" in v) or "—", geocodes=codes)]
    if str(form.get("circle_lat") or "").strip():
        try:
            areas[0].circles.append(CapCircle(float(form["circle_lat"]), float(form["circle_lon"]),
                                              float(form.get("circle_km") or 1)))
        except (KeyError, ValueError):
            raise Invalid("the circle needs latitude, longitude and radius (km) as numbers") from None
    if not codes and not areas[0].circles:
        areas = []
    alert = Alert(tenant_code=tenant_code, topic=str(form.get("topic", "")), event=str(form.get("event", "")).strip(),
                  texts=texts, areas=areas, severity=str(form.get("severity", "Moderate")),
                  urgency=str(form.get("urgency", "Expected")), certainty=str(form.get("certainty", "Likely")),
                  status=str(form.get("status", "Actual")), sender_name=str(form.get("sender_name", "")).strip(),
                  effective=_when(str(form.get("effective", "")), "effective"),
                  expires=_when(str(form.get("expires", "")), "expires"))
    return alert, _when(str(form.get("send_at", "")), "send at")


async def _compose_ctx(request: web.Request) -> dict[str, Any]:
    p = request[PRINCIPAL]
    units = await run(_alerts(request).areas.units, p.tenant_code)
    return {"topics": [(t, v[2]) for t, v in TOPICS.items()], "severities": SEVERITIES[::-1], "urgencies": URGENCIES,
            "certainties": CERTAINTIES, "text_langs": TEXT_LANGS, "csrf": _csrf(request),
            "units": {k: [u.name for u in units if u.kind == k] for k in ("chome", "school", "zone")}}


async def alert_list(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    al = _alerts(request)
    records = await run(al.lifecycle.list, p.tenant_code)
    _ = gettext_for(request)
    return render(request, "alerts/staff_list.html", title=_("Alerts"), records=records, jst=JST,
                  can_compose=p.has("alert_composer"))


async def compose_form(request: web.Request, error: str | None = None, form: Any = None, status: int = 200,
                       action: str = "/alerts/new") -> web.Response:
    _ = gettext_for(request)
    return render(request, "alerts/staff_compose.html", status=status, title=_("Compose an alert"), error=error,
                  form=form or {}, action=action, **await _compose_ctx(request))


async def compose(request: web.Request) -> web.StreamResponse:
    p = request[PRINCIPAL]
    form = await request.post()
    try:
        alert, send_at = alert_from_form(form, p.tenant_code)
        update_of = str(form.get("update_of") or "")
        if update_of.isdigit():
            alert_id = await run(_alerts(request).lifecycle.update_of, p, int(update_of), alert)
        else:
            alert_id = await run(_alerts(request).lifecycle.create, p, alert, send_at=send_at)
    except HubError as exc:
        return await compose_form(request, error=exc.message, form=form, status=exc.status)
    raise web.HTTPSeeOther(f"/alerts/{alert_id}")


async def alert_page(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    al = _alerts(request)
    record = await run(al.lifecycle.get, _id(request), p)
    preview = await run(al.preview, record.id, p, "ja")
    stats = await run(al.stats, record.id, p)
    _ = gettext_for(request)
    return render(request, "alerts/staff_alert.html", title=f"{_('Alert')} {record.id}", record=record, preview=preview,
                  stats=stats, csrf=_csrf(request), jst=JST, me=p.actor,
                  can_approve=p.has("alert_approver") and p.actor != record.composer,
                  can_compose=p.has("alert_composer"))


async def action(request: web.Request) -> web.StreamResponse:
    p = request[PRINCIPAL]
    al = _alerts(request)
    alert_id, verb = _id(request), request.match_info["verb"]
    form = await request.post()
    if verb == "submit":
        await run(al.lifecycle.submit, p, alert_id)
    elif verb == "approve":
        await run(al.lifecycle.approve, p, alert_id)
    elif verb == "reject":
        await run(al.lifecycle.reject, p, alert_id, str(form.get("reason", "")))
    elif verb == "cancel":
        text = str(form.get("notice", "")).strip()
        notice = AlertText(headline=text.splitlines()[0][:80], description=text) if text else None
        notice_id = await run(al.lifecycle.cancel, p, alert_id, notice)
        if notice_id:
            raise web.HTTPSeeOther(f"/alerts/{notice_id}")
    else:
        raise NotFound(f"no action {verb}")
    raise web.HTTPSeeOther(f"/alerts/{alert_id}")


async def update_form(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    record = await run(_alerts(request).lifecycle.get, _id(request), p)
    a = record.alert
    form = {"topic": a.topic, "event": a.event, "severity": a.severity, "urgency": a.urgency, "certainty": a.certainty,
            "status": a.status, "sender_name": a.sender_name, "update_of": str(record.id),
            **{f"{k}_{lang}": getattr(t, k) for lang, t in a.texts.items() for k in ("headline", "description", "instruction")}}
    return await compose_form(request, form=form)


async def stats(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    body = await run(_alerts(request).stats, _id(request), p)
    resp = json_response(request, body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def cap_xml(request: web.Request) -> web.Response:
    record = await run(_alerts(request).lifecycle.get, _id(request), request[PRINCIPAL])
    body = await run(to_cap_xml, record.alert.to_cap())
    return web.Response(body=body, content_type="application/cap+xml", charset="utf-8")


def add_staff_alert_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/alerts", alert_list)
    r.add_get("/alerts/new", compose_form)
    r.add_post("/alerts/new", compose)
    r.add_get(r"/alerts/{id:\d+}", alert_page)
    r.add_get(r"/alerts/{id:\d+}/update", update_form)
    r.add_get(r"/alerts/{id:\d+}/stats", stats)
    r.add_get(r"/alerts/{id:\d+}/cap.xml", cap_xml)
    r.add_post(r"/alerts/{id:\d+}/{verb:submit|approve|reject|cancel}", action)
