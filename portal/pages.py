"""HTML rendering for both apps: one Jinja2 environment (autoescaped) with the request's language."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from machihub.errors import HubError
from portal.i18n import LANGUAGES, pick_language, translations

TEMPLATES = Path(__file__).parent / "templates"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
_env.policies["ext.i18n.trimmed"] = True
JST = timezone(timedelta(hours=9), "JST")  # Asia/Tokyo: no daylight saving time since 1951


def jst(value: Any) -> str:
    """An ISO 8601 string or datetime as 'YYYY-MM-DD HH:MM' Japanese time. The hub stores UTC, so a time without
    an offset is taken as UTC; one with an offset (a JMA telegram's +09:00) is converted. Anything else is shown
    as it is, nothing as an empty string."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        d = value
    else:
        try:
            d = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return str(value)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(JST).strftime("%Y-%m-%d %H:%M")


_env.filters["jst"] = jst


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "○"
    if value is False:
        return "−"
    return str(value)


def render(request: web.Request, template: str, *, status: int = 200, **ctx: Any) -> web.Response:
    lang = ctx.pop("lang", None) or pick_language(request)
    tr = translations(lang)
    _env.install_gettext_translations(tr, newstyle=True)
    keep = {k: v for k, v in request.query.items() if k not in ("lang",)}
    html = _env.get_template(template).render(
        lang=lang, languages=[(c, label) for c, label, _ in LANGUAGES], keep_query=keep, fmt=fmt,
        tenant=ctx.pop("tenant", None), **ctx)
    resp = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if "lang" in request.query:
        resp.set_cookie("lang", lang, samesite="Lax", httponly=False, max_age=365 * 86400)
    if len(html) > 1024:
        resp.enable_compression()
    return resp


def gettext_for(request: web.Request):
    return translations(pick_language(request)).gettext


def error_page(request: web.Request, exc: HubError) -> web.Response:
    return render(request, "error.html", status=exc.status, title=exc.key, message=exc.message)


def ogc_html(request: web.Request, kind: str, doc: dict[str, Any]) -> web.Response:
    return render(request, "ogc.html", title="OGC API", kind=kind, doc=doc)


def items_html(request: web.Request, layer, features, matched: int, offset: int, limit: int) -> web.Response:
    from layers.export import credit
    from portal.i18n import layer_name_language

    lang = pick_language(request)
    name_lang = layer_name_language(lang)
    fields = [{"name": f.name, "label": f.labels.get(lang) or (f.label_en if name_lang == "en" and f.label_en else
                                                                f.label_ja or f.name)} for f in layer.schema.fields]
    q = dict(request.query)
    prev_q = "&".join(f"{k}={v}" for k, v in {**q, "offset": max(0, offset - limit), "limit": limit}.items())
    next_q = "&".join(f"{k}={v}" for k, v in {**q, "offset": offset + limit, "limit": limit}.items())
    return render(request, "list.html", title=layer.name(name_lang), layer=layer, layer_title=layer.name(name_lang),
                  features=features, matched=matched, offset=offset, fields=fields, credit=credit(layer),
                  prev_q=prev_q, next_q=next_q)
