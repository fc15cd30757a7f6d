"""OGC API – Features: Part 1 (core, GeoJSON, HTML), Part 2 (crs, bbox-crs) and, on the staff app, Part 4
(create/replace/update/delete with If-Match optimistic locking through the versioned store).

The same routes serve both apps; the public app reads as nobody, so only public layers exist for it."""
from __future__ import annotations

import json
from typing import Any

import shapely
from aiohttp import web

from layers.export import credit
from layers.model import Layer
from layers.store import StaleEdit
from machihub.errors import Invalid, NotFound, PreconditionFailed
from portal.geojson_out import STORAGE, feature_collection, single_feature, to_storage_bbox
from portal.web import (
    HUB,
    PRINCIPAL,
    PUBLIC,
    http_date,
    json_response,
    make_etag,
    not_modified,
    query_number,
    run,
    wants_html,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
SUPPORTED_EPSG = (4326, 6668, 3857, *range(6669, 6688))
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
PART4 = ["http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
         "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
         "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features"]
MAX_LIMIT = 10000
RESERVED_PARAMS = {"f", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "lang"}


def parse_crs_param(value: str | None, name: str) -> int | None:
    """None/0 = CRS84. Accepts OGC URIs, 'EPSG:n' and bare numbers."""
    if not value or value in (CRS84, "CRS84", "OGC:CRS84"):
        return None
    text = value.strip()
    for prefix in ("http://www.opengis.net/def/crs/EPSG/0/", "https://www.opengis.net/def/crs/EPSG/0/", "EPSG:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    if text.isdigit() and int(text) in SUPPORTED_EPSG:
        return int(text)
    raise Invalid(f"{name} {value!r} is not supported; use CRS84 or EPSG:{', EPSG:'.join(map(str, SUPPORTED_EPSG[:3]))} "
                  "or a plane-rectangular zone EPSG:6669–6687", key="invalid_crs")


def crs_uri(epsg: int | None) -> str:
    return CRS84 if not epsg else EPSG_URI.format(epsg)


def _principal(request: web.Request):
    return request.get(PRINCIPAL)


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def collection_doc(request: web.Request, layer: Layer, extent, lang: str = "ja") -> dict[str, Any]:
    base = base_url(request)
    items = f"{base}/ogc/collections/{layer.key}/items"
    doc: dict[str, Any] = {
        "id": layer.key, "title": layer.name(lang), "description": credit(layer),
        "itemType": "feature", "crs": [CRS84, *[EPSG_URI.format(e) for e in SUPPORTED_EPSG]],
        "storageCrs": EPSG_URI.format(STORAGE),
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/ogc/collections/{layer.key}"},
            {"rel": "items", "type": "application/geo+json", "href": items, "title": "GeoJSON"},
            {"rel": "items", "type": "text/html", "href": items + "?f=html", "title": "HTML"},
            {"rel": "license", "type": "text/html", "href": f"{base}/about/data", "title": credit(layer) or "-"},
        ],
    }
    if extent:
        doc["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84}}
    return doc


async def landing(request: web.Request) -> web.StreamResponse:
    base = base_url(request)
    doc = {"title": "machihub OGC API – Features", "description": "Map layers of the municipalities on this hub",
           "links": [{"rel": "self", "type": "application/json", "href": f"{base}/ogc"},
                     {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                      "href": f"{base}/openapi.json"},
                     {"rel": "conformance", "type": "application/json", "href": f"{base}/ogc/conformance"},
                     {"rel": "data", "type": "application/json", "href": f"{base}/ogc/collections"}]}
    if wants_html(request):
        from portal.pages import ogc_html

        return ogc_html(request, "landing", doc)
    return json_response(request, doc)


async def conformance(request: web.Request) -> web.StreamResponse:
    classes = CONFORMANCE + ([] if request.app[PUBLIC] else PART4)
    return json_response(request, {"conformsTo": classes})


async def collections(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    by = _principal(request)
    tenant = request.query.get("tenant")
    layers = await run(hub.layers.list_layers, by, tenant_code=tenant)
    extents = [await run(hub.layers.extent, la.key, by) for la in layers]
    lang = request.query.get("lang", "ja")
    doc = {"links": [{"rel": "self", "type": "application/json", "href": f"{base_url(request)}/ogc/collections"}],
           "collections": [collection_doc(request, la, ex, lang) for la, ex in zip(layers, extents, strict=True)]}
    if wants_html(request):
        from portal.pages import ogc_html

        return ogc_html(request, "collections", doc)
    return json_response(request, doc, etag_seed="c:" + ",".join(f"{la.key}@{la.revision}/{la.updated}" for la in layers))


async def collection(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    layer = await run(hub.layers.get_layer, request.match_info["cid"], _principal(request))
    extent = await run(hub.layers.extent, layer.key, _principal(request))
    doc = collection_doc(request, layer, extent, request.query.get("lang", "ja"))
    doc["properties"] = layer.schema.to_list()
    if wants_html(request):
        from portal.pages import ogc_html

        return ogc_html(request, "collection", doc)
    return json_response(request, doc, etag_seed=f"{layer.key}@{layer.revision}/{layer.updated}",
                         last_modified=http_date(layer.updated))


def _bbox(request: web.Request) -> tuple[float, float, float, float] | None:
    raw = request.query.get("bbox")
    if not raw:
        return None
    try:
        nums = [float(x) for x in raw.split(",")]
    except ValueError:
        raise Invalid(f"bbox {raw!r}: four comma-separated numbers expected") from None
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or nums[0] > nums[2] or nums[1] > nums[3]:
        raise Invalid(f"bbox {raw!r}: expected minx,miny,maxx,maxy with min ≤ max")
    return to_storage_bbox(tuple(nums), parse_crs_param(request.query.get("bbox-crs"), "bbox-crs"))


async def items(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    by = _principal(request)
    layer = await run(hub.layers.get_layer, request.match_info["cid"], by)
    epsg = parse_crs_param(request.query.get("crs"), "crs")
    limit = query_number(request, "limit", int, 1, MAX_LIMIT, 100)
    offset = query_number(request, "offset", int, 0, 10**9, 0)
    bbox = _bbox(request)
    filters = {k: v for k, v in request.query.items() if k not in RESERVED_PARAMS}
    seed = f"{layer.key}@{layer.revision}/{layer.updated}?{request.query_string}"
    html = wants_html(request)
    early = None if html else not_modified(request, make_etag(seed))
    if early is not None:  # the layer has not changed since the client's copy: skip the query
        return early

    def fetch():
        return (hub.layers.features(layer.key, by, bbox=bbox, filters=filters, limit=limit, offset=offset),
                hub.layers.count(layer.key, by, bbox=bbox, filters=filters))

    feats, matched = await run(fetch)
    base = f"{base_url(request)}/ogc/collections/{layer.key}/items"
    links = [{"rel": "self", "type": "application/geo+json", "href": str(request.url)},
             {"rel": "alternate", "type": "text/html", "href": str(request.url.update_query(f="html"))},
             {"rel": "collection", "type": "application/json", "href": base.rsplit("/", 1)[0]}]
    if offset + len(feats) < matched:
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": str(request.url.update_query(offset=offset + limit, limit=limit))})
    if offset > 0:
        links.append({"rel": "prev", "type": "application/geo+json",
                      "href": str(request.url.update_query(offset=max(0, offset - limit), limit=limit))})
    if html:
        from portal.pages import items_html

        return items_html(request, layer, feats, matched, offset, limit)
    from datetime import UTC, datetime

    body = feature_collection(feats, epsg=epsg, extra={
        "numberMatched": matched, "numberReturned": len(feats),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"), "links": links})
    return json_response(request, body, content_type="application/geo+json", etag_seed=seed,
                         last_modified=http_date(layer.updated),
                         headers={"Content-Crs": f"<{crs_uri(epsg)}>"})


async def item(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    by = _principal(request)
    key = request.match_info["cid"]
    fid = _fid(request)
    layer = await run(hub.layers.get_layer, key, by)
    f = await run(hub.layers.get_feature, key, fid, by)
    epsg = parse_crs_param(request.query.get("crs"), "crs")
    if wants_html(request):
        from portal.pages import items_html

        return items_html(request, layer, [f], 1, 0, 1)
    base = f"{base_url(request)}/ogc/collections/{key}"
    body = single_feature(f, epsg=epsg, extra={"links": [
        {"rel": "self", "type": "application/geo+json", "href": f"{base}/items/{fid}"},
        {"rel": "collection", "type": "application/json", "href": base}]})
    resp = json_response(request, body, content_type="application/geo+json", etag_seed=f"{key}/{fid}@{f.version}",
                         headers={"Content-Crs": f"<{crs_uri(epsg)}>"})
    resp.headers["ETag"] = f'"{f.version}"'  # the version is the If-Match token for Part 4 edits
    if request.headers.get("If-None-Match") == f'"{f.version}"':
        return web.Response(status=304, headers={"ETag": f'"{f.version}"'})
    return resp


def _fid(request: web.Request) -> int:
    raw = request.match_info["fid"]
    if not raw.isdigit():
        raise NotFound(f"no feature {raw!r}")
    return int(raw)


# -- Part 4 (staff app only) ----------------------------------------------------------------------------
async def _feature_body(request: web.Request) -> tuple[Any, dict[str, Any]]:
    if request.content_length and request.content_length > 5_000_000:
        raise Invalid("feature body larger than 5 MB")
    try:
        doc = json.loads(await request.text())
    except ValueError as exc:
        raise Invalid(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise Invalid("body must be a GeoJSON Feature")
    epsg = parse_crs_param(request.headers.get("Content-Crs", "").strip("<>") or None, "Content-Crs")
    geom = None
    if doc.get("geometry") is not None:
        try:
            geom = shapely.from_geojson(json.dumps(doc["geometry"]))
        except shapely.errors.GEOSException as exc:
            raise Invalid(f"geometry is not valid GeoJSON: {exc}") from None
        if epsg not in (None, 4326, STORAGE):
            import numpy as np
            import pyproj

            from portal.geojson_out import northing_first

            t = pyproj.Transformer.from_crs(epsg, STORAGE, always_xy=True)
            swap = northing_first(epsg)
            geom = shapely.transform(geom, lambda xy: np.column_stack(
                t.transform(*((xy[:, 1], xy[:, 0]) if swap else (xy[:, 0], xy[:, 1])))))
        elif epsg in (4326, STORAGE):
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    props = doc.get("properties") or {}
    if not isinstance(props, dict):
        raise Invalid("properties must be an object")
    return geom, props


def _if_match(request: web.Request) -> int:
    raw = request.headers.get("If-Match")
    if not raw:
        raise PreconditionFailed("send If-Match with the ETag you read, so nobody's edit is overwritten",
                                 key="if_match_required")
    try:
        return int(raw.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise PreconditionFailed(f"If-Match {raw!r} is not an ETag of this service") from None


async def create_item(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    key = request.match_info["cid"]
    geom, props = await _feature_body(request)
    rev, (fid,) = await run(hub.layers.add_features, request[PRINCIPAL], key, [(geom, props)], note="OGC API create")
    return web.Response(status=201, headers={"Location": f"{base_url(request)}/ogc/collections/{key}/items/{fid}",
                                             "ETag": f'"{rev}"'})


async def replace_item(request: web.Request) -> web.StreamResponse:
    return await _edit(request, replace=True)


async def update_item(request: web.Request) -> web.StreamResponse:
    return await _edit(request, replace=False)


async def _edit(request: web.Request, *, replace: bool) -> web.StreamResponse:
    hub = request.app[HUB]
    key, fid = request.match_info["cid"], _fid(request)
    base = _if_match(request)
    geom, props = await _feature_body(request)
    try:
        f = await run(hub.layers.update_feature, request[PRINCIPAL], key, fid, base_version=base, geometry=geom,
                      properties=props, replace=replace, note=f"OGC API {'replace' if replace else 'update'}")
    except StaleEdit as exc:
        raise PreconditionFailed(exc.message, details=exc.details) from None
    return web.Response(status=204, headers={"ETag": f'"{f.version}"'})


async def delete_item(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    key, fid = request.match_info["cid"], _fid(request)
    base = _if_match(request)
    try:
        await run(hub.layers.delete_feature, request[PRINCIPAL], key, fid, base_version=base, note="OGC API delete")
    except StaleEdit as exc:
        raise PreconditionFailed(exc.message, details=exc.details) from None
    return web.Response(status=204)


def add_read_routes(app: web.Application) -> None:
    app.router.add_get("/ogc", landing)
    app.router.add_get("/ogc/", landing)
    app.router.add_get("/ogc/conformance", conformance)
    app.router.add_get("/ogc/collections", collections)
    app.router.add_get("/ogc/collections/{cid}", collection)
    app.router.add_get("/ogc/collections/{cid}/items", items)
    app.router.add_get("/ogc/collections/{cid}/items/{fid}", item)


def add_write_routes(app: web.Application) -> None:
    app.router.add_post("/ogc/collections/{cid}/items", create_item)
    app.router.add_put("/ogc/collections/{cid}/items/{fid}", replace_item)
    app.router.add_patch("/ogc/collections/{cid}/items/{fid}", update_item)
    app.router.add_delete("/ogc/collections/{cid}/items/{fid}", delete_item)
