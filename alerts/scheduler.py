"""Timed work with APScheduler: scheduled sends, expiry, finished sends, and deleting unconfirmed sign-ups.
Every web/worker process may run the scheduler; on PostgreSQL a transaction-level advisory lock makes each
tick run once across hosts (SQLite's write lock does the same on one host)."""
from __future__ import annotations

import asyncio
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

TICK_LOCK = 4242002


def tick(alerts: Any) -> dict[str, int] | None:
    with alerts.db.transaction() as tx:
        if tx.dialect == "postgresql" and not tx.scalar("SELECT pg_try_advisory_xact_lock(?)", (TICK_LOCK,)):
            return None  # another process is ticking right now
        done = alerts.lifecycle.run_due()
        done["purged"] = alerts.subscribers.purge()
        return done


def start_scheduler(alerts: Any, every_s: float = 15.0) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()

    async def job() -> None:
        await asyncio.to_thread(tick, alerts)

    scheduler.add_job(job, "interval", seconds=every_s, id="alerts-tick", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler
