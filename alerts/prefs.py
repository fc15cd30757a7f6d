"""A subscriber's choices, checked: topics, areas (whole town, 町丁目, school district/zone, a point with a
radius, a drawn area), language and quiet hours. Errors name the problem and nothing is stored."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import shapely

from alerts import geo
from alerts.areas import AreaStore
from alerts.model import TOPICS, topic_bits
from machihub.errors import Invalid

LANGUAGES = ("ja", "ja-x-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt")
AREA_KINDS = ("town", "chome", "school", "zone", "point", "polygon")
MAX_AREAS = 20
RADIUS_M = (50.0, 5000.0)

# al_sub_areas row: unit_id, lat, lon, radius_m, geom (WKB), minx, miny, maxx, maxy
AreaRow = tuple[int | None, float | None, float | None, float | None, bytes | None,
                float | None, float | None, float | None, float | None]


@dataclass(frozen=True)
class Choices:
    topics: int
    areas: list[AreaRow]
    language: str
    quiet_start: int | None
    quiet_end: int | None


def parse_minutes(value: Any) -> int | None:
    """'22:00' / '7:30' / minutes → minutes after midnight (JST); '' / None → None."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        minutes = value
    else:
        hh, sep, mm = str(value).strip().partition(":")
        if not hh.isdigit() or (sep and not mm.isdigit()):
            raise Invalid(f"quiet hours must be given as HH:MM, not {value!r}")
        minutes = int(hh) * 60 + (int(mm) if sep else 0)
    if not 0 <= minutes < 24 * 60:
        raise Invalid(f"quiet hours must be between 00:00 and 23:59, not {value!r}")
    return minutes


def parse_topics(topics: Any) -> int:
    items = [t for t in (topics or []) if t]
    if not items:
        raise Invalid("choose at least one kind of information")
    return topic_bits(items)


def parse_area(areas: AreaStore, tenant_code: str, spec: dict[str, Any]) -> AreaRow:
    kind = spec.get("kind")
    if kind not in AREA_KINDS:
        raise Invalid(f"unknown area kind {kind!r}; use one of {', '.join(AREA_KINDS)}")
    if kind == "town":
        return (areas.town(tenant_code).id, None, None, None, None, None, None, None, None)
    if kind in ("chome", "school", "zone"):
        return (areas.unit(tenant_code, kind, str(spec.get("name", ""))).id, None, None, None, None,
                None, None, None, None)
    town = areas.town(tenant_code).geom
    if kind == "point":
        try:
            lat, lon, radius = float(spec["lat"]), float(spec["lon"]), float(spec.get("radius_m", 500))
        except (KeyError, TypeError, ValueError):
            raise Invalid("a point area needs lat, lon and radius_m numbers") from None
        if not RADIUS_M[0] <= radius <= RADIUS_M[1]:
            raise Invalid(f"the radius must be between {RADIUS_M[0]:.0f} and {RADIUS_M[1]:.0f} m")
        if town.distance(shapely.Point(lon, lat)) > 0.05:
            raise Invalid("the point is not in or near this municipality")
        minx, miny, maxx, maxy = geo.circle(lat, lon, radius, 16).bounds
        return (None, lat, lon, radius, None, minx, miny, maxx, maxy)
    doc = spec.get("geojson")
    geom = geo.polygon_from_geojson(json.loads(doc) if isinstance(doc, str) else doc)
    if not geom.intersects(town):
        raise Invalid("the drawn area is outside this municipality")
    if geom.area > 2 * town.area:
        raise Invalid("the drawn area is much larger than the municipality; choose 'whole town' instead")
    return (None, None, None, None, shapely.to_wkb(geom), *geom.bounds)


def parse_choices(areas: AreaStore, tenant_code: str, *, topics: Any, area_specs: Any, language: str = "ja",
                  quiet_start: Any = None, quiet_end: Any = None) -> Choices:
    specs = list(area_specs or [])
    if not specs:
        raise Invalid("choose at least one area (or the whole town)")
    if len(specs) > MAX_AREAS:
        raise Invalid(f"choose at most {MAX_AREAS} areas")
    if language not in LANGUAGES:
        raise Invalid(f"unknown language {language!r}")
    qs, qe = parse_minutes(quiet_start), parse_minutes(quiet_end)
    if (qs is None) != (qe is None) or (qs is not None and qs == qe):
        raise Invalid("quiet hours need a different start and end (for example 22:00 to 07:00)")
    rows = list(dict.fromkeys(parse_area(areas, tenant_code, s) for s in specs))
    return Choices(parse_topics(topics), rows, language, qs, qe)


def describe_areas(areas: AreaStore, tenant_code: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """al_sub_areas rows → specs as the preferences form shows them."""
    by_id = {u.id: u for u in areas.units(tenant_code)}
    out: list[dict[str, Any]] = []
    for r in rows:
        if r["unit_id"] is not None and r["unit_id"] in by_id:
            u = by_id[r["unit_id"]]
            out.append({"kind": u.kind, "name": u.name})
        elif r["lat"] is not None:
            out.append({"kind": "point", "lat": r["lat"], "lon": r["lon"], "radius_m": r["radius_m"]})
        elif r["geom"] is not None:
            out.append({"kind": "polygon", "geojson": shapely.geometry.mapping(shapely.from_wkb(bytes(r["geom"])))})
    return out


def topic_labels(lang: str) -> list[tuple[str, str]]:
    return [(t, ja if lang.startswith("ja") else en) for t, (_, _, ja, en) in TOPICS.items()]
