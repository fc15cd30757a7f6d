"""OGC API – Features on a real server: Part 1/2 reads (public), Part 4 writes (staff, If-Match), and GDAL's
own OAPIF driver reading a collection from us."""
from __future__ import annotations

import json

import pyproj
import pytest
import shapely

from layers.model import FieldSpec, LayerSchema
from machihub.principal import SYSTEM
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app

SCHEMA = LayerSchema((FieldSpec("name", required=True), FieldSpec("kind", enum=("A", "B")), FieldSpec("n", "integer")))


@pytest.fixture
def layers(hub, towns):
    editor = towns["bousai_editor"].principal()
    pub = hub.layers.create_layer(editor, "37201", "points", "地点", owner_department_id=towns["bousai"].id,
                                  geometry_type="Point", schema=SCHEMA, classification="public",
                                  metadata={"credit": "テスト出典"})
    hub.layers.add_features(editor, pub.key, [
        (shapely.Point(134.0 + i * 0.01, 34.3), {"name": f"p{i}", "kind": "A" if i % 2 else "B", "n": i})
        for i in range(25)])
    internal = hub.layers.create_layer(editor, "37201", "secret", "内部", owner_department_id=towns["bousai"].id,
                                       geometry_type="Polygon", schema=SCHEMA, classification="internal")
    hub.layers.add_features(editor, internal.key, [(shapely.box(134.0, 34.3, 134.01, 34.31), {"name": "x"})])
    return pub, internal


async def test_items_paging_filters_and_crs(aiohttp_client, hub, layers):
    pub, _ = layers
    client = await aiohttp_client(make_public_app(hub))
    r = await client.get(f"/ogc/collections/{pub.key}/items?limit=10&offset=5&kind=A")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/geo+json")
    doc = await r.json()
    names = [f["properties"]["name"] for f in doc["features"]]
    expected = [f"p{i}" for i in range(25) if i % 2][5:15]
    assert names == expected and doc["numberMatched"] == 12 and doc["numberReturned"] == 7
    assert any(link["rel"] == "prev" for link in doc["links"])

    # bbox in CRS84 and the same box given in EPSG:6668 (lat,lon axis order) select the same features
    r1 = await (await client.get(f"/ogc/collections/{pub.key}/items?bbox=134.035,34.29,134.085,34.31")).json()
    r2 = await (await client.get(f"/ogc/collections/{pub.key}/items?bbox=34.29,134.035,34.31,134.085"
                                 "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/6668")).json()
    assert [f["id"] for f in r1["features"]] == [f["id"] for f in r2["features"]]
    assert [f["properties"]["n"] for f in r1["features"]] == [4, 5, 6, 7, 8]

    # crs=EPSG:6672 (plane-rectangular zone IV): coordinates are northing,easting metres, as pyproj says
    r = await client.get(f"/ogc/collections/{pub.key}/items?limit=1&crs=EPSG:6672")
    assert r.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/6672>"
    x_north, y_east = (await r.json())["features"][0]["geometry"]["coordinates"]
    e, n = pyproj.Transformer.from_crs(6668, 6672, always_xy=True).transform(134.0, 34.3)
    assert abs(x_north - n) < 0.01 and abs(y_east - e) < 0.01

    r = await client.get(f"/ogc/collections/{pub.key}/items?crs=EPSG:9999")
    assert r.status == 400 and "EPSG:9999" in (await r.json())["message"]
    r = await client.get(f"/ogc/collections/{pub.key}/items?bbox=1,2,3")
    assert r.status == 400


async def test_conditional_get_and_gzip(aiohttp_client, hub, layers):
    pub, _ = layers
    client = await aiohttp_client(make_public_app(hub))
    r = await client.get(f"/ogc/collections/{pub.key}/items", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("Content-Encoding") == "gzip" and r.headers["Last-Modified"]
    etag = r.headers["ETag"]
    again = await client.get(f"/ogc/collections/{pub.key}/items", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_internal_layers_are_invisible_to_the_public_app(aiohttp_client, hub, layers):
    pub, internal = layers
    client = await aiohttp_client(make_public_app(hub))
    ids = [c["id"] for c in (await (await client.get("/ogc/collections")).json())["collections"]]
    assert pub.key in ids and internal.key not in ids
    for url in (f"/ogc/collections/{internal.key}", f"/ogc/collections/{internal.key}/items",
                f"/ogc/collections/{internal.key}/items/1", f"/tiles/{internal.key}/14/14483/6519.mvt",
                f"/download/{internal.key}.geojson", f"/list/{internal.key}"):
        r = await client.get(url)
        assert r.status == 404, url
    # the public app has no write routes at all
    r = await client.post(f"/ogc/collections/{pub.key}/items", data="{}")
    assert r.status == 405


async def test_part4_edits_are_versioned_and_stale_if_match_gets_412(aiohttp_client, hub, towns, layers):
    pub, _ = layers
    hub.settings = hub.settings.replace(cookie_secure=False)  # aiohttp's test client keeps Secure cookies off http
    client = await aiohttp_client(make_staff_app(hub))
    r = await client.post("/login", data={"username": "sato", "password": towns["password"]}, allow_redirects=False)
    assert r.status == 303
    home = await client.get("/", headers={"Accept": "text/html"})
    csrf = (await home.text()).split('name="csrf_token" value="')[1].split('"')[0]
    h = {"X-CSRF-Token": csrf, "Content-Type": "application/geo+json"}
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [134.5, 34.2]},
               "properties": {"name": "新規", "n": 99}}
    r = await client.post(f"/ogc/collections/{pub.key}/items", data=json.dumps(feature), headers=h)
    assert r.status == 201
    loc = r.headers["Location"].split("/ogc/")[1]
    got = await client.get("/ogc/" + loc)
    etag = got.headers["ETag"]
    r = await client.patch("/ogc/" + loc, data=json.dumps({"type": "Feature", "geometry": None,
                                                           "properties": {"n": 100}}),
                           headers={**h, "If-Match": etag})
    assert r.status == 204
    r = await client.patch("/ogc/" + loc, data=json.dumps({"type": "Feature", "geometry": None,
                                                           "properties": {"n": 101}}),
                           headers={**h, "If-Match": etag})
    assert r.status == 412
    body = await r.json()
    assert body["details"]["current"]["properties"]["n"] == 100
    r = await client.patch("/ogc/" + loc, data="{}", headers=h)
    assert r.status == 412  # no If-Match: refused, never a blind overwrite
    # without the CSRF token a logged-in browser cannot write
    r = await client.delete("/ogc/" + loc, headers={"If-Match": (await client.get("/ogc/" + loc)).headers["ETag"]})
    assert r.status == 403
    fid = int(loc.rsplit("/", 1)[1])
    hist = hub.layers.feature_history(pub.key, fid, SYSTEM)
    assert [(h_["op"], h_["actor"]) for h_ in hist] == [("update", "user:sato"), ("insert", "user:sato")]
    assert hist[0]["properties"]["n"] == 100 and hist[0]["note"] == "OGC API update"


def test_gdal_oapif_driver_reads_a_collection(hub, layers, tmp_path):
    import pyogrio

    from tests.portal.conftest import ServeProcess

    pub, _ = layers
    with ServeProcess(hub.settings.store, tmp_path, hub.settings.secret_key) as server:
        df = pyogrio.read_dataframe(f"OAPIF:{server.url()}/ogc", layer=pub.key)
    stored = hub.layers.features(pub.key, None)
    assert sorted(df["name"]) == sorted(f.properties["name"] for f in stored)
    by_name = {f.properties["name"]: f.geometry for f in stored}
    for name, geom in zip(df["name"], df.geometry, strict=True):
        assert geom.distance(by_name[name]) < 1e-9


async def test_mvt_tiles_decode_to_the_stored_polygons(aiohttp_client, hub, towns):
    import mapbox_vector_tile

    editor = towns["bousai_editor"].principal()
    la = hub.layers.create_layer(editor, "37201", "zones", "区域", owner_department_id=towns["bousai"].id,
                                 geometry_type="Polygon", schema=SCHEMA, classification="public")
    hub.layers.add_features(editor, la.key, [(shapely.box(134.0, 34.3, 134.01, 34.31), {"name": "z1"})])
    client = await aiohttp_client(make_public_app(hub))
    # tile z14 containing (134.005, 34.305)
    import math

    z = 14
    x = int((134.005 + 180) / 360 * 2**z)
    lat = math.radians(34.305)
    y = int((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * 2**z)
    r = await client.get(f"/tiles/{la.key}/{z}/{x}/{y}.mvt")
    assert r.status == 200 and r.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    tile = mapbox_vector_tile.decode(await r.read())
    feats = tile[la.key]["features"]
    assert len(feats) == 1 and feats[0]["properties"]["name"] == "z1"
    assert feats[0]["geometry"]["type"] == "Polygon"
    empty = await client.get(f"/tiles/{la.key}/{z}/{x + 50}/{y}.mvt")
    assert empty.status == 204
    # an edit shows in the next tile at once (the tile cache is keyed by the layer revision)
    f = hub.layers.features(la.key, editor)[0]
    hub.layers.update_feature(editor, la.key, f.fid, base_version=f.version, properties={"name": "z2"})
    again = mapbox_vector_tile.decode(await (await client.get(f"/tiles/{la.key}/{z}/{x}/{y}.mvt")).read())
    assert again[la.key]["features"][0]["properties"]["name"] == "z2"
