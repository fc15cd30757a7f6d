"""What the call center and residents do with the FAQ: logged inquiries (answered with an entry, or escalated
to a department with a note), the searches that were made, "Was this helpful?" votes, and the report built
from them (top questions, searches that found nothing, by day, category and channel).

Days are Japanese calendar days (JST): a call at 08:30 JST belongs to that morning, not to yesterday in UTC.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone
from typing import TYPE_CHECKING, Any

from faq.model import CHANNELS
from faq.normalize import normalize
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, Tx
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import Principal
from machihub.schema import run_script

if TYPE_CHECKING:
    from faq.store import FaqStore

JST = timezone(timedelta(hours=9))
MAX_NOTE, MAX_QUERY_LOG, MAX_CATEGORY = 1000, 200, 40
REPORT_DAYS = 30
DDL = """
CREATE TABLE IF NOT EXISTS mh_faq_inquiries (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code), ts TEXT NOT NULL, day TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('phone', 'counter', 'mail')), category TEXT NOT NULL DEFAULT '',
  entry_id {bigint} REFERENCES mh_faq_entries(id), query TEXT NOT NULL DEFAULT '',
  department_id {bigint} REFERENCES mh_departments(id), note TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('answered', 'escalated', 'closed')), actor TEXT NOT NULL,
  closed TEXT, closed_by TEXT, close_note TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS mh_faq_inquiries_day ON mh_faq_inquiries (tenant_code, day);
CREATE INDEX IF NOT EXISTS mh_faq_inquiries_dept ON mh_faq_inquiries (department_id, status);
CREATE TABLE IF NOT EXISTS mh_faq_queries (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code), ts TEXT NOT NULL, day TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('staff', 'public')), query TEXT NOT NULL, matched INTEGER,
  top_entry_id {bigint});
CREATE INDEX IF NOT EXISTS mh_faq_queries_day ON mh_faq_queries (tenant_code, day);
CREATE TABLE IF NOT EXISTS mh_faq_votes (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  entry_id {bigint} NOT NULL REFERENCES mh_faq_entries(id), helpful INTEGER NOT NULL CHECK (helpful IN (0, 1)),
  ts TEXT NOT NULL, day TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mh_faq_votes_day ON mh_faq_votes (tenant_code, day);
"""


@dataclass(frozen=True)
class Inquiry:
    id: int
    tenant_code: str
    ts: str
    day: str
    channel: str
    category: str
    entry_id: int | None
    query: str
    department_id: int | None
    note: str
    status: str
    actor: str
    closed: str | None
    closed_by: str | None
    close_note: str


def query_key(text: str) -> str:
    """How searches are grouped in the report: NFKC, lower case, single spaces."""
    return " ".join(normalize(text or "").split())[:MAX_QUERY_LOG]


class InquiryLog:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, faq: FaqStore) -> None:
        self.db, self.audit, self.clock, self.faq = db, audit, clock, faq

    def create_schema(self, tx: Tx) -> None:
        run_script(tx, DDL)

    def today(self) -> str:
        return self.clock.now().astimezone(JST).date().isoformat()

    def _query_row(self, tx: Tx, tenant: str, source: str, query: str, matched: int | None, top: int | None) -> None:
        key = query_key(query)
        if key:
            tx.execute("INSERT INTO mh_faq_queries (tenant_code, ts, day, source, query, matched, top_entry_id)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", (tenant, self.clock.iso(), self.today(), source, key, matched, top))

    # -- the call center --------------------------------------------------------------------------------
    def log(self, by: Principal, *, channel: str, category: str = "", entry_id: int | None = None, query: str = "",
            department_id: int | None = None, note: str = "", matched: int | None = None) -> Inquiry:
        """One inquiry: answered with ``entry_id``, or escalated to ``department_id`` with ``note``."""
        if not by.has("call_center") or not by.tenant_code:
            raise Forbidden("logging inquiries needs the call center role")
        tenant = by.tenant_code
        if channel not in CHANNELS:
            raise Invalid(f"channel {channel!r}: use {', '.join(CHANNELS)}")
        category, note = category.strip()[:MAX_CATEGORY], note.strip()
        if len(note) > MAX_NOTE:
            raise Invalid(f"the note is longer than {MAX_NOTE} characters")
        if entry_id is not None:
            entry = self.faq.for_tenant(tenant, entry_id, "staff")
            entry_id = entry.id
            category = category or (entry.categories[0] if entry.categories else "")
        with self.db.transaction() as tx:
            if department_id is not None:
                dept = tx.one("SELECT tenant_code FROM mh_departments WHERE id = ?", (department_id,))
                if not dept or dept["tenant_code"] != tenant:
                    raise Invalid(f"department {department_id} is not a department of this town")
            status = "escalated" if department_id is not None else "answered"
            iid = tx.insert("INSERT INTO mh_faq_inquiries (tenant_code, ts, day, channel, category, entry_id, query,"
                            " department_id, note, status, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (tenant, self.clock.iso(), self.today(), channel, category, entry_id, query_key(query),
                             department_id, note, status, by.actor))
            self._query_row(tx, tenant, "staff", query, matched, entry_id)
            self.audit.append(tx, by.actor, "faq.inquiry", f"inquiry:{iid}", tenant=tenant,
                              after={"channel": channel, "category": category, "entry_id": entry_id,
                                     "department_id": department_id, "status": status})
        return self.get(iid)

    def get(self, inquiry_id: int) -> Inquiry:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_faq_inquiries WHERE id = ?", (inquiry_id,))
        if not row:
            raise NotFound(f"no inquiry {inquiry_id}")
        return Inquiry(**row)

    def recent(self, by: Principal, limit: int = 10) -> list[Inquiry]:
        with self.db.read() as tx:
            rows = tx.query("SELECT * FROM mh_faq_inquiries WHERE tenant_code = ? AND actor = ? ORDER BY id DESC LIMIT ?",
                            (by.tenant_code, by.actor, limit))
        return [Inquiry(**r) for r in rows]

    def escalations(self, by: Principal, *, include_closed: bool = False) -> list[Inquiry]:
        """A department's escalations (an admin sees the whole town's), open ones first."""
        sql, params = "SELECT * FROM mh_faq_inquiries WHERE tenant_code = ? AND department_id IS NOT NULL", [by.tenant_code]
        if not by.admin_of(by.tenant_code):
            if by.department_id is None:
                return []
            sql += " AND department_id = ?"
            params.append(by.department_id)
        sql += "" if include_closed else " AND status = 'escalated'"
        with self.db.read() as tx:
            rows = tx.query(sql + " ORDER BY CASE WHEN status = 'escalated' THEN 0 ELSE 1 END, id DESC LIMIT 200", params)
        return [Inquiry(**r) for r in rows]

    def close(self, by: Principal, inquiry_id: int, note: str = "") -> Inquiry:
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM mh_faq_inquiries WHERE id = ?", (inquiry_id,))
            if not row or row["tenant_code"] != by.tenant_code or row["department_id"] is None:
                raise NotFound(f"no escalation {inquiry_id}")
            if not (by.admin_of(row["tenant_code"]) or by.department_id == row["department_id"]):
                raise Forbidden("this escalation belongs to another department")
            tx.execute("UPDATE mh_faq_inquiries SET status = 'closed', closed = ?, closed_by = ?, close_note = ?"
                       " WHERE id = ?", (self.clock.iso(), by.actor, note.strip()[:MAX_NOTE], inquiry_id))
            self.audit.append(tx, by.actor, "faq.escalation_close", f"inquiry:{inquiry_id}", tenant=row["tenant_code"],
                              before={"status": row["status"]}, after={"status": "closed", "note": note.strip()[:200]})
        return self.get(inquiry_id)

    # -- residents ----------------------------------------------------------------------------------------
    def public_search(self, tenant_code: str, query: str, matched: int, top_entry_id: int | None) -> None:
        with self.db.transaction() as tx:
            self._query_row(tx, tenant_code, "public", query, matched, top_entry_id)

    def vote(self, tenant_code: str, entry_id: int, helpful: bool) -> None:
        entry = self.faq.for_tenant(tenant_code, entry_id, "public")
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO mh_faq_votes (tenant_code, entry_id, helpful, ts, day) VALUES (?, ?, ?, ?, ?)",
                       (tenant_code, entry.id, 1 if helpful else 0, self.clock.iso(), self.today()))

    # -- the report -------------------------------------------------------------------------------------
    def report(self, by: Principal, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        if not (by.has("call_center") or by.has("auditor")) or not by.tenant_code:
            raise Forbidden("the FAQ report is for the call center, auditors and admins")
        try:
            last = date.fromisoformat(end) if end else date.fromisoformat(self.today())
            first = date.fromisoformat(start) if start else last - timedelta(days=REPORT_DAYS - 1)
        except ValueError:
            raise Invalid("dates must be YYYY-MM-DD") from None
        if first > last:
            raise Invalid("the first day is after the last day")
        p = (by.tenant_code, first.isoformat(), last.isoformat())
        w, wi, wv = (f"{a}tenant_code = ? AND {a}day >= ? AND {a}day <= ?" for a in ("", "i.", "v."))
        with self.db.read() as tx:
            days: dict[str, dict[str, int]] = {}

            def add(rows: list[dict[str, Any]], *names: str) -> None:
                for r in rows:
                    d = days.setdefault(r["day"], {"inquiries": 0, "escalated": 0, "searches": 0, "no_match": 0,
                                                   "helpful": 0, "not_helpful": 0})
                    d.update({n: int(r[n] or 0) for n in names})

            add(tx.query(f"SELECT day, count(*) AS inquiries, sum(CASE WHEN department_id IS NULL THEN 0 ELSE 1 END)"
                         f" AS escalated FROM mh_faq_inquiries WHERE {w} GROUP BY day", p), "inquiries", "escalated")
            add(tx.query(f"SELECT day, count(*) AS searches, sum(CASE WHEN matched = 0 THEN 1 ELSE 0 END) AS no_match"
                         f" FROM mh_faq_queries WHERE {w} GROUP BY day", p), "searches", "no_match")
            add(tx.query(f"SELECT day, sum(helpful) AS helpful, sum(1 - helpful) AS not_helpful FROM mh_faq_votes"
                         f" WHERE {w} GROUP BY day", p), "helpful", "not_helpful")
            report = {
                "start": p[1], "end": p[2],
                "days": [{"day": d, **v} for d, v in sorted(days.items(), reverse=True)],
                "categories": tx.query(f"SELECT category, count(*) AS n FROM mh_faq_inquiries WHERE {w}"
                                       " GROUP BY category ORDER BY n DESC, category", p),
                "channels": tx.query(f"SELECT channel, count(*) AS n FROM mh_faq_inquiries WHERE {w}"
                                     " GROUP BY channel ORDER BY n DESC, channel", p),
                "top_entries": tx.query(
                    "SELECT i.entry_id, e.question, count(*) AS n FROM mh_faq_inquiries i JOIN mh_faq_entries e"
                    f" ON e.id = i.entry_id WHERE {wi} GROUP BY i.entry_id, e.question"
                    " ORDER BY n DESC, i.entry_id LIMIT 10", p),
                "top_queries": tx.query(f"SELECT query, count(*) AS n FROM mh_faq_queries WHERE {w}"
                                        " GROUP BY query ORDER BY n DESC, query LIMIT 20", p),
                "no_match": tx.query(f"SELECT query, count(*) AS n, max(day) AS last FROM mh_faq_queries WHERE {w}"
                                     " AND matched = 0 GROUP BY query ORDER BY n DESC, query LIMIT 20", p),
                "without_faq": tx.query(f"SELECT query, category, count(*) AS n FROM mh_faq_inquiries WHERE {w}"
                                        " AND entry_id IS NULL GROUP BY query, category ORDER BY n DESC, query LIMIT 20", p),
                "votes": tx.query(
                    "SELECT v.entry_id, e.question, sum(v.helpful) AS helpful, sum(1 - v.helpful) AS not_helpful"
                    f" FROM mh_faq_votes v JOIN mh_faq_entries e ON e.id = v.entry_id WHERE {wv}"
                    " GROUP BY v.entry_id, e.question ORDER BY not_helpful DESC, helpful DESC, v.entry_id LIMIT 20", p),
            }
        report["totals"] = {k: sum(d[k] for d in report["days"]) for k in
                            ("inquiries", "escalated", "searches", "no_match", "helpful", "not_helpful")}
        return report
