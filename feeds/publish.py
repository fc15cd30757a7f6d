"""Publishing: every public alert as CAP 1.2 (validated against the schema), a CAP Atom index per tenant
(Google Public Alerts feed profile), and feedgen RSS 2.0 / Atom per tenant, topic, area (町丁目) and language,
linking to the alert page on the portal. Pure over the stores: the web layer adds conditional GET."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree

from alerts.model import JST, TOPICS, Alert
from feeds.cap import to_cap_xml
from feeds.safe_xml import CAP12_SCHEMA, load_schema, parse_untrusted
from machihub.errors import Invalid, NotFound

PUBLIC_STATES = ("sending", "sent", "expired")


@dataclass(frozen=True)
class Item:
    kind: str            # alert | notice (feed-only)
    id: int
    alert: Alert
    updated: datetime

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.id}"


def _when(iso: str) -> datetime:
    d = datetime.fromisoformat(iso)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def public_items(hub: Any, tenant_code: str, *, limit: int = 50) -> list[Item]:
    """Public alerts (status Actual, scope Public, sent) and feed-only notices of one tenant, newest first."""
    items = [Item("alert", r.id, r.alert, _when(r.updated)) for r in hub.alerts.lifecycle.list(tenant_code, limit)
             if r.state in PUBLIC_STATES and r.alert.status == "Actual" and r.alert.scope == "Public"]
    with hub.db.read() as tx:
        rows = tx.query("SELECT id, body, updated FROM fd_notices WHERE tenant_code = ? AND state = 'active'"
                        " ORDER BY id DESC LIMIT ?", (tenant_code, limit))
    for r in rows:
        alert = Alert.from_json(r["body"])
        if alert.status == "Actual":
            items.append(Item("notice", r["id"], alert, _when(r["updated"])))
    items.sort(key=lambda i: (i.alert.sent or i.updated, i.updated), reverse=True)
    return items[:limit]


def find_item(hub: Any, tenant_code: str, kind: str, item_id: int) -> Item:
    for item in public_items(hub, tenant_code, limit=500):
        if item.kind == kind and item.id == item_id:
            return item
    raise NotFound(f"no public {kind} {item_id}")


def filter_items(items: list[Item], *, topic: str | None = None, area: str | None = None) -> list[Item]:
    """By topic; by 町丁目 name: alerts naming that 町丁目, or the whole town, or drawn areas (kept)."""
    if topic:
        if topic not in TOPICS:
            raise Invalid(f"unknown topic {topic!r}; known: {', '.join(TOPICS)}")
        items = [i for i in items if i.alert.topic == topic]
    if area:
        def covers(a: Alert) -> bool:
            codes = [g for x in a.areas for g in x.geocodes]
            named = {v.partition(":")[2] for n, v in codes if n == "machihub-area"}
            return area in named or any(n == "JIS-X0402" for n, _ in codes) or not codes
        items = [i for i in items if covers(i.alert)]
    return items


def page_url(base: str, tenant_code: str, item: Item) -> str:
    """The portal page of an item: alerts have theirs (portal.subscribe_routes), feed-only notices ours."""
    if item.kind == "alert":
        return f"{base.rstrip('/')}/alerts/a/{item.id}"
    return f"{base.rstrip('/')}/{tenant_code}/notices/{item.id}"


def cap_url(base: str, tenant_code: str, item: Item) -> str:
    return f"{base.rstrip('/')}/{tenant_code}/feeds/cap/{item.kind}-{item.id}.xml"


def cap_document(item: Item) -> bytes:
    """CAP 1.2 of one public item, checked against the CAP 1.2 schema before anyone sees it."""
    xml = to_cap_xml(item.alert.to_cap())
    load_schema(CAP12_SCHEMA).validate(parse_untrusted(xml, what="CAP alert"), what="our CAP alert")
    return xml


def _feed(base: str, tenant: Any, title: str, self_url: str, items: list[Item]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(title)
    fg.author({"name": tenant.name})
    fg.link(href=self_url, rel="self")
    fg.link(href=f"{base.rstrip('/')}/{tenant.code}/", rel="alternate")  # last: feedgen's RSS <link> is the last one
    fg.description(title)
    fg.language("ja")
    newest = max((i.updated for i in items), default=datetime(2000, 1, 1, tzinfo=UTC))
    fg.updated(newest)
    fg.lastBuildDate(newest)
    return fg


def news_feed(base: str, tenant: Any, items: list[Item], *, fmt: str, language: str = "ja", self_url: str) -> bytes:
    """RSS 2.0 (fmt 'rss') or Atom (fmt 'atom'); GUIDs are the CAP identifiers (stable, permalink=False)."""
    title = f"{tenant.name} 防災・安心安全情報" if language.startswith("ja") else \
        f"{tenant.name_en or tenant.name}: safety alerts"
    fg = _feed(base, tenant, title, self_url, items)
    for item in reversed(items):  # feedgen puts the last added first
        lang, text = item.alert.text_for(language)
        fe = fg.add_entry()
        fe.id(f"urn:machihub:{item.alert.identifier}")
        fe.guid(f"urn:machihub:{item.alert.identifier}", permalink=False)
        fe.title(text.headline)
        fe.link(href=page_url(base, tenant.code, item))
        fe.description(" ".join(x for x in (text.description, text.instruction) if x) or text.headline)
        fe.category(term=item.alert.topic, label=TOPICS[item.alert.topic][2 if lang == "ja" else 3])
        fe.published((item.alert.sent or item.updated).astimezone(JST))
        fe.updated(item.updated.astimezone(JST))
    return fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)


def cap_index(base: str, tenant: Any, items: list[Item], *, self_url: str) -> bytes:
    """Atom index of CAP alerts (Google Public Alerts profile): one entry per alert, linking to its CAP."""
    fg = _feed(base, tenant, f"{tenant.name} CAP alerts", self_url, items)
    for item in reversed(items):
        _, text = item.alert.text_for("ja")
        fe = fg.add_entry()
        fe.id(f"urn:machihub:{item.alert.identifier}")
        fe.title(text.headline)
        fe.link(href=cap_url(base, tenant.code, item), rel="alternate", type="application/cap+xml")
        fe.summary(text.description or text.headline)
        fe.author({"name": item.alert.sender_name or tenant.name})
        fe.published((item.alert.sent or item.updated).astimezone(JST))
        fe.updated(item.updated.astimezone(JST))
    root = etree.fromstring(fg.atom_str())  # our own output; feedgen drops rel/type of entry links
    for link in root.iterfind("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}link"):
        link.set("rel", "alternate")
        link.set("type", "application/cap+xml")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
