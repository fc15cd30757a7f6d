"""The community package as one object built by the composition root (`build_community(hub)`): reports,
groups, library holds and watch-over, all delivering through the alert dispatcher's outbox."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from community.groups import GroupStore
from community.library import LibraryHolds
from community.reports import ReportConfig, ReportStore
from community.watch import WatchOver


@dataclass
class Community:
    alerts: Any
    reports: ReportStore
    groups: GroupStore
    library: LibraryHolds
    watch: WatchOver

    def resident(self, token: str) -> int:
        """The subscriber id behind a resident's preferences link token (raises NotFound)."""
        return int(self.alerts.subscribers.view(token).id)

    def tick(self) -> dict[str, int]:
        """Scheduled work (every few minutes is plenty): hold reminders, forgetting exact report points."""
        return {"reminders": self.library.remind_due(), "points_forgotten": self.reports.forget_points()}


def report_config(settings: Any) -> ReportConfig:
    """Settings when declared (community_report_generalise, community_report_grid_m, community_report_days)."""
    base = ReportConfig()
    return ReportConfig(generalise=str(getattr(settings, "community_report_generalise", base.generalise)),
                        grid_m=float(getattr(settings, "community_report_grid_m", base.grid_m)),
                        public_days=int(getattr(settings, "community_report_days", base.public_days)))


def build_community(hub: Any, config: ReportConfig | None = None) -> Community:
    from machihub.compose import resolve_secret

    alerts = hub.alerts
    secret = resolve_secret(hub.settings)
    groups = GroupStore(alerts)
    return Community(alerts=alerts, reports=ReportStore(alerts, groups, config or report_config(hub.settings)),
                     groups=groups, library=LibraryHolds(alerts, secret), watch=WatchOver(alerts, secret))
