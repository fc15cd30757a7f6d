"""Geometry validation and safe repair for geometries already in the storage CRS (EPSG:6668, lon/lat).

A repair is accepted only when it cannot change what the data means: the result keeps the dimension of the
input (a polygon stays a polygon) and its area differs by less than 1 % of the original shells' area.
Anything else (bow-ties, collapsed rings, zero-area slivers) is refused with the row and GEOS's reason, so a
person fixes the source rather than the hub guessing."""
from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from machihub.errors import Invalid

MAX_AREA_CHANGE = 0.01

_SINGLE_TO_MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
_MULTI_CLASS = {"MultiPoint": shapely.MultiPoint, "MultiLineString": shapely.MultiLineString,
                "MultiPolygon": shapely.MultiPolygon}
_LAYER_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "Geometry")


def _where(row: int | str | None) -> str:
    return f"row {row}: " if row is not None else ""


def _shell_area(geom: Any) -> float:
    parts = shapely.get_parts(geom)
    polys = parts[shapely.get_type_id(parts) == 3]
    if len(polys) == 0:
        return 0.0
    return float(shapely.area(shapely.polygons(shapely.get_exterior_ring(polys))).sum())


def _same_dimension_parts(geom: Any, dim: int) -> Any:
    """Keep the parts of a repair result that have the input's dimension (GEOS may add collapsed bits)."""
    parts = [p for p in shapely.get_parts(geom) if not p.is_empty and shapely.get_dimensions(p) == dim]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    kind = {0: shapely.MultiPoint, 1: shapely.MultiLineString, 2: shapely.MultiPolygon}[dim]
    flat = [g for p in parts for g in shapely.get_parts(p)]
    return kind(flat)


def check_coordinates(geom: Any, *, row: int | str | None = None) -> None:
    """Empty, NaN/inf or out-of-range lon/lat → Invalid naming the row."""
    where = _where(row)
    if geom is None:
        raise Invalid(f"{where}geometry is missing")
    if not isinstance(geom, shapely.Geometry):
        raise Invalid(f"{where}geometry is not a geometry")
    if geom.is_empty:
        raise Invalid(f"{where}geometry is empty")
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise Invalid(f"{where}geometry has a non-finite coordinate (NaN or outside the CRS's area)")
    x, y = coords[:, 0], coords[:, 1]
    if (x < -180).any() or (x > 180).any() or (y < -90).any() or (y > 90).any():
        bad = coords[(x < -180) | (x > 180) | (y < -90) | (y > 90)][0]
        raise Invalid(f"{where}coordinate ({bad[0]:g}, {bad[1]:g}) is outside lon -180..180 / lat -90..90 "
                      "(wrong CRS or swapped latitude/longitude?)")


def check_and_repair(geom: Any, *, row: int | str | None = None) -> tuple[Any, str | None]:
    """Return (geometry, note): note says what was repaired, None if the geometry was already valid."""
    check_coordinates(geom, row=row)
    if shapely.is_valid(geom):
        return geom, None
    where = _where(row)
    reason = shapely.is_valid_reason(geom)
    dim = int(shapely.get_dimensions(geom))
    try:
        repaired = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    except shapely.errors.GEOSException as exc:
        raise Invalid(f"{where}invalid geometry ({reason}) that cannot be repaired: {exc}") from None
    repaired = _same_dimension_parts(repaired, dim)
    if repaired is None or not shapely.is_valid(repaired):
        raise Invalid(f"{where}invalid geometry ({reason}): repairing it would collapse it; fix the source",
                      details={"row": row, "reason": reason})
    if dim == 2:
        shell = _shell_area(geom)
        change = abs(repaired.area - geom.area) / shell if shell > 0 else float("inf")
        if change >= MAX_AREA_CHANGE:
            by = "more than 100" if shell <= 0 else f"{change * 100:.1f}"
            raise Invalid(f"{where}invalid geometry ({reason}): repairing it would change its area by {by} %; "
                          "fix the source", details={"row": row, "reason": reason})
    return repaired, f"{where}repaired invalid geometry ({reason})"


def normalise_type(geom: Any, layer_geometry_type: str | None, *, row: int | str | None = None) -> Any:
    """Fit a geometry to the layer's type: Polygon → MultiPolygon for Multi* layers, a one-part Multi* → single
    for single layers; a different family (a point for a polygon layer) is Invalid."""
    if layer_geometry_type in (None, "Geometry"):
        return geom
    if layer_geometry_type not in _LAYER_TYPES:
        raise Invalid(f"unknown layer geometry type {layer_geometry_type!r}")
    kind = geom.geom_type
    if kind == layer_geometry_type:
        return geom
    if _SINGLE_TO_MULTI.get(kind) == layer_geometry_type:
        return _MULTI_CLASS[layer_geometry_type]([geom])
    if _SINGLE_TO_MULTI.get(layer_geometry_type) == kind:
        if len(geom.geoms) == 1:
            return geom.geoms[0]
        raise Invalid(f"{_where(row)}a {kind} with {len(geom.geoms)} parts does not fit a {layer_geometry_type} layer")
    raise Invalid(f"{_where(row)}a {kind} does not fit a {layer_geometry_type} layer")


def needs_attention(geoms: Any) -> np.ndarray:
    """Vectorised first pass over many geometries: True where check_and_repair has something to say (missing,
    empty, non-finite or out-of-range coordinates, invalid). The common case (all fine) costs a few array
    operations instead of one Python call per feature."""
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return np.zeros(0, dtype=bool)
    missing = np.array([g is None or not isinstance(g, shapely.Geometry) for g in arr], dtype=bool)
    flag = missing.copy()
    ok = ~missing
    sub = arr[ok]
    coords, idx = shapely.get_coordinates(sub, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1) | (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    sub_flag = shapely.is_empty(sub) | ~shapely.is_valid(sub)
    sub_flag[np.unique(idx[bad])] = True
    flag[np.flatnonzero(ok)] = sub_flag
    return flag
