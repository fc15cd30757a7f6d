"""Alert lifecycle: draft → pending (submitted) → approved → scheduled | sending → sent, and update, cancel,
expiry. Staff broadcasts need a second person (approver ≠ composer); machine sources (JMA, CAP feeds) send
at once when a per-tenant rule allows their topic at that severity, else they wait for approval. Approving
writes the outbox rows in the same transaction, and every step is in the audit log of that transaction.

An update (CAP msgType Update, `refers_to` the alert it replaces) supersedes that alert: at once when nobody was
told yet, else when the update is sent. A Cancel goes to exactly the subscribers the alert (and the alerts it
updated) reached. After a commit that queued outbox rows, `on_queued` is called so an in-process worker starts
now instead of at its next poll."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.config import AlertConfig
from alerts.model import SEVERITIES, TOPICS, Alert, AlertText, severity_rank
from alerts.targeting import Targeting
from feeds.cap import CapReference
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, Tx
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import Principal

OPEN_STATES = ("draft", "pending", "scheduled", "sending")
UNTOLD_STATES = ("draft", "pending", "scheduled")   # nobody has been sent anything yet


@dataclass(frozen=True)
class AlertRecord:
    id: int
    tenant_code: str
    state: str
    source: str
    alert: Alert
    composer: str
    approver: str | None
    send_at: str | None
    refers_to: int | None
    created: str
    updated: str
    version: int


def _record(row: dict[str, Any]) -> AlertRecord:
    return AlertRecord(row["id"], row["tenant_code"], row["state"], row["source"], Alert.from_json(row["body"]),
                       row["composer"], row["approver"], row["send_at"], row["refers_to"], row["created"],
                       row["updated"], row["version"])


def _iso(d: datetime | None) -> str | None:
    return d.astimezone(UTC).isoformat(timespec="microseconds") if d else None  # UTC text sorts right


class AlertStore:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog, targeting: Targeting, config: AlertConfig,
                 on_queued: Callable[[], None] | None = None) -> None:
        self.db, self.clock, self.audit, self.targeting, self.config = db, clock, audit, targeting, config
        self.on_queued = on_queued

    def _queued(self, count: int) -> None:
        """Rows were committed to the outbox: wake the in-process worker (others find them at their next poll)."""
        if count and self.on_queued is not None:
            self.on_queued()

    # -- reading ----------------------------------------------------------------------------------------
    def _row(self, tx: Tx, alert_id: int, by: Principal | None) -> dict[str, Any]:
        row = tx.one("SELECT * FROM al_alerts WHERE id = ?" + (" FOR UPDATE" if tx.dialect == "postgresql" else ""),
                     (alert_id,))
        if not row or (by is not None and not by.is_system and by.tenant_code != row["tenant_code"]):
            raise NotFound(f"no alert {alert_id}")
        return row

    def get(self, alert_id: int, by: Principal | None = None) -> AlertRecord:
        with self.db.transaction() as tx:
            return _record(self._row(tx, alert_id, by))

    def list(self, tenant_code: str, limit: int = 100) -> list[AlertRecord]:
        with self.db.transaction() as tx:
            rows = tx.query("SELECT * FROM al_alerts WHERE tenant_code = ? ORDER BY id DESC LIMIT ?", (tenant_code, limit))
        return [_record(r) for r in rows]

    # -- composing --------------------------------------------------------------------------------------
    def _prepare(self, alert: Alert) -> None:
        alert.validate()
        if not alert.identifier:
            stamp = self.clock.now().strftime("%Y%m%d%H%M%S")
            alert.identifier = f"machihub-{alert.tenant_code}-{stamp}-{secrets.token_hex(4)}"
        alert.sender = alert.sender or f"machihub.{alert.tenant_code}@{self.config.mail_domain}"
        alert.sent = alert.sent or self.clock.now()

    def _insert(self, tx: Tx, alert: Alert, state: str, source: str, composer: str, send_at: datetime | None,
                refers_to: int | None = None) -> int:
        if tx.scalar("SELECT id FROM al_alerts WHERE identifier = ?", (alert.identifier,)):
            raise Conflict(f"an alert with identifier {alert.identifier} exists already")
        now = self.clock.iso()
        return tx.insert("INSERT INTO al_alerts (tenant_code, identifier, state, source, cap_status, msg_type, topic,"
                         " severity, body, composer, send_at, expires, refers_to, created, updated)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (alert.tenant_code, alert.identifier, state, source, alert.status, alert.msg_type, alert.topic,
                          alert.severity, alert.to_json(), composer, _iso(send_at), _iso(alert.expires), refers_to,
                          now, now))

    @staticmethod
    def _composer(by: Principal, tenant_code: str) -> None:
        if not (by.has("alert_composer") and (by.is_system or by.tenant_code == tenant_code)):
            raise Forbidden("composing alerts needs the alert composer role in this municipality")

    def create(self, by: Principal, alert: Alert, *, send_at: datetime | None = None) -> int:
        self._composer(by, alert.tenant_code)
        self._prepare(alert)
        with self.db.transaction() as tx:
            alert_id = self._insert(tx, alert, "draft", "staff", by.actor, send_at)
            self.audit.append(tx, by.actor, "alert.create", f"alert:{alert_id}", tenant=alert.tenant_code,
                              after={"identifier": alert.identifier, "event": alert.event, "status": alert.status})
        return alert_id

    def edit(self, by: Principal, alert_id: int, alert: Alert, version: int, *, send_at: datetime | None = None) -> None:
        with self.db.transaction() as tx:
            row = self._row(tx, alert_id, by)
            self._composer(by, row["tenant_code"])
            if row["state"] != "draft":
                raise Conflict("only drafts can be edited; cancel and compose an update instead")
            if row["version"] != version:
                raise Conflict("someone else changed this draft; reload it", details={"version": row["version"]})
            old = Alert.from_json(row["body"])
            alert.tenant_code, alert.identifier, alert.sender = old.tenant_code, old.identifier, old.sender
            alert.msg_type, alert.references = old.msg_type, old.references
            self._prepare(alert)
            tx.execute("UPDATE al_alerts SET body = ?, cap_status = ?, topic = ?, severity = ?, send_at = ?, expires = ?,"
                       " updated = ?, version = version + 1 WHERE id = ?",
                       (alert.to_json(), alert.status, alert.topic, alert.severity, _iso(send_at), _iso(alert.expires),
                        self.clock.iso(), alert_id))
            self.audit.append(tx, by.actor, "alert.edit", f"alert:{alert_id}", tenant=row["tenant_code"],
                              before={"version": version}, after={"event": alert.event, "severity": alert.severity})

    def _move(self, tx: Tx, row: dict[str, Any], state: str, **extra: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in extra)
        cur = tx.execute(f"UPDATE al_alerts SET state = ?, updated = ?{', ' + sets if sets else ''}, version = version + 1"
                         " WHERE id = ? AND version = ?", (state, self.clock.iso(), *extra.values(), row["id"], row["version"]))
        if cur.rowcount != 1:
            raise Conflict("the alert changed meanwhile; reload it")

    def submit(self, by: Principal, alert_id: int) -> None:
        with self.db.transaction() as tx:
            row = self._row(tx, alert_id, by)
            self._composer(by, row["tenant_code"])
            if row["state"] != "draft":
                raise Conflict(f"the alert is {row['state']}, not a draft")
            self._move(tx, row, "pending")
            self.audit.append(tx, by.actor, "alert.submit", f"alert:{alert_id}", tenant=row["tenant_code"])

    def reject(self, by: Principal, alert_id: int, reason: str) -> None:
        with self.db.transaction() as tx:
            row = self._row(tx, alert_id, by)
            if not by.has("alert_approver") or row["state"] != "pending":
                raise Forbidden("only an approver can send a pending alert back")
            self._move(tx, row, "draft")
            self.audit.append(tx, by.actor, "alert.reject", f"alert:{alert_id}", tenant=row["tenant_code"],
                              after={"reason": reason})

    # -- sending ----------------------------------------------------------------------------------------
    def approve(self, by: Principal, alert_id: int) -> int:
        """Second person approves: the outbox rows are written now (or at send_at). Returns rows queued."""
        with self.db.transaction() as tx:
            row = self._row(tx, alert_id, by)
            if not by.has("alert_approver") or (not by.is_system and by.tenant_code != row["tenant_code"]):
                raise Forbidden("approving alerts needs the alert approver role in this municipality")
            if by.actor == row["composer"]:
                raise Forbidden("a second person must approve: the composer cannot approve their own alert")
            if row["state"] != "pending":
                raise Conflict(f"the alert is {row['state']}; only submitted alerts can be approved")
            queued = self._dispatch(tx, row, by.actor)
            self.audit.append(tx, by.actor, "alert.approve", f"alert:{alert_id}", tenant=row["tenant_code"],
                              after={"queued": queued, "state": tx.scalar("SELECT state FROM al_alerts WHERE id = ?",
                                                                          (alert_id,))})
        self._refresh_stats(queued)
        self._queued(queued)
        return queued

    def _refresh_stats(self, queued: int) -> None:
        """After a big send is queued, PostgreSQL gets fresh statistics now rather than when autovacuum
        comes by: otherwise the first claims plan for an empty outbox and sort every row."""
        if queued >= 1000 and self.db.dialect == "postgresql":
            with self.db.transaction() as tx:
                for table in ("al_outbox", "al_contacts", "al_subscribers"):
                    tx.execute(f"ANALYZE {table}")

    def _dispatch(self, tx: Tx, row: dict[str, Any], approver: str) -> int:
        now = self.clock.now()
        if row["send_at"] and datetime.fromisoformat(row["send_at"]) > now:
            self._move(tx, row, "scheduled", approver=approver)
            return 0
        alert = Alert.from_json(row["body"])
        alert.sent = now
        tx.execute("UPDATE al_alerts SET body = ? WHERE id = ?", (alert.to_json(), row["id"]))
        if alert.msg_type == "Cancel" and row["refers_to"]:
            # exactly who was told: recipients of the alert and of every alert it updated (unique rows dedupe)
            queued = sum(self.targeting.queue(tx, row["id"], alert, now, recipients_of=earlier)
                         for earlier in self._chain(tx, row["refers_to"]))
        else:
            queued = self.targeting.queue(tx, row["id"], alert, now)
        self._move(tx, row, "sending", approver=approver)
        if alert.msg_type == "Update" and row["refers_to"]:
            _stop_queued(tx, row["refers_to"])
            tx.execute("UPDATE al_alerts SET state = 'superseded', updated = ? WHERE id = ? AND state IN ('sending', 'sent')",
                       (self.clock.iso(), row["refers_to"]))
        return queued

    @staticmethod
    def _chain(tx: Tx, alert_id: int) -> list[int]:
        """The alert and the alerts it updated, newest first."""
        chain = [alert_id]
        while len(chain) < 100:
            earlier = tx.scalar("SELECT refers_to FROM al_alerts WHERE id = ?", (chain[-1],))
            if not earlier or earlier in chain:
                break
            chain.append(earlier)
        return chain

    def _supersede(self, tx: Tx, alert_id: int) -> None:
        _stop_queued(tx, alert_id)
        tx.execute("UPDATE al_alerts SET state = 'superseded', updated = ?, version = version + 1 WHERE id = ?"
                   f" AND state IN ({', '.join('?' for _ in (*OPEN_STATES, 'sent'))})",
                   (self.clock.iso(), alert_id, *OPEN_STATES, "sent"))

    def ingest(self, by: Principal, alert: Alert, source: str, *, refers_to: int | None = None) -> tuple[int, str]:
        """A machine source (JMA, CAP feed, API client): drills go to staff at once, rules may send at once,
        anything else waits for an approver. The same identifier twice is the same alert. → (id, state)

        With `refers_to` the alert is an Update or Cancel of that alert (same tenant): an Update supersedes it
        (now if it was never sent, else when the update is sent); a Cancel goes to whoever it reached."""
        if not (by.is_system or (by.purpose == "receiver" and by.tenant_code == alert.tenant_code)):
            raise Forbidden("only the hub's feeds and receiver API keys may submit machine alerts")
        self._prepare(alert)
        with self.db.transaction() as tx:
            known = tx.one("SELECT id, state FROM al_alerts WHERE identifier = ?", (alert.identifier,))
            if known:
                return known["id"], known["state"]
            if refers_to is not None:
                earlier = self._row(tx, refers_to, None)
                if earlier["tenant_code"] != alert.tenant_code or alert.msg_type == "Alert":
                    raise Invalid("an update or cancel must be of the same municipality and say so (msgType)")
            rules = tx.query("SELECT id, min_severity FROM al_rules WHERE tenant_code = ? AND source = ?"
                             " AND topic IN (?, '*')", (alert.tenant_code, source, alert.topic))
            rule = next((r for r in rules if severity_rank(alert.severity) >= severity_rank(r["min_severity"])), None)
            alert_id = self._insert(tx, alert, "pending", source, by.actor, None, refers_to=refers_to)
            if refers_to is not None and alert.msg_type == "Update" and earlier["state"] in UNTOLD_STATES:
                self._supersede(tx, refers_to)  # never sent: the update alone is what counts now
            row = self._row(tx, alert_id, None)
            auto = "staff-only" if alert.status != "Actual" else (f"rule:{rule['id']}" if rule else None)
            queued = self._dispatch(tx, row, auto) if auto else 0
            self.audit.append(tx, by.actor, "alert.ingest", f"alert:{alert_id}", tenant=alert.tenant_code,
                              after={"identifier": alert.identifier, "source": source, "auto": auto,
                                     "refers_to": refers_to})
            state = tx.scalar("SELECT state FROM al_alerts WHERE id = ?", (alert_id,))
        self._queued(queued)
        return alert_id, state

    def supersede(self, by: Principal, alert_id: int) -> None:
        """The alert gives way to something that is not mailed (e.g. a warning downgraded to a feed-only
        advisory): queued messages stop, the alert leaves the public feeds."""
        with self.db.transaction() as tx:
            row = self._row(tx, alert_id, by)
            self._supersede(tx, alert_id)
            self.audit.append(tx, by.actor, "alert.supersede", f"alert:{alert_id}", tenant=row["tenant_code"],
                              after={"state_before": row["state"]})

    def set_rule(self, by: Principal, tenant_code: str, source: str, topic: str, min_severity: str) -> None:
        if not by.admin_of(tenant_code):
            raise Forbidden("only an admin of this tenant can set automatic sending rules")
        if topic != "*" and topic not in TOPICS:
            raise Invalid(f"unknown topic {topic!r}")
        if min_severity not in SEVERITIES:
            raise Invalid(f"severity must be one of {', '.join(SEVERITIES)}")
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM al_rules WHERE tenant_code = ? AND source = ? AND topic = ?", (tenant_code, source, topic))
            tx.execute("INSERT INTO al_rules (tenant_code, source, topic, min_severity, created) VALUES (?, ?, ?, ?, ?)",
                       (tenant_code, source, topic, min_severity, self.clock.iso()))
            self.audit.append(tx, by.actor, "alert.rule.set", f"rule:{tenant_code}/{source}/{topic}", tenant=tenant_code,
                              after={"min_severity": min_severity})

    # -- update, cancel, expiry ---------------------------------------------------------------------------
    def update_of(self, by: Principal, alert_id: int, alert: Alert) -> int:
        """A draft Update of a sent alert (CAP msgType Update, referencing it); it replaces it when sent."""
        original = self.get(alert_id, by)
        old = original.alert
        alert.msg_type, alert.tenant_code = "Update", original.tenant_code
        alert.references = [*old.references, CapReference(old.sender, old.identifier, _cap_time(old.sent))]
        self._composer(by, alert.tenant_code)
        self._prepare(alert)
        with self.db.transaction() as tx:
            new_id = self._insert(tx, alert, "draft", "staff", by.actor, None, refers_to=alert_id)
            self.audit.append(tx, by.actor, "alert.update", f"alert:{new_id}", tenant=alert.tenant_code,
                              after={"refers_to": alert_id})
        return new_id

    def cancel(self, by: Principal, alert_id: int, notice: AlertText | None = None) -> int | None:
        """Stop an alert now (no second person needed to stop). With a notice, a Cancel message for everyone
        who already got it is submitted for approval; its id is returned."""
        with self.db.transaction() as tx:
            row = self._row(tx, alert_id, by)
            if not (by.has("alert_composer") or by.has("alert_approver")):
                raise Forbidden("cancelling alerts needs the composer or approver role")
            if row["state"] not in (*OPEN_STATES, "sent"):
                raise Conflict(f"the alert is {row['state']} already")
            stopped = _stop_queued(tx, alert_id)
            self._move(tx, row, "cancelled")
            notice_id = None
            if notice and row["state"] in ("sending", "sent"):
                old = Alert.from_json(row["body"])
                msg = Alert(tenant_code=old.tenant_code, topic=old.topic, event=old.event, texts={"ja": notice},
                            areas=old.areas, urgency="Past", severity=old.severity, certainty=old.certainty,
                            status=old.status, msg_type="Cancel", sender_name=old.sender_name,
                            references=[CapReference(old.sender, old.identifier, _cap_time(old.sent))])
                self._prepare(msg)
                notice_id = self._insert(tx, msg, "pending", "staff", by.actor, None, refers_to=alert_id)
            self.audit.append(tx, by.actor, "alert.cancel", f"alert:{alert_id}", tenant=row["tenant_code"],
                              after={"stopped": stopped, "notice": notice_id})
        return notice_id

    def run_due(self) -> dict[str, int]:
        """Scheduled sends whose time has come, expiry, and sends that have finished (the scheduler calls this)."""
        now = self.clock.iso()
        done = {"started": 0, "expired": 0, "finished": 0}
        queued = 0
        with self.db.transaction() as tx:
            for row in tx.query("SELECT * FROM al_alerts WHERE state = 'scheduled' AND send_at <= ?", (now,)):
                self._move(tx, row, "pending")
                queued += self._dispatch(tx, self._row(tx, row["id"], None), row["approver"])
                done["started"] += 1
            for row in tx.query("SELECT id FROM al_alerts WHERE state IN ('pending', 'scheduled', 'sending')"
                                " AND expires IS NOT NULL AND expires <= ?", (now,)):
                tx.execute("UPDATE al_outbox SET state = 'expired' WHERE alert_id = ? AND state = 'queued'", (row["id"],))
                tx.execute("UPDATE al_alerts SET state = 'expired', updated = ? WHERE id = ?", (now, row["id"]))
                done["expired"] += 1
            done["finished"] = tx.execute(
                "UPDATE al_alerts SET state = 'sent', updated = ? WHERE state = 'sending' AND NOT EXISTS"
                " (SELECT 1 FROM al_outbox o WHERE o.alert_id = al_alerts.id AND o.state = 'queued')", (now,)).rowcount
        self._queued(queued)
        return done


def _stop_queued(tx: Tx, alert_id: int) -> int:
    """Queued messages of an alert are not sent. A row a worker holds (lease_owner set) may be on the wire
    already: it keeps its owner, so a later Cancel still counts its subscriber as reached (targeting.queue)."""
    return tx.execute("UPDATE al_outbox SET state = 'cancelled' WHERE alert_id = ? AND state = 'queued'",
                      (alert_id,)).rowcount


def _cap_time(d: datetime | None) -> str:
    from alerts.model import JST

    return (d or datetime.now(JST)).astimezone(JST).replace(microsecond=0).isoformat()
