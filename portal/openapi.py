"""OpenAPI 3.0 document generated from the app's own routes, so every endpoint is listed."""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web

DESCRIPTIONS = {
    "/ogc": "OGC API – Features landing page",
    "/ogc/conformance": "Conformance classes",
    "/ogc/collections": "Collections (layers) visible to the caller",
    "/ogc/collections/{cid}": "One collection",
    "/ogc/collections/{cid}/items": "Features: bbox, bbox-crs, crs, limit, offset, property=value filters, f=json|html",
    "/ogc/collections/{cid}/items/{fid}": "One feature (ETag = its version, for If-Match edits)",
    "/tiles/{key}/{z}/{x}/{y}.mvt": "Mapbox Vector Tile of a polygon or line layer",
    "/download/{key}.{fmt}": "Open-data download (GeoJSON, CSV with BOM, GeoPackage) with the credit line",
}
ITEM_PARAMS = [
    {"name": "bbox", "in": "query", "schema": {"type": "string"}, "description": "minx,miny,maxx,maxy"},
    {"name": "bbox-crs", "in": "query", "schema": {"type": "string"}},
    {"name": "crs", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "f", "in": "query", "schema": {"type": "string", "enum": ["json", "html"]}},
]


def _path(resource: web.AbstractResource) -> str | None:
    info = resource.get_info()
    path = info.get("path") or info.get("formatter")
    if not path or path.startswith("/static"):
        return None
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def document(app: web.Application, *, public: bool) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in app.router.routes():
        path = _path(route.resource)
        if path is None or route.method == "HEAD":
            continue
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in re.findall(r"\{(\w+)\}", path)]
        if path.endswith("/items"):
            params += ITEM_PARAMS
        op = {"summary": DESCRIPTIONS.get(path, path), "parameters": params,
              "responses": {"200": {"description": "OK"}, "400": {"description": "Invalid input"},
                            "404": {"description": "Not found"}}}
        if route.method in ("PUT", "PATCH", "DELETE"):
            op["parameters"] = params + [{"name": "If-Match", "in": "header", "required": True,
                                          "schema": {"type": "string"}}]
            op["responses"]["412"] = {"description": "Stale edit: the feature changed since you read it"}
        paths.setdefault(path, {})[route.method.lower()] = op
    return {"openapi": "3.0.3",
            "info": {"title": "machihub " + ("public API" if public else "staff API"), "version": "0.1.0"},
            "paths": dict(sorted(paths.items()))}
