"""The interface every layer-store backend implements: one feature table per layer, plus the shared history
tables. Backends differ only in geometry storage and spatial indexing; versioning lives in store.py."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from layers.model import Feature, FieldSpec
from machihub.db import Tx

HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS mh_layers (
  id {id}, key TEXT NOT NULL UNIQUE, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  slug TEXT NOT NULL, name_ja TEXT NOT NULL, name_en TEXT NOT NULL DEFAULT '',
  owner_department_id {bigint} NOT NULL REFERENCES mh_departments(id),
  classification TEXT NOT NULL, geometry_type TEXT NOT NULL,
  schema_json TEXT NOT NULL, style_json TEXT NOT NULL DEFAULT '{{}}', metadata_json TEXT NOT NULL DEFAULT '{{}}',
  revision {bigint} NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mh_layer_shares (
  layer_id {bigint} NOT NULL REFERENCES mh_layers(id), department_id {bigint} NOT NULL REFERENCES mh_departments(id),
  mode TEXT NOT NULL CHECK (mode IN ('read', 'edit')), PRIMARY KEY (layer_id, department_id));
CREATE TABLE IF NOT EXISTS mh_layer_revisions (
  id {id}, layer_id {bigint} NOT NULL REFERENCES mh_layers(id), rev {bigint} NOT NULL, ts TEXT NOT NULL,
  actor TEXT NOT NULL, department_id {bigint}, note TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL,
  UNIQUE (layer_id, rev));
CREATE TABLE IF NOT EXISTS mh_feature_versions (
  id {id}, layer_id {bigint} NOT NULL REFERENCES mh_layers(id), fid {bigint} NOT NULL, rev {bigint} NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')), geom {blob}, props TEXT,
  UNIQUE (layer_id, fid, rev));
CREATE INDEX IF NOT EXISTS mh_feature_versions_rev ON mh_feature_versions (layer_id, rev);
"""

Row = tuple[int | None, Any, dict[str, Any], int]   # (fid or None for new, geometry, props, version)


class FeatureTables(Protocol):
    dialect: str

    def create_schema(self, tx: Tx) -> None: ...
    def create_table(self, tx: Tx, table: str, geometry_type: str, fields: Sequence[FieldSpec],
                     title: str) -> None: ...
    def add_column(self, tx: Tx, table: str, field: FieldSpec) -> None: ...
    def insert(self, tx: Tx, table: str, fields: Sequence[FieldSpec], rows: Sequence[Row]) -> list[int]: ...
    def update(self, tx: Tx, table: str, fields: Sequence[FieldSpec], fid: int, geometry: Any,
               props: dict[str, Any], version: int) -> None: ...
    def delete(self, tx: Tx, table: str, fids: Sequence[int]) -> None: ...
    def get(self, tx: Tx, table: str, fields: Sequence[FieldSpec], fid: int, *, lock: bool = False) -> Feature | None: ...
    def query(self, tx: Tx, table: str, fields: Sequence[FieldSpec], *, bbox: tuple[float, float, float, float] | None,
              filters: dict[str, Any], limit: int | None, offset: int) -> list[Feature]: ...
    def count(self, tx: Tx, table: str, fields: Sequence[FieldSpec], *,
              bbox: tuple[float, float, float, float] | None, filters: dict[str, Any]) -> int: ...
    def extent(self, tx: Tx, table: str) -> tuple[float, float, float, float] | None: ...
    def touched(self, tx: Tx, table: str) -> None: ...
    def mvt(self, tx: Tx, table: str, fields: Sequence[FieldSpec], z: int, x: int, y: int) -> bytes: ...


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def props_from_row(fields: Sequence[FieldSpec], values: Sequence[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec, value in zip(fields, values, strict=True):
        if value is not None and spec.type == "boolean":
            value = bool(value)
        out[spec.name] = value
    return out


def filter_sql(fields: Sequence[FieldSpec], filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """Equality filters on declared fields only (property names come from the schema, never from input)."""
    by_name = {f.name: f for f in fields}
    clauses, params = [], []
    for name, value in filters.items():
        if name not in by_name:
            from machihub.errors import Invalid

            raise Invalid(f"unknown property {name!r} to filter on")
        clauses.append(f"{q(name)} = ?")
        params.append(value)
    return (" AND ".join(clauses), params)


WEB_MERCATOR_HALF = 20037508.342789244


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * WEB_MERCATOR_HALF / (1 << z)
    minx = -WEB_MERCATOR_HALF + x * size
    maxy = WEB_MERCATOR_HALF - y * size
    return (minx, maxy - size, minx + size, maxy)
