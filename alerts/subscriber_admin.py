"""Staff side of subscriptions, audited: importing a list moved from an earlier mail service (its residents
consented there), staff test subscribers (they get drills), webhooks for machines, and counts."""
from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from alerts.mail.address import normalise_email
from alerts.prefs import Choices
from alerts.subscriptions import SubscriberStore
from machihub.audit import AuditLog
from machihub.db import Tx
from machihub.errors import Forbidden, Invalid
from machihub.principal import Principal

WEBHOOK_FORMATS = ("json", "cap")


def _may_manage(by: Principal, tenant_code: str) -> None:
    if not by.admin_of(tenant_code):
        raise Forbidden("only an admin of this tenant can manage subscriber lists and webhooks")


class SubscriberAdmin:
    def __init__(self, subs: SubscriberStore, audit: AuditLog) -> None:
        self.subs, self.audit = subs, audit

    def import_subscribers(self, by: Principal, tenant_code: str, rows: list[dict[str, Any]], *,
                           audience: str = "public", note: str = "") -> int:
        """Active e-mail subscribers in bulk; addresses already registered are skipped. Returns how many."""
        _may_manage(by, tenant_code)
        if audience not in ("public", "staff"):
            raise Invalid("audience must be public or staff")
        subs = self.subs
        cache: dict[str, Choices] = {}
        prepared: list[tuple[str, Choices]] = []
        for i, row in enumerate(rows, 1):
            try:
                address = normalise_email(str(row.get("email", "")))
                key = json.dumps([row.get("topics"), row.get("areas"), row.get("language", "ja"),
                                  row.get("quiet_start"), row.get("quiet_end")], sort_keys=True, default=str)
                if key not in cache:
                    cache[key] = subs.choices(tenant_code, topics=row.get("topics"), area_specs=row.get("areas"),
                                              language=row.get("language", "ja"), quiet_start=row.get("quiet_start"),
                                              quiet_end=row.get("quiet_end"))
            except Invalid as exc:
                raise Invalid(f"row {i}: {exc.message}") from None
            prepared.append((address, cache[key]))
        with subs.db.transaction() as tx:
            subs.areas.ensure_units(tx, tenant_code)
            known = {r["address_hash"] for r in tx.query(
                "SELECT address_hash FROM al_contacts WHERE tenant_code = ? AND kind = 'email'", (tenant_code,))}
            fresh: dict[str, tuple[str, Choices]] = {}
            for address, choices in prepared:
                key = subs.links.address_hash("email", address.lower())
                if key not in known:
                    known.add(key)
                    fresh[secrets.token_urlsafe(12)] = (address, choices)
            self._bulk_insert(tx, tenant_code, audience, fresh)
            self.audit.append(tx, by.actor, "alerts.subscribers.import", f"tenant:{tenant_code}", tenant=tenant_code,
                              after={"added": len(fresh), "rows": len(rows), "audience": audience, "note": note})
        return len(fresh)

    def _bulk_insert(self, tx: Tx, tenant_code: str, audience: str, fresh: dict[str, tuple[str, Choices]]) -> None:
        """Three executemany and one lookup instead of a round trip per row (10k rows: ~1 s on PostgreSQL)."""
        subs = self.subs
        now = subs.clock.iso()
        tx.executemany("INSERT INTO al_subscribers (tenant_code, status, audience, topics, language, quiet_start,"
                       " quiet_end, link_nonce, created, confirmed, updated) VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(tenant_code, audience, c.topics, c.language, c.quiet_start, c.quiet_end, nonce, now, now, now)
                        for nonce, (_, c) in fresh.items()])
        ids = {r["link_nonce"]: r["id"] for r in tx.query(
            "SELECT id, link_nonce FROM al_subscribers WHERE tenant_code = ? AND created = ?", (tenant_code, now))}
        tx.executemany("INSERT INTO al_contacts (subscriber_id, tenant_code, kind, address_sealed, address_hash, created)"
                       " VALUES (?, ?, 'email', ?, ?, ?)",
                       [(ids[nonce], tenant_code, subs.sealer.seal(a), subs.links.address_hash("email", a.lower()), now)
                        for nonce, (a, _) in fresh.items()])
        tx.executemany("INSERT INTO al_sub_areas (subscriber_id, unit_id, lat, lon, radius_m, geom, minx, miny, maxx, maxy)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(ids[nonce], *row) for nonce, (_, c) in fresh.items() for row in c.areas])

    def add_webhook(self, by: Principal, tenant_code: str, url: str, secret: str, *, fmt: str = "json",
                    topics: list[str], areas: list[dict[str, Any]] | None = None, name: str = "") -> int:
        """A machine receiver (防災行政無線 gateway, signage, CATV): alerts for its topics and areas, signed."""
        _may_manage(by, tenant_code)
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise Invalid("the webhook URL must be an http(s) URL")
        if fmt not in WEBHOOK_FORMATS:
            raise Invalid(f"webhook format must be one of {', '.join(WEBHOOK_FORMATS)}")
        if len(secret) < 16:
            raise Invalid("the webhook secret must have at least 16 characters")
        choices = self.subs.choices(tenant_code, topics=topics, area_specs=areas or [{"kind": "town"}])
        with self.subs.db.transaction() as tx:
            sid = self.subs._insert(tx, tenant_code, choices, "active")
            config = json.dumps({"url": url, "secret": secret, "format": fmt, "name": name})
            self.subs._add_contact(tx, sid, tenant_code, "webhook", config, url)
            self.audit.append(tx, by.actor, "alerts.webhook.add", f"subscriber:{sid}", tenant=tenant_code,
                              after={"host": parts.hostname, "format": fmt, "topics": topics, "name": name})
        return sid

    def counts(self, tenant_code: str) -> dict[str, int]:
        with self.subs.db.transaction() as tx:
            rows = tx.query("SELECT s.status, c.kind, count(*) AS n FROM al_subscribers s JOIN al_contacts c"
                            " ON c.subscriber_id = s.id WHERE s.tenant_code = ? GROUP BY s.status, c.kind",
                            (tenant_code,))
        return {f"{r['status']}_{r['kind']}": r["n"] for r in rows}
