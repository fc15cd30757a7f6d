"""read_upload: an untrusted upload in, clean features in EPSG:6668 out, or Invalid naming the problem.

All-or-nothing: any bad row refuses the whole file (listing the first few by row number), so an import
never half-happens. Every library failure is turned into Invalid here; nothing else escapes."""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gis.address import AddressIndex
from gis.geometry import check_and_repair, needs_attention, normalise_type
from layers.readers.csv_reader import read_csv
from layers.readers.gdal_reader import read_with_gdal
from layers.readers.limits import DEFAULT_LIMITS, ReadLimits
from layers.readers.result import Problems, ReadResult, Table
from layers.readers.sniff import sniff
from machihub.errors import Invalid

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
MAX_NOTES = 50
_PROGRESS_EVERY = 500


def read_upload(path: str | Path, *, original_name: str, layer_geometry_type: str | None = None,
                encoding: str | None = None, lat_col: str | None = None, lon_col: str | None = None,
                address_col: str | None = None, address_index: AddressIndex | None = None,
                tenant_code: str | None = None, source_crs: Any = None, progress: Progress | None = None,
                layer: str | None = None, limits: ReadLimits | None = None) -> ReadResult:
    """Read GeoJSON, GeoPackage, zipped Shapefile, KML, GML or CSV. `layer` picks a GeoPackage layer or one
    Shapefile of several in a zip; `source_crs` is the CRS of CSV coordinates (or overrides a file's)."""
    limits = limits or DEFAULT_LIMITS
    name = Path(str(original_name).replace("\\", "/")).name or "upload"
    try:
        return _read(Path(path), name, layer_geometry_type, encoding, lat_col, lon_col, address_col,
                     address_index, tenant_code, source_crs, progress, layer, limits)
    except Invalid:
        raise
    except MemoryError:
        raise Invalid(f"{name}: the file needs more memory than allowed") from None
    except Exception as exc:  # noqa: BLE001 - a library failure on user data is the user's bad file
        log.warning("reading %s failed", name, exc_info=True)
        raise Invalid(f"{name}: cannot read the file ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _read(path: Path, name: str, layer_geometry_type: str | None, encoding: str | None, lat_col: str | None,
          lon_col: str | None, address_col: str | None, address_index: AddressIndex | None,
          tenant_code: str | None, source_crs: Any, progress: Progress | None, layer: str | None,
          limits: ReadLimits) -> ReadResult:
    if not path.is_file():
        raise Invalid(f"{name}: no such file")
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        raise Invalid(f"{name}: {size // (1024 * 1024)} MB; uploads may be at most "
                      f"{limits.max_upload_bytes // (1024 * 1024)} MB")
    sniffed = sniff(path, name)
    problems = Problems(name, limits.max_listed_problems)
    if sniffed.format == "csv":
        table = read_csv(path, name=name, limits=limits, encoding=encoding, lat_col=lat_col, lon_col=lon_col,
                         address_col=address_col, address_index=address_index, tenant_code=tenant_code,
                         source_crs=source_crs, problems=problems)
    else:
        with tempfile.TemporaryDirectory(prefix="machihub-upload-") as scratch:
            table = read_with_gdal(path, sniffed, name=name, scratch=Path(scratch), limits=limits,
                                   encoding=encoding, layer=layer, source_crs=source_crs, problems=problems)
    features, notes = _check(table, layer_geometry_type, problems, progress)
    problems.raise_if_any()
    return ReadResult(features, table.fields, table.source_crs, table.notes + notes, table.encoding,
                      table.format, table.layer)


def _check(table: Table, layer_geometry_type: str | None, problems: Problems,
           progress: Progress | None) -> tuple[list[tuple[Any, dict[str, Any]]], list[str]]:
    """Coordinates, validity (safe repair) and the layer's geometry type, row by row."""
    total = len(table.geometries)
    features: list[tuple[Any, dict[str, Any]]] = []
    notes: list[str] = []
    repaired = 0
    if progress:
        progress(0, total)
    attention = needs_attention(table.geometries)
    for i, (geom, props, where) in enumerate(zip(table.geometries, table.rows, table.labels, strict=True), 1):
        if geom is not None:
            try:
                note = None
                if attention[i - 1]:  # only geometries the vectorised pass flagged go through repair
                    geom, note = check_and_repair(geom)
                if layer_geometry_type not in (None, "Geometry"):
                    geom = normalise_type(geom, layer_geometry_type)
                if note:
                    repaired += 1
                    if repaired <= MAX_NOTES:
                        notes.append(f"{where}: {note}")
                features.append((geom, props))
            except Invalid as exc:
                problems.add_invalid(where, exc)
        if progress and (i % _PROGRESS_EVERY == 0 or i == total):
            progress(i, total)
    if repaired > MAX_NOTES:
        notes.append(f"… {repaired - MAX_NOTES} more geometries repaired")
    return features, notes
