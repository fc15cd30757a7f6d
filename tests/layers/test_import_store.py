"""Importing real files into the store (both backends), all-or-nothing, and the GeoPackage seen by GDAL."""
from __future__ import annotations

import csv
import io
import zipfile

import pyogrio
import pytest

from layers.importer import import_file
from machihub.demo import load_demo
from machihub.errors import Invalid
from machihub.principal import SYSTEM
from tests.conftest import DATA

GIS = DATA / "gis"
FILES = sorted([*GIS.glob("shelters/*.json"), *GIS.glob("takamatsu/*.csv"), *GIS.glob("plateau/*.gml"),
                *GIS.glob("boundaries/*.json")])


def _count(path) -> int:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8") as fh:
            return sum(1 for _ in csv.DictReader(fh))
    return len(pyogrio.read_dataframe(path, columns=[])) if path.suffix == ".gml" else \
        len(__import__("json").loads(path.read_text(encoding="utf-8"))["features"])


def _state(hub):
    with hub.db.transaction() as tx:
        return (tx.scalar("SELECT count(*) FROM mh_layers"), tx.scalar("SELECT count(*) FROM mh_feature_versions"),
                tx.scalar("SELECT count(*) FROM mh_layer_revisions"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_shared_file_imports(hub, towns, path, tmp_path):
    if path.suffix == ".gml":  # GDAL writes a .gfs next to a GML it reads: never into the shared folder
        local = tmp_path / path.name
        local.write_bytes(path.read_bytes())
        path_to_read = local
    else:
        path_to_read = path
    slug = "l_" + "".join(c if c.isalnum() else "_" for c in path.stem.lower())[:30]
    report = import_file(hub.layers, SYSTEM, path_to_read, tenant_code="37201", slug=slug, name_ja=path.stem,
                         owner_department_id=towns["bousai"].id, original_name=path.name)
    expected = _count(path)
    assert report.count == expected and hub.layers.count(report.layer_key, SYSTEM) == expected
    assert report.revision == 1 and hub.layers.revisions(report.layer_key, SYSTEM)[0].kind == "import"


def test_cp932_csv_imports_like_utf8(hub, towns, tmp_path):
    src = GIS / "takamatsu" / "evacuation_space.csv"
    sjis = tmp_path / "evacuation_space_sjis.csv"
    sjis.write_bytes(src.read_text(encoding="utf-8").encode("cp932", errors="replace"))
    a = import_file(hub.layers, SYSTEM, src, tenant_code="37201", slug="utf", owner_department_id=towns["bousai"].id)
    b = import_file(hub.layers, SYSTEM, sjis, tenant_code="37201", slug="sjis", owner_department_id=towns["bousai"].id)
    fa = hub.layers.features(a.layer_key, SYSTEM)
    fb = hub.layers.features(b.layer_key, SYSTEM)
    assert [f.properties["name"] for f in fa] == [f.properties["name"] for f in fb]
    assert [f.properties["jurisdiction"] for f in fb][:2] == ["地域振興課", "教育総務課"]


def _bad_files(tmp_path):
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK\x03\x04 not really a zip")
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as z:
        z.writestr("../evil.shp", b"x")
    bad_row = tmp_path / "bad_row.csv"
    text = (GIS / "takamatsu" / "aed_location.csv").read_text(encoding="utf-8").splitlines()
    fields = next(csv.reader([text[3]]))
    fields[1] = "北緯34度"
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL).writerow(fields)
    bad_row.write_text("\n".join([*text[:3], buf.getvalue().strip(), *text[4:]]), encoding="utf-8")
    bowtie = tmp_path / "bowtie.geojson"
    bowtie.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1},'
                      '"geometry":{"type":"Polygon","coordinates":[[[134,34],[134.01,34],[134.01,34],[134,34]]]}}]}',
                      encoding="utf-8")
    unknown_crs = tmp_path / "unknown_crs.geojson"
    unknown_crs.write_text('{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:999999"}},'
                           '"features":[{"type":"Feature","properties":{},"geometry":{"type":"Point",'
                           '"coordinates":[1,2]}}]}', encoding="utf-8")
    return {"broken zip": (broken_zip, "zip"), "zip slip": (slip, ".."), "bad CSV row": (bad_row, "row 3"),
            "collapsed polygon": (bowtie, "row 1"), "unknown CRS": (unknown_crs, "CRS")}


def test_malformed_files_are_refused_and_change_nothing(hub, towns, tmp_path):
    import_file(hub.layers, SYSTEM, GIS / "takamatsu" / "aed_location.csv", tenant_code="37201", slug="aed",
                owner_department_id=towns["bousai"].id)
    before = _state(hub)
    for label, (path, named) in _bad_files(tmp_path).items():
        for slug in ("aed", "fresh"):  # into an existing layer and as a new one
            with pytest.raises(Invalid) as err:
                import_file(hub.layers, SYSTEM, path, tenant_code="37201", slug=slug,
                            owner_department_id=towns["bousai"].id)
            assert named in err.value.message, (label, err.value.message)
            assert _state(hub) == before, label


def test_store_file_is_a_geopackage_gdal_reads(sqlite_hub):
    hub = sqlite_hub
    list(load_demo(hub, quiet=True))
    hub.db.checkpoint()
    path = hub.db.path
    listed = {name: geom for name, geom in pyogrio.list_layers(path)}
    public_and_internal = {la.key for la in hub.layers.list_layers(SYSTEM)}
    assert public_and_internal <= set(listed) and listed["aed_37201"] == "Point"
    assert set(listed) - public_and_internal == {"mh_layers"}  # plus the layer catalogue, nothing internal
    for key in ("aed_37201", "flood_hazard_22203"):
        df = pyogrio.read_dataframe(path, layer=key)
        stored = hub.layers.features(key, SYSTEM)
        assert len(df) == len(stored)
        assert df.crs.to_epsg() == 6668
    # an edit through the store is what GDAL sees next
    aed = hub.layers.features("aed_37201", SYSTEM, limit=1)[0]
    hub.layers.update_feature(SYSTEM, "aed_37201", aed.fid, base_version=aed.version, properties={"name": "更新済み"})
    hub.db.checkpoint()
    df = pyogrio.read_dataframe(path, layer="aed_37201", where=f"fid = {aed.fid}", fid_as_index=True)
    assert df.loc[aed.fid, "name"] == "更新済み"
    # the R*Tree spatial index is GDAL-valid and used for a bbox read
    box = (134.04, 34.33, 134.06, 34.35)
    assert len(pyogrio.read_dataframe(path, layer="aed_37201", bbox=box)) == hub.layers.count("aed_37201", SYSTEM, bbox=box)
