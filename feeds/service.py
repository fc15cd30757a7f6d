"""The feeds package as one object built from the hub (`build_feeds(hub)`): ingest, the pollers and the drop
folder, and `background()`, which `serve` runs next to the web apps (APScheduler jobs, stopped on exit)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from feeds.config import FeedsConfig
from feeds.ingest import FeedIngest
from feeds.poller import FeedPoller, scan_drop_folder

log = logging.getLogger("machihub.feeds")
POLL_LOCK = 4242005


@dataclass
class Feeds:
    config: FeedsConfig
    ingest: FeedIngest
    poller: FeedPoller

    async def poll(self) -> None:
        """One poll; on PostgreSQL only one process at a time (advisory lock held while polling)."""
        db = self.ingest.hub.db
        if db.dialect == "postgresql":
            with db.transaction() as tx:
                if not tx.scalar("SELECT pg_try_advisory_lock(?)", (POLL_LOCK,)):
                    return
            try:
                await self.poller.poll_once()
            finally:
                with db.transaction() as tx:
                    tx.execute("SELECT pg_advisory_unlock(?)", (POLL_LOCK,))
            return
        await self.poller.poll_once()

    async def scan_drop(self) -> None:
        folder = Path(self.config.drop_dir)
        if folder.is_dir():
            await asyncio.to_thread(scan_drop_folder, self.ingest, folder)

    @asynccontextmanager
    async def background(self, *, poll: bool = True, drop: bool = True) -> AsyncIterator[AsyncIOScheduler]:
        scheduler = AsyncIOScheduler()
        if poll and (self.config.jma_urls or self.config.cap_urls):
            scheduler.add_job(self.poll, "interval", seconds=self.config.poll_s, id="feeds-poll", max_instances=1,
                              coalesce=True, next_run_time=_now())
        if drop:
            Path(self.config.drop_dir).mkdir(parents=True, exist_ok=True)
            scheduler.add_job(self.scan_drop, "interval", seconds=min(5, self.config.poll_s), id="feeds-drop",
                              max_instances=1, coalesce=True)
        scheduler.start()
        try:
            yield scheduler
        finally:
            scheduler.shutdown(wait=False)


def _now() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()


def build_feeds(hub: Any, config: FeedsConfig | None = None) -> Feeds:
    config = config or FeedsConfig.from_settings(hub.settings)
    ingest = FeedIngest(hub, inland=config.inland_tenants, max_bytes=config.max_bytes)
    poller = FeedPoller(ingest, config.jma_urls, config.cap_urls, user_agent=config.user_agent,
                        max_bytes=config.max_bytes)
    return Feeds(config=config, ingest=ingest, poller=poller)
