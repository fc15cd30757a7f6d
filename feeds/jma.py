"""Parse 気象庁防災情報XML telegrams into plain data (`JmaTelegram`). No network, no database.

Every telegram keeps its generic fields (Control, Head, headline, every Body area); the kinds we act on
also get their specifics: warnings per area (VPWW53–61, VXWW50, VPOA50, VXKO), earthquakes and intensities
(VXSE51–53), EEW (VXSE43–45), tsunami forecasts (VTSE41/51) and volcano warnings (VFVO50)."""
from __future__ import annotations

import math
import re
from datetime import datetime

from lxml import etree

from feeds.jma_codes import (
    EEW_TYPES,
    MUNICIPALITY,
    TYPE_BY_TITLE,
    code_type_by_shape,
    municipality_code,
)
from feeds.jma_model import (
    INFO_TYPES,
    STATUSES,
    AreaWarning,
    Earthquake,
    Eew,
    HeadlineItem,
    Intensity,
    JmaArea,
    JmaTelegram,
    Kind,
    TsunamiForecast,
    VolcanoItem,
    unique_areas,
)
from feeds.safe_xml import DEFAULT_MAX_BYTES, JMA_SCHEMA, load_schema, parse_untrusted
from machihub.errors import Invalid

__all__ = ["AreaWarning", "Earthquake", "Eew", "HeadlineItem", "Intensity", "JmaArea", "JmaTelegram", "Kind",
           "TsunamiForecast", "VolcanoItem", "municipality_code", "municipality_codes", "parse_jma"]

NS_REPORT = "http://xml.kishou.go.jp/jmaxml1/"
_AREA_TAGS = ("{*}Area", "{*}Pref", "{*}City", "{*}TargetArea")  # lxml filters these in C while iterating
_BODY_KINDS = {f"{NS_REPORT}body/{k}1/": k for k in ("meteorology", "seismology", "volcanology")}
_COORD = re.compile(r"^([+-][\d.]+)([+-][\d.]+)([+-][\d.]+)?/$")


def parse_jma(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, validate: bool = True) -> JmaTelegram:
    """Parse one telegram. Raises `Invalid` for unsafe, malformed, schema-invalid or incomplete input.

    `validate=False` skips the XML Schema (the structural checks stay) for formats newer than the
    packaged schemas."""
    root = parse_untrusted(data, max_bytes=max_bytes, what="JMA telegram")
    if root.tag != f"{{{NS_REPORT}}}Report":
        raise Invalid(f"not a JMA disaster-information telegram: root element is {root.tag!r}")
    if validate:
        load_schema(JMA_SCHEMA).validate(root, what="JMA telegram")
    control, head, body = root.find("{*}Control"), root.find("{*}Head"), root.find("{*}Body")
    if control is None or head is None:
        raise Invalid("JMA telegram lacks its Control or Head element")
    status = _required(control, "Status")
    if status not in STATUSES:
        raise Invalid(f"JMA telegram has an unknown Control/Status {status!r}")
    info_type = _required(head, "InfoType")
    if info_type not in INFO_TYPES:
        raise Invalid(f"JMA telegram has an unknown Head/InfoType {info_type!r}")
    control_title = _required(control, "Title")
    type_code = TYPE_BY_TITLE.get(control_title)
    fields: dict[str, object] = {}
    if body is not None:
        fields = _body_fields(body, type_code)
    return JmaTelegram(
        control_title=control_title,
        type_code=type_code,
        status=status,
        sent=_required_when(control, "DateTime"),
        editorial_office=_required(control, "EditorialOffice"),
        publishing_office=_required(control, "PublishingOffice"),
        title=_required(head, "Title"),
        report_datetime=_required_when(head, "ReportDateTime"),
        target_datetime=_when(head, "TargetDateTime"),
        event_id=_text(head, "EventID"),
        info_type=info_type,
        serial=_text(head, "Serial"),
        info_kind=_required(head, "InfoKind"),
        info_kind_version=_text(head, "InfoKindVersion"),
        headline=_text(head, "Headline/{*}Text") or "",
        headline_items=tuple(_headline_items(head)),
        body_kind=_BODY_KINDS.get(etree.QName(body).namespace or "") if body is not None else None,
        **fields,
    )


def municipality_codes(telegram: JmaTelegram) -> list[str]:
    """Sorted 5-digit 団体コード of every municipality the telegram names (Body and headline).

    Warnings list every town of the forecast area, including those whose warnings were lifted: filter
    `telegram.warnings` by kind status when only active warnings matter."""
    codes = set()
    for area in (*telegram.areas, *telegram.headline_areas):
        if area.kind == "municipality":
            try:
                codes.add(municipality_code(area.code))
            except ValueError:
                continue  # placeholder codes such as 0000000 in samples name no town
    return sorted(codes)


# --- Body -------------------------------------------------------------------------------------------------

def _body_fields(body: etree._Element, type_code: str | None) -> dict[str, object]:
    memo: dict[etree._Element, JmaArea] = {}  # warning areas are also Body areas: read each once
    fields: dict[str, object] = {"areas": unique_areas(_body_areas(body, memo))}
    fields["warnings"] = tuple(_warnings(body, memo))
    quake = body.find("{*}Earthquake")
    if quake is not None:
        fields["earthquake"] = _earthquake(quake)
    obs = body.find("{*}Intensity/{*}Observation")
    if obs is not None:
        fields["max_intensity"] = _text(obs, "MaxInt")
        fields["intensities"] = tuple(_intensities(obs))
    forecast = body.find("{*}Intensity/{*}Forecast")
    if type_code in EEW_TYPES or forecast is not None:
        fields["eew"] = _eew(body, forecast, type_code)
    fields["tsunami"] = tuple(_tsunami(body))
    fields["volcano"] = tuple(
        VolcanoItem(info.get("type", ""), _kind(item.find("{*}Kind"), item.find("{*}LastKind")),
                    unique_areas(_area(a) for a in item.iterfind("{*}Areas/{*}Area")))
        for info in body.iterfind("{*}VolcanoInfo") for item in info.iterfind("{*}Item")
        if item.find("{*}Kind") is not None
    )
    fields["body_text"] = _text(body, "Text") or _text(body, "VolcanoInfoContent/{*}VolcanoHeadline")
    return fields


def _body_areas(body: etree._Element, memo: dict[etree._Element, JmaArea]):
    for el in body.iter(*_AREA_TAGS):
        if _child(el, "Code") is not None:
            area = memo[el] = _area(el)
            if area.kind != "epicentre":  # the hypocentre is an event location, not an area concerned
                yield area
        if _local(el) == "Area" and _text(el, "CityCode"):  # 指定河川洪水予報: towns of an inundation zone
            yield JmaArea(_text(el, "CityCode") or "", _text(el, "City") or "", MUNICIPALITY)


def _area(el: etree._Element) -> JmaArea:
    code = _text(el, "Code") or ""
    return JmaArea(code, _text(el, "Name") or "", _code_type(el, code))


def _code_type(el: etree._Element, code: str) -> str:
    """Which code table an area code is from: the Code@type, the nearest codeType, a CodeDefine naming
    this element's path, or (meteorology) the Warning type and the code's shape."""
    code_el = _child(el, "Code")
    for explicit in (code_el.get("type") if code_el is not None else None, el.get("codeType")):
        if explicit:
            return explicit
    parent = el.getparent()
    if parent is not None and _local(parent) == "Areas" and parent.get("codeType"):
        return parent.get("codeType")
    path = [_local(el)]
    for anc in el.iterancestors():
        define = _child(anc, "CodeDefine")
        if define is not None:
            xpath = "/".join([*reversed(path), "Code"])
            for t in define.iterfind("{*}Type"):
                if t.get("xpath") == xpath:
                    return (t.text or "").strip()
            break
        if _local(anc) == "Warning":
            wtype = anc.get("type", "")
            if wtype.endswith("（市町村等）") or wtype == "土砂災害警戒情報":
                return MUNICIPALITY
            break
        path.append(_local(anc))
    return code_type_by_shape(code)


def _warnings(body: etree._Element, memo: dict[etree._Element, JmaArea]):
    for warning in body.iterfind("{*}Warning"):
        wtype = warning.get("type", "")
        for item in warning.iterfind("{*}Item"):
            kinds = tuple(_kind(k) for k in item.iterfind("{*}Kind"))
            for area_el in (*item.iterfind("{*}Area"), *item.iterfind("{*}Areas/{*}Area")):
                area = memo.get(area_el) or _area(area_el)
                yield AreaWarning(wtype, area, kinds, _text(item, "ChangeStatus"),
                                  _text(item, "FullStatus"))


def _kind(kind: etree._Element | None, last: etree._Element | None = None) -> Kind:
    if kind is None:
        return Kind(None, None)
    k = _texts(kind)  # one pass over the children instead of one search per field
    if last is None:
        last = _child(kind, "LastKind")
    lk = _texts(last) if last is not None else {}
    return Kind(k.get("Name"), k.get("Code"), k.get("Status"), k.get("Condition"), lk.get("Name"), lk.get("Code"))


def _earthquake(quake: etree._Element) -> Earthquake:
    area = quake.find("{*}Hypocenter/{*}Area")
    coord = area.find("{*}Coordinate") if area is not None else None
    lat, lon, depth = _coordinate(coord.text if coord is not None else None, depth=True)
    mag = quake.find("{*}Magnitude")
    return Earthquake(
        origin_time=_when(quake, "OriginTime"),
        arrival_time=_when(quake, "ArrivalTime"),
        hypocentre_name=_text(area, "Name") if area is not None else None,
        hypocentre_code=_text(area, "Code") if area is not None else None,
        latitude=lat, longitude=lon, depth_km=depth,
        coordinate_text=coord.get("description") if coord is not None else None,
        magnitude=_number(mag.text if mag is not None else None),
        magnitude_type=mag.get("type") if mag is not None else None,
        magnitude_text=mag.get("description") if mag is not None else None,
    )


def _coordinate(text: str | None, *, depth: bool) -> tuple[float | None, float | None, float | None]:
    """ISO 6709 as JMA writes it: +34.8+138.5-10000/ (degrees, depth in metres) or +3624.38+13831.38+2568/
    (degrees and minutes, height). Returns (lat, lon, depth_km or height_m)."""
    m = _COORD.match((text or "").strip())
    if not m:
        return None, None, None
    lat, lon = _sexagesimal(m.group(1), 2), _sexagesimal(m.group(2), 3)
    z = float(m.group(3)) if m.group(3) else None
    if z is not None and depth:
        z = -z / 1000
    return lat, lon, z


def _sexagesimal(part: str, degree_digits: int) -> float:
    """±DD.D, ±DDMM.M or ±DDMMSS.S (longitude: one more degree digit) → decimal degrees."""
    sign = -1.0 if part[0] == "-" else 1.0
    whole, _, frac = part[1:].partition(".")
    frac = "." + frac if frac else ""
    extra = len(whole) - degree_digits
    if extra == 2:
        return sign * (int(whole[:degree_digits]) + float(whole[degree_digits:] + frac) / 60)
    if extra == 4:
        minutes, seconds = int(whole[degree_digits:-2]), float(whole[-2:] + frac)
        return sign * (int(whole[:degree_digits]) + minutes / 60 + seconds / 3600)
    return sign * float(whole + frac)


def _intensities(obs: etree._Element):
    for pref in obs.iterfind("{*}Pref"):
        yield Intensity("pref", _text(pref, "Code") or "", _text(pref, "Name") or "", _text(pref, "MaxInt"))
        for area in pref.iterfind("{*}Area"):
            yield Intensity("area", _text(area, "Code") or "", _text(area, "Name") or "", _text(area, "MaxInt"))
            for city in area.iterfind("{*}City"):
                yield Intensity("city", _text(city, "Code") or "", _text(city, "Name") or "",
                                _text(city, "MaxInt"))


def _eew(body: etree._Element, forecast: etree._Element | None, type_code: str | None) -> Eew:
    areas: list[Intensity] = []
    if forecast is not None:
        for area in forecast.iterfind("{*}Pref/{*}Area"):
            areas.append(Intensity("area", _text(area, "Code") or "", _text(area, "Name") or "",
                                   _text(area, "ForecastInt/{*}From")))
    return Eew(
        is_warning=type_code == "VXSE43",
        forecast_int_from=_text(forecast, "ForecastInt/{*}From") if forecast is not None else None,
        forecast_int_to=_text(forecast, "ForecastInt/{*}To") if forecast is not None else None,
        is_final="最終報" in (_text(body, "NextAdvisory") or ""),
        areas=tuple(areas),
    )


def _tsunami(body: etree._Element):
    for item in body.iterfind("{*}Tsunami/{*}Forecast/{*}Item"):
        area = item.find("{*}Area")
        if area is None:
            continue
        category = item.find("{*}Category")
        height = item.find("{*}MaxHeight/{*}TsunamiHeight")
        yield TsunamiForecast(
            area=_area(area),
            kind=_kind(category.find("{*}Kind"), category.find("{*}LastKind")) if category is not None
            else Kind(None, None),
            first_arrival=_when(item, "FirstHeight/{*}ArrivalTime"),
            first_condition=_text(item, "FirstHeight/{*}Condition"),
            max_height_m=_number(height.text if height is not None else None),
            max_height_text=height.get("description") if height is not None else None,
        )


def _headline_items(head: etree._Element):
    for info in head.iterfind("{*}Headline/{*}Information"):
        for item in info.iterfind("{*}Item"):
            last = item.find("{*}LastKind")
            yield HeadlineItem(info.get("type", ""), tuple(_kind(k, last) for k in item.iterfind("{*}Kind")),
                               unique_areas(_area(a) for a in item.iterfind("{*}Areas/{*}Area")))


# --- small helpers ----------------------------------------------------------------------------------------

def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag[tag.rfind("}") + 1:] if isinstance(tag, str) else ""


def _child(el: etree._Element, name: str) -> etree._Element | None:
    """First child element with that local name, any namespace: find("{*}name") without ElementPath's
    per-call overhead (lxml filters the children in C)."""
    return next(el.iterchildren("{*}" + name), None)


def _texts(el: etree._Element) -> dict[str, str | None]:
    """What _text(el, name) gives for each child name, in one pass (the first child of a name wins)."""
    out: dict[str, str | None] = {}
    for child in el:
        if isinstance(child.tag, str):
            out.setdefault(_local(child), (child.text or "").strip() or None)
    return out


def _text(el: etree._Element, path: str) -> str | None:
    found = _child(el, path) if "/" not in path else el.find("{*}" + path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _required(el: etree._Element, path: str) -> str:
    value = _text(el, path)
    if value is None:
        raise Invalid(f"JMA telegram lacks {etree.QName(el).localname}/{path}")
    return value


def _when(el: etree._Element, path: str) -> datetime | None:
    value = _text(el, path)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"JMA telegram has a bad date-time in {path}: {value!r}") from exc


def _required_when(el: etree._Element, path: str) -> datetime:
    when = _when(el, path)
    if when is None:
        raise Invalid(f"JMA telegram lacks {etree.QName(el).localname}/{path}")
    return when


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return None if math.isnan(value) else value


