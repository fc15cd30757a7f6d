"""Settings of the community package, declared as plain (name, type, default, help) tuples for machihub.settings
to splice into DECLARED (`*(Setting(*s) for s in COMMUNITY_SETTINGS)`: no import of machihub.settings here, so
no cycle), and the typed, checked view the community code reads (`CommunityConfig.from_settings`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from machihub.errors import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

COMMUNITY_SETTINGS: tuple[tuple[str, type, Any, str], ...] = (
    ("community_report_generalise", str, "chome",
     "How a suspicious-person report's place is shown in public: 'chome' (its 町丁目) or 'grid' (a grid cell)"),
    ("community_report_grid_m", float, 100.0, "Size of the grid cell (metres) when reports are generalised to a grid"),
    ("community_report_days", int, 30, "Days an approved suspicious-person report stays on the public map"),
    ("community_library_drop_dir", str, "",
     "Folder the library system (ILS) writes hold CSV batches into, one sub-folder per 団体コード; empty = off"),
    ("community_arrivals_weekday", str, "mon", "Weekday of the weekly new-arrivals (新着案内) digest: mon … sun"),
    ("community_arrivals_hour", int, 9, "Hour (JST, 0-23) of the weekly new-arrivals digest"),
)


@dataclass(frozen=True)
class CommunityConfig:
    report_generalise: str = "chome"
    report_grid_m: float = 100.0
    report_days: int = 30
    library_drop_dir: str = ""
    arrivals_weekday: int = 0   # Monday, as datetime.weekday()
    arrivals_hour: int = 9

    @classmethod
    def from_settings(cls, settings: Any) -> CommunityConfig:
        """Checked once at start, so a typo in machihub.toml is a clear error, not a silent default."""
        v = {name: default for name, _, default, _ in COMMUNITY_SETTINGS}
        v.update({k: val for k, val in getattr(settings, "values", {}).items() if k in v})
        if v["community_report_generalise"] not in ("chome", "grid"):
            raise Invalid("setting community_report_generalise must be 'chome' or 'grid'")
        if not 10 <= float(v["community_report_grid_m"]) <= 5000:
            raise Invalid("setting community_report_grid_m must be between 10 and 5000 metres")
        if not 1 <= int(v["community_report_days"]) <= 365:
            raise Invalid("setting community_report_days must be between 1 and 365")
        day = str(v["community_arrivals_weekday"]).strip().lower()[:3]
        if day not in WEEKDAYS:
            raise Invalid(f"setting community_arrivals_weekday must be one of {', '.join(WEEKDAYS)}")
        if not 0 <= int(v["community_arrivals_hour"]) <= 23:
            raise Invalid("setting community_arrivals_hour must be between 0 and 23")
        return cls(report_generalise=v["community_report_generalise"], report_grid_m=float(v["community_report_grid_m"]),
                   report_days=int(v["community_report_days"]), library_drop_dir=str(v["community_library_drop_dir"]),
                   arrivals_weekday=WEEKDAYS.index(day), arrivals_hour=int(v["community_arrivals_hour"]))
