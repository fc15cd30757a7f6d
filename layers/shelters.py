"""Shelter layers: which hazards a shelter suits, and the nearest suitable shelters from a point.

A layer says it holds shelters through metadata `hazard_fields` ({hazard key: field name}); the GSI 指定緊急
避難場所 data has one column per hazard. A field named in `open_field` (開設状況) limits results to open ones."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyproj
import shapely

from layers.store import LayerStore
from machihub.principal import Principal

HAZARDS = ("flood", "landslide", "storm_surge", "earthquake", "tsunami", "fire", "inland_flood", "volcano")
GSI_HAZARD_FIELDS = {"flood": "洪水", "landslide": "崖崩れ、土石流及び地滑り", "storm_surge": "高潮",
                     "earthquake": "地震", "tsunami": "津波", "fire": "大規模な火事", "inland_flood": "内水氾濫",
                     "volcano": "火山現象"}
_GEOD = pyproj.Geod(ellps="GRS80")


@dataclass(frozen=True)
class NearShelter:
    layer_key: str
    fid: int
    name: str
    address: str
    lat: float
    lon: float
    distance_m: float


def suits(value: Any) -> bool:
    return value is True or value in ("○", "〇", "1", 1)


def nearest_shelters(store: LayerStore, tenant_code: str, lat: float, lon: float, *, hazard: str | None = None,
                     limit: int = 5, by: Principal | None = None) -> list[NearShelter]:
    candidates: list[tuple[str, Any]] = []
    for layer in store.list_layers(by, tenant_code=tenant_code):
        fields = layer.metadata.get("hazard_fields")
        if not fields or layer.geometry_type not in ("Point", "MultiPoint"):
            continue
        if hazard and hazard not in fields:
            continue
        open_field = layer.metadata.get("open_field")
        for f in store.features(layer.key, by):
            if hazard and not suits(f.properties.get(fields[hazard])):
                continue
            if open_field and f.properties.get(open_field) is False:
                continue
            candidates.append((layer, f))
    if not candidates:
        return []
    pts = shapely.centroid(np.array([f.geometry for _, f in candidates], dtype=object))
    xs, ys = shapely.get_x(pts), shapely.get_y(pts)
    _, _, dist = _GEOD.inv(np.full(len(xs), lon), np.full(len(xs), lat), xs, ys)
    order = np.argsort(dist)
    out: list[NearShelter] = []
    seen: set[str] = set()
    for i in order:
        layer, f = candidates[i]
        name = str(layer.style.get("label_field") and f.properties.get(layer.style["label_field"])
                   or f.properties.get("施設・場所名") or f.properties.get("name") or f"#{f.fid}")
        same = "".join(name.split())
        if same in seen:  # the same place listed in two shelter layers (GSI and the town's own list)
            continue
        seen.add(same)
        out.append(NearShelter(layer.key, f.fid, name, str(f.properties.get("住所") or f.properties.get("address") or ""),
                               float(ys[i]), float(xs[i]), float(dist[i])))
        if len(out) >= limit:
            break
    return out
