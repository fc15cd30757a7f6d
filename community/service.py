"""The community package as one object built by the composition root (`build_community(hub)`): reports,
groups, library holds and new arrivals, watch-over, all delivering through the alert dispatcher's outbox."""
from __future__ import annotations

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
        """Scheduled work (every minute): hold reminders, forgetting exact report points, the library drop folder."""
        files = self.library_drop.scan() if self.library_drop else []
        return {"reminders": self.library.remind_due(), "points_forgotten": self.reports.forget_points(),
                "library_files": len(files)}

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
