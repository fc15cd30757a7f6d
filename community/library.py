"""Library holds (図書館予約の到着通知). The ILS (API key purpose 'ils', HMAC-signed REST or a CSV batch)
reports holds ready, collected or cancelled. Patrons link their card to their alert subscription with a
one-time code the ILS issues. The notice names branch and deadline, not the title unless the patron opted
in; one reminder goes the day before the deadline; a collected or cancelled hold stops it. Patrons who are
not linked are reported back so library staff can phone them."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from alerts.model import JST
from alerts.personal import cancel_queued, queue_personal
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import Principal

EVENTS = ("ready", "collected", "cancelled")


class LibraryHolds:
    def __init__(self, alerts: Any, secret: str) -> None:
        self.al = alerts
        self.db, self.clock, self.audit, self.sealer = alerts.db, alerts.clock, alerts.audit, alerts.sealer
        self._key = hashlib.sha256(b"community-patron:" + secret.encode()).digest()

    def patron_hash(self, tenant_code: str, patron_id: str) -> str:
        return hmac.new(self._key, f"{tenant_code}:{patron_id.strip()}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _ils(by: Principal, tenant_code: str) -> None:
        if not ((by.purpose == "ils" and by.tenant_code == tenant_code) or by.is_system):
            raise Forbidden("only the library system's API key of this municipality may do this")

    # -- linking ----------------------------------------------------------------------------------------
    def link_code(self, by: Principal, patron_id: str, hours: int = 72) -> str:
        """A one-time code the ILS shows the patron (OPAC 'My account') or sends them."""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        code = f"{secrets.randbelow(10**8):08d}"
        expires = (self.clock.now() + timedelta(hours=hours)).isoformat()
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO cm_link_codes (code_hash, tenant_code, patron_hash, expires) VALUES (?, ?, ?, ?)",
                       (self._code(tenant, code), tenant, self.patron_hash(tenant, patron_id), expires))
        return code

    def _code(self, tenant_code: str, code: str) -> str:
        return hmac.new(self._key, f"code:{tenant_code}:{code.strip()}".encode(), hashlib.sha256).hexdigest()

    def link(self, sid: int, tenant_code: str, code: str, *, show_titles: bool = False) -> None:
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM cm_link_codes WHERE code_hash = ? AND expires > ?",
                         (self._code(tenant_code, code), self.clock.iso()))
            if not row:
                raise NotFound("this library code is unknown or expired; ask the library for a new one")
            tx.execute("DELETE FROM cm_link_codes WHERE code_hash = ?", (row["code_hash"],))
            tx.execute("DELETE FROM cm_library_links WHERE tenant_code = ? AND patron_hash = ?",
                       (tenant_code, row["patron_hash"]))
            tx.execute("INSERT INTO cm_library_links (tenant_code, patron_hash, subscriber_id, show_titles, created)"
                       " VALUES (?, ?, ?, ?, ?)", (tenant_code, row["patron_hash"], sid, int(show_titles), self.clock.iso()))

    def set_show_titles(self, sid: int, show: bool) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE cm_library_links SET show_titles = ? WHERE subscriber_id = ?", (int(show), sid))

    # -- events -----------------------------------------------------------------------------------------
    def handle(self, by: Principal, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply ILS events (REST JSON or CSV rows). → {'applied': n, 'unlinked': [patron ids], 'errors': [...]}"""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        out: dict[str, Any] = {"applied": 0, "unlinked": [], "errors": []}
        for i, ev in enumerate(events):
            try:
                if not self._one(tenant, ev):
                    out["unlinked"].append(str(ev.get("patron_id")))
                out["applied"] += 1
            except Invalid as exc:
                out["errors"].append({"row": i + 1, "message": exc.message})
        self.audit.record(by.actor, "community.library.events", f"ils:{tenant}", tenant=tenant,
                          after={"applied": out["applied"], "unlinked": len(out["unlinked"])})
        return out

    def _one(self, tenant: str, ev: dict[str, Any]) -> bool:
        kind, ref = str(ev.get("event") or "ready"), str(ev.get("hold_id") or "").strip()
        patron = str(ev.get("patron_id") or "").strip()
        if kind not in EVENTS or not ref or not patron:
            raise Invalid("each event needs event (ready, collected, cancelled), hold_id and patron_id")
        phash = self.patron_hash(tenant, patron)
        with self.db.transaction() as tx:
            link = tx.one("SELECT subscriber_id, show_titles FROM cm_library_links WHERE tenant_code = ?"
                          " AND patron_hash = ?", (tenant, phash))
            hold = tx.one("SELECT * FROM cm_holds WHERE tenant_code = ? AND hold_ref = ?", (tenant, ref))
            if kind != "ready":
                if hold:
                    tx.execute("UPDATE cm_holds SET state = ? WHERE id = ?", (kind, hold["id"]))
                    cancel_queued(tx, json.loads(hold["reminder_rows"] or "[]"))
                return True
            branch, title = str(ev.get("branch") or "").strip(), str(ev.get("title") or "").strip()
            try:
                deadline = date.fromisoformat(str(ev.get("deadline") or "")[:10])
            except ValueError as exc:
                raise Invalid("deadline must be a date (YYYY-MM-DD)") from exc
            if not branch:
                raise Invalid("branch is missing")
            if hold:  # the ILS sent it again: same hold, nothing sent twice
                return bool(link)
            hid = tx.insert("INSERT INTO cm_holds (tenant_code, hold_ref, patron_hash, branch, deadline, title_sealed,"
                            " state, created) VALUES (?, ?, ?, ?, ?, ?, 'ready', ?)",
                            (tenant, ref, phash, branch, deadline.isoformat(),
                             self.sealer.seal(title) if title else None, self.clock.iso()))
            if not link:
                return False
            subject, body = self._text(branch, deadline, title if link["show_titles"] else "", reminder=False)
            queue_personal(tx, self.sealer, self.clock, [link["subscriber_id"]], "library", subject, body)
            tx.execute("UPDATE cm_holds SET notified = 1 WHERE id = ?", (hid,))
        return True

    @staticmethod
    def _text(branch: str, deadline: date, title: str, *, reminder: bool) -> tuple[str, str]:
        day = f"{deadline.month}月{deadline.day}日"
        what = f"「{title}」の" if title else ""
        if reminder:
            return ("【図書館】予約資料の受取期限は明日です",
                    f"{branch}でご用意している{what}予約資料の受取期限は明日（{day}）です。")
        return ("【図書館】予約資料をご用意しました",
                f"{what}予約資料を{branch}でご用意しました。{day}までにお受け取りください。")

    def parse_csv(self, text: str) -> list[dict[str, Any]]:
        """CSV batch drop: header event,hold_id,patron_id,branch,deadline,title (event defaults to ready)."""
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if not reader.fieldnames or not {"hold_id", "patron_id"} <= set(reader.fieldnames):
            raise Invalid("the CSV needs a header with at least hold_id and patron_id")
        return [dict(r) for r in reader]

    # -- reminders ----------------------------------------------------------------------------------------
    def remind_due(self) -> int:
        """Queue the day-before reminder of every ready hold whose deadline is tomorrow (JST), once each."""
        tomorrow = (self.clock.now().astimezone(JST).date() + timedelta(days=1)).isoformat()
        sent = 0
        with self.db.transaction() as tx:
            rows = tx.query("SELECT h.*, l.subscriber_id, l.show_titles FROM cm_holds h JOIN cm_library_links l"
                            " ON l.tenant_code = h.tenant_code AND l.patron_hash = h.patron_hash WHERE h.state = 'ready'"
                            " AND h.reminded IS NULL AND h.deadline <= ?", (tomorrow,))
            for h in rows:
                title = self.sealer.open(h["title_sealed"]) if h["title_sealed"] and h["show_titles"] else ""
                subject, body = self._text(h["branch"], date.fromisoformat(h["deadline"]), title, reminder=True)
                ids = queue_personal(tx, self.sealer, self.clock, [h["subscriber_id"]], "library", subject, body)
                tx.execute("UPDATE cm_holds SET reminded = ?, reminder_rows = ? WHERE id = ?",
                           (self.clock.iso(), json.dumps(ids), h["id"]))
                sent += 1
        return sent

    def unlinked(self, by: Principal, since: datetime | None = None) -> list[str]:
        """Hold refs of patrons who got no notice (not linked): the ILS shows them to staff to phone."""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        with self.db.read() as tx:
            return [r["hold_ref"] for r in tx.query(
                "SELECT hold_ref FROM cm_holds WHERE tenant_code = ? AND state = 'ready' AND notified = 0"
                " AND created >= ? ORDER BY id", (tenant, (since.isoformat() if since else "")))]
