"""The alert model: one `Alert` maps 1:1 to a CAP 1.2 alert (`to_cap` / `from_cap`), one CAP <info> per
language. Our subscription topic travels as the CAP eventCode 'machihub-topic'; areas are CAP polygons
(lat,lon rings), circles and geocodes ('machihub-area' = '<kind>:<name>' of an area unit, 'JIS-X0402' = a
whole municipality)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from feeds.cap import DRILL_STATUSES, CapAlert, CapArea, CapCircle, CapInfo, CapReference
from machihub.errors import Invalid

JST = timezone(timedelta(hours=9), "JST")
TOPIC_CODE = "machihub-topic"
AREA_CODE = "machihub-area"
TOWN_CODE = "JIS-X0402"

# topic → (bit in al_subscribers.topics, CAP category, Japanese label, English label)
TOPICS: dict[str, tuple[int, str, str, str]] = {
    "weather": (1, "Met", "気象・土砂災害", "Weather and landslides"),
    "quake": (2, "Geo", "地震・津波", "Earthquake and tsunami"),
    "evacuation": (4, "Safety", "避難情報", "Evacuation"),
    "fire": (8, "Fire", "火災", "Fire"),
    "crime": (16, "Security", "防犯・不審者", "Crime prevention and suspicious persons"),
    "traffic": (32, "Transport", "交通", "Traffic"),
    "health": (64, "Health", "健康・感染症", "Health"),
    "community": (128, "Other", "地域・団体のお知らせ", "Community groups"),
    "library": (256, "Other", "図書館", "Library"),
    "civil": (512, "Safety", "国民保護", "Civil protection"),
}
SEVERITIES = ("Unknown", "Minor", "Moderate", "Severe", "Extreme")  # ascending
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def overrides_quiet_hours(severity: str) -> bool:
    """Severe and Extreme alerts are delivered even in a subscriber's quiet hours."""
    return severity_rank(severity) >= SEVERITIES.index("Severe")


def topic_bits(topics: list[str] | tuple[str, ...] | set[str]) -> int:
    bits = 0
    for t in topics:
        if t not in TOPICS:
            raise Invalid(f"unknown topic {t!r}; known: {', '.join(TOPICS)}")
        bits |= TOPICS[t][0]
    return bits


def topics_of(bits: int) -> list[str]:
    return [t for t, (b, *_) in TOPICS.items() if bits & b]


@dataclass(kw_only=True)
class AlertText:
    headline: str
    description: str = ""
    instruction: str = ""


@dataclass(kw_only=True)
class AlertArea:
    desc: str
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)  # CAP rings of (lat, lon)
    circles: list[CapCircle] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(kw_only=True)
class Alert:
    tenant_code: str
    topic: str
    event: str
    texts: dict[str, AlertText]                 # language tag → text; 'ja' first
    areas: list[AlertArea] = field(default_factory=list)
    urgency: str = "Expected"
    severity: str = "Moderate"
    certainty: str = "Likely"
    status: str = "Actual"
    msg_type: str = "Alert"
    scope: str = "Public"
    identifier: str = ""
    sender: str = ""
    sent: datetime | None = None
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    categories: list[str] = field(default_factory=list)
    response_types: list[str] = field(default_factory=list)
    references: list[CapReference] = field(default_factory=list)
    note: str | None = None
    web: str | None = None
    contact: str | None = None

    @property
    def is_drill(self) -> bool:
        return self.status in DRILL_STATUSES

    def validate(self) -> None:
        """Raise `Invalid` naming the first problem; a bad form changes nothing."""
        checks = ((self.topic in TOPICS, f"unknown topic {self.topic!r}"),
                  (self.severity in SEVERITIES, f"unknown severity {self.severity!r}"),
                  (self.urgency in URGENCIES, f"unknown urgency {self.urgency!r}"),
                  (self.certainty in CERTAINTIES, f"unknown certainty {self.certainty!r}"),
                  (self.status in STATUSES, f"unknown CAP status {self.status!r}"),
                  (self.msg_type in MSG_TYPES, f"unknown message type {self.msg_type!r}"),
                  (bool(self.event.strip()), "the event name is empty"),
                  (bool(self.texts), "the alert has no text"),
                  (all(t.headline.strip() for t in self.texts.values()), "a headline is empty"),
                  (bool(self.areas) or self.msg_type == "Cancel", "the alert has no area"),
                  (self.msg_type == "Alert" or bool(self.references), "an update or cancel must name the alert it refers to"))
        for ok, message in checks:
            if not ok:
                raise Invalid(message)
        if self.expires and self.effective and self.expires <= self.effective:
            raise Invalid("the alert expires before it takes effect")

    def text_for(self, language: str) -> tuple[str, AlertText]:
        """The text in the subscriber's language, else Japanese, else the first one."""
        for lang in (language, language.split("-")[0], "ja"):
            if lang in self.texts:
                return lang, self.texts[lang]
        first = next(iter(self.texts))
        return first, self.texts[first]

    # -- CAP 1.2 ---------------------------------------------------------------------------------------
    def to_cap(self) -> CapAlert:
        def jst(d: datetime | None) -> datetime | None:
            return d.astimezone(JST) if d else None

        categories = self.categories or [TOPICS[self.topic][1]]
        areas = [CapArea(area_desc=a.desc, polygons=[list(r) for r in a.polygons], circles=list(a.circles),
                         geocodes=list(a.geocodes)) for a in self.areas]
        infos = [CapInfo(language=lang, categories=list(categories), event=self.event,
                         response_types=list(self.response_types), urgency=self.urgency, severity=self.severity,
                         certainty=self.certainty, event_codes=[(TOPIC_CODE, self.topic)],
                         effective=jst(self.effective), onset=jst(self.onset), expires=jst(self.expires),
                         sender_name=self.sender_name or None, headline=t.headline,
                         description=t.description or None, instruction=t.instruction or None,
                         web=self.web, contact=self.contact, areas=areas)
                 for lang, t in self.texts.items()]
        return CapAlert(identifier=self.identifier, sender=self.sender, sent=jst(self.sent) or datetime.now(JST),
                        status=self.status, msg_type=self.msg_type, scope=self.scope, note=self.note,
                        references=list(self.references), infos=infos)

    @classmethod
    def from_cap(cls, cap: CapAlert, tenant_code: str, topic: str | None = None) -> Alert:
        if not cap.infos:
            raise Invalid("the CAP alert has no <info>")
        first = cap.infos[0]
        topic = topic or dict(first.event_codes).get(TOPIC_CODE) or _topic_from_category(first.categories)
        texts = {i.language: AlertText(headline=i.headline or i.event, description=i.description or "",
                                       instruction=i.instruction or "") for i in cap.infos}
        areas = [AlertArea(desc=a.area_desc, polygons=[list(r) for r in a.polygons], circles=list(a.circles),
                           geocodes=list(a.geocodes)) for a in first.areas]
        return cls(tenant_code=tenant_code, topic=topic, event=first.event, texts=texts, areas=areas,
                   urgency=first.urgency, severity=first.severity, certainty=first.certainty, status=cap.status,
                   msg_type=cap.msg_type, scope=cap.scope, identifier=cap.identifier, sender=cap.sender,
                   sent=cap.sent, effective=first.effective, onset=first.onset, expires=first.expires,
                   sender_name=first.sender_name or "", categories=list(first.categories),
                   response_types=list(first.response_types), references=list(cap.references), note=cap.note,
                   web=first.web, contact=first.contact)

    # -- storage (JSON text on both stores) ------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=_dt)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        d: dict[str, Any] = json.loads(text)
        for key in ("sent", "effective", "onset", "expires"):
            d[key] = datetime.fromisoformat(d[key]) if d.get(key) else None
        d["texts"] = {k: AlertText(**v) for k, v in d["texts"].items()}
        d["areas"] = [AlertArea(desc=a["desc"], polygons=[[tuple(p) for p in r] for r in a["polygons"]],
                                circles=[CapCircle(**c) for c in a["circles"]],
                                geocodes=[tuple(g) for g in a["geocodes"]]) for a in d["areas"]]
        d["references"] = [CapReference(**r) for r in d["references"]]
        return cls(**d)


def _dt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _topic_from_category(categories: list[str]) -> str:
    by_category = {"Met": "weather", "Geo": "quake", "Fire": "fire", "Security": "crime", "Transport": "traffic",
                   "Health": "health", "Safety": "evacuation", "Rescue": "evacuation", "Env": "weather",
                   "Infra": "traffic", "CBRNE": "civil"}
    for c in categories:
        if c in by_category:
            return by_category[c]
    return "community"
