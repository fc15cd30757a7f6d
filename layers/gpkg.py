"""GeoPackage essentials for the embedded store: the geometry blob format, the core tables, registering a
feature table with its R*Tree index, and the ST_* SQL functions the standard R*Tree triggers call.

We write the file with the standard library's sqlite3 so edits are versioned by our store; GDAL and QGIS read
the same file as an ordinary GeoPackage (OGC 12-128r18)."""
from __future__ import annotations

import sqlite3
import struct
from functools import lru_cache
from typing import Any

import shapely

from machihub.db import Tx

APPLICATION_ID = 0x47504B47  # 'GPKG'
USER_VERSION = 10400
STORAGE_SRS = 6668
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def encode(geom: Any, srs_id: int = STORAGE_SRS) -> bytes | None:
    if geom is None:
        return None
    empty = geom.is_empty
    wkb = shapely.to_wkb(geom, byte_order=1)
    if geom.geom_type == "Point" or empty:
        flags = 0b00000001 | (0b00010000 if empty else 0)
        return b"GP\x00" + bytes([flags]) + struct.pack("<i", srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    return b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb


def encode_many(geoms: list[Any], srs_id: int = STORAGE_SRS) -> list[bytes | None]:
    """Vectorised: one shapely call for the WKB and bounds of a whole batch (imports of 100k features)."""
    import numpy as np

    arr = np.asarray(geoms, dtype=object)
    wkbs = shapely.to_wkb(arr, byte_order=1)
    bounds = shapely.bounds(arr)
    types = shapely.get_type_id(arr)
    out: list[bytes | None] = []
    point_header = b"GP\x00\x01" + struct.pack("<i", srs_id)
    for wkb, (minx, miny, maxx, maxy), tid, g in zip(wkbs, bounds, types, geoms, strict=True):
        if g is None:
            out.append(None)
        elif tid == 0 and minx == minx:  # non-empty point: no envelope, like GDAL writes
            out.append(point_header + wkb)
        elif minx != minx:  # empty geometry: bounds are NaN
            out.append(b"GP\x00\x11" + struct.pack("<i", srs_id) + wkb)
        else:
            out.append(b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb)
    return out


def wkb_of(blob: bytes) -> bytes:
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    flags = blob[3]
    return bytes(blob[8 + _ENVELOPE_BYTES[(flags >> 1) & 0b111]:])


def decode(blob: bytes | None) -> Any:
    return None if blob is None else shapely.from_wkb(wkb_of(blob))


def decode_many(blobs: list[bytes | None]) -> list[Any]:
    return list(shapely.from_wkb([None if b is None else wkb_of(b) for b in blobs]))


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or from the WKB of a point."""
    if blob is None or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0b00010000:
        return None
    code = (flags >> 1) & 0b111
    if code:
        endian = "<" if flags & 1 else ">"
        return struct.unpack(endian + "4d", blob[8:40])
    wkb = blob[8:]
    endian = "<" if wkb[0] == 1 else ">"
    (gtype,) = struct.unpack(endian + "I", wkb[1:5])
    if gtype % 1000 == 1:  # point (2D, Z, M or ZM): x, y follow the type
        x, y = struct.unpack(endian + "2d", wkb[5:21])
        return (x, x, y, y)
    minx, miny, maxx, maxy = shapely.from_wkb(bytes(wkb)).bounds
    return (minx, maxx, miny, maxy)


def register_functions(conn: sqlite3.Connection) -> None:
    """The ST_* functions the GeoPackage R*Tree triggers call (GDAL provides the same when it writes)."""
    det = {"deterministic": True}
    conn.create_function("ST_IsEmpty", 1, lambda b: 1 if _envelope(b) is None else 0, **det)
    conn.create_function("ST_MinX", 1, lambda b: (_envelope(b) or (None,) * 4)[0], **det)
    conn.create_function("ST_MaxX", 1, lambda b: (_envelope(b) or (None,) * 4)[1], **det)
    conn.create_function("ST_MinY", 1, lambda b: (_envelope(b) or (None,) * 4)[2], **det)
    conn.create_function("ST_MaxY", 1, lambda b: (_envelope(b) or (None,) * 4)[3], **det)


@lru_cache(maxsize=1)
def _wkt_6668() -> str:
    import pyproj

    return pyproj.CRS.from_epsg(STORAGE_SRS).to_wkt("WKT1_GDAL")


CORE_TABLES = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""


def create_core(tx: Tx) -> None:
    tx.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    tx.execute(f"PRAGMA user_version = {USER_VERSION}")
    for stmt in CORE_TABLES.split(";"):
        if stmt.strip():
            tx.execute(stmt)
    rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", 4326, "EPSG", 4326,
         'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
         'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,'
         'AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
         "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
        ("JGD2011", STORAGE_SRS, "EPSG", STORAGE_SRS, _wkt_6668(), "Japanese Geodetic Datum 2011 (storage CRS)"),
    ]
    tx.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def insert_trigger_sql(table: str) -> str:
    rt = q(f"rtree_{table}_geom")
    values = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)"
    return (f"CREATE TRIGGER {q(f'rtree_{table}_geom_insert')} AFTER INSERT ON {q(table)} WHEN (new.geom NOT NULL "
            f"AND NOT ST_IsEmpty(NEW.geom)) BEGIN INSERT OR REPLACE INTO {rt} VALUES ({values}); END")


def bulk_rtree(tx: Tx, table: str, fids: list[int], geoms: list[Any]) -> None:
    """Fill the R*Tree for a batch directly, as GDAL does for bulk loads: the per-row insert trigger would call
    five Python SQL functions per feature. The caller has dropped the insert trigger inside its transaction."""
    import numpy as np

    b = shapely.bounds(np.asarray(geoms, dtype=object))
    rows = [(fid, x0, x1, y0, y1) for fid, (x0, y0, x1, y1) in zip(fids, b.tolist(), strict=True) if x0 == x0]
    tx.executemany(f"INSERT OR REPLACE INTO {q(f'rtree_{table}_geom')} VALUES (?, ?, ?, ?, ?)", rows)


def register_feature_table(tx: Tx, table: str, geometry_type: str, identifier: str, description: str) -> None:
    tx.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)"
               " VALUES (?, 'features', ?, ?, ?)", (table, identifier, description, STORAGE_SRS))
    tx.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
               (table, geometry_type.upper(), STORAGE_SRS))
    rt = q(f"rtree_{table}_geom")
    t = q(table)
    tx.execute(f"CREATE VIRTUAL TABLE {rt} USING rtree(id, minx, maxx, miny, maxy)")
    values = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)"
    name = lambda s: q(f"rtree_{table}_geom_{s}")  # noqa: E731
    tx.execute(insert_trigger_sql(table))
    tx.execute(f"CREATE TRIGGER {name('update1')} AFTER UPDATE OF geom ON {t} WHEN OLD.fid = NEW.fid AND "
               f"(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN INSERT OR REPLACE INTO {rt} VALUES ({values}); END")
    tx.execute(f"CREATE TRIGGER {name('update2')} AFTER UPDATE OF geom ON {t} WHEN OLD.fid = NEW.fid AND "
               f"(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM {rt} WHERE id = OLD.fid; END")
    tx.execute(f"CREATE TRIGGER {name('update3')} AFTER UPDATE ON {t} WHEN OLD.fid != NEW.fid AND "
               f"(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM {rt} WHERE id = OLD.fid; "
               f"INSERT OR REPLACE INTO {rt} VALUES ({values}); END")
    tx.execute(f"CREATE TRIGGER {name('update4')} AFTER UPDATE ON {t} WHEN OLD.fid != NEW.fid AND "
               f"(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM {rt} WHERE id IN (OLD.fid, NEW.fid); END")
    tx.execute(f"CREATE TRIGGER {name('delete')} AFTER DELETE ON {t} WHEN old.geom NOT NULL "
               f"BEGIN DELETE FROM {rt} WHERE id = OLD.fid; END")
    tx.execute("INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
               "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (table,))


def register_catalogue(tx: Tx, table: str, title: str) -> None:
    """Registering one attributes table makes GDAL list only registered tables (LIST_ALL_TABLES=AUTO),
    so QGIS users see the layers and the catalogue, not the store's internal history tables."""
    tx.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)"
               " VALUES (?, 'attributes', ?, ?)", (table, title, title))


def update_extent(tx: Tx, table: str) -> None:
    rt = q(f"rtree_{table}_geom")
    tx.execute(f"UPDATE gpkg_contents SET (min_x, min_y, max_x, max_y) = (SELECT min(minx), min(miny), max(maxx),"
               f" max(maxy) FROM {rt}), last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?",
               (table,))
