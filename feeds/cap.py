"""CAP 1.2 (OASIS Common Alerting Protocol) in and out: `parse_cap` bytes → `CapAlert`, `to_cap_xml` back.

Only CAP 1.2 is accepted; other versions and namespaces are refused by name. Input goes through the safe
parser and the packaged CAP-v1.2.xsd, and so does our own output before it leaves. Polygons are rings of
(lat, lon) pairs, as CAP writes them ('lat,lon lat,lon …', first point repeated last)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from feeds.safe_xml import CAP12_SCHEMA, DEFAULT_MAX_BYTES, load_schema, parse_untrusted
from machihub.errors import Invalid

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_OTHER_VERSIONS = {
    "urn:oasis:names:tc:emergency:cap:1.1": "CAP 1.1",
    "http://www.incident.com/cap/1.0": "CAP 1.0",
}
DRILL_STATUSES = frozenset({"Exercise", "Test"})  # never broadcast: staff only
_ID_FORBIDDEN = re.compile(r"[\s,<&]")  # CAP 1.2 §3.2.1: identifier/sender carry no spaces, commas, < or &

LatLon = tuple[float, float]


@dataclass(frozen=True)
class CapCircle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class CapReference:
    """One earlier message this one refers to (CAP 'sender,identifier,sent')."""
    sender: str
    identifier: str
    sent: str


@dataclass(kw_only=True)
class CapResource:
    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(kw_only=True)
class CapArea:
    area_desc: str
    polygons: list[list[LatLon]] = field(default_factory=list)
    circles: list[CapCircle] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)  # (valueName, value)
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(kw_only=True)
class CapInfo:
    language: str = "en-US"
    categories: list[str]
    event: str
    response_types: list[str] = field(default_factory=list)
    urgency: str
    severity: str
    certainty: str
    audience: str | None = None
    event_codes: list[tuple[str, str]] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: list[tuple[str, str]] = field(default_factory=list)
    resources: list[CapResource] = field(default_factory=list)
    areas: list[CapArea] = field(default_factory=list)


@dataclass(kw_only=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: str          # Actual / Exercise / System / Test / Draft
    msg_type: str        # Alert / Update / Cancel / Ack / Error
    scope: str           # Public / Restricted / Private
    source: str | None = None
    restriction: str | None = None
    addresses: str | None = None
    codes: list[str] = field(default_factory=list)
    note: str | None = None
    references: list[CapReference] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    infos: list[CapInfo] = field(default_factory=list)

    @property
    def is_drill(self) -> bool:
        return self.status in DRILL_STATUSES

    @property
    def is_actual(self) -> bool:
        return self.status == "Actual"


# --- parse ------------------------------------------------------------------------------------------------

def parse_cap(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> CapAlert:
    """Parse one CAP 1.2 alert; raise `Invalid` naming the problem for anything else."""
    root = parse_untrusted(data, max_bytes=max_bytes, what="CAP alert")
    qname = etree.QName(root)
    if qname.localname != "alert":
        raise Invalid(f"not a CAP alert: the root element is {qname.localname!r}")
    if qname.namespace != NS:
        version = _OTHER_VERSIONS.get(qname.namespace or "")
        if version:
            raise Invalid(f"{version} alerts are not accepted; only CAP 1.2 ({NS})")
        raise Invalid(f"not a CAP 1.2 alert: unknown namespace {qname.namespace!r}")
    load_schema(CAP12_SCHEMA).validate(root, what="CAP alert")
    return CapAlert(
        identifier=_required(root, "identifier"),
        sender=_required(root, "sender"),
        sent=_sent(root),
        status=_required(root, "status"),
        msg_type=_required(root, "msgType"),
        scope=_required(root, "scope"),
        source=_text(root, "source"),
        restriction=_text(root, "restriction"),
        addresses=_text(root, "addresses"),
        codes=[t for e in root.iterfind(f"{{{NS}}}code") if (t := _strip(e.text))],
        note=_text(root, "note"),
        references=_references(_text(root, "references")),
        incidents=(_text(root, "incidents") or "").split(),
        infos=[_info(e) for e in root.iterfind(f"{{{NS}}}info")],
    )


def _info(el: etree._Element) -> CapInfo:
    return CapInfo(
        language=_text(el, "language") or "en-US",
        categories=_all(el, "category"),
        event=_required(el, "event"),
        response_types=_all(el, "responseType"),
        urgency=_required(el, "urgency"),
        severity=_required(el, "severity"),
        certainty=_required(el, "certainty"),
        audience=_text(el, "audience"),
        event_codes=_pairs(el, "eventCode"),
        effective=_when(el, "effective"),
        onset=_when(el, "onset"),
        expires=_when(el, "expires"),
        sender_name=_text(el, "senderName"),
        headline=_text(el, "headline"),
        description=_text(el, "description"),
        instruction=_text(el, "instruction"),
        web=_text(el, "web"),
        contact=_text(el, "contact"),
        parameters=_pairs(el, "parameter"),
        resources=[CapResource(
            resource_desc=_required(r, "resourceDesc"), mime_type=_required(r, "mimeType"),
            size=_size(_text(r, "size")), uri=_text(r, "uri"),
            deref_uri=_text(r, "derefUri"), digest=_text(r, "digest"),
        ) for r in el.iterfind(f"{{{NS}}}resource")],
        areas=[_area(a) for a in el.iterfind(f"{{{NS}}}area")],
    )


def _area(el: etree._Element) -> CapArea:
    return CapArea(
        area_desc=_required(el, "areaDesc"),
        polygons=[parse_polygon(t) for t in _all(el, "polygon")],
        circles=[parse_circle(t) for t in _all(el, "circle")],
        geocodes=_pairs(el, "geocode"),
        altitude=float(a) if (a := _text(el, "altitude")) else None,
        ceiling=float(c) if (c := _text(el, "ceiling")) else None,
    )


def parse_polygon(text: str) -> list[LatLon]:
    """'lat,lon lat,lon …' → closed ring of (lat, lon). An unclosed ring is closed rather than refused."""
    pairs = re.sub(r"\s*,\s*", ",", text.strip()).split()
    ring = [_point(p, text) for p in pairs]
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(set(ring)) < 3:
        raise Invalid(f"CAP polygon needs at least three distinct points: {text[:80]!r}")
    return ring


def parse_circle(text: str) -> CapCircle:
    """'lat,lon radius_km' → CapCircle."""
    centre, _, radius = re.sub(r"\s*,\s*", ",", text.strip()).partition(" ")
    lat, lon = _point(centre, text)
    r = _float(radius.strip(), text)
    if r < 0:
        raise Invalid(f"CAP circle has a negative radius: {text[:80]!r}")
    return CapCircle(lat, lon, r)


def _point(pair: str, whole: str) -> LatLon:
    lat_s, sep, lon_s = pair.partition(",")
    lat, lon = _float(lat_s, whole), _float(lon_s, whole) if sep else math.nan
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(f"CAP coordinates must be 'lat,lon' within ±90,±180: {whole[:80]!r}")
    return lat, lon


def _float(s: str, whole: str) -> float:
    try:
        value = float(s)
    except ValueError:
        raise Invalid(f"CAP geometry has a non-number {s!r}: {whole[:80]!r}") from None
    if not math.isfinite(value):
        raise Invalid(f"CAP geometry has a non-finite number: {whole[:80]!r}")
    return value


def _size(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:  # the schema allows integers too long for int()
        raise Invalid(f"CAP resource size is not a usable number: {text[:40]!r}") from None


def _references(text: str | None) -> list[CapReference]:
    refs = []
    for triple in (text or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise Invalid(f"CAP references must be 'sender,identifier,sent' triples: {triple[:120]!r}")
        refs.append(CapReference(*parts))
    return refs


def _text(el: etree._Element, name: str) -> str | None:
    found = el.find(f"{{{NS}}}{name}")
    return _strip(found.text) if found is not None else None


def _strip(text: str | None) -> str | None:
    return (text or "").strip() or None


def _required(el: etree._Element, name: str) -> str:
    value = _text(el, name)
    if value is None:
        raise Invalid(f"CAP {etree.QName(el).localname} has an empty {name}")
    return value


def _all(el: etree._Element, name: str) -> list[str]:
    return [t for e in el.iterfind(f"{{{NS}}}{name}") if (t := _strip(e.text))]


def _pairs(el: etree._Element, name: str) -> list[tuple[str, str]]:
    return [(_text(e, "valueName") or "", _text(e, "value") or "") for e in el.iterfind(f"{{{NS}}}{name}")]


def _sent(root: etree._Element) -> datetime:
    sent = _when(root, "sent")
    if sent is None:
        raise Invalid("CAP alert has an empty sent")
    return sent


def _when(el: etree._Element, name: str) -> datetime | None:
    value = _text(el, name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"CAP {name} is not a date-time: {value!r}") from None


# --- serialise --------------------------------------------------------------------------------------------

def to_cap_xml(alert: CapAlert) -> bytes:
    """Serialise to CAP 1.2 XML (UTF-8), one <info> per CapInfo. Raises `Invalid` if the result would not
    be valid CAP 1.2, so a bad form never becomes a published alert."""
    for name, value in (("identifier", alert.identifier), ("sender", alert.sender)):
        if not value or _ID_FORBIDDEN.search(value):
            raise Invalid(f"CAP {name} must be non-empty, without spaces, commas, '<' or '&': {value!r}")
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", _stamp(alert.sent, "sent"))
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "source", alert.source)
    _add(root, "scope", alert.scope)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", alert.addresses)
    for code in alert.codes:
        _add(root, "code", code)
    _add(root, "note", alert.note)
    if alert.references:
        _add(root, "references", " ".join(f"{r.sender},{r.identifier},{r.sent}" for r in alert.references))
    if alert.incidents:
        _add(root, "incidents", " ".join(alert.incidents))
    for info in alert.infos:
        _write_info(etree.SubElement(root, f"{{{NS}}}info"), info)
    load_schema(CAP12_SCHEMA).validate(root, what="CAP alert being written")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_info(el: etree._Element, info: CapInfo) -> None:
    _add(el, "language", info.language)
    for category in info.categories:
        _add(el, "category", category)
    _add(el, "event", info.event)
    for response in info.response_types:
        _add(el, "responseType", response)
    for name in ("urgency", "severity", "certainty", "audience"):
        _add(el, name, getattr(info, name))
    _add_pairs(el, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires"):
        when = getattr(info, name)
        _add(el, name, _stamp(when, name) if when is not None else None)
    _add(el, "senderName", info.sender_name)
    for name in ("headline", "description", "instruction", "web", "contact"):
        _add(el, name, getattr(info, name))
    _add_pairs(el, "parameter", info.parameters)
    for res in info.resources:
        r = etree.SubElement(el, f"{{{NS}}}resource")
        _add(r, "resourceDesc", res.resource_desc)
        _add(r, "mimeType", res.mime_type)
        _add(r, "size", str(res.size) if res.size is not None else None)
        _add(r, "uri", res.uri)
        _add(r, "derefUri", res.deref_uri)
        _add(r, "digest", res.digest)
    for area in info.areas:
        a = etree.SubElement(el, f"{{{NS}}}area")
        _add(a, "areaDesc", area.area_desc)
        for ring in area.polygons:
            _add(a, "polygon", format_polygon(ring))
        for c in area.circles:
            text = f"{_num(c.lat)},{_num(c.lon)} {_num(c.radius_km)}"
            parse_circle(text)  # same checks as on the way in
            _add(a, "circle", text)
        _add_pairs(a, "geocode", area.geocodes)
        _add(a, "altitude", _num(area.altitude) if area.altitude is not None else None)
        _add(a, "ceiling", _num(area.ceiling) if area.ceiling is not None else None)


def format_polygon(ring: list[LatLon]) -> str:
    """(lat, lon) ring → CAP 'lat,lon …', closing the ring if the caller did not."""
    points = [_point(f"{lat},{lon}", "polygon") for lat, lon in ring]
    if points and points[0] != points[-1]:
        points.append(points[0])
    if len(set(points)) < 3:
        raise Invalid("CAP polygon needs at least three distinct points")
    return " ".join(f"{_num(lat)},{_num(lon)}" for lat, lon in points)


def _add(parent: etree._Element, name: str, value: str | None) -> None:
    """Add an optional element; None or '' leaves it out."""
    if value is not None and value != "":
        _element(parent, name, value)


def _element(parent: etree._Element, name: str, value: str) -> etree._Element:
    try:
        el = etree.SubElement(parent, f"{{{NS}}}{name}")
        el.text = value
    except (TypeError, ValueError) as exc:  # control characters, NUL, non-strings
        raise Invalid(f"CAP {name} cannot be written as XML: {exc}") from exc
    return el


def _add_pairs(parent: etree._Element, name: str, pairs: list[tuple[str, str]]) -> None:
    for value_name, value in pairs:
        el = etree.SubElement(parent, f"{{{NS}}}{name}")
        _element(el, "valueName", value_name)
        _element(el, "value", value)


def _stamp(when: datetime, name: str) -> str:
    # CAP wants a numeric offset and no fractions: 2024-01-01T09:00:00+09:00 ('Z' is not allowed).
    if when.tzinfo is None or when.utcoffset() is None:
        raise Invalid(f"CAP {name} needs a time zone: {when.isoformat()}")
    return when.replace(microsecond=0).isoformat()


def _num(x: float) -> str:
    text = repr(float(x))  # shortest text that reads back to the same float
    if "e" in text or "E" in text:
        text = f"{x:.10f}".rstrip("0").rstrip(".")
    return text.removesuffix(".0")
