"""gis/crs.py with real coordinates from the shared data (address and shelter files)."""
from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest
import shapely

from gis.crs import (
    PLANE_RECTANGULAR_EPSG,
    STORAGE_EPSG,
    crs_uri,
    from_storage,
    parse_crs,
    plane_rectangular_zone,
    to_storage,
    transformer,
)
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA / "gis"


def _first_town(code: str) -> tuple[float, float]:
    path = next((DATA / "addresses").glob(f"{code}_*.json"))
    row = json.loads(path.read_text(encoding="utf-8"))[0]
    return row["lng"], row["lat"]


@pytest.mark.parametrize("value", [6677, "6677", "EPSG:6677", "epsg:6677", "urn:ogc:def:crs:EPSG::6677",
                                   "http://www.opengis.net/def/crs/EPSG/0/6677",
                                   pyproj.CRS.from_epsg(6677).to_wkt()])
def test_parse_crs_forms(value):
    assert parse_crs(value).to_epsg() == 6677


def test_parse_crs84_is_lon_lat_wgs84():
    crs = parse_crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84")
    assert crs.to_string() == "OGC:CRS84"
    assert crs.axis_info[0].direction == "east"


@pytest.mark.parametrize("value", ["EPSG:999999", "not a crs", "+proj=longlat +datum=WGS84", "/etc/passwd",
                                   "PROJCS[broken", None, 3.5, True])
def test_unknown_crs_is_invalid(value):
    with pytest.raises(Invalid, match="unknown CRS"):
        parse_crs(value)


def test_constants_and_uri():
    assert STORAGE_EPSG == 6668
    assert list(PLANE_RECTANGULAR_EPSG) == list(range(6669, 6688))
    assert all("Japan Plane Rectangular" in pyproj.CRS.from_epsg(c).name for c in PLANE_RECTANGULAR_EPSG)
    assert crs_uri(6668) == "http://www.opengis.net/def/crs/EPSG/0/6668"
    assert parse_crs(crs_uri(6668)).to_epsg() == 6668


def test_transformer_is_cached_and_always_xy():
    a = transformer("EPSG:6668", 6677)
    assert a is transformer(6668, "EPSG:6677")
    lon, lat = _first_town("13219")                 # 狛江市, zone IX
    x, y = a.transform(lon, lat)
    # always_xy: first value is the easting. Komae lies ~20 km west and ~40 km south of the zone IX origin.
    assert -40_000 < x < 0 and -60_000 < y < -20_000


def test_round_trip_through_plane_rectangular_with_real_points():
    doc = json.loads((DATA / "shelters" / "evacuation_132195.json").read_text(encoding="utf-8"))
    points = np.array([shapely.geometry.shape(f["geometry"]) for f in doc["features"]], dtype=object)
    projected = from_storage(points, 6677)
    assert all(abs(p.x) < 100_000 for p in projected)          # metres near the origin, not degrees
    back = to_storage(projected, "EPSG:6677")
    assert np.allclose(shapely.get_coordinates(back), shapely.get_coordinates(points), atol=1e-8)


def test_to_storage_drops_height_of_jgd2011_plus_height():
    geom = shapely.Point(138.888, 35.108, 10.85)
    out = to_storage(geom, "EPSG:6697")
    assert not out.has_z
    assert (out.x, out.y) == (138.888, 35.108)


def test_wkt_from_a_prj_file():
    wkt = pyproj.CRS.from_epsg(6672).to_wkt(pyproj.enums.WktVersion.WKT1_ESRI)
    crs = parse_crs(wkt)
    assert crs.to_epsg(min_confidence=70) == 6672
    lon, lat = _first_town("37201")
    assert np.allclose(transformer(6668, crs).transform(lon, lat), transformer(6668, 6672).transform(lon, lat))


@pytest.mark.parametrize("code, epsg", [("13219", 6677), ("37201", 6672), ("01637", 6681), ("21221", 6675),
                                        ("28218", 6673), ("34302", 6671)])
def test_plane_rectangular_zone_for_the_sample_towns(code, epsg):
    assert plane_rectangular_zone(*_first_town(code)) == epsg


def test_plane_rectangular_zone_outside_japan():
    with pytest.raises(Invalid, match="outside Japan"):
        plane_rectangular_zone(2.35, 48.85)
