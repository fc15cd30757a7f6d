"""feeds.jma_areas (the vendored JMA 市町村等 → 地震情報／細分区域 table) and the rules that use it: 震度速報
(VXSE51, 細分区域 only) and 緊急地震速報 (VXSE43 warning sent, VXSE44 forecast feed-only). Expected values are
read from the sample telegrams, the vendored CSV and the N03 municipal boundaries."""
from __future__ import annotations

import csv
import json
import re

from feeds.jma import parse_jma
from feeds.jma_areas import DATA, seismic_area_name, seismic_areas
from feeds.jma_rules import DRAFT, FEED, SEND, intensity_rank, plan_telegram
from machihub.tenants import Tenant
from tests.feeds.test_ingest import JMA, feeds, retarget, smtp, work  # noqa: F401 - fixtures
from tests.shared_data import DATA as SHARED

VXSE51 = "32-35_01_01_100806_VXSE51.xml"
VXSE44 = "36_01_01_240613_VXSE44.xml"
PREFECTURES = ("北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
               "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
               "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
               "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
               "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県")


def n03_towns() -> dict[str, dict[str, str]]:
    data = json.loads((SHARED / "gis/boundaries/N03-21_210101_s0001.json").read_text(encoding="utf-8"))
    return {f["properties"]["N03_007"]: f["properties"] for f in data["features"] if f["properties"].get("N03_007")}


def telegram_areas(text: str) -> dict[str, tuple[str, str]]:
    """細分区域 code → (name, MaxInt) as the telegram writes them."""
    return {code: (name, value) for name, code, value in
            re.findall(r"<Area>\s*<Name>([^<]+)</Name>\s*<Code>(\d{3})</Code>\s*<MaxInt>([^<]+)</MaxInt>", text)}


def test_area_names_agree_with_every_sample_telegram():
    seen = 0
    for path in JMA.glob("*VXSE*.xml"):
        for name, code in re.findall(r"<Area>\s*<Name>([^<]+)</Name>\s*<Code>(\d{3})</Code>", path.read_text("utf-8")):
            assert seismic_area_name(code) == name, (path.name, code)
            seen += 1
    assert seen


def test_every_municipality_lies_in_an_area_of_its_own_prefecture():
    towns = n03_towns()
    with (DATA / "jma_seismic_area_names.csv").open(encoding="utf-8") as f:
        names = {r["area_code"]: r["name"] for r in csv.DictReader(f)}
    unmapped = []
    for code, props in towns.items():
        areas = seismic_areas(code)
        if not areas:
            unmapped.append(props)
            continue
        for area in areas:
            pref = next((p for p in PREFECTURES if names[area].startswith(p)), None)
            assert pref in (None, props["N03_001"]), (code, props["N03_004"], names[area])
    # only towns JMA has no station for (北方領土) or that no longer exist (浜松市's wards before 2024)
    assert {(p["N03_001"], p["N03_003"] or p["N03_002"]) for p in unmapped} <= {
        ("北海道", "色丹郡"), ("北海道", "国後郡"), ("北海道", "択捉郡"), ("北海道", "紗那郡"), ("北海道", "蘂取郡"),
        ("静岡県", "浜松市")}


def test_designated_city_has_the_areas_of_its_wards():
    with (DATA / "jma_seismic_areas.csv").open(encoding="utf-8") as f:
        cities = {r["city_code"][:5] for r in csv.DictReader(f) if r["source"] == "wards"}
    wards: dict[tuple[str, str], set[str]] = {}
    for code, p in n03_towns().items():
        if (p["N03_003"] or "").endswith("市") and (p["N03_004"] or "").endswith("区") and seismic_areas(code):
            wards.setdefault((p["N03_001"], p["N03_003"]), set()).add(code)
    assert len(cities) == 20 and len(wards) >= 19  # N03 (2021) still has 浜松市's old wards, which JMA dropped
    for group in wards.values():
        city, = (c for c in cities if c[:4] == min(group)[:4] and c < min(group))
        assert seismic_areas(city) == set().union(*(seismic_areas(w) for w in group))


def shizuoka_tenants() -> list[Tenant]:
    return [Tenant(code, p["N03_004"], "", "静岡県", None) for code, p in n03_towns().items()
            if p["N03_001"] == "静岡県" and seismic_areas(code)]


def test_intensity_report_maps_every_town_to_its_area():
    text = (JMA / VXSE51).read_text(encoding="utf-8")
    areas = telegram_areas(text)
    tenants = shizuoka_tenants()
    plans = {p.tenant_code: p for p in plan_telegram(parse_jma(text.encode()), tenants)}
    assert plans
    for tenant in tenants:
        values = [areas[a][1] for a in seismic_areas(tenant.code) if a in areas]
        strongest = max(values, key=intensity_rank, default=None)
        if strongest is None or intensity_rank(strongest) < intensity_rank("3"):
            assert tenant.code not in plans
            continue
        plan = plans[tenant.code]
        assert plan.signature == f"quake:{strongest}"
        rank = intensity_rank(strongest)
        assert plan.action == (SEND if rank >= intensity_rank("5-") else DRAFT if rank >= intensity_rank("4") else FEED)
        area_name = next(areas[a][0] for a in seismic_areas(tenant.code) if areas.get(a, ("", ""))[1] == strongest)
        assert area_name in plan.ja and tenant.name in plan.ja


def test_intensity_report_sends_at_once_to_the_town_in_the_area(feeds, hub, smtp):  # noqa: F811
    text = (JMA / VXSE51).read_text(encoding="utf-8")
    name, value = telegram_areas(text)["442"]
    kagawa = seismic_area_name(next(iter(seismic_areas("37201"))))
    raw = retarget(VXSE51, {f"<Name>{name}</Name>\n            <Code>442</Code>":
                            f"<Name>{kagawa}</Name>\n            <Code>{next(iter(seismic_areas('37201')))}</Code>"})
    result = feeds.ingest_jma(raw)
    by_town = {code: (aid, state) for code, aid, state in result.alerts}
    assert by_town["37201"][1] == "sending"
    alert = hub.alerts.lifecycle.get(by_town["37201"][0]).alert
    assert kagawa in alert.texts["ja"].headline and alert.severity in ("Severe", "Extreme")
    assert alert.event.endswith(value.replace("-", "弱").replace("+", "強"))
    komae = telegram_areas(text)[next(iter(seismic_areas("13219")))][1]  # 東京都多摩東部 in the sample
    assert intensity_rank(komae) < intensity_rank("4") and "13219" in dict(result.notices)
    work(hub)
    assert [r.rcpt_tos for r in smtp.received] == [["resident@example.jp"]]


def eew(title: str, area: str, forecast: str) -> bytes:
    """The VXSE44 sample as a telegram of `title` with one forecast area (a 細分区域 code)."""
    text = (JMA / VXSE44).read_text(encoding="utf-8").replace("緊急地震速報（予報）", title)
    block = (f"<Pref><Name>-</Name><Code>{area[:2]}</Code><Area><Name>{seismic_area_name(area)}</Name>"
             f"<Code>{area}</Code><ForecastInt><From>{forecast}</From><To>{forecast}</To></ForecastInt></Area></Pref>")
    return text.replace("</ForecastInt></Forecast>", "</ForecastInt>" + block + "</Forecast>").encode()


def test_eew_warning_for_the_town_area_is_sent_at_once(feeds, hub, smtp):  # noqa: F811
    area = next(iter(seismic_areas("37201")))
    t = parse_jma(eew("緊急地震速報（警報）", area, "5-"))
    assert t.type_code == "VXSE43" and [a.code for a in t.eew.areas] == [area]
    result = feeds.ingest_jma(eew("緊急地震速報（警報）", area, "5-"))
    (code, alert_id, state), = result.alerts
    assert (code, state) == ("37201", "sending")
    alert = hub.alerts.lifecycle.get(alert_id).alert
    assert alert.certainty == "Likely" and alert.event == "緊急地震速報（警報）"
    work(hub)
    assert [r.rcpt_tos for r in smtp.received] == [["resident@example.jp"]]


def test_eew_below_threshold_or_forecast_is_feed_only(feeds, hub, smtp):  # noqa: F811
    area = next(iter(seismic_areas("37201")))
    weak = feeds.ingest_jma(eew("緊急地震速報（警報）", area, "4"))
    assert not weak.alerts and [c for c, _ in weak.notices] == ["37201"]
    forecast = plan_telegram(parse_jma(eew("緊急地震速報（予報）", area, "6+")), hub.tenants.list())
    assert [(p.tenant_code, p.action) for p in forecast] == [("37201", FEED)]
    work(hub)
    assert smtp.received == []


def _vxse51_for_takamatsu() -> tuple[bytes, str]:
    text = (JMA / VXSE51).read_text(encoding="utf-8")
    name, value = telegram_areas(text)["442"]
    area = next(iter(seismic_areas("37201")))
    return retarget(VXSE51, {f"<Name>{name}</Name>\n            <Code>442</Code>":
                             f"<Name>{seismic_area_name(area)}</Name>\n            <Code>{area}</Code>"}), value


def _vxse53_of_the_same_quake(pairs: dict[str, str]) -> bytes:
    """The VXSE53 sample as the detailed report of the VXSE51 sample's quake (same EventID, later)."""
    event_id = re.search(r"<EventID>(\d+)</EventID>", (JMA / VXSE51).read_text(encoding="utf-8")).group(1)
    return retarget("32-35_04_04_240613_VXSE53.xml", {"20100125161517": event_id, **pairs})


def test_detailed_report_of_the_same_quake_is_one_event(feeds, hub, smtp):  # noqa: F811
    """震度速報 then 震源・震度情報 of one quake: the town's intensity unchanged → no second mail; a report that
    does not list the town → no 取消 (the quake is not lifted); both stay one event."""
    raw, value = _vxse51_for_takamatsu()
    (first_id, state), = [(a, s) for code, a, s in feeds.ingest_jma(raw).alerts if code == "37201"]
    assert state == "sending"
    same = re.sub(r"(<Code>3720100</Code>\s*<MaxInt>)[^<]+", rf"\g<1>{value}",
                  _vxse53_of_the_same_quake({"4320100": "3720100"}).decode())
    assert feeds.ingest_jma(same.encode()).alerts == []            # nothing new for the town's residents
    elsewhere = _vxse53_of_the_same_quake({"2010-01-25T16:": "2010-01-25T17:"})  # does not name 高松市
    assert feeds.ingest_jma(elsewhere).outcome == "accepted"
    records = hub.alerts.lifecycle.list("37201")
    assert [r.id for r in records] == [first_id] and records[0].state in ("sending", "sent")
    work(hub)
    assert [r.rcpt_tos for r in smtp.received] == [["resident@example.jp"]]
