"""Geometry checks on every write: the geometry must fit the layer's type and be valid (repaired if safe).

The heavy lifting (repair rules, coordinate ranges) is gis.geometry's; this module only applies the layer's
geometry type so both the store and the importers agree."""
from __future__ import annotations

from typing import Any

import shapely

from gis.geometry import check_and_repair
from machihub.errors import Invalid

_FAMILY = {"Point": "Point", "MultiPoint": "Point", "LineString": "LineString", "MultiLineString": "LineString",
           "Polygon": "Polygon", "MultiPolygon": "Polygon"}


def fit_geometry(geom: Any, layer_type: str, *, row: int | None = None, checked: bool = False) -> Any:
    """checked=True: the caller's vectorised pass (gis.geometry.needs_attention) found nothing to repair."""
    where = f"row {row}: " if row is not None else ""
    if geom is None:
        raise Invalid(f"{where}geometry is missing")
    if not isinstance(geom, shapely.Geometry):
        raise Invalid(f"{where}geometry is not a geometry")
    if not checked:
        geom, _note = check_and_repair(geom, row=row)
    if layer_type == "Geometry":
        return geom
    if _FAMILY.get(geom.geom_type) != _FAMILY[layer_type]:
        raise Invalid(f"{where}a {geom.geom_type} does not fit a {layer_type} layer")
    if layer_type.startswith("Multi") and not geom.geom_type.startswith("Multi"):
        return {"Point": shapely.MultiPoint, "LineString": shapely.MultiLineString,
                "Polygon": shapely.MultiPolygon}[geom.geom_type]([geom])
    if not layer_type.startswith("Multi") and geom.geom_type.startswith("Multi"):
        if len(geom.geoms) == 1:
            return geom.geoms[0]
        raise Invalid(f"{where}a {geom.geom_type} with {len(geom.geoms)} parts does not fit a {layer_type} layer")
    return geom
