"""Sliding-window rate limits kept in the store (so every web process shares them): sign-ups per address and
per client, so the form and the 空メール address cannot be used to mail-bomb someone."""
from __future__ import annotations

from datetime import datetime, timedelta

from machihub.db import Tx
from machihub.errors import TooManyRequests


def hit(tx: Tx, now: datetime, subject: str, limit: int, window: timedelta, message: str) -> None:
    """Count one event for subject; refuse (changing nothing) when the window already holds `limit`."""
    since = (now - window).isoformat(timespec="microseconds")
    count = tx.scalar("SELECT count(*) FROM al_rate_events WHERE subject = ? AND ts > ?", (subject, since))
    if count >= limit:
        raise TooManyRequests(message)
    tx.execute("INSERT INTO al_rate_events (subject, ts) VALUES (?, ?)",
               (subject, now.isoformat(timespec="microseconds")))


def purge(tx: Tx, now: datetime) -> None:
    tx.execute("DELETE FROM al_rate_events WHERE ts < ?", ((now - timedelta(days=2)).isoformat(timespec="microseconds"),))
