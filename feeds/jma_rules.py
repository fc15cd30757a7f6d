"""Per-tenant decisions for one JMA telegram: which towns on this hub it concerns, how serious it is there,
and the short plain text residents get (Japanese and English). Pure functions: no store, no network.

Rules (the hub's defaults, enforced with per-tenant alert rules, see feeds.ingest.DEFAULT_RULES):
特別警報, 震度5弱以上 in the town (or, in 震度速報, in the town's 細分区域), 緊急地震速報（警報） forecasting
震度5弱以上 in the town's 細分区域, 津波警報/大津波警報 and 噴火警報（居住地域） → send at once (Extreme or Severe);
注意報, 緊急地震速報（予報） and other minor information → feed only (no mail); everything else → draft for approval."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from feeds.jma_areas import seismic_area_name, seismic_areas
from feeds.jma_model import JmaTelegram
from machihub.tenants import Tenant

SEND, DRAFT, FEED = "send", "draft", "feed"
_LIFTED = frozenset({"解除", "なし", "発表警報・注意報はなし"})
INTENSITY_ORDER = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
INTENSITY_JA = {"5-": "5弱", "5+": "5強", "6-": "6弱", "6+": "6強"}
_EN = {"大雨": "heavy rain", "洪水": "flood", "暴風": "storm", "暴風雪": "snowstorm", "大雪": "heavy snow",
       "波浪": "high waves", "高潮": "storm surge", "土砂": "landslide", "雷": "thunderstorm", "乾燥": "dry air",
       "濃霧": "dense fog", "強風": "strong wind", "風雪": "wind and snow", "なだれ": "avalanche", "着氷": "icing",
       "着雪": "snow accretion", "融雪": "snowmelt", "霜": "frost", "低温": "low temperature"}


@dataclass(frozen=True)
class Plan:
    tenant_code: str
    action: str          # send | draft | feed
    topic: str           # alerts.model.TOPICS key
    severity: str        # CAP severity
    urgency: str
    event: str           # short Japanese name, e.g. 大雨特別警報
    ja: str              # 「高松市に大雨特別警報。命を守る行動を。」
    en: str
    signature: str       # what residents were told; the same signature again is not news
    certainty: str = "Observed"
    kind: str = ""       # feeds.resident_text key: the texts in the other languages residents choose
    intensity: str = ""  # JMA seismic intensity (5-, 6+ …) for the quake kinds


def intensity_rank(value: str | None) -> int:
    return INTENSITY_ORDER.index(value) + 1 if value in INTENSITY_ORDER else 0


def _english(kind: str) -> str:
    for ja, en in sorted(_EN.items(), key=lambda kv: -len(kv[0])):
        if kind.startswith(ja) or ja in kind:
            grade = ("emergency warning" if "特別警報" in kind else "advisory" if "注意報" in kind
                     else "warning")
            return f"{en.capitalize()} {grade}"
    return "JMA " + ("emergency warning" if "特別警報" in kind else "advisory" if "注意報" in kind else "warning")


def _pref_code(tenant: Tenant) -> str:
    return tenant.code[:2]


def _weather(t: JmaTelegram, towns: dict[str, Tenant]) -> list[Plan]:
    kinds: dict[str, list[str]] = {}
    for w in t.warnings:
        if w.area.kind != "municipality" or w.area.code[:5] not in towns:
            continue
        active = [k.name for k in w.kinds if k.name and k.name not in _LIFTED and (k.status or "") not in _LIFTED]
        kinds.setdefault(w.area.code[:5], [])
        kinds[w.area.code[:5]] += [k for k in active if k not in kinds[w.area.code[:5]]]
    plans = []
    for code, names in kinds.items():
        if not names:
            continue
        town = towns[code].name
        special = [n for n in names if "特別警報" in n]
        warnings = [n for n in names if "警報" in n and n not in special or n == "警戒"]
        if t.type_code == "VXWW50":
            plans.append(Plan(code, DRAFT, "weather", "Severe", "Expected", "土砂災害警戒情報",
                              f"{town}に土砂災害警戒情報。土砂災害警戒区域の方は避難を。",
                              f"Landslide alert for {towns[code].name_en or town}. Evacuate from landslide hazard areas.",
                              "VXWW50:警戒", kind="landslide"))
        elif special:
            ev = "・".join(special)
            plans.append(Plan(code, SEND, "weather", "Extreme", "Immediate", ev, f"{town}に{ev}。命を守る行動を。",
                              f"{_english(special[0])} for {towns[code].name_en or town}. Take action now to save your life.",
                              "|".join(sorted(names)), kind="special"))
        elif warnings:
            ev = "・".join(warnings)
            plans.append(Plan(code, DRAFT, "weather", "Severe", "Expected", ev,
                              f"{town}に{ev}。最新の情報に注意し、早めの避難に備えてください。",
                              f"{_english(warnings[0])} for {towns[code].name_en or town}. Follow updates and be ready to evacuate early.",
                              "|".join(sorted(names)), kind="warning"))
        else:
            ev = "・".join(names)
            plans.append(Plan(code, FEED, "weather", "Minor", "Expected", ev, f"{town}に{ev}。今後の情報に注意してください。",
                              f"{_english(names[0])} for {towns[code].name_en or town}. Follow updates.",
                              "|".join(sorted(names)), kind="advisory"))
    return plans


def _intensity_en(label: str) -> str:
    return label.replace("弱", " lower").replace("強", " upper")


def _quake_action(rank: int) -> tuple[str, str]:
    """(action, severity) for an observed intensity: 5弱+ send, 4 draft, 3 feed."""
    if rank >= intensity_rank("5-"):
        return SEND, "Extreme" if rank >= intensity_rank("6-") else "Severe"
    return (DRAFT, "Moderate") if rank >= intensity_rank("4") else (FEED, "Minor")


def _by_area(values: Iterable[tuple[str, str | None, str]], towns: dict[str, Tenant]) -> dict[str, tuple[str, str]]:
    """Strongest (intensity, area name) per town from (細分区域 code, intensity, name) triples."""
    town_areas = {code: seismic_areas(code) for code in towns}
    best: dict[str, tuple[str, str]] = {}
    for area, value, name in values:
        for code, areas in town_areas.items():
            if area in areas and intensity_rank(value) > intensity_rank(best.get(code, ("", ""))[0]):
                best[code] = (value or "", name or seismic_area_name(area) or area)
    return best


def _quake(t: JmaTelegram, towns: dict[str, Tenant]) -> list[Plan]:
    best: dict[str, str] = {}
    for i in t.intensities:
        if i.level == "city" and i.code[:5] in towns and intensity_rank(i.max_int) > intensity_rank(best.get(i.code[:5])):
            best[i.code[:5]] = i.max_int or ""
    plans = []
    for code, value in best.items():
        town, label = towns[code].name, INTENSITY_JA.get(value, value)
        en_town = towns[code].name_en or town
        rank = intensity_rank(value)
        if rank < intensity_rank("3"):
            continue
        action, severity = _quake_action(rank)
        plans.append(Plan(code, action, "quake", severity, "Immediate", f"震度{label}",
                          f"{town}で震度{label}の地震。身の安全を確保し、火の元と周りの被害を確かめてください。",
                          f"Earthquake of seismic intensity {_intensity_en(label)} "
                          f"in {en_town}. Stay safe, check for fire and damage around you.", f"quake:{value}",
                          kind="quake", intensity=value))
    if plans or any(i.level == "city" for i in t.intensities):
        return plans  # towns observed one by one: their own intensity decides
    # 震度速報: 細分区域 only. A town shares its area's strongest intensity.
    areas = _by_area(((i.code, i.max_int, i.name) for i in t.intensities if i.level == "area"), towns)
    for code, (value, area_name) in areas.items():
        rank = intensity_rank(value)
        if rank < intensity_rank("3"):
            continue
        town, label = towns[code].name, INTENSITY_JA.get(value, value)
        action, severity = _quake_action(rank)
        plans.append(Plan(code, action, "quake", severity, "Immediate", f"震度{label}",
                          f"{town}を含む{area_name}で震度{label}の地震。身の安全を確保し、火の元と周りの被害を確かめてください。",
                          f"Earthquake of seismic intensity {_intensity_en(label)} in the area of "
                          f"{towns[code].name_en or town}. Stay safe, check for fire and damage around you.",
                          f"quake:{value}", kind="quake", intensity=value))
    mapped = {code for code in towns if seismic_areas(code)}
    for i in t.intensities:  # towns the code table does not know: by prefecture, for approval
        if i.level != "pref" or intensity_rank(i.max_int) < intensity_rank("5-"):
            continue
        for code, tenant in towns.items():
            if code not in mapped and _pref_code(tenant) == i.code[:2]:
                label = INTENSITY_JA.get(i.max_int or "", i.max_int or "")
                plans.append(Plan(code, DRAFT, "quake", "Severe", "Immediate", f"{i.name}で最大震度{label}",
                                  f"{i.name}で最大震度{label}の地震。身の安全を確保してください。",
                                  f"Earthquake with seismic intensity up to {label} in the prefecture. Stay safe.",
                                  f"pref:{i.max_int}", kind="quake", intensity=i.max_int or ""))
    return plans


def _eew(t: JmaTelegram, towns: dict[str, Tenant]) -> list[Plan]:
    """緊急地震速報: the forecast lower bound in the town's 細分区域. Only the warning (VXSE43) is mailed."""
    if t.eew is None:
        return []
    warning = t.type_code == "VXSE43"
    kind = "警報" if warning else "予報"
    plans = []
    for code, (value, area_name) in _by_area(((a.code, a.max_int, a.name) for a in t.eew.areas), towns).items():
        rank = intensity_rank(value)
        if rank < intensity_rank("3"):
            continue
        town, label = towns[code].name, INTENSITY_JA.get(value, value)
        en_town = towns[code].name_en or town
        if warning and rank >= intensity_rank("5-"):
            plans.append(Plan(code, SEND, "quake", "Extreme" if rank >= intensity_rank("6-") else "Severe",
                              "Immediate", "緊急地震速報（警報）",
                              f"緊急地震速報。{town}で強い揺れ（震度{label}程度以上）が予想されます。身の安全を確保してください。",
                              f"Earthquake Early Warning: strong shaking (seismic intensity {_intensity_en(label)} "
                              f"or more) expected in {en_town}. Protect yourself now.", f"eew:{value}", "Likely",
                              kind="eew", intensity=value))
        else:
            plans.append(Plan(code, FEED, "quake", "Moderate" if warning else "Minor", "Immediate",
                              f"緊急地震速報（{kind}）",
                              f"緊急地震速報（{kind}）：{area_name}で震度{label}程度の揺れが予想されます。",
                              f"Earthquake Early Warning ({'warning' if warning else 'forecast'}): seismic intensity "
                              f"{_intensity_en(label)} expected around {en_town}.", f"eew:{value}", "Likely",
                              kind="eew_forecast", intensity=value))
    return plans


def _tsunami(t: JmaTelegram, towns: dict[str, Tenant], inland: frozenset[str]) -> list[Plan]:
    worst: dict[str, str] = {}
    order = ("津波予報", "津波注意報", "津波警報", "大津波警報")
    for f in t.tsunami:
        name = (f.kind.name or "").split("：")[0]
        rank = next((i for i, k in reversed(list(enumerate(order))) if name.startswith(k)), -1)
        if rank < 1:
            continue
        for code, tenant in towns.items():
            pref = tenant.prefecture.removesuffix("都").removesuffix("府").removesuffix("県") or "-"
            if code not in inland and pref in f.area.name and rank > order.index(worst.get(code, "津波予報")):
                worst[code] = order[rank]
    plans = []
    for code, kind in worst.items():
        town, en_town = towns[code].name, towns[code].name_en or towns[code].name
        if kind == "津波注意報":
            plans.append(Plan(code, FEED, "quake", "Moderate", "Immediate", kind,
                              f"{town}の沿岸に津波注意報。海から上がり、海岸に近づかないでください。",
                              f"Tsunami advisory for the coast of {en_town}. Get out of the water and stay away from the shore.",
                              kind, kind="tsunami_advisory"))
        else:
            plans.append(Plan(code, SEND, "quake", "Extreme" if kind == "大津波警報" else "Severe", "Immediate", kind,
                              f"{town}の沿岸に{kind}。すぐに高台へ避難を。",
                              f"{'Major tsunami' if kind == '大津波警報' else 'Tsunami'} warning for {en_town}. "
                              "Move to high ground now.", kind,
                              kind="tsunami_major" if kind == "大津波警報" else "tsunami"))
    return plans


def _volcano(t: JmaTelegram, towns: dict[str, Tenant]) -> list[Plan]:
    plans: dict[str, Plan] = {}
    for item in t.volcano:
        name = item.kind.name or ""
        for area in item.areas:
            code = area.code[:5]
            if area.kind != "municipality" or code not in towns or code in plans:
                continue
            town, en_town = towns[code].name, towns[code].name_en or towns[code].name
            if "居住地域" in name or "レベル４" in name or "レベル５" in name:
                plans[code] = Plan(code, SEND, "evacuation", "Extreme", "Immediate", name, f"{town}に{name}。自治体の避難情報に従ってください。",
                                   f"Volcanic warning (residential areas) for {en_town}. Follow the evacuation orders.", name,
                                   kind="volcano_evacuate")
            elif "警報" in name:
                plans[code] = Plan(code, DRAFT, "evacuation", "Severe", "Expected", name, f"{town}に{name}。火口周辺に近づかないでください。",
                                   f"Volcanic warning (near the crater) for {en_town}. Keep away from the crater.", name,
                                   kind="volcano_crater")
            elif name:
                plans[code] = Plan(code, FEED, "evacuation", "Minor", "Expected", name, f"{town}に{name}。",
                                   f"Volcanic forecast for {en_town}.", name, kind="volcano_forecast")
    return list(plans.values())


def _by_prefecture(t: JmaTelegram, towns: dict[str, Tenant], event: str, ja: str, en: str, kind: str) -> list[Plan]:
    prefs = {a.code[:2] for a in t.areas if a.kind == "forecast_area" and a.code[:2].isdigit()}
    munis = {a.code[:5] for a in (*t.areas, *t.headline_areas) if a.kind == "municipality"}
    return [Plan(code, DRAFT, "weather", "Severe", "Immediate", event, ja.format(town=tenant.name),
                 en.format(town=tenant.name_en or tenant.name), event, kind=kind)
            for code, tenant in towns.items() if code in munis or _pref_code(tenant) in prefs]


def plan_telegram(t: JmaTelegram, tenants: Iterable[Tenant], inland: frozenset[str] = frozenset()) -> list[Plan]:
    """What each tenant on this hub should do with the telegram (tenants it does not concern are absent)."""
    towns = {x.code: x for x in tenants}
    if t.type_code in ("VXSE51", "VXSE53"):
        return _quake(t, towns)
    if t.type_code in ("VXSE43", "VXSE44", "VXSE45"):
        return _eew(t, towns)
    if t.tsunami:
        return _tsunami(t, towns, inland)
    if t.volcano:
        return _volcano(t, towns)
    if t.type_code == "VPOA50":
        return _by_prefecture(t, towns, "記録的短時間大雨情報", "{town}の周辺で記録的短時間大雨。土砂災害や浸水に警戒を。",
                              "Record short-time heavy rain near {town}. Beware of landslides and flooding.", "rain_record")
    if t.type_code == "VXKOii":
        return _by_prefecture(t, towns, t.title, "{town}に" + t.title + "。川に近づかず、避難に備えてください。",
                              "River flood forecast for {town}. Keep away from rivers and be ready to evacuate.", "flood")
    if t.warnings:
        return _weather(t, towns)
    return []
