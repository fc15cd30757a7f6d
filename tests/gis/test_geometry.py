"""gis/geometry.py: validation, safe repair and type fitting."""
from __future__ import annotations

import json

import pytest
import shapely

from gis.geometry import check_and_repair, check_coordinates, normalise_type
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA / "gis"


def test_real_municipal_boundaries_pass():
    doc = json.loads((DATA / "boundaries" / "N03-21_37_210101_s0010.json").read_text(encoding="utf-8"))
    for i, f in enumerate(doc["features"], 1):
        geom = shapely.geometry.shape(f["geometry"])
        out, note = check_and_repair(geom, row=i)
        assert out.is_valid
        if note is None:
            assert out is geom
        else:
            assert abs(out.area - geom.area) < 0.01 * geom.area


def test_spike_is_repaired_with_a_note():
    spike = shapely.Polygon([(134, 34), (134.1, 34), (134.1, 34.1), (134.1, 34.2), (134.1, 34.1), (134, 34.1)])
    assert not spike.is_valid
    out, note = check_and_repair(spike, row=7)
    assert out.is_valid and out.geom_type == "Polygon"
    assert out.area == pytest.approx(spike.area)
    assert note.startswith("row 7: repaired") and "Self-intersection" in note


def test_bow_tie_is_refused_with_row_and_reason():
    bow = shapely.Polygon([(134, 34), (134.1, 34.1), (134.1, 34), (134, 34.1), (134, 34)])
    with pytest.raises(Invalid, match=r"row 3: invalid geometry \(Self-intersection"):
        check_and_repair(bow, row=3)


def test_zero_area_polygon_is_refused():
    flat = shapely.Polygon([(134, 34), (134.1, 34.1), (134.2, 34.2), (134, 34)])
    with pytest.raises(Invalid, match="row 2: invalid geometry") as exc:
        check_and_repair(flat, row=2)
    assert "fix the source" in exc.value.message


@pytest.mark.parametrize("geom, reason", [
    (shapely.Point(), "empty"),
    (shapely.Point(float("nan"), 35), "non-finite"),
    (shapely.Point(35.6, 139.5), "outside lon -180..180 / lat -90..90"),   # swapped lat/lon
    (shapely.Point(200, 35), "outside"),
    (None, "missing"),
])
def test_bad_coordinates(geom, reason):
    with pytest.raises(Invalid, match=reason):
        check_coordinates(geom, row=5)


def test_normalise_type():
    p = shapely.Polygon([(0, 0), (1, 0), (1, 1)])
    assert normalise_type(p, "MultiPolygon").geom_type == "MultiPolygon"
    assert normalise_type(p, None) is p and normalise_type(p, "Geometry") is p
    assert normalise_type(shapely.MultiPoint([(1, 2)]), "Point").equals(shapely.Point(1, 2))
    assert normalise_type(shapely.Point(1, 2), "MultiPoint").geom_type == "MultiPoint"
    with pytest.raises(Invalid, match="row 4: a Point does not fit a Polygon layer"):
        normalise_type(shapely.Point(1, 2), "Polygon", row=4)
    with pytest.raises(Invalid, match="2 parts"):
        normalise_type(shapely.MultiPoint([(1, 2), (3, 4)]), "Point")
