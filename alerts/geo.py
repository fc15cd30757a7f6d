"""Geometry for targeting: circles, local metric coordinates, 町丁目 cells, alert areas → one geometry.

Everything is EPSG:6668 with x = longitude. Distances use a local equirectangular projection around the
municipality (error well under 1 % across one town), which keeps them vectorised numpy arithmetic."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

from machihub.errors import Invalid

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0
# Intersections smaller than this (deg², ~10 m²) are shared edges and float noise, not overlap.
MIN_OVERLAP = 1e-9


def circle(lat: float, lon: float, radius_m: float, segments: int = 48) -> Any:
    """A polygon approximating a circle on the ground (x = lon)."""
    if radius_m <= 0:
        return shapely.Point(lon, lat)
    angles = np.linspace(0, 2 * math.pi, segments, endpoint=False)
    dlat = radius_m / M_PER_DEG_LAT * np.sin(angles)
    dlon = radius_m / (M_PER_DEG_LON_EQ * math.cos(math.radians(lat))) * np.cos(angles)
    return shapely.Polygon(np.column_stack([lon + dlon, lat + dlat]))


def metric(geoms: Any, lat0: float) -> Any:
    """Geometry (or array) in metres around latitude lat0 (equirectangular)."""
    kx = M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))
    return shapely.transform(geoms, lambda xy: xy * np.array([kx, M_PER_DEG_LAT]))


def points_within(lats: np.ndarray, lons: np.ndarray, radii_m: np.ndarray, geom: Any) -> np.ndarray:
    """Boolean mask: is geom within radius of each point? Vectorised over the points."""
    if len(lats) == 0 or geom is None or geom.is_empty:
        return np.zeros(len(lats), dtype=bool)
    lat0 = float(np.mean(lats))
    target = metric(geom, lat0)
    pts = metric(shapely.points(lons, lats), lat0)
    return shapely.dwithin(pts, target, radii_m)


def overlapping(geoms: np.ndarray, geom: Any) -> np.ndarray:
    """Boolean mask: does each geometry overlap geom by more than a shared edge?"""
    if len(geoms) == 0 or geom is None or geom.is_empty:
        return np.zeros(len(geoms), dtype=bool)
    hits = shapely.intersects(geoms, geom)
    idx = np.flatnonzero(hits)
    if idx.size:
        areal = shapely.get_dimensions(geoms[idx]) == 2
        sizes = shapely.area(shapely.intersection(geoms[idx], geom))
        hits[idx] = np.where(areal, sizes > MIN_OVERLAP, True)  # points/lines: any contact counts
    return hits


def voronoi_cells(names: Sequence[str], lons: Sequence[float], lats: Sequence[float], boundary: Any) -> dict[str, Any]:
    """町丁目 areas approximated by the Voronoi cells of their representative points, clipped to the town
    boundary (the shipped address data has points, not polygons). Several points of one 町丁目 (小字) merge."""
    pts = shapely.points(np.asarray(lons, float), np.asarray(lats, float))
    cells = shapely.voronoi_polygons(shapely.MultiPoint(list(pts)), extend_to=boundary)
    parts = np.array(shapely.get_parts(cells))
    tree = shapely.STRtree(parts)
    owner = tree.query(pts, predicate="intersects")  # [point index, cell index]
    by_name: dict[str, list[Any]] = {}
    seen: set[int] = set()
    for p_idx, c_idx in zip(owner[0], owner[1], strict=True):
        if p_idx in seen:
            continue
        seen.add(int(p_idx))
        by_name.setdefault(names[int(p_idx)], []).append(parts[int(c_idx)])
    out = {}
    for name, cell_list in by_name.items():
        cell = shapely.intersection(shapely.union_all(cell_list), boundary)
        if not cell.is_empty:
            out[name] = shapely.make_valid(cell)
    return out


def town_outline(lons: Sequence[float], lats: Sequence[float]) -> Any:
    """Stand-in boundary when a tenant has none: the hull of its 町丁目 points plus ~1 km."""
    hull = shapely.MultiPoint(list(zip(lons, lats, strict=True))).convex_hull
    return hull.buffer(0.01)


def ring_polygon(ring: Iterable[tuple[float, float]]) -> Any:
    """CAP ring of (lat, lon) → polygon (x = lon)."""
    poly = shapely.Polygon([(lon, lat) for lat, lon in ring])
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    return poly


def polygon_from_geojson(doc: Any) -> Any:
    """A drawn area from GeoJSON (Polygon / MultiPolygon / Feature), validated."""
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    try:
        geom = shapely.geometry.shape(doc)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        raise Invalid("the drawn area is not a GeoJSON polygon") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise Invalid("the drawn area must be a polygon")
    if shapely.get_num_coordinates(geom) > 2000:
        raise Invalid("the drawn area has too many points (at most 2000)")
    minx, miny, maxx, maxy = geom.bounds
    if not (122 <= minx <= maxx <= 154 and 20 <= miny <= maxy <= 46):
        raise Invalid("the drawn area is not in Japan (coordinates must be longitude, latitude)")
    return geom if geom.is_valid else shapely.make_valid(geom)
