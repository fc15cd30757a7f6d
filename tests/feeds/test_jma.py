"""feeds.jma against the official JMA sample telegrams in shared/data/jma (expected values read from the files)."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest

from feeds.jma import Kind, municipality_code, municipality_codes, parse_jma
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA
JMA = DATA / "jma"
JST = timezone(timedelta(hours=9))
if not JMA.is_dir():
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"JMA sample telegrams missing: {JMA}")
    pytest.skip(f"JMA sample telegrams missing: {JMA}", allow_module_level=True)


def load(name: str):
    return parse_jma((JMA / name).read_bytes())


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


# file: (type code, status, info type, report time (JST), headline start, area codes named in the telegram)
EXPECTED = {
    "15_08_01_130412_VPWW53.xml": ("VPWW53", "通常", "発表", "2011-09-03T12:00", "【特別警報（大雨）】北部では４日未明まで",
                                   {"290000", "290010", "2920100", "2945300"}),
    "15_08_02_130412_VPWW53.xml": ("VPWW53", "通常", "発表", "2011-09-04T00:10", "【特別警報（大雨）】奈良県では、４日昼過ぎまで",
                                   {"290000", "290020", "2945200"}),
    "15_11_01_150916_VPWW54.xml": ("VPWW54", "通常", "発表", "2015-06-22T18:00", "山口県では、２３日朝まで高潮に警戒してください。",
                                   {"350000", "350010", "3520100", "3534400", "3550200"}),
    "15_11_02_150916_VPWW54.xml": ("VPWW54", "通常", "発表", "2015-07-09T02:18", "富山県では、土砂災害や低い土地の浸水",
                                   {"160000", "160011", "1634200", "1634300"}),
    "15_11_03_150916_VPWW54.xml": ("VPWW54", "通常", "発表", "2013-02-07T21:07", "【特別警報（大雪）】東部では、大雪、暴風雪、高波",
                                   {"160000", "160010", "1634300"}),
    "15_12_01_161130_VPWW54.xml": ("VPWW54", "通常", "発表", "2016-02-12T15:44", "【特別警報（大雨）】浜田地区、大田邑智地区に",
                                   {"320000", "3220200", "3250100", "3250500"}),
    "15_16_03_241226_VPWW55.xml": ("VPWW55", "通常", "発表", "2020-06-22T23:00", "宗谷地方にレベル４大雨危険警報を発表しています。",
                                   {"011000", "011011", "0121400", "0152000"}),
    "15_17_01_250630_VPWW56.xml": ("VPWW56", "通常", "発表", "2024-11-02T08:00", "東部、西部では、土砂災害に厳重に警戒",
                                   {"320000", "320010", "3220100", "3252800"}),
    "16_01_01_220728_VXKOii.xml": ("VXKOii", "通常", "発表", "2019-05-09T20:40", "【警戒レベル２相当情報［洪水］】○○川上流では",
                                   {"1234567890", "123456789012"}),
    "17_01_01_190529_VXWW50.xml": ("VXWW50", "通常", "発表", "2013-08-31T11:05", "＜概況＞\n降り続く大雨のため",
                                   {"400000", "4010000", "4013000", "4020200", "4064700"}),
    "17_02_01_190529_VXWW50.xml": ("VXWW50", "通常", "発表", "2013-08-23T15:15", "＜概況＞\n降り続く大雨のため",
                                   {"017000", "0120200", "0133100", "0137100"}),
    "18_01_01_100806_VPOA50.xml": ("VPOA50", "通常", "発表", "2010-06-02T11:54", "１１時３０分大阪府で記録的短時間大雨\n大阪市中央区で１３０ミリ",
                                   {"270000"}),
    "24_04_01_100806_VPFD50.xml": ("VPFD50", "通常", "発表", "2008-01-10T05:00", "",
                                   {"130000", "130010", "130020", "130030", "130040"}),
    "32-35_01_01_100806_VXSE51.xml": ("VXSE51", "通常", "発表", "2009-08-11T05:09", "１１日０５時０７分ころ、地震による強い揺れ",
                                      {"22", "442", "443", "350", "29", "540"}),
    "32-35_01_02_240613_VXSE52.xml": ("VXSE52", "訓練", "発表", "2009-10-01T13:48", "１日１３時４５分ころ、地震がありました。",
                                      set()),
    "32-35_01_03_100514_VXSE53.xml": ("VXSE53", "通常", "発表", "2009-11-09T20:15", "９日１９時４５分ころ、海外で規模の大きな地震",
                                      set()),
    "32-35_01_03_240613_VXSE53.xml": ("VXSE53", "訓練", "発表", "2009-10-01T13:50", "１日１３時４５分ころ、地震がありました。各地の震度",
                                      {"22", "440", "2230600", "2344200", "2348200"}),
    "32-35_04_01_100831_VXSE51.xml": ("VXSE51", "通常", "発表", "2010-01-25T16:16", "２５日１６時１２分ころ、地震による強い揺れ",
                                      {"46", "771", "776", "770", "762", "763"}),
    "32-35_04_04_240613_VXSE53.xml": ("VXSE53", "通常", "発表", "2010-01-25T16:19", "２５日１６時１５分ころ、地震がありました。",
                                      {"46", "771", "4620300", "753", "4420800"}),
    "32-35_04_06_240613_VXSE53.xml": ("VXSE53", "通常", "発表", "2010-01-25T16:25", "２５日１６時１５分ころ、地震がありました。",
                                      {"45", "762", "4520400", "4420800"}),
    "32-35_06_06_100915_VXSE53.xml": ("VXSE53", "通常", "取消", "2008-06-14T09:06", "震源・震度情報を取り消します。", set()),
    "32-39_11_02_250206_VTSE41.xml": ("VTSE41", "通常", "発表", "2011-03-11T14:49", "東日本大震災クラスの津波が来襲します。\n大津波警報・津波警報を発表",
                                      {"210", "220", "250", "101", "802", "291"}),
    "32-39_11_06_250206_VTSE41.xml": ("VTSE41", "通常", "発表", "2011-03-11T14:53", "東日本大震災クラスの津波が来襲します。\n沖合で高い津波を観測",
                                      {"201", "210", "220", "802"}),
    "32-39_11_09_250206_VTSE41.xml": ("VTSE41", "通常", "発表", "2011-03-11T15:00", "津波到達予想時刻・予想される津波の高さに関する情報を更新",
                                      {"201", "210", "802"}),
    "36_01_01_240613_VXSE44.xml": ("VXSE44", "通常", "発表", "2024-04-17T23:14:57", "", set()),
    "45_01_01_200522_VFVO50.xml": ("VFVO50", "通常", "発表", "2020-05-22T13:03", "＜浅間山に火口周辺警報（噴火警戒レベル３、入山規制）を発表＞",
                                   {"306", "1042500", "2020800", "2032100", "2032300"}),
}


def test_every_sample_is_listed():
    assert sorted(p.name for p in JMA.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_fields(name):
    type_code, status, info_type, report, headline, codes = EXPECTED[name]
    t = load(name)
    assert t.type_code == type_code
    assert t.status == status
    assert t.info_type == info_type
    assert t.report_datetime == jst(report)
    assert t.headline.startswith(headline)
    named = {a.code for a in t.areas} | {a.code for a in t.headline_areas}
    assert codes <= named, codes - named
    assert t.sent.tzinfo is not None and t.info_kind and t.editorial_office and t.publishing_office


def test_drills_are_flagged():
    drills = sorted(n for n in EXPECTED if load(n).is_drill)
    assert drills == ["32-35_01_02_240613_VXSE52.xml", "32-35_01_03_240613_VXSE53.xml"]


def test_cancellation():
    t = load("32-35_06_06_100915_VXSE53.xml")
    assert t.info_type == "取消" and t.is_cancellation
    assert t.event_id == "20080614084350"
    assert t.serial == "3"
    assert t.body_text == "先ほどの、震源・震度情報を取り消します。"
    assert t.earthquake is None and t.areas == ()


def test_generic_head_fields():
    t = load("17_01_01_190529_VXWW50.xml")
    assert t.control_title == "土砂災害警戒情報"
    assert t.title == "福岡県土砂災害警戒情報"
    assert t.info_kind == "土砂災害警戒情報" and t.info_kind_version == "1.0_0"
    assert t.editorial_office == "福岡管区気象台" and t.publishing_office == "福岡県 福岡管区気象台"
    assert t.event_id == "福岡県土砂災害警戒情報" and t.serial == "5"
    assert t.sent == datetime(2013, 8, 31, 2, 5, 17, tzinfo=UTC)
    assert t.target_datetime == jst("2013-08-31T11:05")
    assert t.body_kind == "meteorology"


def warning_at(t, code):
    (w,) = [w for w in t.warnings if w.area.code == code]
    return w


def test_warnings_per_municipality():
    nara = warning_at(load("15_08_01_130412_VPWW53.xml"), "2920100")
    assert nara.area.name == "奈良市" and nara.area.kind == "municipality"
    assert [(k.name, k.code, k.status) for k in nara.kinds] == [
        ("大雨特別警報", "33", "発表"), ("雷注意報", "14", "継続"), ("強風注意報", "15", "継続"), ("洪水注意報", "18", "継続")]
    assert nara.kinds[0].condition == "土砂災害"
    assert nara.change_status == "警報・注意報種別に変化有"

    hamada = warning_at(load("15_12_01_161130_VPWW54.xml"), "3220200")
    assert (hamada.kinds[0].name, hamada.kinds[0].status, hamada.kinds[0].last_name) == ("大雨特別警報", "発表", "大雨警報")

    shimonoseki = warning_at(load("15_11_01_150916_VPWW54.xml"), "3520100")
    assert [k.name for k in shimonoseki.kinds] == ["高潮警報", "乾燥注意報", "霜注意報"]


def test_r06_warnings():
    t = load("15_16_03_241226_VPWW55.xml")
    wakkanai = warning_at(t, "0121400")
    assert wakkanai.kinds[0] == Kind(
        name="レベル４大雨危険警報", code="43", status="発表", condition=None, last_name="レベル３大雨警報", last_code="03")
    assert municipality_codes(t) == ["01214", "01511", "01512", "01513", "01514", "01516", "01517", "01518",
                                     "01519", "01520"]
    matsue = warning_at(load("15_17_01_250630_VPWW56.xml"), "3220100")
    assert (matsue.kinds[0].name, matsue.kinds[0].code, matsue.kinds[0].status) == ("レベル２土砂災害注意報", "29", "継続")


def test_landslide_alert_per_city():
    fukuoka = load("17_01_01_190529_VXWW50.xml")
    assert [(k.name, k.status) for k in warning_at(fukuoka, "4010000").kinds] == [("警戒", "継続")]
    assert [(k.name, k.status) for k in warning_at(fukuoka, "4020200").kinds] == [("解除", "解除")]
    assert fukuoka.area_codes("forecast_area") == ["400000"]
    oshima = load("17_02_01_190529_VXWW50.xml")
    assert [(k.name, k.code, k.status) for k in warning_at(oshima, "0133100").kinds] == [("警戒", "3", "発表")]
    assert [(k.name, k.status) for k in warning_at(oshima, "0120200").kinds] == [("なし", "なし")]
    assert "01331" in municipality_codes(oshima) and "01202" in municipality_codes(oshima)


def test_record_short_time_heavy_rain():
    t = load("18_01_01_100806_VPOA50.xml")
    (w,) = t.warnings
    assert (w.area.code, w.area.name, w.warning_type) == ("270000", "大阪府", "記録的短時間大雨情報（発表細分）")
    assert (w.kinds[0].name, w.kinds[0].status) == ("記録的短時間大雨情報", "発表")
    assert t.event_id == "JPOS201006021154_201006021154"


def test_earthquake_hypocentre():
    q = load("32-35_01_02_240613_VXSE52.xml").earthquake
    assert (q.hypocentre_name, q.hypocentre_code) == ("駿河湾", "485")
    assert (q.latitude, q.longitude, q.depth_km, q.magnitude, q.magnitude_type) == (34.8, 138.5, 10.0, 6.6, "Mj")
    assert q.origin_time == jst("2009-10-01T13:45")
    far = load("32-35_01_03_100514_VXSE53.xml").earthquake
    assert (far.hypocentre_name, far.latitude, far.longitude, far.depth_km, far.magnitude) == (
        "南太平洋", -17.2, 178.6, 570.0, 7.1)


def test_intensities():
    flash = load("32-35_01_01_100806_VXSE51.xml")
    assert flash.max_intensity == "6-"
    assert ("area", "442", "静岡県中部", "6-") in [(i.level, i.code, i.name, i.max_int) for i in flash.intensities]
    assert municipality_codes(flash) == []  # 震度速報 names regions, not towns
    drill = load("32-35_01_03_240613_VXSE53.xml")
    cities = {i.code: (i.name, i.max_int) for i in drill.intensities if i.level == "city"}
    assert cities["2230600"] == ("西伊豆町", "5-")
    assert cities["2220500"] == ("熱海市", "4")  # the file writes '4 '
    assert drill.max_intensity == "5-"
    assert {"22306", "22205"} <= set(municipality_codes(drill))


def test_eew():
    t = load("36_01_01_240613_VXSE44.xml")
    assert t.eew is not None and not t.eew.is_warning
    assert (t.eew.forecast_int_from, t.eew.forecast_int_to) == ("3", "3")
    q = t.earthquake
    assert (q.hypocentre_name, q.latitude, q.longitude, q.depth_km, q.magnitude) == ("豊後水道", 33.1, 132.4, 40.0, 4.2)
    assert t.serial == "1" and t.event_id == "20240417231454"


def test_tsunami():
    first = {f.area.code: f for f in load("32-39_11_02_250206_VTSE41.xml").tsunami}
    iwate = first["210"]
    assert (iwate.area.name, iwate.kind.name, iwate.kind.code, iwate.kind.last_name) == (
        "岩手県", "大津波警報：発表", "53", "津波なし")
    assert iwate.first_condition == "津波到達中と推測" and iwate.max_height_text == "巨大" and iwate.max_height_m is None
    assert first["220"].first_arrival == jst("2011-03-11T15:00")
    assert first["101"].kind.name == "津波警報"
    switched = {f.area.code: f for f in load("32-39_11_06_250206_VTSE41.xml").tsunami}
    assert (switched["201"].kind.name, switched["201"].kind.last_name) == ("大津波警報：発表", "津波警報")
    later = {f.area.code: f for f in load("32-39_11_09_250206_VTSE41.xml").tsunami}
    assert (later["201"].kind.code, later["201"].max_height_m) == ("52", 5.0)


def test_volcano():
    t = load("45_01_01_200522_VFVO50.xml")
    level = t.volcano[0]
    assert (level.kind.name, level.kind.code, level.kind.condition) == ("レベル３（入山規制）", "13", "引上げ")
    assert (level.kind.last_name, level.kind.last_code) == ("レベル１（活火山であることに留意）", "11")
    assert [a.code for a in level.areas] == ["306"]
    assert municipality_codes(t) == ["10425", "20208", "20321", "20323"]
    assert t.event_id == "306" and t.body_kind == "volcanology"


def test_flood_forecast_keeps_generic_fields():
    t = load("16_01_01_220728_VXKOii.xml")
    assert t.headline_items[0].kinds[0].name == "氾濫注意情報" and t.headline_items[0].kinds[0].code == "20"
    assert t.area_codes("river") == ["1234567890"]
    assert municipality_codes(t) == []  # the sample's CityCode is the placeholder 0000000


def test_type_code_comes_from_content():
    raw = (JMA / "15_11_01_150916_VPWW54.xml").read_bytes()
    storm_surge = raw.replace("気象警報・注意報（Ｈ２７）".encode(), "気象警報・注意報（Ｒ０６）（高潮）".encode(), 1)
    assert parse_jma(storm_surge).type_code == "VPWW57"
    unknown = raw.replace("気象警報・注意報（Ｈ２７）".encode(), "未知の情報".encode(), 1)
    t = parse_jma(unknown)
    assert t.type_code is None and t.control_title == "未知の情報"
    assert t.warnings and "35201" in municipality_codes(t)  # never dropped: generic fields kept


def test_test_status_is_a_drill_too():
    raw = (JMA / "18_01_01_100806_VPOA50.xml").read_bytes().replace("<Status>通常</Status>".encode(),
                                                                     "<Status>試験</Status>".encode())
    assert parse_jma(raw).is_drill


def test_refuses_bad_telegrams():
    raw = (JMA / "18_01_01_100806_VPOA50.xml").read_bytes()
    with pytest.raises(Invalid, match="does not match"):
        parse_jma(raw.replace(b"</Body>", b"<Junk/></Body>"))
    assert parse_jma(raw.replace(b"</Body>", b"<Junk/></Body>"), validate=False).type_code == "VPOA50"
    with pytest.raises(Invalid, match="Status"):
        parse_jma(raw.replace("<Status>通常</Status>".encode(), b"<Status>bogus</Status>"))
    with pytest.raises(Invalid, match="InfoType"):
        parse_jma(raw.replace("<InfoType>発表</InfoType>".encode(), b"<InfoType>bogus</InfoType>"), validate=False)
    with pytest.raises(Invalid, match="not a JMA"):
        parse_jma(b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>')
    with pytest.raises(Invalid, match="DOCTYPE"):
        parse_jma(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + raw.split(b"?>", 1)[1])
    with pytest.raises(Invalid, match="too large"):
        parse_jma(raw, max_bytes=1000)


def test_municipality_code():
    assert municipality_code("2920100") == "29201"
    assert municipality_code("0121400") == "01214"
    assert municipality_code("4013000") == "40130"
    for bad in ("290000", "0000000", "4900000", "29201", "abcdefg", "２９２０１００"):
        with pytest.raises(ValueError):
            municipality_code(bad)
