"""GeoJSON, GeoPackage, zipped Shapefile, KML and GML (PLATEAU CityGML too): prepare a scratch copy, let the
sandboxed GDAL child read it with the one driver the sniffer chose, then check and convert what came back."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from gis.crs import crs_label, horizontal, parse_crs, to_storage
from layers.readers.archive import extract_shapefile
from layers.readers.encoding import canonical, cpg_encoding, dbf_encoding, detect, repair_dbf_names
from layers.readers.fields import convert_gdal, ogr_type, safe_names
from layers.readers.limits import ReadLimits
from layers.readers.result import FieldGuess, Problems, Table
from layers.readers.sandbox import all_drivers, run_gdal
from layers.readers.sniff import Sniffed, copy_without_schema_location
from machihub.errors import Invalid

DRIVERS = {"geojson": "GeoJSON", "gpkg": "GPKG", "shapefile": "ESRI Shapefile", "kml": "LIBKML", "gml": "GML"}
# LIBKML reads <ExtendedData> (the attributes); it adds these KML-structure columns, kept only when used.
_LIBKML_EXTRA = {"Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude",
                 "visibility", "drawOrder", "icon"}


def _driver(fmt: str) -> str:
    if fmt == "kml" and "LIBKML" not in all_drivers():
        return "KML"          # GDAL built without libkml: names and descriptions only
    return DRIVERS[fmt]


def _drop_unused_kml_fields(layer: dict[str, Any]) -> None:
    """Remove LIBKML's structural columns that no feature uses (unset is None, -1 or the default 0)."""
    keep = []
    for i, f in enumerate(layer["fields"]):
        used = any(r[i + 1] not in (None, -1, 0, "") for r in layer["rows"])
        keep.append(used or f["name"] not in _LIBKML_EXTRA)
    layer["fields"] = [f for f, k in zip(layer["fields"], keep, strict=True) if k]
    layer["rows"] = [[r[0], *(v for v, k in zip(r[1:], keep, strict=True) if k)] for r in layer["rows"]]


def _prepare_geojson(src: Path, dst: Path, name: str, limits: ReadLimits, encoding: str | None) -> str:
    """GeoJSON is UTF-8 by definition; a CP932 file (as some tools write) is re-encoded for GDAL."""
    size = src.stat().st_size
    if size > limits.max_json_bytes:
        raise Invalid(f"{name}: {size // (1024 * 1024)} MB; GeoJSON files may be at most "
                      f"{limits.max_json_bytes // (1024 * 1024)} MB (use a GeoPackage for more)")
    data = src.read_bytes()
    label = canonical(encoding) if encoding else detect(data)
    if label is None:
        raise Invalid(f"{name}: is neither UTF-8 nor CP932 text")
    try:
        text = data.decode("utf-8-sig" if label == "UTF-8" else label.lower())
    except UnicodeDecodeError as exc:
        raise Invalid(f"{name}: is not valid {label} text (byte {exc.start})") from None
    _check_named_crs(text, name)
    dst.write_text(text, encoding="utf-8")
    return label


def _check_named_crs(text: str, name: str) -> None:
    """GDAL silently falls back to WGS 84 when a GeoJSON `crs` member names a CRS it does not know; refuse it."""
    import json

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise Invalid(f"{name}: is not valid JSON ({exc})") from None
    crs = doc.get("crs") if isinstance(doc, dict) else None
    if isinstance(crs, dict):
        named = (crs.get("properties") or {}).get("name")
        if not isinstance(named, str):
            raise Invalid(f"{name}: the 'crs' member names no CRS")
        parse_crs(named)  # raises Invalid('unknown CRS …')


def _prepare(src: Path, sniffed: Sniffed, scratch: Path, name: str, limits: ReadLimits,
             encoding: str | None, layer: str | None, crs_given: bool) -> tuple[Path, str | None, list[str]]:
    """Scratch copy to open → (path, encoding label for DBF/GeoJSON text, notes)."""
    fmt = sniffed.format
    if fmt == "geojson":
        dst = scratch / "upload.geojson"
        return dst, _prepare_geojson(src, dst, name, limits, encoding), []
    if fmt == "gpkg":
        dst = scratch / "upload.gpkg"
        shutil.copyfile(src, dst)
        return dst, "UTF-8", []
    if fmt == "shapefile":
        shp = extract_shapefile(src, scratch, name=name, limits=limits, layer=layer, with_prj=not crs_given)
        notes: list[str] = []
        if encoding:
            label: str | None = canonical(encoding)
        elif shp.cpg is not None:
            label = cpg_encoding(shp.cpg)
        else:
            label = dbf_encoding(shp.shp.with_suffix(".dbf"))
            if label:
                notes.append(f"no .cpg file: attribute text read as {label}")
        if label in ("UTF-8", "CP932") and repair_dbf_names(shp.shp.with_suffix(".dbf"), label):
            notes.append("attribute names cut inside a character were shortened")
        return shp.shp, label, notes
    dst = scratch / f"upload.{fmt}"
    assert sniffed.root is not None
    copy_without_schema_location(src, dst, sniffed.root)
    return dst, None, []


def _geometries(wkb: list[str | None], labels: list[str], problems: Problems) -> list[Any]:
    try:
        return list(shapely.from_wkb(np.array(wkb, dtype=object)))
    except (shapely.errors.GEOSException, ValueError, TypeError):
        pass
    out: list[Any] = []           # find the bad ones, row by row
    for w, where in zip(wkb, labels, strict=True):
        try:
            out.append(shapely.from_wkb(w) if w is not None else None)
        except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
            problems.add(where, f"unreadable geometry ({str(exc)[:80]})")
            out.append(None)
    return out


def _union_fields(layers: list[dict[str, Any]]) -> tuple[list[FieldGuess], dict[str, str]]:
    """Fields over all layers read, named for the schema and typed from GDAL's field types; plus the map
    from the file's names to ours."""
    source_names: list[str] = []
    types: dict[str, str] = {}
    for lyr in layers:
        for f in lyr["fields"]:
            t = ogr_type(f["ogr_type"], f["ogr_subtype"])
            if f["name"] not in types:
                source_names.append(f["name"])
                types[f["name"]] = t
            elif types[f["name"]] != t:       # the same name typed differently in two layers
                types[f["name"]] = "number" if {t, types[f["name"]]} == {"integer", "number"} else "string"
    safe = safe_names(source_names)
    fields = [FieldGuess(s.name, types[n], s.source) for s, n in zip(safe, source_names, strict=True)]
    return fields, {n: s.name for s, n in zip(safe, source_names, strict=True)}


def _layer_crs(lyr: dict[str, Any], override: Any, fmt: str, name: str, notes: list[str]) -> Any:
    stated = horizontal(parse_crs(lyr["crs"])) if lyr.get("crs") else None
    if override is None:
        if stated is None:
            what = "has no .prj file" if fmt == "shapefile" else "does not state its CRS"
            raise Invalid(f"{name}: {what}; choose the CRS when uploading")
        return stated
    if stated is not None and not stated.equals(override, ignore_axis_order=True):
        notes.append(f"the file says {crs_label(stated)}; read as {crs_label(override)} as chosen")
    return override


def read_with_gdal(src: Path, sniffed: Sniffed, *, name: str, scratch: Path, limits: ReadLimits,
                   encoding: str | None, layer: str | None, source_crs: Any, problems: Problems) -> Table:
    path, label, notes = _prepare(src, sniffed, scratch, name, limits, encoding, layer, source_crs is not None)
    fmt = sniffed.format
    driver = _driver(fmt)
    result = run_gdal(path, driver, original_name=name, limits=limits,
                      layer=layer if fmt in ("gpkg", "kml", "gml") else None,
                      prefer=Path(name).stem, all_layers=fmt in ("kml", "gml"),
                      encoding=label if fmt == "shapefile" else None)
    layers = [lyr for lyr in result["layers"] if lyr["rows"]] or result["layers"][:1]
    if driver == "LIBKML":
        for lyr in layers:
            _drop_unused_kml_fields(lyr)
    override = horizontal(parse_crs(source_crs)) if source_crs is not None else None
    fields, rename = _union_fields(layers)
    type_of = {f.name: f.type for f in fields}

    table = Table([], [], [], fields, None, label, fmt, None, notes)
    crs_used: set[str] = set()
    for lyr in layers:
        if not lyr["rows"]:
            continue
        crs = _layer_crs(lyr, override, fmt, name, notes)
        crs_used.add(crs_label(crs))
        suffix = f" (layer {lyr['name']})" if len(layers) > 1 else ""
        labels = [f"row {len(table.labels) + i}{suffix}" for i in range(1, len(lyr["rows"]) + 1)]
        geoms = _geometries([r[0] for r in lyr["rows"]], labels, problems)
        for where, g, r in zip(labels, geoms, lyr["rows"], strict=True):
            if g is None and r[0] is None:
                problems.add(where, "no geometry")
        present = [i for i, g in enumerate(geoms) if g is not None]
        moved = to_storage(np.array([geoms[i] for i in present], dtype=object), crs) if present else []
        for i, g in zip(present, moved, strict=True):
            geoms[i] = g
        names = [rename[f["name"]] for f in lyr["fields"]]
        for r in lyr["rows"]:
            props = dict.fromkeys(type_of)
            props.update((n, convert_gdal(v, type_of[n])) for n, v in zip(names, r[1:], strict=True))
            table.rows.append(props)
        table.geometries.extend(geoms)
        table.labels.extend(labels)
    if len(crs_used) > 1:
        notes.append(f"layers in different CRSs ({', '.join(sorted(crs_used))}) were all moved to EPSG:6668")
    table.source_crs = ", ".join(sorted(crs_used)) or None
    # Single-layer formats name the layer after our scratch copy ('upload'): not worth reporting.
    table.layer = layers[0]["name"] if len(layers) == 1 and layers[0]["name"] != "upload" else None
    return table
