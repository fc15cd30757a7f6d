"""Append-only, tamper-evident audit log: every staff and API action, with before/after.

Each entry's hash covers its content and the previous entry's hash, so changing or deleting any past row
breaks the chain; `machihub audit verify` recomputes it. Entries are written in the same transaction as the
action they record."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from machihub.clock import Clock
from machihub.db import Database, Tx

GENESIS = "0" * 64


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, ts: str, actor: str, tenant: str | None, action: str, target: str,
               before: str | None, after: str | None) -> str:
    payload = json.dumps([prev_hash, ts, actor, tenant, action, target, before, after],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    reason: str = ""


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def append(self, tx: Tx, actor: str, action: str, target: str, *, tenant: str | None = None,
               before: Any = None, after: Any = None) -> None:
        if tx.dialect == "postgresql":
            # Serialise appenders so two transactions never chain onto the same predecessor.
            tx.execute("SELECT pg_advisory_xact_lock(4242001)")
        prev = tx.scalar("SELECT hash FROM mh_audit ORDER BY id DESC LIMIT 1") or GENESIS
        ts = self.clock.iso()
        b, a = _canonical(before), _canonical(after)
        digest = entry_hash(prev, ts, actor, tenant, action, target, b, a)
        tx.execute(
            "INSERT INTO mh_audit (ts, actor, tenant_code, action, target, before, after, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (ts, actor, tenant, action, target, b, a, prev, digest))

    def record(self, actor: str, action: str, target: str, **kw: Any) -> None:
        with self.db.transaction() as tx:
            self.append(tx, actor, action, target, **kw)

    def entries(self, *, tenant: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.transaction() as tx:
            if tenant:
                return tx.query("SELECT * FROM mh_audit WHERE tenant_code = ? ORDER BY id DESC LIMIT ?",
                                (tenant, limit))
            return tx.query("SELECT * FROM mh_audit ORDER BY id DESC LIMIT ?", (limit,))

    def verify(self) -> VerifyResult:
        prev = GENESIS
        count = 0
        with self.db.transaction() as tx:
            rows = tx.query("SELECT * FROM mh_audit ORDER BY id")
        for row in rows:
            count += 1
            if row["prev_hash"] != prev:
                return VerifyResult(False, count, row["id"], "entry does not follow the previous one")
            expected = entry_hash(prev, row["ts"], row["actor"], row["tenant_code"], row["action"],
                                  row["target"], row["before"], row["after"])
            if expected != row["hash"]:
                return VerifyResult(False, count, row["id"], "entry content does not match its hash")
            prev = row["hash"]
        return VerifyResult(True, count)
