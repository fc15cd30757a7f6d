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
from community.access import is_staff_of
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
        """The ILS's API key, or staff of the municipality at the counter (the staff pages)."""
        if not ((by.purpose == "ils" and by.tenant_code == tenant_code) or is_staff_of(by, tenant_code)):
            raise Forbidden("only the library system's API key or staff of this municipality may do this")

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

    def link_state(self, sid: int, tenant_code: str) -> dict[str, Any]:
        """What the resident's own page shows: how many cards are linked and whether notices name titles."""
        with self.db.read() as tx:
            rows = tx.query("SELECT show_titles FROM cm_library_links WHERE tenant_code = ? AND subscriber_id = ?",
                            (tenant_code, sid))
        return {"cards": len(rows), "show_titles": any(r["show_titles"] for r in rows)}

    def set_show_titles(self, sid: int, show: bool) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE cm_library_links SET show_titles = ? WHERE subscriber_id = ?", (int(show), sid))

    # -- events -----------------------------------------------------------------------------------------
    def handle(self, by: Principal, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply ILS events (REST JSON) one by one. → {'applied': n, 'unlinked': [patron ids], 'errors': [...]}"""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        out: dict[str, Any] = {"applied": 0, "unlinked": [], "errors": []}
        for i, ev in enumerate(events):
            try:
                checked = self._check(ev)
                with self.db.transaction() as tx:
                    linked = self._apply(tx, tenant, checked)
                if not linked:
                    out["unlinked"].append(checked["patron_id"])
                out["applied"] += 1
            except Invalid as exc:
                out["errors"].append({"row": i + 1, "message": exc.message})
        self.audit.record(by.actor, "community.library.events", f"ils:{tenant}", tenant=tenant,
                          after={"applied": out["applied"], "unlinked": len(out["unlinked"])})
        return out

    def handle_batch(self, by: Principal, events: list[dict[str, Any]], source: str = "csv") -> dict[str, Any]:
        """A CSV batch all or nothing: every row is checked first; one bad row refuses the whole file."""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        if not events:
            raise Invalid("the batch has no rows")
        checked, errors = [], []
        for i, ev in enumerate(events):
            try:
                checked.append(self._check(ev))
            except Invalid as exc:
                errors.append(f"row {i + 2}: {exc.message}")  # row 1 is the header
        if errors:
            raise Invalid("nothing was imported: " + "; ".join(errors[:20]), details={"errors": errors})
        unlinked: list[str] = []
        with self.db.transaction() as tx:
            for ev in checked:
                if not self._apply(tx, tenant, ev):
                    unlinked.append(ev["patron_id"])
            self.audit.append(tx, by.actor, "community.library.batch", f"ils:{tenant}", tenant=tenant,
                              after={"source": source, "rows": len(checked), "unlinked": len(unlinked)})
        return {"applied": len(checked), "unlinked": unlinked, "errors": []}

    @staticmethod
    def _check(ev: dict[str, Any]) -> dict[str, Any]:
        """One event, normalised; Invalid names what is wrong."""
        if not isinstance(ev, dict):
            raise Invalid("each event is an object with event, hold_id and patron_id")
        kind = str(ev.get("event") or "ready").strip()
        ref, patron = str(ev.get("hold_id") or "").strip(), str(ev.get("patron_id") or "").strip()
        if kind not in EVENTS or not ref or not patron:
            raise Invalid("each event needs event (ready, collected, cancelled), hold_id and patron_id")
        out: dict[str, Any] = {"event": kind, "hold_id": ref, "patron_id": patron}
        if kind == "ready":
            try:
                out["deadline"] = date.fromisoformat(str(ev.get("deadline") or "").strip()[:10])
            except ValueError as exc:
                raise Invalid("deadline must be a date (YYYY-MM-DD)") from exc
            out["branch"], out["title"] = str(ev.get("branch") or "").strip(), str(ev.get("title") or "").strip()
            if not out["branch"]:
                raise Invalid("branch is missing")
        return out

    def _apply(self, tx: Any, tenant: str, ev: dict[str, Any]) -> bool:
        """One checked event in the caller's transaction. → whether the patron is linked (got a notice)."""
        kind, ref = ev["event"], ev["hold_id"]
        phash = self.patron_hash(tenant, ev["patron_id"])
        link = tx.one("SELECT subscriber_id, show_titles FROM cm_library_links WHERE tenant_code = ?"
                      " AND patron_hash = ?", (tenant, phash))
        hold = tx.one("SELECT * FROM cm_holds WHERE tenant_code = ? AND hold_ref = ?", (tenant, ref))
        if kind != "ready":
            if hold:
                tx.execute("UPDATE cm_holds SET state = ? WHERE id = ?", (kind, hold["id"]))
                cancel_queued(tx, json.loads(hold["reminder_rows"] or "[]"))
            return True
        if hold:  # the ILS sent it again: same hold, nothing sent twice
            return bool(link)
        branch, deadline, title = ev["branch"], ev["deadline"], ev["title"]
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
        try:
            reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
            if not reader.fieldnames or not {"hold_id", "patron_id"} <= {f.strip() for f in reader.fieldnames}:
                raise Invalid("the CSV needs a header with at least hold_id and patron_id")
            return [{(k or "").strip(): v for k, v in r.items()} for r in reader]
        except csv.Error as exc:
            raise Invalid(f"the CSV cannot be read: {exc}") from None

    # -- reminders ----------------------------------------------------------------------------------------
    def remind_due(self) -> int:
        """Queue the day-before reminder of every ready hold whose deadline is tomorrow (JST), once each. A hold
        due today gets none (the text says 明日). Each row is claimed with a conditional UPDATE, so hosts
        ticking at once on PostgreSQL never both send it."""
        tomorrow = (self.clock.now().astimezone(JST).date() + timedelta(days=1)).isoformat()
        sent = 0
        with self.db.transaction() as tx:
            rows = tx.query("SELECT h.*, l.subscriber_id, l.show_titles FROM cm_holds h JOIN cm_library_links l"
                            " ON l.tenant_code = h.tenant_code AND l.patron_hash = h.patron_hash WHERE h.state = 'ready'"
                            " AND h.reminded IS NULL AND h.deadline = ?", (tomorrow,))
            for h in rows:
                if tx.execute("UPDATE cm_holds SET reminded = ? WHERE id = ? AND reminded IS NULL AND state = 'ready'",
                              (self.clock.iso(), h["id"])).rowcount != 1:
                    continue  # another host claimed it meanwhile
                title = self.sealer.open(h["title_sealed"]) if h["title_sealed"] and h["show_titles"] else ""
                subject, body = self._text(h["branch"], date.fromisoformat(h["deadline"]), title, reminder=True)
                ids = queue_personal(tx, self.sealer, self.clock, [h["subscriber_id"]], "library", subject, body)
                tx.execute("UPDATE cm_holds SET reminder_rows = ? WHERE id = ?", (json.dumps(ids), h["id"]))
                sent += 1
        return sent

    def unlinked_holds(self, by: Principal, limit: int = 200) -> list[dict[str, Any]]:
        """Ready holds whose patron got no notice, with branch and deadline, for the staff page."""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        with self.db.read() as tx:
            return tx.query("SELECT hold_ref, branch, deadline, created FROM cm_holds WHERE tenant_code = ?"
                            " AND state = 'ready' AND notified = 0 ORDER BY deadline, id LIMIT ?", (tenant, limit))

    def unlinked(self, by: Principal, since: datetime | None = None) -> list[str]:
        """Hold refs of patrons who got no notice (not linked): the ILS shows them to staff to phone."""
        tenant = str(by.tenant_code)
        self._ils(by, tenant)
        with self.db.read() as tx:
            return [r["hold_ref"] for r in tx.query(
                "SELECT hold_ref FROM cm_holds WHERE tenant_code = ? AND state = 'ready' AND notified = 0"
                " AND created >= ? ORDER BY id", (tenant, (since.isoformat() if since else "")))]
