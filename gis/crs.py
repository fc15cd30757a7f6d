"""Coordinate reference systems: parsing what users and files give us, and moving shapely geometries into and
out of the storage CRS (JGD2011 lon/lat, EPSG:6668).

Transformers are always built with always_xy=True: every geometry in the hub is (x=lon/easting, y=lat/northing),
whatever axis order the EPSG definition has (JGD2011 geographic is lat/lon, plane-rectangular is X=north)."""
from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

from machihub.errors import Invalid

STORAGE_EPSG = 6668                          # JGD2011 geographic 2D
PLANE_RECTANGULAR_EPSG = range(6669, 6688)   # JGD2011 / Japan Plane Rectangular CS I … XIX

_EPSG_RE = re.compile(
    r"^(?:EPSG:{1,2}|urn:ogc:def:crs:EPSG:[\d.]*:|https?://www\.opengis\.net/def/crs/EPSG/[\d.]+/)?(\d{3,6})$",
    re.IGNORECASE)
_CRS84_RE = re.compile(
    r"^(?:(?:OGC:)?CRS84|urn:ogc:def:crs:OGC:1\.3:CRS84|https?://www\.opengis\.net/def/crs/OGC/1\.3/CRS84)$",
    re.IGNORECASE)
# WKT1 and WKT2 root keywords: anything else that is not an EPSG code or URI is refused, so PROJ never gets to
# interpret arbitrary strings (PROJ pipelines, file names, …) coming from uploads.
_WKT_RE = re.compile(
    r"^\s*(PROJCS|GEOGCS|GEOCCS|COMPD_CS|VERT_CS|LOCAL_CS|FITTED_CS|PROJCRS|PROJECTEDCRS|GEOGCRS|GEOGRAPHICCRS|"
    r"GEODCRS|GEODETICCRS|COMPOUNDCRS|BOUNDCRS|VERTCRS|VERTICALCRS|ENGCRS|ENGINEERINGCRS)\s*[\[(]",
    re.IGNORECASE)
_MAX_CRS_TEXT = 20_000

# Origins (lat, lon) of the 19 zones; used only for a best-effort suggestion (zones really follow prefectures).
_ZONE_ORIGINS = {
    6669: (33.0, 129.5), 6670: (33.0, 131.0), 6671: (36.0, 132 + 10 / 60), 6672: (33.0, 133.5),
    6673: (36.0, 134 + 20 / 60), 6674: (36.0, 136.0), 6675: (36.0, 137 + 10 / 60), 6676: (36.0, 138.5),
    6677: (36.0, 139 + 50 / 60), 6678: (40.0, 140 + 50 / 60), 6679: (44.0, 140.25), 6680: (44.0, 142.25),
    6681: (44.0, 144.25), 6682: (26.0, 142.0), 6683: (26.0, 127.5), 6684: (26.0, 124.0), 6685: (26.0, 131.0),
    6686: (20.0, 136.0), 6687: (26.0, 154.0),
}


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def parse_crs(value: Any) -> pyproj.CRS:
    """EPSG code (6677, 'EPSG:6677', URN, OGC URI), CRS84 or WKT → pyproj.CRS; anything else is Invalid."""
    if isinstance(value, pyproj.CRS):
        return value
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return pyproj.CRS.from_epsg(value)
        if isinstance(value, str):
            text = value.strip()
            if len(text) > _MAX_CRS_TEXT:
                raise Invalid("unknown CRS: the definition is too long")
            if m := _EPSG_RE.match(text):
                return pyproj.CRS.from_epsg(int(m.group(1)))
            if _CRS84_RE.match(text):
                return pyproj.CRS.from_user_input("OGC:CRS84")
            if _WKT_RE.match(text):
                return pyproj.CRS.from_wkt(text)
    except CRSError as exc:
        raise Invalid(f"unknown CRS {_short(value)!r}: {_short(exc)}", details={"crs": _short(value)}) from None
    raise Invalid(f"unknown CRS {_short(value)!r}: give EPSG:nnnn, an OGC CRS URI or WKT",
                  details={"crs": _short(value)})


def crs_uri(epsg: int) -> str:
    """The OGC URI of an EPSG CRS (what OGC API Features and GML use)."""
    return f"http://www.opengis.net/def/crs/EPSG/0/{int(epsg)}"


def crs_label(crs: pyproj.CRS) -> str:
    """'EPSG:6677' when the CRS is a known EPSG one, else its WKT: a short, stable text for reports."""
    code = crs.to_epsg(min_confidence=90)
    return f"EPSG:{code}" if code else crs.to_wkt()


def horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    """The 2D part of a CRS: EPSG:6697 (JGD2011 + height, PLATEAU) → EPSG:6668; 3D geographic → 2D."""
    if crs.is_compound:
        for sub in crs.sub_crs_list:
            if sub.is_geographic or sub.is_projected:
                return sub
        raise Invalid(f"CRS {crs.name!r} has no horizontal part")
    if crs.is_geographic and len(crs.axis_info) == 3:
        return crs.to_2d()
    if not (crs.is_geographic or crs.is_projected):
        raise Invalid(f"CRS {crs.name!r} is not a horizontal (geographic or projected) CRS")
    return crs


@functools.lru_cache(maxsize=1)
def _storage() -> pyproj.CRS:
    return pyproj.CRS.from_epsg(STORAGE_EPSG)


@functools.lru_cache(maxsize=128)
def _transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def transformer(src: Any, dst: Any) -> pyproj.Transformer:
    """Cached, always_xy transformer between two CRSs (anything parse_crs accepts)."""
    return _transformer(horizontal(parse_crs(src)), horizontal(parse_crs(dst)))


def _same(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return a is b or a.equals(b, ignore_axis_order=True)


def _apply(geom: Any, tr: pyproj.Transformer) -> Any:
    def move(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1], errcheck=False)
        return np.column_stack([x, y])
    # One vectorised call for every coordinate of every geometry (arrays of geometries too).
    return shapely.transform(shapely.force_2d(geom), move, include_z=False)


def to_storage(geom: Any, src_crs: Any) -> Any:
    """Geometry (or array of geometries) from src_crs into EPSG:6668, 2D. Unprojectable points become inf."""
    src = horizontal(parse_crs(src_crs))
    if _same(src, _storage()):
        return shapely.force_2d(geom)
    return _apply(geom, _transformer(src, _storage()))


def from_storage(geom: Any, dst_crs: Any) -> Any:
    """Geometry (or array of geometries) from EPSG:6668 into dst_crs, 2D."""
    dst = horizontal(parse_crs(dst_crs))
    if _same(dst, _storage()):
        return shapely.force_2d(geom)
    return _apply(geom, _transformer(_storage(), dst))


def plane_rectangular_zone(lon: float, lat: float) -> int:
    """Best-effort EPSG code (6669–6687) of the plane-rectangular zone for a lon/lat in Japan.

    Zones are legally defined by prefecture, so this is a suggestion for a form default (nearest zone origin,
    with Hokkaido and the southern islands handled by longitude); the user confirms it."""
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (120 <= lon <= 156 and 20 <= lat <= 46):
        raise Invalid(f"({lon}, {lat}) is outside Japan: no plane-rectangular zone")
    if lat >= 41.3 and lon >= 139.3:             # Hokkaido: XI west, XII centre, XIII east (十勝・釧路・網走・根室)
        return 6679 if lon < 141.1 else 6680 if lon < 142.7 else 6681
    if lat < 30:                                  # Okinawa and the southern islands
        if lon >= 150:
            return 6687                           # XIX 南鳥島
        if lat < 23 and 134 <= lon <= 138:
            return 6686                           # XVIII 沖ノ鳥島
        if lon >= 140:
            return 6682                           # XIV 小笠原
        if lon >= 130:
            return 6685                           # XVII 大東
        if lon < 125.5:
            return 6684                           # XVI 先島
        if lat < 27.9 or lon < 128.5:
            return 6683                           # XV 沖縄本島
    mainland = {k: v for k, v in _ZONE_ORIGINS.items() if k <= 6678}
    return min(mainland, key=lambda k: math.hypot(mainland[k][0] - lat, mainland[k][1] - lon))
