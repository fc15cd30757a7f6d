"""Resident reports: Open311 GeoReport v2 on the public app, routing to the department, status by staff,
no personal details in public, photos re-encoded without metadata."""
from __future__ import annotations

import io

import pytest
from aiohttp import FormData

from machihub.errors import Forbidden
from machihub.principal import SYSTEM
from portal.public_app import make_public_app


def _jpeg_with_gps() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (34.0, 20.0, 0.0), 3: "E", 4: (134.0, 2.0, 0.0)})  # where the phone was
    exif[0x010F] = "SecretPhoneMaker"
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(out.getvalue())).getexif().get_ifd(0x8825)  # the fixture really has GPS
    return out.getvalue()


@pytest.fixture
def services(hub, towns):
    from gis.boundaries import municipality_polygon
    from tests.conftest import DATA

    boundary = municipality_polygon(DATA / "gis" / "boundaries" / "N03-21_37_210101_s0010.json", "37201")
    hub.tenants.add(SYSTEM, "37201", "高松市", prefecture="香川県", boundary=boundary)
    hub.reports.add_service(SYSTEM, "37201", "streetlight", "街路灯の故障", towns["doboku"].id, name_en="Streetlight")
    hub.reports.add_service(SYSTEM, "37201", "dumping", "不法投棄", towns["bousai"].id, name_en="Illegal dumping")


async def test_open311_round_trip(aiohttp_client, hub, towns, services):
    client = await aiohttp_client(make_public_app(hub))
    svc = await (await client.get("/open311/v2/services.json?jurisdiction_id=37201&locale=en")).json()
    assert [(s["service_code"], s["service_name"]) for s in svc] == [("streetlight", "Streetlight"),
                                                                       ("dumping", "Illegal dumping")]
    form = FormData()
    for k, v in {"jurisdiction_id": "37201", "service_code": "streetlight", "lat": "34.3425", "long": "134.0463",
                 "description": "街灯が消えています", "email": "taro@example.jp"}.items():
        form.add_field(k, v)
    form.add_field("media", _jpeg_with_gps(), filename="p.jpg", content_type="image/jpeg")
    r = await client.post("/open311/v2/requests.json", data=form)
    assert r.status == 201
    rid = (await r.json())[0]["service_request_id"]

    listed = await (await client.get("/open311/v2/requests.json?jurisdiction_id=37201&status=open")).json()
    assert [x["service_request_id"] for x in listed] == [rid]
    item = (await (await client.get(f"/open311/v2/requests/{rid}.json")).json())[0]
    assert item["description"] == "街灯が消えています" and item["status"] == "open"
    assert (item["lat"], item["long"]) == (34.3425, 134.0463)
    public_text = await (await client.get("/open311/v2/requests.json?jurisdiction_id=37201")).text()
    geo = await (await client.get("/api/37201/reports.geojson")).text()
    assert "taro@example.jp" not in public_text + geo  # the contact never leaves the staff side

    from PIL import Image

    photo = await (await client.get(item["media_url"].split(str(client.make_url("")).rstrip("/"))[-1])).read()
    img = Image.open(io.BytesIO(photo))
    assert img.format == "JPEG" and not img.getexif()  # GPS and maker stripped

    report = hub.reports.get(int(rid))
    assert report.department_id == towns["doboku"].id  # routed by category
    with pytest.raises(Forbidden):
        hub.reports.set_status(towns["bousai_editor"].principal(), report.id, "closed")
    hub.reports.set_status(towns["doboku_editor"].principal(), report.id, "closed", "交換済み")
    assert hub.reports.contact(towns["doboku_editor"].principal(), report.id) == "taro@example.jp"
    closed = await (await client.get("/open311/v2/requests.json?jurisdiction_id=37201&status=closed")).json()
    assert [x["service_request_id"] for x in closed] == [rid]
    assert [e["action"] for e in hub.audit.entries(tenant="37201", limit=3)] == [
        "report.contact_read", "report.status", "report.submit"]


async def test_bad_reports_are_refused(aiohttp_client, hub, towns, services):
    client = await aiohttp_client(make_public_app(hub))
    cases = [
        ({"service_code": "nope", "lat": "34.34", "long": "134.04", "description": "x"}, 404),
        ({"service_code": "streetlight", "lat": "north", "long": "134.04", "description": "x"}, 400),
        ({"service_code": "streetlight", "lat": "35.6", "long": "139.5", "description": "x"}, 400),  # not 高松市
        ({"service_code": "streetlight", "lat": "34.34", "long": "134.04", "description": ""}, 400),
    ]
    for fields, status in cases:
        r = await client.post("/open311/v2/requests.json", data={"jurisdiction_id": "37201", **fields})
        assert r.status == status, (fields, await r.text())
    form = FormData()
    for k, v in {"jurisdiction_id": "37201", "service_code": "dumping", "lat": "34.34", "long": "134.04",
                 "description": "ごみ"}.items():
        form.add_field(k, v)
    form.add_field("media", b"<svg onload=alert(1)>", filename="x.jpg", content_type="image/jpeg")
    r = await client.post("/open311/v2/requests.json", data=form)
    assert r.status == 400 and "JPEG or PNG" in (await r.json())["message"]
    assert hub.reports.search("37201") == []  # nothing was stored by any refused request


HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_refused_form_post_comes_back_with_the_input_and_the_problem(aiohttp_client, hub, towns, services):
    """A browser post that cannot be accepted re-renders the form (400) in the reader's language, with what was
    typed kept and the problem named; API clients of the same URL keep the JSON error; nothing is stored."""
    client = await aiohttp_client(make_public_app(hub))
    base = {"service_code": "dumping", "description": "粗大ごみが捨てられています", "email": "hanako@example.jp"}
    cases = [
        ("ja", {**base}, "場所を指定してください。地図をクリックするか、住所を入力してください。"),
        ("en", {**base}, "Give the location: click on the map or type an address."),
        ("ja", {**base, "address_string": "あいうえお"}, "住所が見つかりません：あいうえお。"),
        ("vi", {**base, "address_string": "あいうえお"}, "Không tìm thấy địa chỉ: あいうえお."),
        ("ja", {**base, "lat": "35.6", "long": "139.5"}, "この場所は市町村の区域外です。"),
        ("ko", {**base, "description": "", "address_string": "番町一丁目"}, "문제를 설명해 주세요."),
        ("pt", {**base, "description": "あ" * 2001, "address_string": "番町一丁目"},
         "A descrição é longa demais: no máximo 2000 caracteres."),
    ]
    for lang, fields, message in cases:
        r = await client.post(f"/37201/report?lang={lang}", data=fields, headers=HTML)
        page = await r.text()
        assert r.status == 400 and r.content_type == "text/html", (lang, fields, page[:300])
        assert message in page, (lang, message)
        assert 'role="alert"' in page and 'aria-invalid="true"' in page
        if fields["description"] and len(fields["description"]) < 100:
            assert f">{fields['description']}</textarea>" in page  # what the resident typed is kept
        assert 'value="hanako@example.jp"' in page and '<option value="dumping" selected>' in page
        if fields.get("address_string"):
            assert f'value="{fields["address_string"]}"' in page
        assert "{&#34;error" not in page and '{"error"' not in page

    form = FormData()
    for k, v in {**base, "address_string": "番町一丁目"}.items():
        form.add_field(k, v)
    form.add_field("media", b"<svg onload=alert(1)>", filename="x.jpg", content_type="image/jpeg")
    r = await client.post("/37201/report?lang=zh-Hant", data=form, headers=HTML)
    page = await r.text()
    assert r.status == 400 and "照片必須是 JPEG 或 PNG 圖像。" in page and "<svg" not in page
    assert 'aria-describedby="rp-photo-error"' in page

    # the same refusals for an API client: the JSON error, in English, as before
    r = await client.post("/37201/report", data=base, headers={"Accept": "application/json"})
    assert r.status == 400 and (await r.json()) == {
        "error": "invalid", "message": "give the location: click on the map or type an address"}
    r = await client.post("/37201/report", data={**base, "address_string": "あいうえお"})
    assert r.status == 400 and (await r.json())["message"] == "address not found: あいうえお"
    assert hub.reports.search("37201") == []  # nothing was stored by any refused post

    # and the form, once fixed, goes through
    r = await client.post("/37201/report?lang=ja", data={**base, "address_string": "番町一丁目"}, headers=HTML)
    assert r.status == 200 and "ありがとう" in await r.text()
    assert [x.description for x in hub.reports.search("37201")] == [base["description"]]


async def test_the_report_form_hints_before_posting(aiohttp_client, hub, towns, services):
    client = await aiohttp_client(make_public_app(hub))
    page = await (await client.get("/37201/report?lang=en", headers=HTML)).text()
    assert 'data-need-location="Give the location: click on the map or type an address."' in page
    assert 'name="description"' in page and 'maxlength="2000" required' in page
    assert 'id="rp-problem"' not in page and "aria-describedby" not in page  # no problem shown on a fresh form
