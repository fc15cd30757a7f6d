"""The FAQ knowledge base on either store: entries of a town or of its prefecture's shared pool, local
overrides, public/staff visibility, every version kept, and search with the same tokens on both stores.

Who may write: the hub operator; an admin of the town (its entries) or of any town in the prefecture (the
shared pool); staff of the owning department (their department's entries). Every write is audited in its
own transaction and bumps a generation counter that search caches watch.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from faq.model import AUDIENCES, FaqEntry, check_ref, clean_fields, entry_from_row, owner_parts
from faq.richtext import plain_text
from faq.search import Weights
from faq.store_dense import EncoderSetting
from faq.store_inquiries import InquiryLog
from faq.store_search import MAX_QUERY, FaqSearch, SearchHit, SearchResult
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, Tx
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import Principal
from machihub.schema import run_script

GENERATION = "faq.generation"
DDL = """
CREATE TABLE IF NOT EXISTS mh_faq_entries (
  id {id}, tenant_code TEXT REFERENCES mh_tenants(code), pool TEXT NOT NULL CHECK (length(pool) = 2),
  ref TEXT NOT NULL, overrides {bigint} REFERENCES mh_faq_entries(id),
  question TEXT NOT NULL, answer TEXT NOT NULL, answer_text TEXT NOT NULL, categories TEXT NOT NULL,
  department_id {bigint} REFERENCES mh_departments(id),
  visibility TEXT NOT NULL CHECK (visibility IN ('public', 'staff')), review_date TEXT,
  layers TEXT NOT NULL, alert_topics TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'retired')), version INTEGER NOT NULL,
  created TEXT NOT NULL, updated TEXT NOT NULL, updated_by TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS mh_faq_entries_ref ON mh_faq_entries (coalesce(tenant_code, pool), ref);
CREATE UNIQUE INDEX IF NOT EXISTS mh_faq_entries_override ON mh_faq_entries (tenant_code, overrides);
CREATE INDEX IF NOT EXISTS mh_faq_entries_pool ON mh_faq_entries (pool, status);
CREATE TABLE IF NOT EXISTS mh_faq_versions (
  id {id}, entry_id {bigint} NOT NULL REFERENCES mh_faq_entries(id), version INTEGER NOT NULL,
  snapshot TEXT NOT NULL, actor TEXT NOT NULL, ts TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
  UNIQUE (entry_id, version));
INSERT INTO mh_meta (key, value) VALUES ('faq.generation', '0') ON CONFLICT (key) DO NOTHING;
"""
# A town sees its own active entries and the active shared entries of its prefecture that it has not
# replaced with an active local one. Parameters: audience, tenant, pool, tenant.
VISIBLE = """SELECT e.id FROM mh_faq_entries e WHERE e.status = 'active' AND (? = 'staff' OR e.visibility = 'public')
 AND (e.tenant_code = ? OR (e.tenant_code IS NULL AND e.pool = ? AND NOT EXISTS (SELECT 1 FROM mh_faq_entries o
 WHERE o.tenant_code = ? AND o.overrides = e.id AND o.status = 'active')))"""


def can_create(by: Principal, tenant_code: str | None, pool: str) -> bool:
    if by.is_system:
        return True
    if tenant_code is None:
        return "admin" in by.roles and (by.tenant_code or "")[:2] == pool
    return by.tenant_code == tenant_code and ("admin" in by.roles or by.department_id is not None)


def can_edit(by: Principal | None, entry: FaqEntry) -> bool:
    if by is None:
        return False
    if by.is_system:
        return True
    if entry.shared:
        return "admin" in by.roles and (by.tenant_code or "")[:2] == entry.pool
    return by.tenant_code == entry.tenant_code and (
        "admin" in by.roles or (by.department_id is not None and by.department_id == entry.department_id))


class FaqStore:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, data_dir: Path,
                 encoder: EncoderSetting = "default") -> None:
        self.db, self.audit, self.clock = db, audit, clock
        self.engine = FaqSearch(db.dialect, Path(data_dir) / "faq-embeddings", encoder)
        self.inquiries = InquiryLog(db, audit, clock, self)
        self._visible_cache: dict[tuple[str, str], tuple[str, np.ndarray]] = {}

    def create_schema(self, tx: Tx) -> None:
        run_script(tx, DDL)
        self.engine.lexical.create_schema(tx)
        self.inquiries.create_schema(tx)

    def configure_search(self, *, encoder: EncoderSetting = "default", cache_dir: Path | None = None,
                         weights: Weights | None = None) -> None:
        self.engine.configure(encoder=encoder, cache_dir=cache_dir, weights=weights)

    # -- reading --------------------------------------------------------------------------------------
    def get(self, entry_id: int) -> FaqEntry:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_faq_entries WHERE id = ?", (entry_id,))
        if not row:
            raise NotFound(f"no FAQ entry {entry_id}")
        return entry_from_row(row)

    def find(self, owner: str, ref: str) -> FaqEntry | None:
        tenant, pool = owner_parts(owner)
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_faq_entries WHERE coalesce(tenant_code, pool) = ? AND ref = ?",
                         (tenant or pool, ref))
        return entry_from_row(row) if row else None

    def owned(self, owner: str, *, include_retired: bool = False) -> list[FaqEntry]:
        """The entries an owner (town or pool) holds itself, e.g. for export; not the merged view."""
        tenant, pool = owner_parts(owner)
        sql = "SELECT * FROM mh_faq_entries WHERE coalesce(tenant_code, pool) = ?"
        sql += "" if include_retired else " AND status = 'active'"
        with self.db.read() as tx:
            return [entry_from_row(r) for r in tx.query(sql + " ORDER BY id", (tenant or pool,))]

    def _within(self, tenant_code: str, audience: str) -> tuple[str, list[Any]]:
        if audience not in AUDIENCES:
            raise Invalid(f"audience {audience!r}: public or staff")
        return VISIBLE, [audience, tenant_code, tenant_code[:2], tenant_code]

    def visible(self, tenant_code: str, audience: str = "public", category: str | None = None) -> list[FaqEntry]:
        sql, params = self._within(tenant_code, audience)
        with self.db.read() as tx:
            rows = tx.query(f"SELECT * FROM mh_faq_entries WHERE id IN ({sql}) ORDER BY id", params)
        entries = [entry_from_row(r) for r in rows]
        return [e for e in entries if category is None or category in e.categories]

    def for_tenant(self, tenant_code: str, entry_id: int, audience: str = "public") -> FaqEntry:
        """The entry as this town sees it: a shared entry the town replaced resolves to the local one."""
        sql, params = self._within(tenant_code, audience)
        with self.db.read() as tx:
            row = tx.one(f"SELECT * FROM mh_faq_entries WHERE id = ? AND id IN ({sql})", [entry_id, *params])
            if row is None:
                row = tx.one(f"SELECT * FROM mh_faq_entries WHERE overrides = ? AND tenant_code = ? AND id IN ({sql})",
                             [entry_id, tenant_code, *params])
        if row is None:
            raise NotFound(f"no FAQ entry {entry_id} here")
        return entry_from_row(row)

    def readable(self, by: Principal, entry_id: int) -> FaqEntry:
        """Any entry (retired ones too) of the staff member's town or prefecture pool, for the staff pages."""
        entry = self.get(entry_id)
        if not by.is_system and entry.tenant_code != by.tenant_code and not (
                entry.shared and entry.pool == (by.tenant_code or "")[:2]):
            raise NotFound(f"no FAQ entry {entry_id} here")
        return entry

    def local_override(self, tenant_code: str, shared_id: int) -> FaqEntry | None:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_faq_entries WHERE tenant_code = ? AND overrides = ?", (tenant_code, shared_id))
        return entry_from_row(row) if row else None

    def categories(self, tenant_code: str, audience: str = "public") -> list[str]:
        counts: dict[str, int] = {}
        for e in self.visible(tenant_code, audience):
            for c in e.categories:
                counts[c] = counts.get(c, 0) + 1
        return sorted(counts, key=lambda c: (-counts[c], c))

    def with_topics(self, tenant_code: str, topics: set[str], audience: str = "staff") -> list[FaqEntry]:
        """Entries linked to any of these alert categories (pinned in the console while such alerts are in force)."""
        return [e for e in self.visible(tenant_code, audience) if topics & set(e.alert_topics)] if topics else []

    def versions(self, entry_id: int) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            rows = tx.query("SELECT version, snapshot, actor, ts, note FROM mh_faq_versions WHERE entry_id = ?"
                            " ORDER BY version DESC", (entry_id,))
        return [{**r, "snapshot": json.loads(r["snapshot"])} for r in rows]

    def _load_many(self, tx: Tx, ids: list[int]) -> dict[int, FaqEntry]:
        if not ids:
            return {}
        rows = tx.query(f"SELECT * FROM mh_faq_entries WHERE id IN ({', '.join('?' * len(ids))})", ids)
        return {r["id"]: entry_from_row(r) for r in rows}

    # -- search ---------------------------------------------------------------------------------------
    def generation(self, tx: Tx | None = None) -> str:
        if tx is None:
            with self.db.read() as t:
                return self.generation(t)
        return str(tx.scalar("SELECT value FROM mh_meta WHERE key = ?", (GENERATION,)))

    def _dense_rows(self) -> list[tuple[int, str, str]]:
        with self.db.read() as tx:
            rows = tx.query("SELECT id, question, answer_text FROM mh_faq_entries WHERE status = 'active' ORDER BY id")
        return [(r["id"], r["question"], r["answer_text"]) for r in rows]

    def _visible_ids(self, tx: Tx, tenant_code: str, audience: str, generation: str) -> np.ndarray:
        key = (tenant_code, audience)
        hit = self._visible_cache.get(key)
        if hit and hit[0] == generation:
            return hit[1]
        sql, params = self._within(tenant_code, audience)
        ids = np.array(sorted(r["id"] for r in tx.query(sql, params)), dtype=np.int64)
        self._visible_cache[key] = (generation, ids)
        return ids

    def warm(self) -> None:
        """Embed what is not cached yet (the demo loader calls this so the first search is quick)."""
        self.engine.dense.refresh(self.generation(), self._dense_rows)

    def search(self, tenant_code: str, text: str, *, audience: str = "staff", k: int = 10,
               mode: str = "fused") -> SearchResult:
        """The best ``k`` entries this town's ``audience`` may see, lexical ranking fused with the dense one."""
        text = " ".join((text or "").split())[:MAX_QUERY]
        a = self.engine.analyze(text, query=True)
        if a.length == 0:
            return SearchResult(text, [], 0)
        dense_on = mode == "fused" and self.engine.dense.enabled
        if dense_on:
            self.engine.dense.refresh(self.generation(), self._dense_rows)
        within = self._within(tenant_code, audience)
        with self.db.read() as tx:
            ids = self._visible_ids(tx, tenant_code, audience, self.generation(tx))
            lexical = self.engine.stable(self.engine.lexical.rank(tx, self.engine.lexical_query(a), within,
                                                                  self.engine.weights.depth + 20))
        dense = self.engine.dense.scores(text, ids) if dense_on and len(ids) else None
        best = self.engine.fuse(ids, lexical, dense, a, k)
        with self.db.read() as tx:
            entries = self._load_many(tx, [i for i, _ in best])
        matched = {i for i, _ in lexical}
        hits = []
        for i, score in best:
            e = entries[i]
            q_html, a_html = self.engine.highlight(e, plain_text(e.answer), a)
            hits.append(SearchHit(e, score, q_html, a_html, i in matched))
        return SearchResult(text, hits, len(lexical))

    # -- writing --------------------------------------------------------------------------------------
    def _bump(self, tx: Tx) -> None:
        tx.execute("UPDATE mh_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = ?", (GENERATION,))

    def _check_department(self, tx: Tx, dept_id: int | None, tenant_code: str | None, pool: str) -> None:
        if dept_id is None:
            return
        row = tx.one("SELECT tenant_code FROM mh_departments WHERE id = ?", (dept_id,))
        if not row or (row["tenant_code"] != tenant_code if tenant_code else row["tenant_code"][:2] != pool):
            raise Invalid(f"department {dept_id} does not belong to the owner of this FAQ entry")

    def _own_department(self, by: Principal, fields: dict[str, Any]) -> dict[str, Any]:
        """Staff who are not admins write for their own department only."""
        if by.is_system or "admin" in by.roles:
            return fields
        if fields["department_id"] not in (None, by.department_id):
            raise Forbidden("you can only write FAQ entries for your own department")
        return {**fields, "department_id": by.department_id}

    def _row_values(self, fields: dict[str, Any]) -> list[Any]:
        return [fields["question"], fields["answer"], plain_text(fields["answer"]),
                json.dumps(fields["categories"], ensure_ascii=False), fields["department_id"], fields["visibility"],
                fields["review_date"], json.dumps(fields["layers"]), json.dumps(fields["alert_topics"])]

    def _version(self, tx: Tx, entry_id: int, version: int, fields: dict[str, Any], status: str, by: Principal,
                 note: str) -> None:
        snap = {k: fields[k] for k in ("question", "answer", "categories", "department_id", "visibility",
                                       "review_date", "layers", "alert_topics")}
        tx.execute("INSERT INTO mh_faq_versions (entry_id, version, snapshot, actor, ts, note) VALUES (?, ?, ?, ?, ?, ?)",
                   (entry_id, version, json.dumps({**snap, "status": status}, ensure_ascii=False), by.actor,
                    self.clock.iso(), note[:500]))

    def index_many(self, tx: Tx, entries: list[tuple[int, dict[str, Any]]]) -> None:
        """Index entries written with ``index=False`` (an import indexes its rows in one batch)."""
        self.engine.lexical.put_many(tx, [(i, self.engine.document(f["question"], plain_text(f["answer"])))
                                          for i, f in entries])

    def insert(self, tx: Tx, by: Principal, owner: str, ref: str, fields: dict[str, Any], *,
               overrides: int | None = None, note: str = "", audit: bool = True, index: bool = True) -> int:
        """Add an entry inside ``tx`` (fields from ``clean_fields``); used by create, override and import."""
        tenant, pool = owner_parts(owner)
        self._check_department(tx, fields["department_id"], tenant, pool)
        if tx.one("SELECT id FROM mh_faq_entries WHERE coalesce(tenant_code, pool) = ? AND ref = ?", (owner, ref)):
            raise Conflict(f"{owner} already has a FAQ entry {ref!r}")
        now = self.clock.iso()
        entry_id = tx.insert(
            "INSERT INTO mh_faq_entries (tenant_code, pool, ref, overrides, question, answer, answer_text, categories,"
            " department_id, visibility, review_date, layers, alert_topics, status, version, created, updated,"
            " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 1, ?, ?, ?)",
            [tenant, pool, ref, overrides, *self._row_values(fields), now, now, by.actor])
        self._version(tx, entry_id, 1, fields, "active", by, note)
        if index:
            self.index_many(tx, [(entry_id, fields)])
        self._bump(tx)
        if audit:
            action = "faq.override" if overrides else "faq.create"
            self.audit.append(tx, by.actor, action, f"faq:{entry_id}", tenant=tenant,
                              after={"owner": owner, "ref": ref, "question": fields["question"], "overrides": overrides})
        return entry_id

    def _free_ref(self, tx: Tx, owner: str) -> str:
        n = int(tx.scalar("SELECT count(*) FROM mh_faq_entries WHERE coalesce(tenant_code, pool) = ?", (owner,))) + 1
        while tx.one("SELECT id FROM mh_faq_entries WHERE coalesce(tenant_code, pool) = ? AND ref = ?",
                     (owner, f"faq-{n}")):
            n += 1
        return f"faq-{n}"

    def create(self, by: Principal, owner: str, data: dict[str, Any], *, ref: str | None = None,
               note: str = "") -> FaqEntry:
        tenant, pool = owner_parts(owner)
        if not can_create(by, tenant, pool):
            raise Forbidden("you cannot add FAQ entries here")
        fields = self._own_department(by, clean_fields(data))
        with self.db.transaction() as tx:
            ref = check_ref(ref) if ref else self._free_ref(tx, owner)
            entry_id = self.insert(tx, by, owner, ref, fields, note=note)
        return self.get(entry_id)

    def replace(self, tx: Tx, by: Principal, row: dict[str, Any], fields: dict[str, Any], status: str, note: str,
                action: str, audit: bool = True, index: bool = True) -> int:
        """Write ``fields`` as the next version of the entry ``row`` (read FOR UPDATE in ``tx``)."""
        self._check_department(tx, fields["department_id"], row["tenant_code"], row["pool"])
        version = row["version"] + 1
        tx.execute("UPDATE mh_faq_entries SET question = ?, answer = ?, answer_text = ?, categories = ?,"
                   " department_id = ?, visibility = ?, review_date = ?, layers = ?, alert_topics = ?, status = ?,"
                   " version = ?, updated = ?, updated_by = ? WHERE id = ?",
                   [*self._row_values(fields), status, version, self.clock.iso(), by.actor, row["id"]])
        self._version(tx, row["id"], version, fields, status, by, note)
        self.engine.lexical.delete(tx, row["id"])
        if status == "active" and index:
            self.index_many(tx, [(row["id"], fields)])
        self._bump(tx)
        if audit:
            self.audit.append(tx, by.actor, action, f"faq:{row['id']}", tenant=row["tenant_code"],
                              before={"version": row["version"], "status": row["status"], "question": row["question"]},
                              after={"version": version, "status": status, "question": fields["question"], "note": note})
        return version

    def _locked(self, tx: Tx, by: Principal, entry_id: int, version: int | None) -> dict[str, Any]:
        row = tx.one("SELECT * FROM mh_faq_entries WHERE id = ?" + (" FOR UPDATE" if tx.dialect == "postgresql" else ""),
                     (entry_id,))
        if not row:
            raise NotFound(f"no FAQ entry {entry_id}")
        if not can_edit(by, entry_from_row(row)):
            raise Forbidden("this FAQ entry belongs to another department or town")
        if version is not None and row["version"] != version:
            raise Conflict(f"someone else changed this FAQ entry (now version {row['version']}); reload it",
                           details={"stored_version": row["version"], "your_version": version})
        return row

    def update(self, by: Principal, entry_id: int, data: dict[str, Any], version: int, note: str = "") -> FaqEntry:
        fields = self._own_department(by, clean_fields(data))
        with self.db.transaction() as tx:
            row = self._locked(tx, by, entry_id, version)
            self.replace(tx, by, row, fields, row["status"], note, "faq.update")
        return self.get(entry_id)

    def retire(self, by: Principal, entry_id: int, version: int, note: str = "") -> FaqEntry:
        with self.db.transaction() as tx:
            row = self._locked(tx, by, entry_id, version)
            self.replace(tx, by, row, entry_from_row(row).content(), "retired", note or "retired", "faq.retire")
        return self.get(entry_id)

    def restore(self, by: Principal, entry_id: int, old_version: int, version: int) -> FaqEntry:
        """Make an earlier version (and its status) the current one, as a new version."""
        with self.db.transaction() as tx:
            row = self._locked(tx, by, entry_id, version)
            snap = tx.scalar("SELECT snapshot FROM mh_faq_versions WHERE entry_id = ? AND version = ?",
                             (entry_id, old_version))
            if snap is None:
                raise NotFound(f"FAQ entry {entry_id} has no version {old_version}")
            fields = json.loads(snap)
            self.replace(tx, by, row, fields, fields.pop("status", "active"), f"restored version {old_version}",
                         "faq.restore")
        return self.get(entry_id)

    def override(self, by: Principal, tenant_code: str, shared_id: int) -> FaqEntry:
        """A local copy of a shared entry that replaces it for this town (edit it afterwards)."""
        if not can_create(by, tenant_code, tenant_code[:2]):
            raise Forbidden("you cannot add FAQ entries for this town")
        shared = self.get(shared_id)
        if not shared.shared or shared.pool != tenant_code[:2] or shared.status != "active":
            raise Invalid("only an active shared entry of this prefecture's pool can be overridden")
        fields = self._own_department(by, {**shared.content(), "department_id": None})
        with self.db.transaction() as tx:
            old = tx.one("SELECT * FROM mh_faq_entries WHERE tenant_code = ? AND overrides = ?", (tenant_code, shared_id))
            if old and old["status"] == "active":
                raise Conflict(f"this town already overrides it with entry {old['id']}")
            if old:
                self.replace(tx, by, old, fields, "active", "override again", "faq.override")
                entry_id = old["id"]
            else:
                entry_id = self.insert(tx, by, tenant_code, shared.ref, fields, overrides=shared_id,
                                       note=f"override of shared entry {shared_id}")
        return self.get(entry_id)
