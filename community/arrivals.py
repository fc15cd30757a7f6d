"""The weekly new-arrivals digest (新着案内). The ILS posts new arrivals (title, NDC class, branch, date) with its
HMAC API key; linked patrons opt in to NDC main classes (0 総記 … 9 文学); once a week every opted-in patron
gets one mail listing that week's arrivals in their classes. Nothing is sent when nothing is new, and each
arrival reaches each patron at most once (a sent record per patron and arrival, and one run per weekly slot,
so a second host or a restart never sends again)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from alerts.model import JST
from alerts.personal import queue_personal
from community.access import is_staff_of
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import Principal

# 日本十進分類法 (NDC) main classes: what a patron chooses from.
CLASSES = {"0": "総記", "1": "哲学", "2": "歴史", "3": "社会科学", "4": "自然科学", "5": "技術",
           "6": "産業", "7": "芸術", "8": "言語", "9": "文学"}
MAX_BATCH = 5000


def ndc_class(ndc: str) -> str:
    """'913.6' → '9'. Invalid unless the NDC number starts with a digit."""
    text = ndc.strip()
    if not text or not text[0].isdigit() or not all(c.isdigit() or c == "." for c in text):
        raise Invalid(f"ndc must be an NDC number such as 913.6, not {ndc!r}")
    return text[0]


class NewArrivals:
    def __init__(self, alerts: Any, library: Any, weekday: int = 0, hour: int = 9) -> None:
        self.al, self.library = alerts, library
        self.db, self.clock, self.audit, self.sealer = alerts.db, alerts.clock, alerts.audit, alerts.sealer
        self.weekday, self.hour = weekday, hour

    # -- from the ILS -------------------------------------------------------------------------------------
    @staticmethod
    def _check(row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise Invalid("each arrival is an object with item_id, title, ndc, branch and arrived")
        ref, title = str(row.get("item_id") or "").strip(), str(row.get("title") or "").strip()
        branch = str(row.get("branch") or "").strip()
        if not ref or not title or not branch:
            raise Invalid("each arrival needs item_id, title and branch")
        try:
            arrived = date.fromisoformat(str(row.get("arrived") or "").strip()[:10])
        except ValueError:
            raise Invalid("arrived must be a date (YYYY-MM-DD)") from None
        ndc = str(row.get("ndc") or "").strip()
        return {"ref": ref[:64], "title": title[:200], "ndc": ndc[:16], "subject": ndc_class(ndc),
                "branch": branch[:60], "arrived": arrived.isoformat()}

    def add(self, by: Principal, rows: list[Any]) -> dict[str, int]:
        """All or nothing: every row is checked first. An item the ILS sends again is kept once."""
        tenant = str(by.tenant_code)
        if not ((by.purpose == "ils" and by.tenant_code == tenant) or is_staff_of(by, tenant)):
            raise Forbidden("only the library system's API key of this municipality may post new arrivals")
        if not rows or len(rows) > MAX_BATCH:
            raise Invalid(f"send between 1 and {MAX_BATCH} arrivals at a time")
        checked, errors = [], []
        for i, row in enumerate(rows):
            try:
                checked.append(self._check(row))
            except Invalid as exc:
                errors.append(f"arrival {i + 1}: {exc.message}")
        if errors:
            raise Invalid("nothing was stored: " + "; ".join(errors[:20]), details={"errors": errors})
        added = 0
        now = self.clock.iso()
        with self.db.transaction() as tx:
            for a in checked:
                added += tx.execute(
                    "INSERT INTO cm_arrivals (tenant_code, item_ref, title, ndc, subject, branch, arrived, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_code, item_ref) DO NOTHING",
                    (tenant, a["ref"], a["title"], a["ndc"], a["subject"], a["branch"], a["arrived"], now)).rowcount
            self.audit.append(tx, by.actor, "community.library.arrivals", f"ils:{tenant}", tenant=tenant,
                              after={"rows": len(checked), "added": added})
        return {"received": len(checked), "added": added}

    @staticmethod
    def parse_csv(text: str) -> list[dict[str, Any]]:
        """CSV: header item_id,title,ndc,branch,arrived."""
        try:
            reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
            if not reader.fieldnames or not {"item_id", "title", "ndc"} <= {f.strip() for f in reader.fieldnames}:
                raise Invalid("the CSV needs a header item_id,title,ndc,branch,arrived")
            return [{(k or "").strip(): v for k, v in r.items()} for r in reader]
        except csv.Error as exc:
            raise Invalid(f"the CSV cannot be read: {exc}") from None

    # -- patrons ------------------------------------------------------------------------------------------
    def set_subjects(self, sid: int, tenant_code: str, subjects: list[str]) -> list[str]:
        """The classes a linked patron wants; an empty list opts out."""
        chosen = sorted({s.strip() for s in subjects if s.strip()})
        bad = [s for s in chosen if s not in CLASSES]
        if bad:
            raise Invalid(f"unknown subjects {', '.join(bad)}: choose NDC classes 0-9")
        with self.db.transaction() as tx:
            if not tx.scalar("SELECT 1 FROM cm_library_links WHERE tenant_code = ? AND subscriber_id = ?",
                             (tenant_code, sid)):
                raise NotFound("link your library card first (ask the library for a code)")
            tx.execute("DELETE FROM cm_arrival_prefs WHERE subscriber_id = ? AND tenant_code = ?", (sid, tenant_code))
            for s in chosen:
                tx.execute("INSERT INTO cm_arrival_prefs (subscriber_id, tenant_code, subject) VALUES (?, ?, ?)",
                           (sid, tenant_code, s))
        return chosen

    def subjects(self, sid: int, tenant_code: str) -> list[str]:
        with self.db.read() as tx:
            return [r["subject"] for r in tx.query("SELECT subject FROM cm_arrival_prefs WHERE subscriber_id = ?"
                                                   " AND tenant_code = ? ORDER BY subject", (sid, tenant_code))]

    # -- the weekly digest --------------------------------------------------------------------------------
    def slot(self, now: datetime | None = None) -> datetime:
        """The latest weekly digest time (JST) at or before now."""
        local = (now or self.clock.now()).astimezone(JST)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        at = datetime(day.year, day.month, day.day, self.hour, tzinfo=JST)
        return at if at <= local else at - timedelta(days=7)

    def send_digests(self) -> int:
        """Queue this week's digests once per tenant (a later call in the same week does nothing). → mails queued."""
        slot = self.slot()
        with self.db.read() as tx:
            tenants = [r["tenant_code"] for r in tx.query("SELECT DISTINCT tenant_code FROM cm_arrival_prefs"
                                                          " ORDER BY tenant_code")]
        return sum(self._tenant_digest(t, slot) for t in tenants)

    def _tenant_digest(self, tenant: str, slot: datetime) -> int:
        # the week (slot - 7 days, slot]; created is UTC ISO text (Clock.iso): compare like with like
        since = (slot - timedelta(days=7)).astimezone(UTC).isoformat(timespec="microseconds")
        until = slot.astimezone(UTC).isoformat(timespec="microseconds")
        sent = 0
        with self.db.transaction() as tx:
            if not tx.execute("INSERT INTO cm_arrival_runs (tenant_code, slot, ran) VALUES (?, ?, ?)"
                              " ON CONFLICT (tenant_code, slot) DO NOTHING",
                              (tenant, slot.isoformat(), self.clock.iso())).rowcount:
                return 0  # this week's digest went out already (here or on another host)
            patrons = tx.query("SELECT DISTINCT p.subscriber_id FROM cm_arrival_prefs p JOIN cm_library_links l"
                               " ON l.subscriber_id = p.subscriber_id AND l.tenant_code = p.tenant_code"
                               " WHERE p.tenant_code = ? ORDER BY p.subscriber_id", (tenant,))
            for p in patrons:
                sid = p["subscriber_id"]
                rows = tx.query(
                    "SELECT a.* FROM cm_arrivals a JOIN cm_arrival_prefs p ON p.subject = a.subject"
                    " AND p.tenant_code = a.tenant_code AND p.subscriber_id = ? WHERE a.tenant_code = ?"
                    " AND a.created > ? AND a.created <= ? AND NOT EXISTS (SELECT 1 FROM cm_arrival_sent s WHERE s.arrival_id = a.id"
                    " AND s.subscriber_id = ?) ORDER BY a.subject, a.arrived, a.id",
                    (sid, tenant, since, until, sid))
                if not rows:
                    continue  # nothing new: no mail
                subject, body = self._text(rows)
                queue_personal(tx, self.sealer, self.clock, [sid], "library", subject, body)
                for a in rows:
                    tx.execute("INSERT INTO cm_arrival_sent (subscriber_id, arrival_id, sent) VALUES (?, ?, ?)",
                               (sid, a["id"], self.clock.iso()))
                sent += 1
            tx.execute("UPDATE cm_arrival_runs SET mails = ? WHERE tenant_code = ? AND slot = ?",
                       (sent, tenant, slot.isoformat()))
        return sent

    @staticmethod
    def _text(rows: list[dict[str, Any]]) -> tuple[str, str]:
        lines: list[str] = []
        for subject in sorted({r["subject"] for r in rows}):
            lines.append(f"■ {subject} {CLASSES[subject]}")
            for r in (r for r in rows if r["subject"] == subject):
                d = date.fromisoformat(r["arrived"])
                lines.append(f"・{r['title']}（{r['branch']}、{d.month}月{d.day}日）")
            lines.append("")
        lines.append("受け取る分野は、安全安心メールの設定ページで変えられます。")
        return f"【図書館】今週の新着案内（{len(rows)}件）", "\n".join(lines)
