"""Claimed outbox rows → deliveries: the message each channel hands over, with the personal links filled in.
Per alert the texts, mail templates and webhook bodies are built once and reused for every recipient; the
alert's state is re-read every few seconds so a cancelled alert stops going out mid-send."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from alerts.channels import Delivery
from alerts.config import AlertConfig
from alerts.links import Links
from alerts.mail.compose import MailTemplate
from alerts.mail.dkim import DkimSigner
from alerts.model import Alert, overrides_quiet_hours
from alerts.outbox import Claimed
from alerts.personal import personal_delivery
from alerts.templates import carrier_charset, mail_template, push_payload
from feeds.cap import to_cap_xml
from machihub.db import Database
from machihub.sealing import Sealer

STOPPED = ("cancelled", "expired", "superseded")


@dataclass
class _AlertCache:
    alert: Alert
    tenant_name: str
    state: str
    checked: float
    mail: dict[tuple[str, bool], MailTemplate] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)


def webhook_json(alert: Alert, alert_id: int, url: str) -> dict[str, Any]:
    return {"id": alert_id, "identifier": alert.identifier, "sender": alert.sender, "status": alert.status,
            "msgType": alert.msg_type, "topic": alert.topic, "event": alert.event, "severity": alert.severity,
            "urgency": alert.urgency, "certainty": alert.certainty, "tenant": alert.tenant_code,
            "sent": alert.sent.isoformat() if alert.sent else None,
            "expires": alert.expires.isoformat() if alert.expires else None,
            "texts": {lang: {"headline": t.headline, "description": t.description, "instruction": t.instruction}
                      for lang, t in alert.texts.items()},
            "areas": [{"desc": a.desc, "geocodes": a.geocodes, "polygons": a.polygons} for a in alert.areas],
            "references": [f"{r.sender},{r.identifier},{r.sent}" for r in alert.references], "url": url}


class Composer:
    def __init__(self, db: Database, config: AlertConfig, links: Links, sealer: Sealer,
                 dkim: DkimSigner | None = None) -> None:
        self.db, self.config, self.links, self.sealer, self.dkim = db, config, links, sealer, dkim
        self._alerts: dict[int, _AlertCache] = {}
        self._lock = threading.Lock()

    def _cached(self, alert_id: int) -> _AlertCache:
        entry = self._alerts.get(alert_id)
        now = time.monotonic()
        if entry is None or now - entry.checked > 3.0:
            with self.db.transaction() as tx:
                row = tx.one("SELECT a.state, a.body, t.name FROM al_alerts a JOIN mh_tenants t ON t.code = a.tenant_code"
                             " WHERE a.id = ?", (alert_id,))
            if entry is None:
                entry = _AlertCache(Alert.from_json(row["body"]), row["name"], row["state"], now)
            entry.state, entry.checked = row["state"], now
            with self._lock:
                self._alerts[alert_id] = entry
        return entry

    def alert_url(self, alert_id: int) -> str:
        return f"{self.config.public_url}/alerts/a/{alert_id}"

    def compose(self, row: Claimed) -> Delivery | str:
        """The delivery for a row, or the final state to give it without sending (e.g. 'cancelled')."""
        if row.kind != "alert":
            return self._notice(row)
        if row.contact_id is None or row.address_sealed is None:
            return "unsubscribed"
        assert row.alert_id is not None
        entry = self._cached(row.alert_id)
        if entry.state in STOPPED:
            return "cancelled" if entry.state != "expired" else "expired"
        target = self.sealer.open(row.address_sealed)
        if row.channel == "email":
            return self._email(row, entry, target)
        if row.channel == "webpush":
            return self._push(row, entry, json.loads(target))
        return self._webhook(row, entry, json.loads(target))

    def _email(self, row: Claimed, entry: _AlertCache, address: str) -> Delivery:
        key = (row.language, self.config.is_carrier(address))
        tpl = entry.mail.get(key)
        if tpl is None or tpl.stale():
            tpl = entry.mail[key] = mail_template(self.config, entry.alert, row.language, entry.tenant_name, key[1])
        assert row.subscriber_id is not None and row.link_nonce is not None
        base = f"{self.config.public_url}/alerts"
        prefs = f"{base}/p/{self.links.make('p', row.subscriber_id, row.link_nonce)}"
        unsub = f"{base}/u/{self.links.make('u', row.subscriber_id, row.link_nonce)}"
        payload = self._signed(tpl.render(address, f"a{row.alert_id}.{row.id}", prefs, unsub))
        return Delivery(row, address, payload, {"mail_from": self.links.verp(row.id, self.config.verp_domain)})

    def _signed(self, message: bytes) -> bytes:
        return self.dkim.sign(message) if self.dkim else message  # here, in the compose thread, not the event loop

    def _push(self, row: Claimed, entry: _AlertCache, sub: dict[str, Any]) -> Delivery:
        alert = entry.alert
        assert row.alert_id is not None
        body = json.dumps(push_payload(alert, row.language, entry.tenant_name, self.alert_url(row.alert_id)),
                          ensure_ascii=False).encode()
        ttl = 43200
        if alert.expires and alert.sent:
            ttl = int(max(60, min(86400, (alert.expires - alert.sent).total_seconds())))
        return Delivery(row, sub, body, {"ttl": ttl, "urgency": "high" if overrides_quiet_hours(alert.severity) else "normal"})

    def _webhook(self, row: Claimed, entry: _AlertCache, cfg: dict[str, Any]) -> Delivery:
        fmt = cfg.get("format", "json")
        assert row.alert_id is not None
        if fmt not in entry.bodies:
            entry.bodies[fmt] = to_cap_xml(entry.alert.to_cap()) if fmt == "cap" else json.dumps(
                webhook_json(entry.alert, row.alert_id, self.alert_url(row.alert_id)), ensure_ascii=False).encode()
        ctype = "application/cap+xml; charset=utf-8" if fmt == "cap" else "application/json; charset=utf-8"
        return Delivery(row, cfg, entry.bodies[fmt], {"content_type": ctype})

    def _notice(self, row: Claimed) -> Delivery | str:
        if row.payload_sealed is None:
            return "failed"
        data = json.loads(self.sealer.open(row.payload_sealed))
        if "to" not in data:  # a personal notice (alerts.personal): the recipient is the row's contact
            if row.address_sealed is None:
                return "unsubscribed"
            made = personal_delivery(row, data, self.sealer.open(row.address_sealed))
            if isinstance(made, Delivery):
                return made
            data = made
        carrier = self.config.is_carrier(data["to"])
        tpl = MailTemplate.build(from_name="安心安全メール" if data.get("lang", "ja").startswith("ja") else "Safety mail",
                                 from_addr=self.config.mail_from, subject=data["subject"], body=data["body"],
                                 charset=carrier_charset(carrier, data.get("lang", "ja")), domain=self.config.mail_domain,
                                 one_click=False)
        payload = self._signed(tpl.render(data["to"], f"n{row.id}"))
        return Delivery(row, data["to"], payload, {"mail_from": self.links.verp(row.id, self.config.verp_domain)})
