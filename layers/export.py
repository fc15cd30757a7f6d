"""Exporting a layer as open data: GeoJSON, CSV (UTF-8 with BOM for Excel, formulas neutralised) and
GeoPackage, each carrying the layer's licence / credit line."""
from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import shapely

from layers.model import Feature, Layer

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def credit(layer: Layer) -> str:
    return str(layer.metadata.get("credit") or layer.metadata.get("licence") or "")


def feature_geojson(layer: Layer, f: Feature) -> dict[str, Any]:
    return {"type": "Feature", "id": f.fid,
            "geometry": json.loads(shapely.to_geojson(f.geometry)) if f.geometry is not None else None,
            "properties": f.properties}


def to_geojson(layer: Layer, features: list[Feature]) -> bytes:
    doc = {"type": "FeatureCollection", "name": layer.key, "title": layer.name_ja,
           "attribution": credit(layer), "license": layer.metadata.get("licence", ""),
           "features": [feature_geojson(layer, f) for f in features]}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _safe_cell(value: Any) -> Any:
    """A cell starting with = + - @ would run as a formula in Excel; prefix it with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(layer: Layer, features: list[Feature]) -> bytes:
    names = [f.name for f in layer.schema.fields]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    point = layer.geometry_type in ("Point",)
    w.writerow(["fid", *names, *(["latitude", "longitude"] if point else ["wkt"])])
    for f in features:
        geo = [round(f.geometry.y, 7), round(f.geometry.x, 7)] if point else [f.geometry.wkt]
        w.writerow([f.fid, *[_safe_cell(f.properties.get(n)) for n in names], *geo])
    if credit(layer):
        w.writerow([_safe_cell(f"# {credit(layer)}")])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_gpkg(layer: Layer, features: list[Feature]) -> bytes:
    import geopandas as gpd

    names = [f.name for f in layer.schema.fields]
    frame = gpd.GeoDataFrame({"fid_source": [f.fid for f in features],
                              **{n: [f.properties.get(n) for f in features] for n in names}},
                             geometry=[f.geometry for f in features], crs="EPSG:6668")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{layer.key}.gpkg"
        frame.to_file(out, layer=layer.key, driver="GPKG", engine="pyogrio",
                      layer_options={"DESCRIPTION": f"{layer.name_ja} — {credit(layer)}"})
        return out.read_bytes()


EXPORTERS = {"geojson": (to_geojson, "application/geo+json"), "csv": (to_csv, "text/csv; charset=utf-8"),
             "gpkg": (to_gpkg, "application/geopackage+sqlite3")}
