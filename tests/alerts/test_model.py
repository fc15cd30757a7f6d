"""alerts.model: the alert maps 1:1 to CAP 1.2 (through feeds.cap, validated against the XSD both ways)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.model import Alert, AlertArea, AlertText, overrides_quiet_hours, topic_bits, topics_of
from feeds.cap import CapCircle, CapReference, parse_cap, to_cap_xml
from machihub.errors import Invalid


def full_alert() -> Alert:
    t0 = datetime(2025, 7, 1, 9, 30, tzinfo=UTC)
    return Alert(tenant_code="13219", topic="weather", event="大雨警報", urgency="Immediate", severity="Severe",
                 certainty="Observed", status="Actual", msg_type="Update", scope="Public",
                 identifier="machihub-13219-20250701-1", sender="machihub.13219@city.example.lg.jp", sent=t0,
                 effective=t0, onset=t0 + timedelta(hours=1), expires=t0 + timedelta(hours=6), sender_name="狛江市危機管理課",
                 categories=["Met"], response_types=["Prepare"], note="続報",
                 references=[CapReference("machihub.13219@city.example.lg.jp", "machihub-13219-20250701-0",
                                          "2025-07-01T18:00:00+09:00")],
                 web="https://portal.example.jp/alerts/a/2", contact="03-0000-0000",
                 texts={"ja": AlertText(headline="大雨警報", description="土砂災害に警戒", instruction="避難所へ"),
                        "en": AlertText(headline="Heavy rain warning", description="Landslides possible"),
                        "ja-x-easy": AlertText(headline="あめが たくさん ふります")},
                 areas=[AlertArea(desc="和泉本町一丁目", geocodes=[("machihub-area", "chome:和泉本町一丁目")]),
                        AlertArea(desc="多摩川沿い", polygons=[[(35.63, 139.57), (35.64, 139.57), (35.64, 139.58),
                                                              (35.63, 139.57)]],
                                  circles=[CapCircle(35.635, 139.575, 0.5)])])


def test_alert_round_trips_through_cap_xml():
    alert = full_alert()
    xml = to_cap_xml(alert.to_cap())           # validated against CAP-v1.2.xsd on the way out
    cap = parse_cap(xml)                       # and on the way in
    assert [i.language for i in cap.infos] == ["ja", "en", "ja-x-easy"]
    back = Alert.from_cap(cap, "13219")
    assert back.to_cap() == parse_cap(to_cap_xml(back.to_cap()))
    assert back.topic == "weather" and back.event == "大雨警報" and back.severity == "Severe"
    assert back.texts["ja"].instruction == "避難所へ" and back.texts["en"].headline == "Heavy rain warning"
    assert back.references == alert.references and back.msg_type == "Update"
    assert back.areas[0].geocodes == [("machihub-area", "chome:和泉本町一丁目")]
    assert back.areas[1].circles == [CapCircle(35.635, 139.575, 0.5)]
    assert back.expires == alert.expires and back.sent == alert.sent
    assert Alert.from_json(alert.to_json()) == alert


def test_validation_names_the_problem():
    a = full_alert()
    a.topic = "gossip"
    with pytest.raises(Invalid, match="topic"):
        a.validate()
    b = full_alert()
    b.msg_type, b.references = "Cancel", []
    with pytest.raises(Invalid, match="refers"):
        b.validate()
    c = full_alert()
    c.areas = []
    with pytest.raises(Invalid, match="area"):
        c.validate()


def test_drills_and_topics():
    a = full_alert()
    assert not a.is_drill
    a.status = "Exercise"
    assert a.is_drill
    assert topics_of(topic_bits(["crime", "library"])) == ["crime", "library"]
    assert overrides_quiet_hours("Severe") and overrides_quiet_hours("Extreme") and not overrides_quiet_hours("Moderate")
    assert a.text_for("ko")[0] == "ja" and a.text_for("en")[0] == "en"
