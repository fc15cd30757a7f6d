"""Run the public portal and the staff console in one process on two ports (they can also run apart:
the public app on the internet side, the staff app on LGWAN)."""
from __future__ import annotations

import asyncio

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from machihub.compose import Hub
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app


async def start(hub: Hub) -> list[web.AppRunner]:
    s = hub.settings
    runners = []
    for app, port in ((make_public_app(hub), s.public_port), (make_staff_app(hub), s.staff_port)):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, s.host, port).start()
        runners.append(runner)
    return runners


def start_community_ticks(hub: Hub, every_s: float = 60.0) -> AsyncIOScheduler:
    """Hold reminders, expiry of suspicious-person reports and the library drop folder every minute; the weekly
    new-arrivals digest at its slot (and once at start, to catch up a slot missed while down). Every job is
    idempotent (sent-once records), so several hosts may run it."""
    from datetime import datetime

    from community.config import WEEKDAYS, CommunityConfig

    scheduler = AsyncIOScheduler()

    async def job() -> None:
        await asyncio.to_thread(hub.community.tick)

    async def weekly() -> None:
        await asyncio.to_thread(hub.community.weekly)

    cfg = CommunityConfig.from_settings(hub.settings)
    scheduler.add_job(job, "interval", seconds=every_s, id="community-tick", max_instances=1, coalesce=True)
    scheduler.add_job(weekly, "cron", day_of_week=WEEKDAYS[cfg.arrivals_weekday], hour=cfg.arrivals_hour,
                      timezone="Asia/Tokyo", id="community-weekly", max_instances=1, coalesce=True,
                      misfire_grace_time=None, next_run_time=datetime.now().astimezone())
    scheduler.start()
    return scheduler


def serve(hub: Hub) -> None:
    async def main() -> None:
        runners = await start(hub)
        s = hub.settings
        print(f"public portal:  http://{s.host}:{s.public_port}/", flush=True)
        print(f"staff console:  http://{s.host}:{s.staff_port}/  (demo logins in {s.data_dir}/demo-logins.txt)",
              flush=True)
        print(f"OGC API:        http://{s.host}:{s.public_port}/ogc", flush=True)
        try:
            # one outbox worker, the inbound SMTP server (空メール, bounces) and the scheduler beside the web apps
            async with hub.alerts.background(), hub.feeds.background():
                community = start_community_ticks(hub)
                try:
                    await asyncio.Event().wait()
                finally:
                    community.shutdown(wait=False)
        finally:
            for r in runners:
                await r.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
