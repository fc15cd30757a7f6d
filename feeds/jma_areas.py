"""Which 地震情報／細分区域 (3-digit seismic area codes, as in 震度速報 VXSE51 and EEW VXSE43–45) a town lies
in, from JMA's code table vendored in feeds/data (see its README for source and credit)."""
from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@cache
def _table() -> dict[str, frozenset[str]]:
    by_town: dict[str, set[str]] = {}
    with (DATA / "jma_seismic_areas.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            # a town split across two areas (佐世保市/宇久島, 薩摩川内市/甑島) has one row per part
            by_town.setdefault(row["city_code"][:5], set()).add(row["area_code"])
    return {town: frozenset(areas) for town, areas in by_town.items()}


@cache
def _names() -> dict[str, str]:
    with (DATA / "jma_seismic_area_names.csv").open(encoding="utf-8", newline="") as f:
        return {row["area_code"]: row["name"] for row in csv.DictReader(f)}


def seismic_areas(town_code: str) -> frozenset[str]:
    """細分区域 codes of a municipality (5-digit 団体コード); empty for a code the table does not know."""
    return _table().get(town_code[:5], frozenset())


def seismic_area_name(area_code: str) -> str | None:
    return _names().get(area_code)
