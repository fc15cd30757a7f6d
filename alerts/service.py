"""The alert dispatcher as one object built by the composition root (`build_alerts(hub)`): stores,
lifecycle, bounces, and factories for the worker, the inbound SMTP server and the scheduler."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.areas import AreaStore
from alerts.bounces import Bounces
from alerts.channels import build_channels
from alerts.config import AlertConfig
from alerts.inbound import InboundHandler, start_inbound
from alerts.lifecycle import AlertStore
from alerts.links import Links
from alerts.mail.dkim import DkimSigner
from alerts.outbox import Outbox
from alerts.render import Composer
from alerts.subscriber_admin import SubscriberAdmin
from alerts.subscriptions import SubscriberStore
from alerts.targeting import Targeting
from alerts.templates import feature_phone_preview
from alerts.vapid import VapidKeys
from alerts.worker import Wakeup, Worker
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, SqliteDatabase, open_database
from machihub.principal import Principal
from machihub.sealing import Sealer
from machihub.tenants import TenantStore

log = logging.getLogger("machihub.alerts")
ADDRESS_DATA = Path(__file__).resolve().parent.parent / "gis" / "address_data"


def _relaxed_sync(conn: sqlite3.Connection) -> None:
    # Worker connections only: a commit survives kill -9 of the worker without an fsync (WAL, NORMAL);
    # only a power loss could undo the last commits, which then means a repeated mail, never a lost one.
    conn.execute("PRAGMA synchronous=NORMAL")


def open_worker_db(url: str) -> Database:
    db = open_database(url)
    if isinstance(db, SqliteDatabase):
        db.add_connect_hook(_relaxed_sync)
    return db


@dataclass
class Alerts:
    config: AlertConfig
    db: Database
    clock: Clock
    audit: AuditLog
    tenants: TenantStore
    links: Links
    sealer: Sealer
    areas: AreaStore
    outbox: Outbox
    subscribers: SubscriberStore
    admin: SubscriberAdmin
    lifecycle: AlertStore
    bounces: Bounces
    vapid: VapidKeys
    dkim: DkimSigner | None
    wakeup: Wakeup       # lifecycle → this process's workers: rows queued, start now

    def stats(self, alert_id: int, by: Principal) -> dict[str, Any]:
        record = self.lifecycle.get(alert_id, by)
        return {"id": alert_id, "state": record.state, **self.outbox.stats(alert_id)}

    def preview(self, alert_id: int, by: Principal, language: str = "ja") -> dict[str, Any]:
        record = self.lifecycle.get(alert_id, by)
        tenant = self.tenants.get(record.tenant_code)
        return feature_phone_preview(self.config, record.alert, language, tenant.name)

    def tick(self) -> dict[str, int] | None:
        from alerts.scheduler import tick

        return tick(self)

    def worker(self, name: str, *, db: Database | None = None, kinds: tuple[str, ...] | None = None,
               poll_s: float = 0.5) -> Worker:
        db = db or self.db
        outbox = Outbox(db, self.clock, self.config)
        subs = SubscriberStore(db, self.clock, self.config, self.tenants, self.areas, outbox, self.links, self.sealer)
        return Worker(outbox=outbox, composer=Composer(db, self.config, self.links, self.sealer, self.dkim), subs=subs,
                      links=self.links, channels=build_channels(self.config, {"vapid": self.vapid}, kinds),
                      name=name, journal_dir=Path(self.config.data_dir) / "outbox-journal",
                      batch=self.config.worker_batch, serial=self.config.serial_handoff, poll_s=poll_s,
                      wakeup=self.wakeup)

    async def run_worker(self, name: str, *, until_idle: bool = False, stop: asyncio.Event | None = None,
                         kinds: tuple[str, ...] | None = None) -> Counter[str]:
        """A worker on its own database handle (relaxed fsync for its acks, see _relaxed_sync)."""
        db = open_worker_db(self.db.url)
        try:
            return await self.worker(name, db=db, kinds=kinds).run(until_idle=until_idle, stop=stop)
        finally:
            db.close()

    def inbound_handler(self) -> InboundHandler:
        return InboundHandler(self.config, self.bounces, self.subscribers, {t.code for t in self.tenants.list()})

    @asynccontextmanager
    async def background(self, *, worker: bool = True, inbound: bool = True, scheduler: bool = True,
                         name: str = "serve", tick_s: float = 15.0) -> AsyncIterator[None]:
        """What `serve` runs next to the web apps on a single host: a worker, the inbound SMTP server and the
        scheduler. Stopped in reverse order on exit."""
        from alerts.scheduler import start_scheduler

        stop = asyncio.Event()
        task = asyncio.create_task(self.run_worker(name, stop=stop)) if worker else None
        server = None
        if inbound and self.config.inbound_port:
            try:
                server = await start_inbound(self.inbound_handler(), self.config.inbound_host, self.config.inbound_port)
            except OSError as exc:  # the web apps still serve; bounces and 空メール wait for `machihub inbound`
                log.error("inbound SMTP server not started on %s:%s: %s", self.config.inbound_host,
                          self.config.inbound_port, exc)
        sched = start_scheduler(self, tick_s) if scheduler else None
        try:
            yield
        finally:
            if sched:
                sched.shutdown(wait=False)
            if server:
                server.close()
                await server.wait_closed()
            if task:
                stop.set()
                await task


def build_alerts(hub: Any, config: AlertConfig | None = None) -> Alerts:
    """Build the dispatcher from a Hub (settings, db, clock, audit, tenants); nothing else is read."""
    from machihub.compose import resolve_secret

    config = config or AlertConfig.from_settings(hub.settings)
    secret = resolve_secret(hub.settings)
    links, sealer = Links(secret), Sealer(secret, "alert-contacts")
    areas = AreaStore(hub.db, hub.tenants, hub.audit, hub.clock, ADDRESS_DATA)
    outbox = Outbox(hub.db, hub.clock, config)
    subs = SubscriberStore(hub.db, hub.clock, config, hub.tenants, areas, outbox, links, sealer)
    dkim = DkimSigner(config.dkim_key, config.dkim_selector, config.dkim_signing_domain) if config.dkim_key else None
    wakeup = Wakeup()
    return Alerts(config=config, db=hub.db, clock=hub.clock, audit=hub.audit, tenants=hub.tenants, links=links,
                  sealer=sealer, areas=areas, outbox=outbox, subscribers=subs, admin=SubscriberAdmin(subs, hub.audit),
                  lifecycle=AlertStore(hub.db, hub.clock, hub.audit, Targeting(areas), config, on_queued=wakeup.notify),
                  bounces=Bounces(hub.db, hub.clock, links, sealer),
                  vapid=VapidKeys(config.vapid_key_path, config.vapid_sub), dkim=dkim, wakeup=wakeup)
