"""Telegram → alerts: parse safely, validate, store every telegram (fd_telegrams), drop repeats and older
telegrams, map area codes to tenants, and hand each tenant's alert to the alert lifecycle (rules: send at once
or draft for approval) or keep it as a feed-only notice. A 訂正 or newer telegram that changes what residents
were told becomes a CAP Update that supersedes the alert of the same event; 取消 cancels it and tells exactly
those it reached. Drills (訓練/試験) become CAP Exercise/Test alerts, which go to staff only."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.lifecycle import OPEN_STATES
from alerts.model import JST, Alert, AlertArea, AlertText
from feeds.cap import CapReference, parse_cap
from feeds.jma import parse_jma
from feeds.jma_model import JmaTelegram
from feeds.jma_rules import DRAFT, FEED, Plan, plan_telegram
from feeds.resident_text import resident_texts
from feeds.schema import create_feeds_schema
from machihub.errors import HubError, Invalid
from machihub.principal import SYSTEM, Principal

log = logging.getLogger("machihub.feeds")

# (topic, min severity) per tenant and source ('jma', 'cap'): what is sent at once without a second person
DEFAULT_RULES = (("weather", "Extreme"), ("quake", "Severe"), ("evacuation", "Extreme"))


@dataclass
class IngestResult:
    telegram_id: int | None
    outcome: str                     # accepted | duplicate | older | invalid | refused
    detail: str = ""
    alerts: list[tuple[str, int, str]] = field(default_factory=list)   # (tenant, alert id, state)
    notices: list[tuple[str, int]] = field(default_factory=list)


def _utc(d: datetime | None) -> str | None:
    return d.astimezone(UTC).isoformat(timespec="seconds") if d else None


SEISMIC = frozenset({"VXSE51", "VXSE52", "VXSE53"})  # 震度速報, 震源に関する情報, 震源・震度に関する情報


def event_key(t: JmaTelegram) -> str:
    """Telegrams of one event: JMA's EventID per title; warnings (no EventID) per title and office. The
    earthquake reports share the quake's EventID under three titles: one event, so a later report updates."""
    if t.type_code in SEISMIC and t.event_id:
        return f"地震情報|{t.event_id}"
    return f"{t.control_title}|{t.event_id or t.editorial_office}"


class FeedIngest:
    def __init__(self, hub: Any, *, inland: frozenset[str] = frozenset(), max_bytes: int = 2 << 20) -> None:
        self.hub, self.inland, self.max_bytes = hub, inland, max_bytes
        with hub.db.transaction() as tx:
            create_feeds_schema(tx)
        self._ruled: set[tuple[str, str]] = set()

    # -- telegram log -------------------------------------------------------------------------------------
    def _seen(self, digest: str) -> int | None:
        with self.hub.db.transaction() as tx:
            row = tx.one("SELECT id FROM fd_telegrams WHERE hash = ?", (digest,))
            if row:
                tx.execute("UPDATE fd_telegrams SET seen = seen + 1 WHERE id = ?", (row["id"],))
                return int(row["id"])
        return None

    def _store(self, raw: bytes, digest: str, source: str, kind: str, outcome: str, detail: str = "",
               t: JmaTelegram | None = None, **extra: Any) -> int:
        cols = {"hash": digest, "source": source, "kind": kind, "outcome": outcome, "detail": detail[:1000],
                "raw": raw.decode("utf-8", "replace"), "received": self.hub.clock.iso(), **extra}
        if t is not None:
            cols |= {"type_code": t.type_code, "title": t.control_title, "status": t.status, "info_type": t.info_type,
                     "event_key": event_key(t), "event_id": t.event_id, "serial": t.serial,
                     "report_dt": _utc(t.report_datetime), "headline": t.headline[:2000], "is_drill": int(t.is_drill)}
        with self.hub.db.transaction() as tx:
            return tx.insert(f"INSERT INTO fd_telegrams ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                             tuple(cols.values()))

    def _finish(self, telegram_id: int, outcome: str, detail: str) -> None:
        with self.hub.db.transaction() as tx:
            tx.execute("UPDATE fd_telegrams SET outcome = ?, detail = ? WHERE id = ?", (outcome, detail[:1000], telegram_id))

    def _failed(self, telegram_id: int, detail: str) -> None:
        """Kept for staff as 'error', under a hash of its own: the same bytes arriving again are tried again
        (each town's step is idempotent: towns already handled see nothing new)."""
        with self.hub.db.transaction() as tx:
            tx.execute("UPDATE fd_telegrams SET outcome = 'error', detail = ?, hash = hash || ? WHERE id = ?",
                       (detail[:1000], f":error:{telegram_id}", telegram_id))

    def _is_stale(self, t: JmaTelegram) -> bool:
        with self.hub.db.read() as tx:
            rows = tx.query("SELECT report_dt, serial FROM fd_telegrams WHERE event_key = ? AND outcome = 'accepted'"
                            " AND status = ?", (event_key(t), t.status))
        mine = (_utc(t.report_datetime) or "", _serial(t.serial))
        return any((r["report_dt"] or "", _serial(r["serial"])) >= mine for r in rows)

    def telegrams(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.hub.db.read() as tx:
            return tx.query("SELECT id, source, kind, type_code, title, status, info_type, event_id, serial, report_dt,"
                            " headline, is_drill, outcome, detail, seen, received FROM fd_telegrams ORDER BY id DESC"
                            " LIMIT ?", (limit,))

    # -- JMA --------------------------------------------------------------------------------------------------
    def ingest_jma(self, raw: bytes, source: str = "jma") -> IngestResult:
        digest = hashlib.sha256(raw).hexdigest()
        known = self._seen(digest)
        if known:
            return IngestResult(known, "duplicate", "this telegram was received before")
        try:
            t = parse_jma(raw, max_bytes=self.max_bytes)
        except Invalid as exc:
            return IngestResult(self._store(raw, digest, source, "jma", "invalid", exc.message), "invalid", exc.message)
        if self._is_stale(t):
            tid = self._store(raw, digest, source, "jma", "older", "a newer telegram of this event was received", t)
            return IngestResult(tid, "older", "a newer telegram of this event was received")
        tid = self._store(raw, digest, source, "jma", "accepted", "", t)
        result = IngestResult(tid, "accepted")
        try:
            self._apply(t, tid, result)
        except HubError as exc:
            result.detail = exc.message
        except Exception as exc:  # a bug must not pass for "accepted": staff see it, a re-delivery retries it
            log.exception("telegram %s could not be applied", tid)
            self._failed(tid, f"internal error: {type(exc).__name__}: {exc}")
            return IngestResult(tid, "error", f"internal error: {type(exc).__name__}: {exc}")
        self._finish(tid, "accepted", result.detail or _summary(result))
        return result

    def _apply(self, t: JmaTelegram, tid: int, result: IngestResult) -> None:
        key = event_key(t)
        with self.hub.db.read() as tx:
            prior = {r["tenant_code"]: r for r in tx.query("SELECT * FROM fd_events WHERE event_key = ?", (key,))}
        if t.is_cancellation:
            for row in prior.values():
                self._withdraw(row, t, tid, f"{t.title}は取り消されました。", "JMA withdrew this information.",
                               "withdrawn")
            result.detail = f"cancelled {len(prior)} tenant alert(s)"
            return
        plans = {p.tenant_code: p for p in plan_telegram(t, self.hub.tenants.list(), self.inland)}
        for code, row in prior.items():
            # lifted for this town; a quake is not lifted: a later report naming other towns does not undo it
            if code not in plans and t.type_code not in SEISMIC:
                self._withdraw(row, t, tid, f"{t.title}：{self.hub.tenants.get(code).name}の情報は解除されました。",
                               "The warning for this town has been lifted.", "lifted")
        for code, plan in plans.items():
            row = prior.get(code)
            if row and row["signature"] == plan.signature and t.info_type != "訂正":
                self._link(key, code, row["alert_id"], row["notice_id"], plan.signature, tid)
                continue  # nothing new for residents
            alert = self._alert(t, plan)
            refers_to = self._as_update(row, alert) if row else None
            if plan.action == FEED:
                if refers_to is not None:  # downgraded to feed-only: the alert gives way to the notice
                    self.hub.alerts.lifecycle.supersede(SYSTEM, refers_to)
                nid = self._notice(alert)
                self._link(key, code, None, nid, plan.signature, tid)
                result.notices.append((code, nid))
                continue
            self._ensure_rules(code)
            if plan.action == DRAFT and alert.severity in ("Extreme",):
                alert.severity = "Severe"
            aid, state = self.hub.alerts.lifecycle.ingest(SYSTEM, alert, "jma", refers_to=refers_to)
            self._link(key, code, aid, None, plan.signature, tid)
            result.alerts.append((code, aid, state))

    def _as_update(self, row: dict[str, Any], alert: Alert) -> int | None:
        """Make `alert` a CAP Update of what the event had so far; returns the alert it supersedes, if any."""
        earlier: Alert | None = None
        refers_to = None
        if row["notice_id"]:
            with self.hub.db.transaction() as tx:
                body = tx.scalar("SELECT body FROM fd_notices WHERE id = ?", (row["notice_id"],))
                tx.execute("UPDATE fd_notices SET state = 'superseded' WHERE id = ?", (row["notice_id"],))
            earlier = Alert.from_json(body) if body else None
        if row["alert_id"]:
            rec = self.hub.alerts.lifecycle.get(row["alert_id"])
            if rec.state in (*OPEN_STATES, "sent"):
                earlier, refers_to = rec.alert, rec.id
        if earlier is not None:
            alert.msg_type = "Update"
            alert.references = [*earlier.references, CapReference(earlier.sender, earlier.identifier,
                                                                   _cap_time(earlier.sent))]
        return refers_to

    def _alert(self, t: JmaTelegram, plan: Plan) -> Alert:
        tenant = self.hub.tenants.get(plan.tenant_code)
        area = AlertArea(desc=tenant.name, geocodes=[("JIS-X0402", tenant.code)])
        if tenant.boundary is not None:
            simple = tenant.boundary.simplify(0.001)
            polys = list(getattr(simple, "geoms", [simple]))  # a slice of .geoms is a MultiPolygon again
            area.polygons = [[(round(y, 5), round(x, 5)) for x, y in p.exterior.coords] for p in polys[:5]]
        status = {"訓練": "Exercise", "試験": "Test"}.get(t.status, "Actual")
        digest = hashlib.sha256(f"{event_key(t)}|{t.serial}|{_utc(t.report_datetime)}|{t.info_type}".encode()).hexdigest()
        return Alert(tenant_code=tenant.code, topic=plan.topic, event=plan.event, status=status,
                     texts={"ja": AlertText(headline=plan.ja, description=t.headline, instruction=""),
                            "en": AlertText(headline=plan.en, description=""),
                            **_texts(plan.kind, tenant, plan.intensity)},
                     areas=[area], urgency=plan.urgency, severity=plan.severity, certainty=plan.certainty,
                     identifier=f"jma-{tenant.code}-{digest[:24]}",
                     sender=f"machihub.{tenant.code}@{self.hub.alerts.config.mail_domain}", sent=t.report_datetime.astimezone(JST),
                     sender_name=t.editorial_office, note=f"JMA {t.type_code or t.control_title} {t.info_type}"
                     + (" (drill)" if t.is_drill else ""))

    def _ensure_rules(self, code: str, source: str = "jma") -> None:
        """Install the default rules of a source for a tenant that has none (admins change them later)."""
        if (code, source) in self._ruled:
            return
        with self.hub.db.read() as tx:
            has = tx.scalar("SELECT count(*) FROM al_rules WHERE tenant_code = ? AND source = ?", (code, source))
        if not has:
            for topic, severity in DEFAULT_RULES:
                self.hub.alerts.lifecycle.set_rule(SYSTEM, code, source, topic, severity)
        self._ruled.add((code, source))

    def _notice(self, alert: Alert) -> int:
        now = self.hub.clock.iso()
        with self.hub.db.transaction() as tx:
            return tx.insert("INSERT INTO fd_notices (tenant_code, topic, identifier, body, created, updated)"
                             " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (identifier) DO UPDATE SET updated = excluded.updated",
                             (alert.tenant_code, alert.topic, alert.identifier, alert.to_json(), now, now))

    def _link(self, key: str, code: str, alert_id: int | None, notice_id: int | None, sig: str, tid: int) -> None:
        with self.hub.db.transaction() as tx:
            tx.execute("DELETE FROM fd_events WHERE event_key = ? AND tenant_code = ?", (key, code))
            tx.execute("INSERT INTO fd_events (event_key, tenant_code, alert_id, notice_id, signature, telegram_id,"
                       " updated) VALUES (?, ?, ?, ?, ?, ?, ?)", (key, code, alert_id, notice_id, sig, tid,
                                                                  self.hub.clock.iso()))

    def _withdraw(self, row: dict[str, Any], t: JmaTelegram, tid: int, ja: str, en: str, kind: str) -> None:
        """取消, or lifted for this town: the event's alert stops; whoever it reached gets a CAP Cancel."""
        if row["notice_id"]:
            with self.hub.db.transaction() as tx:
                tx.execute("UPDATE fd_notices SET state = 'withdrawn' WHERE id = ?", (row["notice_id"],))
        if row["alert_id"]:
            rec = self.hub.alerts.lifecycle.get(row["alert_id"])
            if rec.state in (*OPEN_STATES, "sent"):
                self.hub.alerts.lifecycle.cancel(SYSTEM, rec.id)
            if rec.state in ("sending", "sent"):  # residents were told: tell the same people it is withdrawn
                old = rec.alert
                msg = Alert(tenant_code=old.tenant_code, topic=old.topic, event=old.event, status=old.status,
                            texts={"ja": AlertText(headline=ja), "en": AlertText(headline=en),
                                   **_texts(kind, self.hub.tenants.get(old.tenant_code))}, areas=old.areas,
                            urgency="Past", severity=old.severity, certainty=old.certainty, msg_type="Cancel",
                            identifier=old.identifier + f"-c{tid}", sender_name=old.sender_name,
                            references=[*old.references, CapReference(old.sender, old.identifier, _cap_time(old.sent))])
                self._ensure_rules(old.tenant_code)
                self.hub.alerts.lifecycle.ingest(SYSTEM, msg, "jma", refers_to=rec.id)
        with self.hub.db.transaction() as tx:
            tx.execute("DELETE FROM fd_events WHERE id = ?", (row["id"],))

    # -- CAP 1.2 ------------------------------------------------------------------------------------------------
    def ingest_cap(self, raw: bytes, tenant_code: str, source: str = "cap", by: Principal = SYSTEM) -> IngestResult:
        """A CAP 1.2 alert for one tenant (push or polled index). CAP 1.1 and unknown documents are refused."""
        digest = hashlib.sha256(raw).hexdigest()
        known = self._seen(digest)
        if known:
            return IngestResult(known, "duplicate", "this CAP alert was received before")
        try:
            cap = parse_cap(raw, max_bytes=self.max_bytes)
            tenant_code = tenant_code or self._cap_tenant(cap)
            alert = Alert.from_cap(cap, tenant_code)
        except Invalid as exc:
            return IngestResult(self._store(raw, digest, source, "cap", "refused", exc.message), "refused", exc.message)
        tid = self._store(raw, digest, source, "cap", "accepted", "", None, title=cap.infos[0].event,
                          status=cap.status, info_type=cap.msg_type, event_id=cap.identifier,
                          report_dt=_utc(cap.sent), headline=alert.texts[next(iter(alert.texts))].headline,
                          is_drill=int(alert.is_drill))
        try:
            self._ensure_rules(tenant_code, "cap")
            aid, state = self.hub.alerts.lifecycle.ingest(by, alert, "cap")  # rules are per kind of source
        except HubError as exc:
            self._finish(tid, "refused", exc.message)
            return IngestResult(tid, "refused", exc.message)
        result = IngestResult(tid, "accepted", alerts=[(tenant_code, aid, state)])
        self._finish(tid, "accepted", _summary(result))
        return result

    def _cap_tenant(self, cap: Any) -> str:
        ours = {t.code for t in self.hub.tenants.list()}
        for info in cap.infos:
            for area in info.areas:
                for name, value in area.geocodes:
                    if name == "JIS-X0402" and value[:5] in ours:
                        return value[:5]
        raise Invalid("the CAP alert names no municipality of this hub (geocode JIS-X0402)")


def _texts(kind: str, tenant: Any, intensity: str = "") -> dict[str, AlertText]:
    """The plan's texts in the other languages residents choose (feeds.resident_text)."""
    return {lang: AlertText(headline=h, instruction=i)
            for lang, (h, i) in resident_texts(kind, tenant.name, tenant.name_en or tenant.name, intensity).items()}


def _serial(s: str | None) -> int:
    return int(s) if s and s.isdigit() else 0


def _cap_time(d: datetime | None) -> str:
    return (d or datetime.now(JST)).astimezone(JST).replace(microsecond=0).isoformat()


def _summary(r: IngestResult) -> str:
    return "; ".join([f"{c}: alert {a} {s}" for c, a, s in r.alerts] + [f"{c}: feed notice {n}" for c, n in r.notices])
