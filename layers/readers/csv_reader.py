"""CSV with coordinate columns (lat/lon, or x/y in any CRS) or a Japanese address column geocoded to 町丁目.

Read with Python's csv module in this process (no GDAL: plain text cannot point anywhere). The whole file is
checked before anything is returned; every bad row is reported by its data-row number and file line."""
from __future__ import annotations

import csv
import io
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely

from gis.address import AddressIndex
from gis.crs import STORAGE_EPSG, crs_label, horizontal, parse_crs, to_storage
from layers.readers.encoding import decode_text
from layers.readers.fields import convert_text, guess_type, safe_names
from layers.readers.limits import ReadLimits
from layers.readers.result import FieldGuess, Problems, Table
from machihub.errors import Invalid

LAT_NAMES = ("latitude", "lat", "緯度", "ido", "y")
LON_NAMES = ("longitude", "lon", "lng", "long", "経度", "keido", "x")
ADDRESS_NAMES = ("address", "addr", "住所", "所在地", "所在", "jusho")


def _find(header: list[str], wanted: str | None, candidates: tuple[str, ...], name: str) -> int | None:
    folded = [unicodedata.normalize("NFKC", h).strip().lower() for h in header]
    if wanted is not None:
        key = unicodedata.normalize("NFKC", wanted).strip().lower()
        if key not in folded:
            raise Invalid(f"{name}: no column {wanted!r}; the columns are: {', '.join(header)}")
        return folded.index(key)
    for c in candidates:
        if c in folded:
            return folded.index(c)
    return None


def _number(text: str | None, what: str) -> float:
    if text is None or not text.strip():
        raise ValueError(f"{what} is empty")
    value = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} {text.strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} {text.strip()!r} is not a finite number")
    return number


def _x_is_northing(crs: pyproj.CRS) -> bool:
    """Japanese plane-rectangular CRSs call the northing 'X' (公共測量): columns named x/y follow the CRS."""
    axes = crs.axis_info
    return bool(crs.is_projected and axes and axes[0].abbrev.upper() == "X" and axes[0].direction == "north")


def _delimiter(text: str, name: str) -> str:
    """Tab for .tsv; otherwise whichever of , TAB ; the header line uses most (comma on a tie)."""
    if name.lower().endswith(".tsv"):
        return "\t"
    first = text.split("\n", 1)[0]
    return max((",", "\t", ";"), key=first.count)


def _records(text: str, name: str, limits: ReadLimits) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, name))
    try:
        header = next(reader)
    except StopIteration:
        raise Invalid(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise Invalid(f"{name}: line 1: {exc}") from None
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise Invalid(f"{name}: the first line holds no column names")
    if len(header) > limits.max_fields:
        raise Invalid(f"{name}: {len(header)} columns; at most {limits.max_fields} are allowed")
    records: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue                                  # blank line
            records.append((reader.line_num, cells))
            if len(records) > limits.max_features:
                raise Invalid(f"{name}: more than {limits.max_features} rows")
    except csv.Error as exc:
        raise Invalid(f"{name}: line {reader.line_num}: {exc}") from None
    return header, records


@dataclass(frozen=True)
class _Locator:
    """How a row becomes a point: from two coordinate columns, or from an address column."""
    crs: pyproj.CRS
    y_col: int | None = None          # latitude / northing
    x_col: int | None = None          # longitude / easting
    address_col: int | None = None
    note: str = ""


def _what(kind: str, column: str) -> str:
    return kind if column.strip().lower() == kind else f"{kind} ({column})"


def _locator(header: list[str], name: str, lat_col: str | None, lon_col: str | None, address_col: str | None,
             address_index: AddressIndex | None, source_crs: Any) -> _Locator:
    lat_i = _find(header, lat_col, LAT_NAMES, name)
    lon_i = _find(header, lon_col, LON_NAMES, name)
    addr_i = _find(header, address_col, ADDRESS_NAMES, name)
    if (lat_i is None) != (lon_i is None) and (lat_col or lon_col):
        raise Invalid(f"{name}: give both the latitude and the longitude column")
    if lat_i is not None and lon_i is not None and address_col is None:
        crs = horizontal(parse_crs(source_crs if source_crs is not None else STORAGE_EPSG))
        if lat_col is None and header[lat_i].strip().lower() == "y" and _x_is_northing(crs):
            return _Locator(crs, lon_i, lat_i, note="columns x/y read as northing/easting "
                                                   "(the Japanese survey convention of the CRS)")
        return _Locator(crs, lat_i, lon_i)
    if addr_i is None:
        raise Invalid(f"{name}: no latitude/longitude (緯度/経度, x/y) or address (住所) columns; "
                      f"the columns are: {', '.join(header)}")
    if address_index is None:
        raise Invalid(f"{name}: the rows have addresses but no coordinates, and no address index is configured")
    return _Locator(pyproj.CRS.from_epsg(STORAGE_EPSG), address_col=addr_i,
                    note=f"points geocoded from column {header[addr_i]!r} to 町丁目 (town-level precision)")


def _point(row: list[str | None], header: list[str], loc: _Locator, index: AddressIndex | None,
           tenant_code: str | None) -> Any:
    """The row's point in loc.crs; ValueError says what is wrong with the row."""
    if loc.address_col is None:
        assert loc.y_col is not None and loc.x_col is not None
        projected = loc.crs.is_projected
        y = _number(row[loc.y_col], _what("northing" if projected else "latitude", header[loc.y_col]))
        x = _number(row[loc.x_col], _what("easting" if projected else "longitude", header[loc.x_col]))
        return shapely.Point(x, y)
    assert index is not None
    text = (row[loc.address_col] or "").strip()
    if not text:
        raise ValueError(f"{_what('address', header[loc.address_col])} is empty")
    hit = index.lookup(text, tenant_code)
    if hit is None:
        raise ValueError(f"address {text!r} not found")
    return shapely.Point(hit.lng, hit.lat)


def read_csv(path: Path, *, name: str, limits: ReadLimits, encoding: str | None = None,
             lat_col: str | None = None, lon_col: str | None = None, address_col: str | None = None,
             address_index: AddressIndex | None = None, tenant_code: str | None = None,
             source_crs: Any = None, problems: Problems) -> Table:
    size = path.stat().st_size
    if size > limits.max_text_bytes:
        raise Invalid(f"{name}: {size // (1024 * 1024)} MB; CSV files may be at most "
                      f"{limits.max_text_bytes // (1024 * 1024)} MB")
    text, label = decode_text(path.read_bytes(), encoding, name)
    header, records = _records(text, name, limits)
    names = safe_names(header)
    loc = _locator(header, name, lat_col, lon_col, address_col, address_index, source_crs)

    width = len(header)
    geometries: list[Any] = []
    labels: list[str] = []
    cells: list[list[str | None]] = []
    for n, (line, raw) in enumerate(records, 1):
        where = f"row {n} (line {line})"
        labels.append(where)
        if any(c.strip() for c in raw[width:]):
            problems.add(where, f"{len(raw)} cells but the header has {width} columns")
        row: list[str | None] = [*raw[:width], *([None] * (width - len(raw)))]
        cells.append(row)
        try:
            geometries.append(_point(row, header, loc, address_index, tenant_code))
        except ValueError as exc:
            problems.add(where, str(exc))
            geometries.append(None)

    kept = [i for i in range(width) if i not in (loc.y_col, loc.x_col)]   # coordinates become the geometry
    fields = [FieldGuess(names[i].name, guess_type([r[i] for r in cells]), names[i].source) for i in kept]
    rows = [{f.name: convert_text(r[i], f.type) for f, i in zip(fields, kept, strict=True)} for r in cells]
    # One vectorised reprojection for all points (None stays None: that row is already reported).
    present = [i for i, g in enumerate(geometries) if g is not None]
    moved = to_storage(np.array([geometries[i] for i in present], dtype=object), loc.crs) if present else []
    for i, g in zip(present, moved, strict=True):
        geometries[i] = g
    return Table(geometries, rows, labels, fields, crs_label(loc.crs), label, "csv", None,
                 [loc.note] if loc.note else [])
