"""Plain data of a parsed 気象庁防災情報XML telegram (see feeds.jma for the parser)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feeds.jma_codes import area_kind

STATUSES = ("通常", "訓練", "試験")
DRILL_STATUSES = frozenset({"訓練", "試験"})  # never broadcast: staff only
INFO_TYPES = ("発表", "訂正", "取消", "遅延")


@dataclass(frozen=True)
class JmaArea:
    code: str
    name: str
    code_type: str  # JMA's codeType, e.g. 気象・地震・火山情報／市町村等 ("" when the telegram does not say)

    @property
    def kind(self) -> str:
        """municipality, forecast_area, prefecture, seismic_area, tsunami_area, volcano, … or other."""
        return area_kind(self.code_type)


@dataclass(frozen=True)
class Kind:
    """One warning/advisory kind (Kind element), with its Body status and the kind it replaces."""
    name: str | None
    code: str | None
    status: str | None = None       # 発表 / 継続 / 解除 / 特別警報から警報 / なし / …
    condition: str | None = None    # e.g. 土砂災害、浸水害; 引上げ
    last_name: str | None = None
    last_code: str | None = None


@dataclass(frozen=True)
class HeadlineItem:
    info_type: str                  # Information/@type, e.g. 気象警報・注意報（市町村等）
    kinds: tuple[Kind, ...]
    areas: tuple[JmaArea, ...]


@dataclass(frozen=True)
class AreaWarning:
    warning_type: str               # Warning/@type
    area: JmaArea
    kinds: tuple[Kind, ...]
    change_status: str | None = None
    full_status: str | None = None


@dataclass(frozen=True)
class Intensity:
    level: str                      # pref | area | city
    code: str
    name: str
    max_int: str | None             # JMA scale: 1 2 3 4 5- 5+ 6- 6+ 7 (EEW: forecast lower bound)


@dataclass(frozen=True)
class Earthquake:
    origin_time: datetime | None
    arrival_time: datetime | None
    hypocentre_name: str | None
    hypocentre_code: str | None
    latitude: float | None
    longitude: float | None
    depth_km: float | None
    coordinate_text: str | None     # JMA's own wording, e.g. 北緯３４．８度　東経１３８．５度　深さ　１０ｋｍ
    magnitude: float | None
    magnitude_type: str | None
    magnitude_text: str | None      # e.g. Ｍ６．６, Ｍ８を超える巨大地震


@dataclass(frozen=True)
class Eew:
    is_warning: bool                # 緊急地震速報（警報）
    forecast_int_from: str | None
    forecast_int_to: str | None
    is_final: bool
    areas: tuple[Intensity, ...]


@dataclass(frozen=True)
class TsunamiForecast:
    area: JmaArea
    kind: Kind                      # e.g. 大津波警報：発表 (53), last kind 津波なし
    first_arrival: datetime | None
    first_condition: str | None     # e.g. 津波到達中と推測, 第１波の到達を確認
    max_height_m: float | None
    max_height_text: str | None     # e.g. 巨大, 高い, 10m超


@dataclass(frozen=True)
class VolcanoItem:
    info_type: str                  # VolcanoInfo/@type
    kind: Kind
    areas: tuple[JmaArea, ...]


@dataclass(frozen=True)
class JmaTelegram:
    control_title: str
    type_code: str | None           # derived from control_title; None for titles we do not map
    status: str                     # 通常 / 訓練 / 試験
    sent: datetime                  # Control/DateTime
    editorial_office: str
    publishing_office: str
    title: str                      # Head/Title
    report_datetime: datetime
    target_datetime: datetime | None
    event_id: str | None
    info_type: str                  # 発表 / 訂正 / 取消 / 遅延
    serial: str | None
    info_kind: str
    info_kind_version: str | None
    headline: str
    headline_items: tuple[HeadlineItem, ...]
    body_kind: str | None           # meteorology / seismology / volcanology
    areas: tuple[JmaArea, ...] = ()  # every area named in Body, once each
    warnings: tuple[AreaWarning, ...] = ()
    earthquake: Earthquake | None = None
    max_intensity: str | None = None
    intensities: tuple[Intensity, ...] = ()
    eew: Eew | None = None
    tsunami: tuple[TsunamiForecast, ...] = ()
    volcano: tuple[VolcanoItem, ...] = ()
    body_text: str | None = None    # Body/Text (e.g. the reason of a 取消) or volcano headline

    @property
    def is_drill(self) -> bool:
        return self.status in DRILL_STATUSES

    @property
    def is_cancellation(self) -> bool:
        return self.info_type == "取消"

    @property
    def headline_areas(self) -> tuple[JmaArea, ...]:
        return unique_areas(a for item in self.headline_items for a in item.areas)

    def area_codes(self, kind: str) -> list[str]:
        """Codes of Body areas of one kind (see JmaArea.kind), in telegram order."""
        return [a.code for a in self.areas if a.kind == kind]


def unique_areas(areas: Iterable[JmaArea]) -> tuple[JmaArea, ...]:
    """Each area once, first occurrence first."""
    return tuple(dict.fromkeys(areas))
