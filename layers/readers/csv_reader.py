"""CSV with coordinate columns (lat/lon, or x/y in any CRS) or a Japanese address column geocoded to 町丁目.

Read with Python's csv module in this process (no GDAL: plain text cannot point anywhere). The whole file is
checked before anything is returned; every bad row is reported by its data-row number and file line."""
from __future__ import annotations

import csv
import io
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyproj
import shapely

from gis.address import AddressIndex
from gis.crs import STORAGE_EPSG, horizontal, parse_crs
from layers.readers.encoding import decode_text
from layers.readers.fields import convert_text, guess_type, safe_names
from layers.readers.limits import ReadLimits
from layers.readers.result import FieldGuess, Problems
from machihub.errors import Invalid

LAT_NAMES = ("latitude", "lat", "緯度", "ido", "y")
LON_NAMES = ("longitude", "lon", "lng", "long", "経度", "keido", "x")
ADDRESS_NAMES = ("address", "addr", "住所", "所在地", "所在", "jusho")


@dataclass
class CsvTable:
    geometries: list[Any]                 # shapely points in source_crs (None where the row was bad)
    rows: list[dict[str, Any]]
    labels: list[str]                     # 'row 3 (line 4)'
    fields: list[FieldGuess]
    source_crs: pyproj.CRS
    encoding: str
    notes: list[str] = field(default_factory=list)


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


def _records(text: str, name: str, limits: ReadLimits) -> tuple[list[str], list[tuple[int, list[str]]]]:
    sample = text[:64 * 1024]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
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


def read_csv(path: Path, *, name: str, limits: ReadLimits, encoding: str | None = None,
             lat_col: str | None = None, lon_col: str | None = None, address_col: str | None = None,
             address_index: AddressIndex | None = None, tenant_code: str | None = None,
             source_crs: Any = None, problems: Problems) -> CsvTable:
    size = path.stat().st_size
    if size > limits.max_text_bytes:
        raise Invalid(f"{name}: {size // (1024 * 1024)} MB; CSV files may be at most "
                      f"{limits.max_text_bytes // (1024 * 1024)} MB")
    text, label = decode_text(path.read_bytes(), encoding, name)
    header, records = _records(text, name, limits)
    names = safe_names(header)

    lat_i = _find(header, lat_col, LAT_NAMES, name)
    lon_i = _find(header, lon_col, LON_NAMES, name)
    addr_i = _find(header, address_col, ADDRESS_NAMES, name)
    use_coords = lat_i is not None and lon_i is not None and address_col is None
    if (lat_i is None) != (lon_i is None) and (lat_col or lon_col):
        raise Invalid(f"{name}: give both the latitude and the longitude column")
    if not use_coords and addr_i is None:
        raise Invalid(f"{name}: no latitude/longitude (緯度/経度, x/y) or address (住所) columns; "
                      f"the columns are: {', '.join(header)}")
    if not use_coords and address_index is None:
        raise Invalid(f"{name}: the rows have addresses but no coordinates, and no address index is configured")

    crs = horizontal(parse_crs(source_crs if source_crs is not None else STORAGE_EPSG))
    notes: list[str] = []
    if use_coords:
        assert lat_i is not None and lon_i is not None
        lat_is_x = header[lat_i].strip().lower() == "y" and _x_is_northing(crs)
        if lat_is_x:      # 'x' = northing, 'y' = easting in the plane-rectangular convention
            lat_i, lon_i = lon_i, lat_i
            notes.append("columns x/y read as northing/easting (Japanese survey convention of the CRS)")
        drop = {lat_i, lon_i}
    else:
        drop = set()
        notes.append(f"points geocoded from column {header[addr_i]!r} to 町丁目 (town-level precision)")
        crs = pyproj.CRS.from_epsg(STORAGE_EPSG)

    kept = [i for i in range(len(header)) if i not in drop]
    width = len(header)
    geometries: list[Any] = []
    labels: list[str] = []
    cells_by_row: list[list[str | None]] = []
    for n, (line, cells) in enumerate(records, 1):
        where = f"row {n} (line {line})"
        labels.append(where)
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            problems.add(where, f"{len(cells)} cells but the header has {width} columns")
        row: list[str | None] = list(cells[:width]) + [None] * (width - len(cells[:width]))
        cells_by_row.append(row)
        try:
            if use_coords:
                y = _number(row[lat_i], f"{'northing' if crs.is_projected else 'latitude'} ({header[lat_i]})")
                x = _number(row[lon_i], f"{'easting' if crs.is_projected else 'longitude'} ({header[lon_i]})")
                geometries.append(shapely.Point(x, y))
            else:
                text_addr = (row[addr_i] or "").strip()
                if not text_addr:
                    raise ValueError(f"address ({header[addr_i]}) is empty")
                hit = address_index.lookup(text_addr, tenant_code)
                if hit is None:
                    raise ValueError(f"address {text_addr!r} not found")
                geometries.append(shapely.Point(hit.lng, hit.lat))
        except ValueError as exc:
            problems.add(where, str(exc))
            geometries.append(None)

    fields: list[FieldGuess] = []
    for i in kept:
        t = guess_type([r[i] for r in cells_by_row])
        fields.append(FieldGuess(names[i].name, t, names[i].source))
    rows = [{f.name: convert_text(r[i], f.type) for f, i in zip(fields, kept, strict=True)} for r in cells_by_row]
    return CsvTable(geometries, rows, labels, fields, crs, label, notes)
