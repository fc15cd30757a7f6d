"""Municipal boundaries from 国土数値情報 行政区域 (N03) GeoJSON: N03_007 is the 5-digit 団体コード.
A municipality may be split into several polygons (islands): they are unioned into one."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely

from machihub.errors import Invalid


def municipality_polygon(path: Path, code: str) -> Any:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Invalid(f"{path}: cannot read N03 GeoJSON: {exc}") from None
    parts = [shapely.geometry.shape(f["geometry"]) for f in doc.get("features", [])
             if (f.get("properties") or {}).get("N03_007") == code and f.get("geometry")]
    if not parts:
        raise Invalid(f"{path}: no municipality with N03_007 = {code}")
    merged = shapely.union_all(shapely.make_valid(parts))
    return merged if merged.geom_type == "MultiPolygon" else shapely.MultiPolygon(
        [g for g in getattr(merged, "geoms", [merged]) if g.geom_type == "Polygon"])


def municipality_names(path: Path, code: str) -> dict[str, str]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    for f in doc.get("features", []):
        p = f.get("properties") or {}
        if p.get("N03_007") == code:
            return {"prefecture": p.get("N03_001") or "", "name": (p.get("N03_003") or "") + (p.get("N03_004") or "")}
    raise Invalid(f"{path}: no municipality with N03_007 = {code}")
