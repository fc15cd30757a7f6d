"""Mapbox Vector Tile encoding for the embedded store (PostGIS makes its own with ST_AsMVT)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import mapbox_vector_tile
import numpy as np
import pyproj
import shapely

from layers.model import Feature, FieldSpec
from layers.tables import tile_bounds_3857

EXTENT = 4096
BUFFER = 64


@lru_cache(maxsize=2)
def _to_3857() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(6668, 3857, always_xy=True)


@lru_cache(maxsize=2)
def _to_6668() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(3857, 6668, always_xy=True)


def encode_tile(name: str, fields: Sequence[FieldSpec], z: int, x: int, y: int,
                fetch: Callable[[tuple[float, float, float, float]], list[Feature]]) -> bytes:
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * BUFFER / EXTENT
    box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    lonlat = _to_6668().transform_bounds(*box)
    feats = fetch(lonlat)
    if not feats:
        return b""
    t = _to_3857()
    geoms = shapely.transform(np.asarray([f.geometry for f in feats], dtype=object),
                              lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    clipped = shapely.clip_by_rect(geoms, *box)
    # Detail finer than one tile pixel is lost in quantisation anyway; dropping it first makes encoding cheap.
    clipped = shapely.simplify(clipped, (maxx - minx) / EXTENT, preserve_topology=True)
    scalar = [f.name for f in fields]
    out = []
    for f, g in zip(feats, clipped, strict=True):
        if g is None or g.is_empty:
            continue
        props = {k: v for k in scalar if (v := f.properties.get(k)) is not None and isinstance(v, str | int | float | bool)}
        out.append({"geometry": g, "properties": props, "id": f.fid})
    if not out:
        return b""
    return mapbox_vector_tile.encode([{"name": name, "features": out}],
                                     default_options={"quantize_bounds": (minx, miny, maxx, maxy), "extents": EXTENT,
                                                      "y_coord_down": False})
