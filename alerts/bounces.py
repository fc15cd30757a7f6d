"""Bounces come back to the VERP address of the outbox row that caused them (bounce+<row id>-<mac>@…), so
no guessing which subscriber it was. A hard bounce (DSN Action failed, status 5.x.x) puts the address on the
suppression list and marks the row bounced; soft bounces are only noted on the row."""
from __future__ import annotations

import json

from alerts.links import Links
from alerts.mail.dsn import parse_dsn
from alerts.outbox import add_suppression
from machihub.clock import Clock
from machihub.db import Database
from machihub.sealing import Sealer


class Bounces:
    def __init__(self, db: Database, clock: Clock, links: Links, sealer: Sealer) -> None:
        self.db, self.clock, self.links, self.sealer = db, clock, links, sealer

    def handle(self, verp_address: str, raw: bytes) -> str:
        """→ 'hard', 'soft', 'not-a-dsn' or 'unknown' (a forged or stale VERP address)."""
        row_id = self.links.parse_verp(verp_address)
        if row_id is None:
            return "unknown"
        reports = parse_dsn(raw)
        if not reports:
            return "not-a-dsn"
        hard = [r for r in reports if r.hard]
        with self.db.transaction() as tx:
            row = tx.one("SELECT o.id, o.payload_sealed, c.address_hash FROM al_outbox o LEFT JOIN al_contacts c"
                         " ON c.id = o.contact_id WHERE o.id = ?", (row_id,))
            if row is None:
                return "unknown"
            if not hard:
                tx.execute("UPDATE al_outbox SET last_error = ? WHERE id = ?",
                           (f"soft bounce {reports[0].status} {reports[0].diagnostic}"[:500], row_id))
                return "soft"
            key = row["address_hash"]
            if key is None and row["payload_sealed"]:  # a confirmation mail: the address is in its payload
                key = self.links.address_hash("email", json.loads(self.sealer.open(row["payload_sealed"]))["to"].lower())
            reason = f"bounce {hard[0].status} {hard[0].diagnostic}".strip()
            if key:
                add_suppression(tx, key, "email", reason, self.clock.iso())
            tx.execute("UPDATE al_outbox SET state = 'bounced', last_error = ? WHERE id = ?", (reason[:500], row_id))
        return "hard"
