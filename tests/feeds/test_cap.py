"""feeds.cap: CAP 1.2 in and out, against the real alerts in shared/data/cap (values read from the files)."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest

from feeds.cap import (
    CapAlert,
    CapArea,
    CapCircle,
    CapInfo,
    CapReference,
    CapResource,
    parse_cap,
    to_cap_xml,
)
from feeds.safe_xml import CAP12_SCHEMA, load_schema, parse_untrusted
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA
CAP = DATA / "cap"
SAMPLES = ["australia_bom.cap", "taiwan.cap", "CanadaNaad.xml"]
JST = timezone(timedelta(hours=9))
if not CAP.is_dir():
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CAP samples missing: {CAP}")
    pytest.skip(f"CAP samples missing: {CAP}", allow_module_level=True)


def load(name: str) -> CapAlert:
    return parse_cap((CAP / name).read_bytes())


def test_every_sample_is_listed():
    assert sorted(p.name for p in CAP.iterdir() if p.suffix in (".cap", ".xml")) == sorted(SAMPLES)


def test_australia():
    a = load("australia_bom.cap")
    assert (a.identifier, a.sender) == ("AusBoM-IDN21033-2019-01-16T03:15:58+00:00", "CAP.Message@bom.gov.au")
    assert a.sent == datetime(2019, 1, 16, 3, 15, 58, tzinfo=UTC)
    assert (a.status, a.msg_type, a.scope) == ("Actual", "Alert", "Public")
    assert a.codes == ["urn:oasis:names:tc:emergency:cap:1.2:profile:CAP-AU:1.0"]
    (info,) = a.infos
    assert (info.language, info.categories, info.event) == ("en-AU", ["Met"], "Thunderstorm")
    assert (info.urgency, info.severity, info.certainty) == ("Unknown", "Unknown", "Unknown")
    assert info.headline.startswith("Severe Thunderstorm Warning for Mid North Coast, Hunter")
    assert info.description.startswith("Severe thunderstorms are likely to produce damaging winds")
    assert info.expires == datetime(2019, 1, 16, 6, 15, 52, tzinfo=UTC)
    assert info.web == "http://www.bom.gov.au/australia/warnings"
    (area,) = info.areas
    assert area.area_desc.startswith("New South Wales: Mid North Coast")
    assert area.geocodes[:2] == [("http://www.iso.org/iso/country_codes.html", "AU-NSW"), ("AMOC-AreaCode", "NSW_PW002")]
    assert area.polygons == [] and not a.is_drill and a.is_actual


def test_taiwan():
    a = load("taiwan.cap")  # UTF-8 with a byte-order mark
    assert a.identifier == "WRA_ReservoirWarn_201405142010" and a.sender == "ddmt01@wra.gov.tw"
    assert a.sent == datetime(2014, 5, 14, 20, 10, tzinfo=timezone(timedelta(hours=8)))
    (info,) = a.infos
    assert (info.language, info.categories, info.event, info.response_types) == ("zh-tw", ["Infra"], "水庫洩洪", ["Monitor"])
    assert (info.urgency, info.severity, info.certainty) == ("Future", "Moderate", "Observed")
    assert (info.sender_name, info.headline, info.instruction) == ("水利署", "明德水庫:洩洪中", "請沿岸附近民眾注意。")
    assert info.event_codes == [("profile:CAP-TWP:Event:1.0", "ReservoirDis")]
    assert ("alert_color", "紅色") in info.parameters
    assert info.areas == [CapArea(area_desc="苗栗縣頭屋鄉", geocodes=[("Taiwan_Geocode_100", "1000512")])]


def test_canada_two_languages_and_polygon():
    a = load("CanadaNaad.xml")
    assert a.identifier == "urn:oid:2.49.0.1.124.3026064006.2019" and a.sender == "cap-pac@canada.ca"
    assert a.sent == datetime(2019, 7, 12, 17, 59, 29, tzinfo=UTC)  # written -00:00
    assert a.codes[0] == "profile:CAP-CP:0.4" and len(a.codes) == 6
    assert a.references == [] and a.restriction is None  # <references /> and <restriction /> are empty
    assert [(i.language, i.event, i.headline) for i in a.infos] == [
        ("en-CA", "weather", "special weather statement in effect"),
        ("fr-CA", "météo", "bulletin météorologique spécial en vigueur")]
    area = a.infos[0].areas[0]
    assert area.area_desc == "Channel-Port aux Basques and vicinity"
    (ring,) = area.polygons
    assert ring[0] == (47.5744, -58.4207) and ring[1] == (47.4617, -59.2449) and ring[-1] == ring[0]
    assert ("profile:CAP-CP:Location:0.3", "1004001") in area.geocodes


@pytest.mark.parametrize("name", SAMPLES)
def test_round_trip(name):
    alert = load(name)
    xml = to_cap_xml(alert)
    assert load_schema(CAP12_SCHEMA).errors(parse_untrusted(xml)) == []
    assert parse_cap(xml) == alert


def test_polygons_are_written_lat_lon_and_closed():
    xml = to_cap_xml(load("CanadaNaad.xml")).decode()
    assert "<polygon>47.5744,-58.4207 47.4617,-59.2449 " in xml
    assert xml.count("47.5744,-58.4207") == 2 * 2  # first and last point, in both infos


def make_alert(**overrides) -> CapAlert:
    info_ja = CapInfo(language="ja-JP", categories=["Met"], event="大雨", urgency="Immediate", severity="Severe",
                      certainty="Observed", headline="高松市に大雨警報", instruction="川に近づかないでください。",
                      effective=datetime(2024, 6, 1, 9, 0, tzinfo=JST),
                      resources=[CapResource(resource_desc="浸水想定区域図", mime_type="application/pdf", size=120400,
                                             uri="https://www.city.takamatsu.example/map.pdf")],
                      areas=[CapArea(area_desc="高松市", geocodes=[("JIS X0402", "37201")],
                                     polygons=[[(34.34, 134.04), (34.34, 134.06), (34.32, 134.06)]],
                                     circles=[CapCircle(34.3428, 134.0466, 2.5)])])
    info_en = CapInfo(language="en-US", categories=["Met", "Safety"], event="Heavy rain", urgency="Immediate",
                      severity="Severe", certainty="Observed", headline="Heavy rain warning for Takamatsu",
                      areas=info_ja.areas)
    fields = dict(identifier="machihub-37201-0001", sender="bousai@city.takamatsu.example", sent=datetime(
        2024, 6, 1, 9, 5, tzinfo=JST), status="Actual", msg_type="Update", scope="Public",
        references=[CapReference("bousai@city.takamatsu.example", "machihub-37201-0000", "2024-06-01T08:00:00+09:00")],
        infos=[info_ja, info_en])
    fields.update(overrides)
    return CapAlert(**fields)


def test_serialise_our_own_alert():
    alert = make_alert()
    xml = to_cap_xml(alert)
    assert load_schema(CAP12_SCHEMA).errors(parse_untrusted(xml)) == []
    text = xml.decode()
    assert text.count("<info>") == 2 and "<language>ja-JP</language>" in text
    assert "<sent>2024-06-01T09:05:00+09:00</sent>" in text
    assert "<references>bousai@city.takamatsu.example,machihub-37201-0000,2024-06-01T08:00:00+09:00</references>" in text
    assert "<polygon>34.34,134.04 34.34,134.06 34.32,134.06 34.34,134.04</polygon>" in text  # closed for us
    assert "<circle>34.3428,134.0466 2.5</circle>" in text
    back = parse_cap(xml)
    assert back.references == alert.references and back.infos[0].areas[0].polygons[0][-1] == (34.34, 134.04)
    assert back.infos[0].headline == "高松市に大雨警報" and back.infos[1].categories == ["Met", "Safety"]
    assert back.infos[0].resources == alert.infos[0].resources
    assert parse_cap(to_cap_xml(back)) == back  # stable once the ring is closed


@pytest.mark.parametrize(("overrides", "message"), [
    ({"sent": datetime(2024, 6, 1, 9, 5)}, "time zone"),
    ({"identifier": "has space"}, "identifier"),
    ({"status": "Rumour"}, "does not match"),
    ({"infos": []}, None),  # an alert without info is valid CAP
])
def test_serialise_refuses_invalid(overrides, message):
    alert = make_alert(**overrides)
    if message is None:
        assert parse_cap(to_cap_xml(alert)).infos == []
        return
    with pytest.raises(Invalid, match=message):
        to_cap_xml(alert)


def test_serialise_refuses_bad_geometry_and_text():
    bad_lat = make_alert()
    bad_lat.infos[0].areas = [CapArea(area_desc="x", polygons=[[(95.0, 134.0), (34.0, 134.1), (34.1, 134.2)]])]
    with pytest.raises(Invalid, match="lat,lon"):
        to_cap_xml(bad_lat)
    control = make_alert()
    control.infos[0].description = "bell\x07"
    with pytest.raises(Invalid, match="description"):
        to_cap_xml(control)


def test_drills():
    for status, drill in (("Exercise", True), ("Test", True), ("Actual", False), ("Draft", False)):
        assert make_alert(status=status).is_drill is drill
        assert parse_cap(to_cap_xml(make_alert(status=status))).is_drill is drill


def taiwan_with(old: bytes, new: bytes) -> bytes:
    raw = (CAP / "taiwan.cap").read_bytes()
    assert old in raw
    return raw.replace(old, new)


def test_refuses_other_versions_and_documents():
    with pytest.raises(Invalid, match="CAP 1.1 alerts are not accepted"):
        parse_cap(taiwan_with(b"emergency:cap:1.2", b"emergency:cap:1.1"))
    with pytest.raises(Invalid, match="CAP 1.0"):
        parse_cap(taiwan_with(b"urn:oasis:names:tc:emergency:cap:1.2", b"http://www.incident.com/cap/1.0"))
    with pytest.raises(Invalid, match="unknown namespace"):
        parse_cap(taiwan_with(b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:example:alerts"))
    with pytest.raises(Invalid, match="not a CAP alert"):
        parse_cap(b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>')
    with pytest.raises(Invalid, match="does not match"):
        parse_cap(taiwan_with(b"<status>Actual</status>", b"<status>Rumour</status>"))
    with pytest.raises(Invalid, match="does not match"):
        parse_cap(taiwan_with(b"<event>", b"<eventx/><event>"))
    with pytest.raises(Invalid, match="lat,lon"):
        parse_cap(taiwan_with(b"<geocode>", b"<polygon>95,121 24,121 24,122 95,121</polygon><geocode>"))
    with pytest.raises(Invalid, match="non-number"):
        parse_cap(taiwan_with(b"<geocode>", b"<circle>24.5,120.9 far</circle><geocode>"))
    with pytest.raises(Invalid, match="references"):
        parse_cap(taiwan_with(b"<info>", b"<references>only-an-id</references><info>"))


def test_refuses_attacks():
    with pytest.raises(Invalid, match="DOCTYPE"):
        parse_cap(b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                  b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&b;</identifier></alert>')
    with pytest.raises(Invalid, match="DOCTYPE"):
        parse_cap(taiwan_with(b"<alert ", b'<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]><alert ')
                  .replace(b"<headline>", b"<headline>&x;"))
    with pytest.raises(Invalid, match="too large"):
        parse_cap((CAP / "CanadaNaad.xml").read_bytes(), max_bytes=4096)


def test_unclosed_polygon_is_closed_on_the_way_in():
    alert = parse_cap(taiwan_with(b"<geocode>", b"<polygon>24.5,120.9 24.6,120.9 24.6,121.0</polygon><geocode>"))
    assert alert.infos[0].areas[0].polygons == [[(24.5, 120.9), (24.6, 120.9), (24.6, 121.0), (24.5, 120.9)]]
