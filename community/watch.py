"""Watch-over and school-commute notices (見守り・登下校メール). An authorised system (API key purpose
'watch': a school gate card reader, an elderly watch-over terminal) posts an event for a person; the guardians
registered for that person are notified at once, but only those confirmed by the person (a one-time code the
watch system shows the person, never the guardian) or by the school/municipality. People are known only by a keyed hash of the other system's id."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from alerts.model import JST
from alerts.personal import queue_personal
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import Principal

KINDS = {"arrived": "到着しました", "left": "出発しました", "entered": "入りました", "exited": "出ました",
         "alert": "見守り端末から通知がありました", "no_activity": "一定時間、動きが確認できません"}


class WatchOver:
    def __init__(self, alerts: Any, secret: str) -> None:
        self.al = alerts
        self.db, self.clock, self.audit, self.sealer = alerts.db, alerts.clock, alerts.audit, alerts.sealer
        self._key = hashlib.sha256(b"community-watch:" + secret.encode()).digest()

    def person_hash(self, tenant_code: str, person_id: str) -> str:
        return hmac.new(self._key, f"{tenant_code}:{person_id.strip()}".encode(), hashlib.sha256).hexdigest()

    def _code(self, code: str) -> str:
        return hmac.new(self._key, f"code:{code.strip()}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _authority(by: Principal, tenant_code: str) -> None:
        """The school or the municipality: its admin, alert staff, or the watch system's API key."""
        if not (by.admin_of(tenant_code) or (by.tenant_code == tenant_code and (
                by.purpose == "watch" or by.has("alert_composer")))):
            raise Forbidden("only the school, the municipality or its watch-over system may do this")

    def register(self, sid: int, tenant_code: str, person_id: str, label: str = "") -> int:
        """A guardian (subscriber) asks to be notified about a person: unconfirmed until the person or the
        school confirms. → the guardian id. The guardian never gets a confirmation code: the person gets one
        through the watch system (`issue_codes`), so nobody can confirm themselves."""
        if not person_id.strip():
            raise Invalid("say whom to watch over")
        with self.db.transaction() as tx:
            ph = self.person_hash(tenant_code, person_id)
            tx.execute("DELETE FROM cm_watch_guardians WHERE tenant_code = ? AND person_hash = ? AND subscriber_id = ?"
                       " AND confirmed IS NULL", (tenant_code, ph, sid))
            return tx.insert("INSERT INTO cm_watch_guardians (tenant_code, person_hash, subscriber_id, label, created)"
                             " VALUES (?, ?, ?, ?, ?)", (tenant_code, ph, sid, label[:60], self.clock.iso()))

    def issue_codes(self, by: Principal, person_id: str) -> list[dict[str, Any]]:
        """The watch system (its API key) asks for the person's pending registrations and shows the person
        each one with a fresh one-time code; the person enters it only if they agree. Issuing again replaces
        older codes."""
        tenant = str(by.tenant_code)
        if by.purpose != "watch":
            raise Forbidden("only a watch-over system's API key may fetch confirmation codes")
        if not person_id.strip():
            raise Invalid("say whose registrations to fetch (person_id)")
        out = []
        with self.db.transaction() as tx:
            rows = tx.query("SELECT id, label, created FROM cm_watch_guardians WHERE tenant_code = ?"
                            " AND person_hash = ? AND confirmed IS NULL ORDER BY id",
                            (tenant, self.person_hash(tenant, person_id)))
            for r in rows:
                code = self._free_code(tx)
                tx.execute("UPDATE cm_watch_guardians SET code_hash = ? WHERE id = ?", (self._code(code), r["id"]))
                out.append({"guardian": r["id"], "label": r["label"], "registered": r["created"], "code": code})
            self.audit.append(tx, by.actor, "community.watch.codes", f"watch:{tenant}", tenant=tenant,
                              after={"codes": len(out)})
        return out

    def _free_code(self, tx: Any) -> str:
        """8 digits no other open registration (of any town) holds; the unique index is the backstop."""
        for _ in range(20):
            code = f"{secrets.randbelow(10**8):08d}"
            if not tx.scalar("SELECT id FROM cm_watch_guardians WHERE code_hash = ?", (self._code(code),)):
                return code
        raise Conflict("no free confirmation code; try again")

    def mine(self, sid: int, tenant_code: str) -> list[dict[str, Any]]:
        """A guardian's own registrations and whether each is confirmed (the person stays a hash)."""
        with self.db.read() as tx:
            return tx.query("SELECT id, label, created, confirmed, confirmed_by FROM cm_watch_guardians"
                            " WHERE tenant_code = ? AND subscriber_id = ? ORDER BY id", (tenant_code, sid))

    def confirm_by_person(self, code: str, by_sid: int | None = None) -> None:
        """The person confirms with the code the watch system showed them. `by_sid` is the resident whose
        settings link came with the request: the guardian may not confirm their own registration."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT id, subscriber_id FROM cm_watch_guardians WHERE code_hash = ? AND confirmed IS NULL",
                         (self._code(code),))
            if not row:
                raise NotFound("this confirmation code is unknown or used")
            if by_sid is not None and int(row["subscriber_id"]) == by_sid:
                raise Forbidden("a guardian cannot confirm their own registration")
            tx.execute("UPDATE cm_watch_guardians SET confirmed = ?, confirmed_by = 'person', code_hash = NULL"
                       " WHERE id = ?", (self.clock.iso(), row["id"]))

    def confirm_by_school(self, by: Principal, guardian_id: int) -> None:
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM cm_watch_guardians WHERE id = ?", (guardian_id,))
            if not row:
                raise NotFound(f"no guardian {guardian_id}")
            self._authority(by, row["tenant_code"])
            if row["confirmed"]:
                raise Conflict("this guardian is confirmed already")
            tx.execute("UPDATE cm_watch_guardians SET confirmed = ?, confirmed_by = ?, code_hash = NULL WHERE id = ?",
                       (self.clock.iso(), by.actor, guardian_id))
            self.audit.append(tx, by.actor, "community.watch.confirm", f"guardian:{guardian_id}",
                              tenant=row["tenant_code"])

    def guardians(self, by: Principal, tenant_code: str) -> list[dict[str, Any]]:
        """Registered guardians, unconfirmed first (the school's confirmation list). People stay hashes."""
        self._authority(by, tenant_code)
        with self.db.read() as tx:
            return tx.query("SELECT id, subscriber_id, label, created, confirmed, confirmed_by FROM cm_watch_guardians"
                            " WHERE tenant_code = ? ORDER BY (confirmed IS NOT NULL), id DESC LIMIT 500", (tenant_code,))

    def revoke(self, by: Principal, guardian_id: int) -> None:
        with self.db.transaction() as tx:
            row = tx.one("SELECT tenant_code FROM cm_watch_guardians WHERE id = ?", (guardian_id,))
            if not row:
                raise NotFound(f"no guardian {guardian_id}")
            self._authority(by, row["tenant_code"])
            tx.execute("DELETE FROM cm_watch_guardians WHERE id = ?", (guardian_id,))
            self.audit.append(tx, by.actor, "community.watch.revoke", f"guardian:{guardian_id}",
                              tenant=row["tenant_code"])

    def event(self, by: Principal, event: dict[str, Any]) -> int:
        """One event from the watch system → notices queued at top priority (0 if nobody is confirmed).
        The same event id twice is one event."""
        tenant = str(by.tenant_code)
        if by.purpose != "watch":
            raise Forbidden("only a watch-over system's API key may post events")
        person, ref = str(event.get("person_id") or "").strip(), str(event.get("event_id") or "").strip()
        kind = str(event.get("kind") or "")
        if not person or not ref or kind not in KINDS:
            raise Invalid(f"an event needs person_id, event_id and kind ({', '.join(KINDS)})")
        try:
            at = datetime.fromisoformat(str(event.get("at"))) if event.get("at") else self.clock.now()
        except ValueError as exc:
            raise Invalid("at must be an ISO-8601 time") from exc
        place = str(event.get("place") or "").strip()[:60]
        ph = self.person_hash(tenant, person)
        with self.db.transaction() as tx:
            if tx.scalar("SELECT id FROM cm_watch_events WHERE tenant_code = ? AND source = ? AND event_ref = ?",
                         (tenant, by.actor, ref)):
                return 0
            guardians = tx.query("SELECT subscriber_id, label FROM cm_watch_guardians WHERE tenant_code = ?"
                                 " AND person_hash = ? AND confirmed IS NOT NULL ORDER BY id", (tenant, ph))
            local = at.astimezone(JST).strftime("%H:%M")
            queued = 0
            for g in guardians:
                who = g["label"] or "見守り対象の方"
                text = f"{local} {who}が{KINDS[kind]}" + (f"（{place}）" if place else "")
                queued += len(queue_personal(tx, self.sealer, self.clock, [g["subscriber_id"]], "watch",
                                             f"【見守り】{who}", text, priority=9, urgent=True))
            tx.execute("INSERT INTO cm_watch_events (tenant_code, event_ref, person_hash, source, kind, at, queued,"
                       " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (tenant, ref, ph, by.actor, kind, at.isoformat(), queued, self.clock.iso()))
        return queued
