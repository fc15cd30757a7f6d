"""What a suspicious-person report may show in public: the place generalised (to its 町丁目 or a 100 m grid
cell) and the free text checked for personal data (names, phone numbers, ages) the approver must keep or
remove before it can be approved. Pure functions; the report store calls them."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import shapely

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0
MASK = "〇〇"

_KANA = r"[\u4e00-\u9fff\u3041-\u309f\u30a1-\u30ffー々]"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("phone", re.compile(r"(?<![0-9０-９])(?:0[0-9０-９]{1,4}[-‐ー－(（)）\s]?[0-9０-９]{1,4}[-‐ー－)）\s]?"
                         r"[0-9０-９]{3,4}|\+81[-\s]?[0-9]{1,4}[-\s]?[0-9]{1,4}[-\s]?[0-9]{3,4})(?![0-9０-９])")),
    ("age", re.compile(r"[0-9０-９一二三四五六七八九十]{1,3}\s?(?:歳|才)|(?:age|aged)\s?\d{1,3}", re.I)),
    ("name", re.compile(_KANA + r"{1,8}(?:さん|くん|君|ちゃん|様|氏)")),
    ("name", re.compile(r"(?:氏名|名前|なまえ)\s*[:：は]?\s*" + _KANA + r"{1,10}")),
)


@dataclass(frozen=True)
class Finding:
    field: str
    kind: str      # phone | age | name
    text: str
    decision: str = ""  # '' (open) | keep | remove

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind, "text": self.text, "decision": self.decision}


def find_personal_data(fields: dict[str, str]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for name, text in fields.items():
        for kind, pattern in PATTERNS:
            for m in pattern.finditer(text or ""):
                key = (name, m.group(0))
                if key not in seen:
                    seen.add(key)
                    out.append(Finding(name, kind, m.group(0)))
    return out


def apply_decisions(fields: dict[str, str], findings: list[Finding]) -> dict[str, str]:
    """The texts as published: every finding marked 'remove' masked."""
    out = dict(fields)
    for f in findings:
        if f.decision == "remove":
            out[f.field] = out[f.field].replace(f.text, MASK)
    return out


@dataclass(frozen=True)
class PublicPlace:
    name: str          # what the text says: the 町丁目, or '…付近' for a grid cell
    geom: Any          # the polygon shown on the map (町丁目 cell or grid cell)
    lat: float         # its representative point
    lon: float


def grid_cell(lat: float, lon: float, size_m: float = 100.0) -> Any:
    """The size_m × size_m cell (snapped to a fixed grid) holding the point."""
    dlat = size_m / M_PER_DEG_LAT
    dlon = size_m / (M_PER_DEG_LON_EQ * math.cos(math.radians(round(lat, 1))))
    y0, x0 = math.floor(lat / dlat) * dlat, math.floor(lon / dlon) * dlon
    return shapely.box(x0, y0, x0 + dlon, y0 + dlat)


def generalise(lat: float, lon: float, mode: str, chome: list[tuple[str, Any]], town_name: str,
               grid_m: float = 100.0) -> PublicPlace:
    """mode 'chome': the 町丁目 cell holding the point; 'grid': a grid cell. The exact point is never returned."""
    point = shapely.Point(lon, lat)
    holder = next(((n, g) for n, g in chome if g.covers(point)), None)
    if mode == "chome" and holder is not None:
        c = holder[1].representative_point()
        return PublicPlace(holder[0], holder[1], c.y, c.x)
    cell = grid_cell(lat, lon, grid_m)
    c = cell.centroid
    label = f"{holder[0]}付近" if holder else f"{town_name}内"
    return PublicPlace(label, cell, c.y, c.x)
