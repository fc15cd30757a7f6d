"""layers/readers: every real file in the shared data imports, round trips through the formats GDAL writes,
and malformed or hostile uploads give Invalid naming the problem. Expected values come from the files."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import stat
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from gis.address import AddressIndex
from layers.readers import ReadLimits, read_upload
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA / "gis"
SHELTERS = sorted((DATA / "shelters").glob("*.json"))
BOUNDARIES = sorted((DATA / "boundaries").glob("*.json"))
PLATEAU = sorted((DATA / "plateau").glob("*.gml"))
TAKAMATSU = sorted((DATA / "takamatsu").glob("*.csv"))
# Writing test Shapefiles with Japanese names makes GDAL warn that it cut the names to 10 bytes.
pytestmark = pytest.mark.filterwarnings("ignore:.*(laundered|Could not decode):RuntimeWarning")


def _read(path: Path, **kw):
    return read_upload(path, original_name=kw.pop("original_name", path.name), **kw)


def _same_value(a, b) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9
    return str(a) == str(b)


# ---------------------------------------------------------------- every real file imports

@pytest.mark.parametrize("path", SHELTERS + BOUNDARIES, ids=lambda p: p.name)
def test_geojson_files_import(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    result = _read(path)
    assert result.format == "geojson" and result.encoding == "UTF-8" and result.source_crs == "EPSG:4326"
    assert len(result.features) == len(doc["features"])
    keys = list(doc["features"][0]["properties"])
    assert [f.source or f.name for f in result.fields] == keys
    for (geom, props), feature in zip(result.features, doc["features"], strict=True):
        expected = shapely.geometry.shape(feature["geometry"])
        assert geom.is_valid
        if expected.is_valid:
            assert shapely.equals_exact(geom, expected, tolerance=1e-9) or geom.equals(expected)
        else:
            assert abs(geom.area - expected.area) < 0.01 * expected.area
        assert all(_same_value(v, feature["properties"][k])
                   for (k, v) in zip(keys, props.values(), strict=True))


@pytest.mark.parametrize("path", PLATEAU, ids=lambda p: p.name)
def test_plateau_citygml_imports(path):
    text = path.read_text(encoding="utf-8")
    result = _read(path)
    assert result.format == "gml" and result.source_crs == "EPSG:6668"
    ids = re.findall(rf'<\w+:{result.layer} gml:id="([^"]+)"', text)
    assert len(result.features) == text.count("<core:cityObjectMember") == len(ids)
    assert [p["gml_id"] for _, p in result.features] == ids
    # GML envelope is lat lon (height): every polygon lies inside it, in lon/lat and without Z.
    low = [float(v) for v in re.search(r"<gml:lowerCorner>([^<]+)<", text).group(1).split()]
    high = [float(v) for v in re.search(r"<gml:upperCorner>([^<]+)<", text).group(1).split()]
    for geom, _ in result.features:
        assert geom.geom_type in ("Polygon", "MultiPolygon") and not geom.has_z and geom.is_valid
        minx, miny, maxx, maxy = geom.bounds
        assert low[1] - 1e-6 <= minx and maxx <= high[1] + 1e-6 and low[0] - 1e-6 <= miny and maxy <= high[0] + 1e-6


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("path", TAKAMATSU, ids=lambda p: p.name)
def test_takamatsu_csv_imports(path):
    rows = _csv_rows(path)
    result = _read(path)
    assert result.format == "csv" and result.encoding == "UTF-8"
    assert len(result.features) == len(rows)
    for (geom, props), row in zip(result.features, rows, strict=True):
        assert (geom.x, geom.y) == pytest.approx((float(row["longitude"]), float(row["latitude"])), abs=1e-9)
        assert props["name"] == row["name"]
        assert "latitude" not in props and "longitude" not in props
    assert [f.name for f in result.fields][0] == "#property"  # the source's own header is kept
    assert not [f for f in result.fields if f.source]


@pytest.mark.parametrize("path", TAKAMATSU, ids=lambda p: p.name)
def test_takamatsu_csv_in_cp932_and_with_bom_read_identically(path, tmp_path):
    reference = _read(path)
    text = path.read_text(encoding="utf-8")
    for encoding, label in (("cp932", "CP932"), ("utf-8-sig", "UTF-8")):
        copy = tmp_path / f"{encoding}_{path.name}"
        copy.write_bytes(text.encode(encoding))
        result = _read(copy, original_name=path.name)
        assert result.encoding == label
        assert result.fields == reference.fields
        # CP932 itself maps a few characters (U+2212 MINUS → U+FF0D FULLWIDTH HYPHEN-MINUS): expect that.
        codec = encoding if encoding == "cp932" else "utf-8"
        expected = [{k: v.encode(codec).decode(codec) if isinstance(v, str) else v for k, v in p.items()}
                    for _, p in reference.features]
        assert [p for _, p in result.features] == expected
        assert all(a.equals(b) for (a, _), (b, _) in zip(result.features, reference.features, strict=True))


# ---------------------------------------------------------------- formats written by GDAL round-trip

@pytest.fixture(scope="module")
def shelters():
    """Reference: 小野市 designated evacuation shelters, read through read_upload."""
    path = DATA / "shelters" / "evacuation_282189.json"
    return _read(path)


def _frame(result, crs="EPSG:6668") -> gpd.GeoDataFrame:
    props = [p for _, p in result.features]
    frame = gpd.GeoDataFrame(props, geometry=[g for g, _ in result.features], crs="EPSG:6668")
    return frame.to_crs(crs)


def _zip(folder: Path, target: Path, members: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content if isinstance(content, bytes) else content.read_bytes())
    return target


@pytest.mark.parametrize("keep_cpg", [True, False])
def test_zipped_shapefile_round_trip(shelters, tmp_path, keep_cpg):
    shp = tmp_path / "shelters.shp"
    pyogrio.write_dataframe(_frame(shelters), shp, driver="ESRI Shapefile", encoding="CP932")
    parts = {f"ono/shelters{p.suffix}": p for p in tmp_path.glob("shelters.*")}
    if not keep_cpg:
        parts.pop("ono/shelters.cpg", None)
    archive = _zip(tmp_path, tmp_path / "shelters.zip", parts)
    result = _read(archive)
    assert result.format == "shapefile" and result.encoding == "CP932"
    assert ("no .cpg file" in " ".join(result.notes)) is not keep_cpg
    assert len(result.features) == len(shelters.features)
    for (geom, props), (ref_geom, ref_props) in zip(result.features, shelters.features, strict=True):
        assert geom.equals_exact(ref_geom, 1e-9)
        # DBF names are cut to 10 bytes: compare the values column by column.
        assert all(_same_value(a, b) for a, b in zip(props.values(), ref_props.values(), strict=True))


def test_kml_written_by_gdal_reads(shelters, tmp_path):
    kml = tmp_path / "shelters.kml"
    frame = _frame(shelters, "EPSG:4326")
    pyogrio.write_dataframe(frame, kml, driver="KML")
    result = _read(kml)
    assert result.format == "kml" and result.source_crs == "EPSG:4326"
    assert len(result.features) == len(shelters.features)
    names = {f.source or f.name for f in result.fields}
    ref_field = shelters.fields[3]                       # 施設・場所名
    assert ref_field.source in names or ref_field.name in names
    for (geom, props), (ref_geom, ref_props) in zip(result.features, shelters.features, strict=True):
        assert geom.distance(ref_geom) < 1e-9
        assert ref_props[ref_field.name] in props.values()


def test_geopackage_layers_and_plane_rectangular_crs(shelters, tmp_path):
    gpkg = tmp_path / "ono.gpkg"
    pyogrio.write_dataframe(_frame(shelters, "EPSG:6673"), gpkg, layer="evacuation", driver="GPKG")
    pyogrio.write_dataframe(_frame(shelters), gpkg, layer="copy", driver="GPKG", append=True)
    with pytest.raises(Invalid, match=r"ono.gpkg: holds 2 layers \((evacuation, copy|copy, evacuation)\)"):
        _read(gpkg)
    result = _read(gpkg, layer="evacuation")
    assert result.layer == "evacuation" and result.source_crs == "EPSG:6673"
    for (geom, props), (ref_geom, ref_props) in zip(result.features, shelters.features, strict=True):
        assert geom.distance(ref_geom) < 1e-8          # back from zone V metres to JGD2011 degrees
        assert props == ref_props
    shutil.copy(gpkg, tmp_path / "copy.gpkg")          # the layer named like the file is picked
    assert _read(tmp_path / "copy.gpkg").layer == "copy"
    with pytest.raises(Invalid, match="no layer 'nope'"):
        _read(gpkg, layer="nope")


def test_layer_geometry_type_and_progress(shelters):
    calls = []
    path = DATA / "shelters" / "evacuation_282189.json"
    result = _read(path, layer_geometry_type="MultiPoint", progress=lambda d, t: calls.append((d, t)))
    assert {g.geom_type for g, _ in result.features} == {"MultiPoint"}
    assert calls[0] == (0, len(shelters.features)) and calls[-1] == (len(shelters.features),) * 2
    with pytest.raises(Invalid, match="row 1: a Point does not fit a Polygon layer"):
        _read(path, layer_geometry_type="Polygon")


# ---------------------------------------------------------------- CSV: CRS and addresses

def test_csv_plane_rectangular_x_northing(tmp_path):
    """Japanese survey CSVs: X = northing, Y = easting in the zone's CRS (here zone IV for 高松市)."""
    source = DATA / "takamatsu" / "library.csv"
    rows = _csv_rows(source)
    to_zone = pyproj.Transformer.from_crs(6668, 6672, always_xy=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["名称", "X", "Y"])
    for row in rows:
        e, n = to_zone.transform(float(row["longitude"]), float(row["latitude"]))
        writer.writerow([row["name"], f"{n:.4f}", f"{e:.4f}"])
    path = tmp_path / "library_zone4.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    result = _read(path, source_crs="EPSG:6672")
    assert result.source_crs == "EPSG:6672"
    for (geom, props), row in zip(result.features, rows, strict=True):
        assert (geom.x, geom.y) == pytest.approx((float(row["longitude"]), float(row["latitude"])), abs=1e-8)
        assert props == {"名称": row["name"]}
    with pytest.raises(Invalid, match="unknown CRS"):
        _read(path, source_crs="JGD2011 zone 4")


def test_csv_address_geocoding(tmp_path):
    towns = json.loads(next((DATA / "addresses").glob("13219_*.json")).read_text(encoding="utf-8"))
    index = AddressIndex.from_dir(DATA / "addresses", names={"13219": "東京都狛江市"})
    lines = ["施設名,住所"] + [f"施設{i},東京都狛江市{t['town']}{i % 9 + 1}-{i}" for i, t in enumerate(towns, 1)]
    path = tmp_path / "komae.csv"
    path.write_bytes("\n".join(lines).encode("cp932"))
    result = _read(path, address_index=index, tenant_code="13219")
    assert result.encoding == "CP932" and "町丁目" in " ".join(result.notes)
    for (geom, props), town in zip(result.features, towns, strict=True):
        assert (geom.x, geom.y) == (town["lng"], town["lat"])
        assert props["住所"].startswith("東京都狛江市" + town["town"])
    path.write_text("\n".join([*lines[:3], "施設X,東京都狛江市どこか町1-2"]), encoding="utf-8")
    with pytest.raises(Invalid, match=r"komae.csv: row 3 \(line 4\): address '東京都狛江市どこか町1-2' not found"):
        _read(path, address_index=index, tenant_code="13219")


# ---------------------------------------------------------------- malformed and hostile uploads

def test_csv_bad_latitude_names_the_row(tmp_path):
    rows = (DATA / "takamatsu" / "library.csv").read_text(encoding="utf-8").splitlines()
    cells = next(csv.reader([rows[3]]))
    cells[1] = "北緯34度"
    rows[3] = ",".join(f'"{c}"' for c in cells)
    path = tmp_path / "library.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        _read(path)
    assert exc.value.message == "library.csv: row 3 (line 4): latitude '北緯34度' is not a number"


def test_unrepairable_polygon_names_the_row(tmp_path):
    good = [[134.0, 34.0], [134.1, 34.0], [134.1, 34.1], [134.0, 34.1], [134.0, 34.0]]
    flat = [[134.0, 34.0], [134.1, 34.1], [134.2, 34.2], [134.0, 34.0]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": i}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for i, ring in enumerate([good, flat, good], 1)]}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(Invalid, match=r"zones.geojson: row 2: invalid geometry \(.+\)") as exc:
        _read(path)
    assert exc.value.details["count"] == 1


def test_broken_zip(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40 + b"not really a zip")
    with pytest.raises(Invalid, match="broken.zip: is not a valid zip archive"):
        _read(path)


def test_zip_with_parent_path(shelters, tmp_path):
    pyogrio.write_dataframe(_frame(shelters), tmp_path / "s.shp", driver="ESRI Shapefile")
    members = {f"s{p.suffix}": p for p in tmp_path.glob("s.*")}
    members["../evil.txt"] = b"x"
    with pytest.raises(Invalid, match=r"evil.zip: archive member '\.\./evil.txt' points outside the archive"):
        _read(_zip(tmp_path, tmp_path / "evil.zip", members))


def test_zip_with_symlink_and_too_many_members(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("data.shp")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(Invalid, match="'data.shp' is a symbolic link"):
        _read(path)
    many = _zip(tmp_path, tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(12)})
    with pytest.raises(Invalid, match="holds 12 files; at most 10"):
        _read(many, limits=ReadLimits(max_zip_members=10))


def test_geojson_that_is_a_vrt(tmp_path):
    path = tmp_path / "innocent.geojson"
    path.write_text('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
                    "</OGRVRTLayer></OGRVRTDataSource>", encoding="utf-8")
    with pytest.raises(Invalid, match="innocent.geojson: the content is a GDAL VRT"):
        _read(path)


def test_json_that_is_a_gdal_pipeline(tmp_path):
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps({"type": "gdal_streamed_alg",
                                "command_line": "gdal vector pipeline ! read /etc/passwd ! write out.geojson"}),
                    encoding="utf-8")
    with pytest.raises(Invalid, match="pipeline.json: cannot read the file as GeoJSON"):
        _read(path)


def test_gml_with_external_entity(tmp_path):
    path = tmp_path / "xxe.gml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                    '<gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml">&x;</gml:FeatureCollection>',
                    encoding="utf-8")
    with pytest.raises(Invalid, match="xxe.gml: XML with a DOCTYPE"):
        _read(path)


def test_gml_schema_location_is_not_followed(tmp_path):
    """The scratch copy GDAL reads has no xsi:schemaLocation, so no schema is fetched or read from disk."""
    from layers.readers.sniff import copy_without_schema_location, sniff

    source = PLATEAU[0]
    sniffed = sniff(source, source.name)
    assert sniffed.format == "gml" and b"schemaLocation" in source.read_bytes()[:sniffed.root[1]]
    copy = tmp_path / "copy.gml"
    copy_without_schema_location(source, copy, sniffed.root)
    data = copy.read_bytes()
    assert b"schemaLocation" not in data[:sniffed.root[1]]
    assert data.endswith(source.read_bytes()[sniffed.root[1]:])


def test_content_and_name_must_agree(tmp_path, shelters):
    gpkg = tmp_path / "x.gpkg"
    pyogrio.write_dataframe(_frame(shelters), gpkg, driver="GPKG")
    disguised = tmp_path / "data.geojson"
    shutil.copy(gpkg, disguised)
    with pytest.raises(Invalid, match="data.geojson: the content is a GeoPackage"):
        _read(disguised)
    (tmp_path / "a.shp").write_bytes(b"\x00\x00\x27\x0a")
    with pytest.raises(Invalid, match="as one .zip"):
        _read(tmp_path / "a.shp")
    (tmp_path / "a.dxf").write_text("0\nSECTION\n", encoding="ascii")
    with pytest.raises(Invalid, match="unsupported file type '.dxf'"):
        _read(tmp_path / "a.dxf")


def test_limits(tmp_path):
    path = DATA / "shelters" / "evacuation_343021.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    n, fields = len(doc["features"]), len(doc["features"][0]["properties"])
    with pytest.raises(Invalid, match="GeoJSON files may be at most 0 MB"):
        _read(path, limits=ReadLimits(max_json_bytes=1000))
    with pytest.raises(Invalid, match=f"has {n} features; at most {n - 1}"):
        _read(path, limits=ReadLimits(max_features=n - 1))
    with pytest.raises(Invalid, match=f"has {fields} attributes; at most {fields - 1}"):
        _read(path, limits=ReadLimits(max_fields=fields - 1))
    with pytest.raises(Invalid, match="reading took longer than 0.05 s"):
        _read(path, limits=ReadLimits(timeout_seconds=0.05))


def test_unknown_crs_in_a_shapefile(shelters, tmp_path):
    pyogrio.write_dataframe(_frame(shelters), tmp_path / "s.shp", driver="ESRI Shapefile")
    members = {f"s{p.suffix}": p for p in tmp_path.glob("s.*")}
    members["s.prj"] = b'PROJCS["nonsense",GEOGCS["x",DATUM["y",SPHEROID["z",0,0]]],PROJECTION["Nope"]]'
    with pytest.raises(Invalid, match="CRS"):
        _read(_zip(tmp_path, tmp_path / "nocrs.zip", members))
    result = _read(_zip(tmp_path, tmp_path / "chosen.zip", members), source_crs="EPSG:6668")
    assert result.source_crs == "EPSG:6668"
    assert np.allclose(shapely.get_coordinates([g for g, _ in result.features]),
                       shapely.get_coordinates([g for g, _ in shelters.features]))


def test_csv_text_is_utf8_or_cp932_and_nothing_else():
    """What Japanese systems write (UTF-8 with or without BOM, or CP932) decodes; other bytes are refused."""
    from layers.readers.encoding import decode_utf8_or_cp932
    from machihub.errors import Invalid

    text = "受取館,期限\n中央図書館,2026-06-05\n"
    assert decode_utf8_or_cp932(b"\xef\xbb\xbf" + text.encode()) == text
    assert decode_utf8_or_cp932(text.encode("cp932")) == text
    with pytest.raises(Invalid, match="neither UTF-8 nor Shift_JIS"):
        decode_utf8_or_cp932("受取館".encode("utf-16"), "the hold CSV")
