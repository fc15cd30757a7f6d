"""The durable outbox: one row per (alert, subscriber, channel), written in the transaction that starts the
send (see targeting.queue_alert), plus one-off rows for confirmation and sign-up mails.

Workers claim rows with a lease (lease_owner/lease_until); on PostgreSQL the claim also skips rows another
worker is claiming at that moment (FOR UPDATE SKIP LOCKED), so any number of workers on any number of hosts
share a send. A row is marked sent right after its hand-off, one commit per row, so a killed worker repeats at
most the message it was handing over; rows it held come back when their lease ends, or at once when a worker
of the same name restarts. Temporary failures come back after an exponential backoff; permanent ones stay."""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alerts.config import AlertConfig
from machihub.clock import Clock
from machihub.db import Database, Tx

FINAL_STATES = ("sent", "failed", "bounced", "suppressed", "expired", "cancelled", "unsubscribed", "gone")


@dataclass(frozen=True)
class Claimed:
    id: int
    alert_id: int | None
    subscriber_id: int | None
    contact_id: int | None
    channel: str
    kind: str
    attempts: int
    address_sealed: str | None
    payload_sealed: str | None
    language: str
    link_nonce: str | None


def add_suppression(tx: Tx, address_hash: str, kind: str, reason: str, now: str) -> None:
    tx.execute("INSERT INTO al_suppressions (address_hash, kind, reason, created) VALUES (?, ?, ?, ?)"
               " ON CONFLICT DO NOTHING", (address_hash, kind, reason[:300], now))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class Outbox:
    def __init__(self, db: Database, clock: Clock, config: AlertConfig) -> None:
        self.db, self.clock, self.config = db, clock, config

    # -- claiming ---------------------------------------------------------------------------------------
    def claim(self, owner: str, channels: Sequence[str], limit: int) -> list[Claimed]:
        now = self.clock.now()
        iso, until = now.isoformat(timespec="microseconds"), (now + timedelta(seconds=self.config.lease_s)).isoformat(timespec="microseconds")
        pick = (f"SELECT id FROM al_outbox WHERE state = 'queued' AND channel IN ({_marks(channels)}) AND due <= ?"
                f" AND (lease_until IS NULL OR lease_until < ?) ORDER BY state, priority DESC, id LIMIT ?")
        params = (*channels, iso, iso, limit)
        with self.db.transaction() as tx:
            if tx.dialect == "postgresql":
                ids = [r["id"] for r in tx.query(
                    f"WITH c AS ({pick} FOR UPDATE SKIP LOCKED) UPDATE al_outbox o SET lease_owner = ?,"
                    f" lease_until = ? FROM c WHERE o.id = c.id RETURNING o.id", (*params, owner, until))]
            else:  # BEGIN IMMEDIATE already serialises SQLite writers; the lease keeps the rows ours
                ids = [r["id"] for r in tx.query(
                    f"UPDATE al_outbox SET lease_owner = ?, lease_until = ? WHERE id IN ({pick}) RETURNING id",
                    (owner, until, *params))]
            if not ids:
                return []
            rows = tx.query(
                "SELECT o.id, o.alert_id, o.subscriber_id, o.contact_id, o.channel, o.kind, o.attempts,"
                " c.address_sealed, o.payload_sealed, s.language, s.link_nonce FROM al_outbox o"
                " LEFT JOIN al_contacts c ON c.id = o.contact_id LEFT JOIN al_subscribers s ON s.id = o.subscriber_id"
                f" WHERE o.id IN ({_marks(ids)}) ORDER BY o.id", ids)
        return [Claimed(r["id"], r["alert_id"], r["subscriber_id"], r["contact_id"], r["channel"], r["kind"],
                        r["attempts"], r["address_sealed"], r["payload_sealed"], r["language"] or "ja",
                        r["link_nonce"]) for r in rows]

    def renew(self, owner: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        until = (self.clock.now() + timedelta(seconds=self.config.lease_s)).isoformat(timespec="microseconds")
        with self.db.transaction() as tx:
            tx.execute(f"UPDATE al_outbox SET lease_until = ? WHERE lease_owner = ? AND state = 'queued'"
                       f" AND id IN ({_marks(ids)})", (until, owner, *ids))

    def recover(self, owner: str, handed_over: Sequence[int]) -> None:
        """A dead worker's journal: what it handed over is sent; what else it held goes back at once."""
        for start in range(0, len(handed_over), 500):
            chunk = handed_over[start:start + 500]
            with self.db.transaction() as tx:
                tx.execute(f"UPDATE al_outbox SET state = 'sent', sent_at = coalesce(sent_at, ?), sent_by = ?,"
                           f" lease_owner = NULL, lease_until = NULL WHERE state = 'queued' AND id IN ({_marks(chunk)})",
                           (self.clock.iso(), owner, *chunk))
        with self.db.transaction() as tx:
            # the rest was not handed over: queued rows go back, stopped ones no longer count as reached
            tx.execute("UPDATE al_outbox SET lease_owner = NULL, lease_until = NULL WHERE state IN ('queued', 'cancelled')"
                       " AND lease_owner = ?", (owner,))

    # -- results ----------------------------------------------------------------------------------------
    def mark_sent(self, ids: Sequence[int], owner: str) -> None:
        with self.db.transaction() as tx:
            if tx.dialect == "postgresql":
                tx.execute("SET LOCAL synchronous_commit TO off")  # a killed worker still commits; see module doc
            tx.execute(f"UPDATE al_outbox SET state = 'sent', sent_at = ?, sent_by = ?, lease_owner = NULL,"
                       f" lease_until = NULL WHERE id IN ({_marks(ids)})", (self.clock.iso(), owner, *ids))

    def release(self, ids: Sequence[int], owner: str, *, delay_s: float = 0.0) -> None:
        """Give rows back without counting an attempt (the relay was down, the worker is stopping)."""
        if not ids:
            return
        due = (self.clock.now() + timedelta(seconds=delay_s)).isoformat(timespec="microseconds")
        with self.db.transaction() as tx:
            tx.execute(f"UPDATE al_outbox SET lease_owner = NULL, lease_until = NULL, due = ? WHERE state = 'queued'"
                       f" AND lease_owner = ? AND id IN ({_marks(ids)})", (due, owner, *ids))
            # stopped while held but never handed over: nobody got it, so a Cancel must not count it as reached
            tx.execute(f"UPDATE al_outbox SET lease_owner = NULL, lease_until = NULL WHERE state = 'cancelled'"
                       f" AND lease_owner = ? AND id IN ({_marks(ids)})", (owner, *ids))

    def backoff_s(self, attempts: int) -> float:
        return min(3600.0, self.config.retry_base_s * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)

    def retry(self, row: Claimed, error: str) -> None:
        attempts = row.attempts + 1
        with self.db.transaction() as tx:
            if attempts >= self.config.max_attempts:
                self._final(tx, row.id, "failed", error, attempts)
                return
            due = (self.clock.now() + timedelta(seconds=self.backoff_s(attempts))).isoformat(timespec="microseconds")
            tx.execute("UPDATE al_outbox SET attempts = ?, due = ?, last_error = ?, lease_owner = NULL,"
                       " lease_until = NULL WHERE id = ?", (attempts, due, error[:500], row.id))

    def finish(self, row: Claimed, state: str, error: str = "") -> None:
        with self.db.transaction() as tx:
            self._final(tx, row.id, state, error, row.attempts + 1)

    def suppress(self, row: Claimed, address_hash: str, kind: str, reason: str) -> None:
        """Permanent refusal of the address: it goes on the suppression list, the row is failed."""
        with self.db.transaction() as tx:
            add_suppression(tx, address_hash, kind, reason, self.clock.iso())
            self._final(tx, row.id, "failed", reason, row.attempts + 1)

    def _final(self, tx: Tx, row_id: int, state: str, error: str, attempts: int) -> None:
        assert state in FINAL_STATES
        tx.execute("UPDATE al_outbox SET state = ?, attempts = ?, last_error = ?, lease_owner = NULL,"
                   " lease_until = NULL WHERE id = ?", (state, attempts, error[:500] or None, row_id))

    # -- one-off messages and statistics ------------------------------------------------------------------
    def enqueue_message(self, tx: Tx, channel: str, kind: str, payload_sealed: str, *, priority: int = 9) -> int:
        now = self.clock.iso()
        return tx.insert("INSERT INTO al_outbox (channel, kind, payload_sealed, state, priority, due, created)"
                         " VALUES (?, ?, ?, 'queued', ?, ?, ?)", (channel, kind, payload_sealed, priority, now, now))

    def stats(self, alert_id: int) -> dict[str, Any]:
        with self.db.transaction() as tx:
            rows = tx.query("SELECT channel, state, count(*) AS n, sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END)"
                            " AS retried, min(sent_at) AS first, max(sent_at) AS last FROM al_outbox"
                            " WHERE alert_id = ? GROUP BY channel, state", (alert_id,))
        out: dict[str, Any] = {"total": 0, "by_channel": {}, "first_sent": None, "last_sent": None, "retrying": 0}
        for r in rows:
            out["total"] += r["n"]
            out[r["state"]] = out.get(r["state"], 0) + r["n"]
            out["by_channel"].setdefault(r["channel"], {})[r["state"]] = r["n"]
            if r["state"] == "queued":
                out["retrying"] += int(r["retried"] or 0)
            if r["state"] == "sent":
                out["first_sent"] = min(x for x in (out["first_sent"], r["first"]) if x) if r["first"] else out["first_sent"]
                out["last_sent"] = max(x for x in (out["last_sent"], r["last"]) if x) if r["last"] else out["last_sent"]
        for state in ("queued", "sent", "failed", "bounced"):
            out.setdefault(state, 0)
        return out
