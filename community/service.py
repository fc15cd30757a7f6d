"""The community package as one object built by the composition root (`build_community(hub)`): reports,
groups, library holds and new arrivals, watch-over, all delivering through the alert dispatcher's outbox."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from community.arrivals import NewArrivals
from community.config import CommunityConfig
from community.groups import GroupStore
from community.library import LibraryHolds
from community.library_drop import LibraryDrop
from community.reports import ReportConfig, ReportStore
from community.watch import WatchOver

log = logging.getLogger(__name__)


@dataclass
class Community:
    alerts: Any
    reports: ReportStore
    groups: GroupStore
    library: LibraryHolds
    watch: WatchOver
    arrivals: NewArrivals
    library_drop: LibraryDrop | None = None

    def resident(self, token: str) -> int:
        """The subscriber id behind a resident's preferences link token (raises NotFound)."""
        return int(self.alerts.subscribers.view(token).id)

    def tick(self) -> dict[str, int]:
        """Scheduled work (every minute): hold reminders, forgetting exact report points, the library drop folder.
        Each job is isolated: one failing (a drop folder without permission) must not stop the others, above
        all forgetting exact points, which are personal data."""
        out = {"reminders": 0, "points_forgotten": 0, "library_files": 0, "failed_jobs": 0}
        jobs: list[tuple[str, Callable[[], int]]] = [
            ("reminders", self.library.remind_due), ("points_forgotten", self.reports.forget_points)]
        if self.library_drop:
            drop = self.library_drop
            jobs.append(("library_files", lambda: len(drop.scan())))
        for name, job in jobs:
            try:
                out[name] = job()
            except Exception:  # noqa: BLE001 - logged; the next tick tries again
                log.exception("community tick: %s failed", name)
                out["failed_jobs"] += 1
        return out

    def weekly(self) -> dict[str, int]:
        """The weekly job: new-arrival digests (once per weekly slot, however often it is called)."""
        return {"arrival_digests": self.arrivals.send_digests()}


def report_config(settings: Any) -> ReportConfig:
    c = CommunityConfig.from_settings(settings)
    return ReportConfig(generalise=c.report_generalise, grid_m=c.report_grid_m, public_days=c.report_days)


def build_community(hub: Any, config: ReportConfig | None = None) -> Community:
    from machihub.compose import resolve_secret

    alerts = hub.alerts
    secret = resolve_secret(hub.settings)
    settings = CommunityConfig.from_settings(hub.settings)
    groups = GroupStore(alerts)
    library = LibraryHolds(alerts, secret)
    drop = LibraryDrop(library, Path(settings.library_drop_dir)) if settings.library_drop_dir else None
    return Community(alerts=alerts, reports=ReportStore(alerts, groups, config or report_config(hub.settings)),
                     groups=groups, library=library, watch=WatchOver(alerts, secret),
                     arrivals=NewArrivals(alerts, library, settings.arrivals_weekday, settings.arrivals_hour),
                     library_drop=drop)
