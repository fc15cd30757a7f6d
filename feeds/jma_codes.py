"""Code tables of 気象庁防災情報XML: data type codes (VPWW54, VXSE53, …) by Control/Title, area code types,
and 市町村等 codes → 5-digit 団体コード.

A telegram does not carry its data type code (only the feed/file name does), so we derive it from
Control/Title, which JMA fixes per data type. Titles shared by several codes (VYSE51/52, VFSV50–61,
VPTA50–55) are left out: those telegrams keep type_code None and are still parsed generically."""
from __future__ import annotations

TYPE_BY_TITLE: dict[str, str] = {
    # weather warnings: the H27 format, the older 特別警報 format, and the R06 formats (one per phenomenon)
    "気象特別警報・警報・注意報": "VPWW53",
    "気象警報・注意報（Ｈ２７）": "VPWW54",
    "気象警報・注意報（Ｒ０６）（大雨）": "VPWW55",
    "気象警報・注意報（Ｒ０６）（土砂）": "VPWW56",
    "気象警報・注意報（Ｒ０６）（高潮）": "VPWW57",
    "気象警報・注意報（Ｒ０６）（暴風）": "VPWW58",
    "気象警報・注意報（Ｒ０６）（波浪）": "VPWW59",
    "気象警報・注意報（Ｒ０６）（大雪）": "VPWW60",
    "気象警報・注意報（Ｒ０６）（その他注意報）": "VPWW61",
    "気象警報・注意報（Ｒ０６）（集約通報）": "VPWS50",
    "土砂災害警戒情報": "VXWW50",
    "記録的短時間大雨情報": "VPOA50",
    "竜巻注意情報": "VPHW50",
    "竜巻注意情報（目撃情報付き）": "VPHW51",
    # 指定河川洪水予報 is VXKO50–89, one number per river; the number is not in the telegram.
    "指定河川洪水予報": "VXKOii",
    "全般気象情報": "VPZJ50",
    "地方気象情報": "VPCJ50",
    "府県気象情報": "VPFJ50",
    "府県天気概況": "VPFG50",
    "府県天気予報": "VPFD50",
    "府県天気予報（Ｒ１）": "VPFD51",
    "府県週間天気予報": "VPFW50",
    "熱中症警戒アラート": "VPFT50",
    # earthquakes and tsunamis
    "緊急地震速報（警報）": "VXSE43",
    "緊急地震速報（予報）": "VXSE44",
    "緊急地震速報（地震動予報）": "VXSE45",
    "震度速報": "VXSE51",
    "震源に関する情報": "VXSE52",
    "震源・震度に関する情報": "VXSE53",
    "地震の活動状況等に関する情報": "VXSE56",
    "地震回数に関する情報": "VXSE60",
    "顕著な地震の震源要素更新のお知らせ": "VXSE61",
    "長周期地震動に関する観測情報": "VXSE62",
    "津波警報・注意報・予報a": "VTSE41",
    "津波情報a": "VTSE51",
    "沖合の津波観測に関する情報": "VTSE52",
    "地震・津波に関するお知らせ": "VZSE40",
    "南海トラフ地震臨時情報": "VYSE50",
    # volcanoes
    "噴火警報・予報": "VFVO50",
    "火山の状況に関する解説情報": "VFVO51",
    "噴火に関する火山観測報": "VFVO52",
    "降灰予報（定時）": "VFVO53",
    "降灰予報（速報）": "VFVO54",
    "降灰予報（詳細）": "VFVO55",
    "噴火速報": "VFVO56",
    "推定噴煙流向報": "VFVO60",
    "火山に関するお知らせ": "VZVO40",
}

EEW_TYPES = frozenset({"VXSE43", "VXSE44", "VXSE45"})

# codeType strings as JMA writes them, and the short kind names we use for them
MUNICIPALITY = "気象・地震・火山情報／市町村等"
FORECAST_AREA = "気象情報／府県予報区・細分区域等"
KIND_BY_CODE_TYPE: dict[str, str] = {
    MUNICIPALITY: "municipality",        # 7 digits: 団体コード (5) + 2
    FORECAST_AREA: "forecast_area",      # 6 digits: 府県予報区, 一次細分区域, 市町村等をまとめた地域
    "地震情報／都道府県等": "prefecture",  # 2 digits
    "地震情報／細分区域": "seismic_area",  # 3 digits
    "津波予報区": "tsunami_area",
    "火山名": "volcano",
    "河川": "river",
    "指定河川洪水予報（予報区域）": "flood_area",
    "水位観測所": "station",
    "震央地名": "epicentre",
}


def area_kind(code_type: str) -> str:
    return KIND_BY_CODE_TYPE.get(code_type, "other")


def code_type_by_shape(code: str) -> str:
    """Last resort for meteorology areas given without codeType: the code's length says which table."""
    if code.isdigit() and len(code) == 7:
        return MUNICIPALITY
    if code.isdigit() and len(code) == 6:
        return FORECAST_AREA
    return ""


def municipality_code(area_code: str) -> str:
    """The 5-digit 全国地方公共団体コード (no check digit) of a 7-digit JMA 市町村等 code.

    JMA's 市町村等 code is the 団体コード followed by two digits that split a town into 二次細分区域
    ('00' for the whole town), so the first five digits name the municipality. Raises ValueError for
    anything that is not a plausible 7-digit code (prefecture part 01–47)."""
    code = area_code.strip()
    if len(code) != 7 or not code.isascii() or not code.isdigit():
        raise ValueError(f"not a 7-digit JMA 市町村等 code: {area_code!r}")
    if not 1 <= int(code[:2]) <= 47:
        raise ValueError(f"no prefecture {code[:2]} in JMA 市町村等 code {area_code!r}")
    return code[:5]
