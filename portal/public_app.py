"""The public portal app (internet side): map pages, lists, nearest shelters, open-data downloads, OGC API
Features (read-only), vector tiles. It mounts no staff routes and reads as nobody, so only public layers exist."""
from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from layers.export import EXPORTERS, credit
from layers.shelters import HAZARDS, nearest_shelters
from machihub.compose import Hub
from machihub.errors import Invalid, NotFound
from portal import ogc
from portal.alerts_overlay import alerts_in_force
from portal.community_routes import add_public_community_routes
from portal.community_routes import map_layers as community_map_layers
from portal.faq_routes import add_public_faq_routes  # faq (issue 7)
from portal.feeds_routes import add_public_feed_routes
from portal.i18n import layer_name_language, pick_language
from portal.mapview import VENDOR_CSS, VENDOR_JS, build_map, layer_config
from portal.pages import gettext_for, render
from portal.reports_routes import add_public_report_routes
from portal.subscribe_routes import add_public_alert_routes
from portal.web import (
    HUB,
    PRINCIPAL,
    PUBLIC,
    error_middleware,
    http_date,
    json_response,
    query_number,
    run,
    security_headers,
)

STATIC = Path(__file__).parent / "static"


def hazard_labels(_) -> list[tuple[str, str]]:
    names = {"flood": _("Flood"), "landslide": _("Landslide"), "storm_surge": _("Storm surge"),
             "earthquake": _("Earthquake"), "tsunami": _("Tsunami"), "fire": _("Large fire"),
             "inland_flood": _("Inland flooding"), "volcano": _("Volcano")}
    return [(h, names[h]) for h in HAZARDS]


def tenant_label(tenant, lang: str) -> str:
    return tenant.name if lang.startswith("ja") else (tenant.name_en or tenant.name)


async def home(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    tenants = await run(hub.tenants.list)
    _ = gettext_for(request)
    return render(request, "home.html", title=_("Community information hub"), tenants=tenants)


async def _tenant(request: web.Request):
    code = request.match_info["code"]
    if not code.isdigit():
        raise NotFound(f"no municipality {code!r}")
    return await run(request.app[HUB].tenants.get, code)


async def map_page(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    tenant = await _tenant(request)
    lang = pick_language(request)
    _ = gettext_for(request)
    name_lang = layer_name_language(lang)
    layers = await run(hub.layers.list_layers, None, tenant_code=tenant.code)
    settings = hub.settings
    if tenant.bbox:
        center = ((tenant.bbox[1] + tenant.bbox[3]) / 2, (tenant.bbox[0] + tenant.bbox[2]) / 2)
    else:
        center = (35.68, 139.76)
    parts = build_map(center, 13, settings.tile_url, settings.tile_attribution, _("Base map"))
    cfg_layers = layer_config(layers, lambda la: la.name(name_lang),
                              lambda la: f"/tiles/{la.key}/{{z}}/{{x}}/{{y}}.mvt")
    has_reports = bool(await run(hub.reports.services, tenant.code))
    if has_reports:
        cfg_layers.append({"key": "reports", "title": _("Open resident reports"), "geometry": "Point",
                           "color": "#5d4037", "visible": False, "items": f"/api/{tenant.code}/reports.geojson",
                           "list": f"/{tenant.code}/reports",
                           "label_field": "category", "hazards": {}})
    cfg_layers += await community_map_layers(request, tenant.code)  # recent 不審者情報, generalised (issue 6)
    config = {"tenant": tenant.code, "lang": lang, "layers": cfg_layers,
              "bounds": [[tenant.bbox[1], tenant.bbox[0]], [tenant.bbox[3], tenant.bbox[2]]] if tenant.bbox else None,
              "labels": {"zoom_in": _("Zoom in"), "zoom_out": _("Zoom out"), "map": _("Map"),
                         "loading": _("Loading"), "features": _("features"), "load_failed": _("Could not load"),
                         "no_geolocation": _("Your position is not available. Type an address instead.")}}
    alerts = await run(alerts_in_force, hub, tenant.code, lang)
    config["alerts"] = [{k: a[k] for k in ("headline", "severity", "color", "geometry")} for a in alerts if a["geometry"]]
    credits = sorted({credit(la) for la in layers if credit(la)})
    if settings.tile_url:
        credits.append(_("Base map") + ": " + "地理院タイル" if "gsi.go.jp" in settings.tile_url else settings.tile_url)
    name = tenant_label(tenant, lang)
    return render(request, "map.html", title=_("%(name)s map") % {"name": name}, tenant=tenant, tenant_name=name,
                  layers=cfg_layers, hazards=hazard_labels(_), map_html=parts.html, map_script=parts.script,
                  config_json=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
                  vendor_css=VENDOR_CSS, vendor_js=VENDOR_JS, credits=credits, alerts=alerts, nearest=None,
                  has_shelters=any(la.metadata.get("hazard_fields") for la in layers), has_reports=has_reports)


async def nearest(request: web.Request) -> web.Response:
    """Nearest suitable shelters from a typed address, or a position (browser location or map click)."""
    hub = request.app[HUB]
    tenant = await _tenant(request)
    _ = gettext_for(request)
    hazard = request.query.get("hazard") or None
    if hazard and hazard not in HAZARDS:
        raise Invalid(f"unknown hazard {hazard!r}")
    lat, lon = query_number(request, "lat", float, 20, 46), query_number(request, "lon", float, 122, 154)
    place = None
    if lat is None or lon is None:
        address = (request.query.get("address") or "").strip()
        if not address:
            message = _("Type an address, use your location or click on the map.")
            if request.query.get("fragment") or request.query.get("f") == "json":
                raise Invalid(message)
            # the form sent without JavaScript: the page again, with the message where the results go
            return _nearest_response(request, tenant, {"nearest": [], "nearest_error": message}, status=400)
        match = await run(hub.addresses.lookup, address, tenant.code)
        if match is None:
            results = {"nearest": [], "nearest_place": _("Address not found: %(address)s") % {"address": address}}
            return _nearest_response(request, tenant, results)
        lat, lon, place = match.lat, match.lng, match.town + (match.koaza or "")
    found = await run(nearest_shelters, hub.layers, tenant.code, lat, lon, hazard=hazard)
    items = [{"name": s.name, "address": s.address, "lat": s.lat, "lon": s.lon, "distance_m": round(s.distance_m),
              "distance_text": (f"{s.distance_m / 1000:.1f} km" if s.distance_m >= 1000 else f"{s.distance_m:.0f} m")}
             for s in found]
    if request.query.get("f") == "json":
        return json_response(request, {"from": {"lat": lat, "lon": lon, "place": place}, "shelters": items})
    return _nearest_response(request, tenant, {"nearest": items, "nearest_place": place or f"{lat:.5f}, {lon:.5f}"})


def _nearest_response(request: web.Request, tenant, results: dict, status: int = 200) -> web.Response:
    _ = gettext_for(request)
    if request.query.get("fragment"):
        return render(request, "nearest_results.html", **results)
    page = render(request, "nearest_page.html", title=_("Nearest shelters"), tenant=tenant,
                  tenant_name=tenant_label(tenant, pick_language(request)), **results)
    page.set_status(status)
    return page


async def suggest(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    tenant = await _tenant(request)
    q = (request.query.get("q") or "")[:100]
    matches = await run(hub.addresses.suggest, q, tenant.code, 10) if q else []
    return json_response(request, [m.town + (m.koaza or "") for m in matches])


async def layer_list(request: web.Request) -> web.StreamResponse:
    """The text alternative of a map layer: a paged, keyboard-friendly table with addresses."""
    request.match_info["fid"] = ""
    query = request.rel_url.query
    if "f" not in query:
        request = request.clone(rel_url=request.rel_url.update_query(f="html"))
    return await ogc.items(request)


async def download(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    key, fmt = request.match_info["key"], request.match_info["fmt"]
    if fmt not in EXPORTERS:
        raise NotFound(f"no download format {fmt!r}")
    layer = await run(hub.layers.get_layer, key, None)
    etag = f'"{key}-{layer.revision}-{layer.updated}-{fmt}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    feats = await run(hub.layers.features, key, None)
    body = await run(EXPORTERS[fmt][0], layer, feats)
    resp = web.Response(body=body, content_type=EXPORTERS[fmt][1].split(";")[0],
                        headers={"Content-Disposition": f'attachment; filename="{key}.{fmt}"', "ETag": etag,
                                 "Last-Modified": http_date(layer.updated)})
    if fmt != "gpkg":
        resp.enable_compression()
    return resp


async def tile(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    key = request.match_info["key"]
    try:
        z, x, y = (int(request.match_info[k]) for k in ("z", "x", "y"))
    except ValueError:
        raise NotFound("no such tile") from None
    layer = await run(hub.layers.get_layer, key, request.get(PRINCIPAL))
    etag = f'"{key}-{layer.revision}-{z}-{x}-{y}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    data = await run(hub.layers.tile, key, z, x, y, request.get(PRINCIPAL))
    if not data:
        return web.Response(status=204, headers={"ETag": etag})
    resp = web.Response(body=data, content_type="application/vnd.mapbox-vector-tile", headers={"ETag": etag})
    resp.enable_compression()
    return resp


async def about_data(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    layers = await run(hub.layers.list_layers, None)
    _ = gettext_for(request)
    lang = layer_name_language(pick_language(request))
    return render(request, "about_data.html", title=_("Open data and credits"),
                  rows=[(la, la.name(lang), credit(la)) for la in layers])


async def openapi(request: web.Request) -> web.Response:
    from portal.openapi import document

    resp = json_response(request, document(request.app, public=request.app[PUBLIC]))
    resp.headers["Content-Type"] = "application/vnd.oai.openapi+json;version=3.0"  # what OAPIF clients expect
    return resp


def add_public_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/about/data", about_data)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get(r"/{code:\d{5}}/", map_page)
    app.router.add_get(r"/{code:\d{5}}/nearest", nearest)
    app.router.add_get(r"/api/{code:\d{5}}/suggest", suggest)
    app.router.add_get("/list/{cid}", layer_list)
    app.router.add_get(r"/download/{key}.{fmt:geojson|csv|gpkg}", download)
    app.router.add_get(r"/tiles/{key}/{z:\d+}/{x:\d+}/{y:\d+}.mvt", tile)
    ogc.add_read_routes(app)
    add_public_report_routes(app)
    add_public_faq_routes(app)  # faq (issue 7)
    app.router.add_static("/static/", STATIC, append_version=False)


def make_public_app(hub: Hub) -> web.Application:
    app = web.Application(middlewares=[error_middleware, security_headers], client_max_size=1024 * 1024)
    app[HUB] = hub
    app[PUBLIC] = True
    add_public_routes(app)
    add_public_alert_routes(app)
    add_public_community_routes(app)
    add_public_feed_routes(app)
    return app
