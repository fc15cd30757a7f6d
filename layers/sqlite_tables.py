"""Feature tables in the embedded GeoPackage: GPKG geometry blobs, R*Tree spatial index."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layers import gpkg
from layers.model import Feature, FieldSpec
from layers.tables import HISTORY_DDL, Row, filter_sql, props_from_row, q
from machihub.db import Tx
from machihub.schema import run_script

SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "BOOLEAN",
             "date": "DATE", "datetime": "DATETIME"}


def _store_value(spec: FieldSpec, value: Any) -> Any:
    if value is not None and spec.type == "boolean":
        return 1 if value else 0
    return value


BULK_RTREE = 500  # from this batch size on, fill the R*Tree in one go instead of per-row triggers


class SqliteFeatureTables:
    dialect = "sqlite"

    def create_schema(self, tx: Tx) -> None:
        gpkg.create_core(tx)
        run_script(tx, HISTORY_DDL)
        gpkg.register_catalogue(tx, "mh_layers", "machihub layer catalogue")

    def create_table(self, tx: Tx, table: str, geometry_type: str, fields: Sequence[FieldSpec], title: str) -> None:
        cols = ", ".join(f"{q(f.name)} {SQL_TYPES[f.type]}" for f in fields)
        tx.execute(f"CREATE TABLE {q(table)} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
                   f"geom {geometry_type.upper()}{', ' + cols if cols else ''}, mh_version INTEGER NOT NULL)")
        # gpkg_contents.identifier is unique: two towns may both have a layer called 指定避難所
        gpkg.register_feature_table(tx, table, geometry_type, f"{title} ({table})", title)

    def add_column(self, tx: Tx, table: str, field: FieldSpec) -> None:
        tx.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(field.name)} {SQL_TYPES[field.type]}")

    def insert(self, tx: Tx, table: str, fields: Sequence[FieldSpec], rows: Sequence[Row]) -> list[int]:
        names = ["geom", *[f.name for f in fields], "mh_version"]
        blobs = gpkg.encode_many([r[1] for r in rows])
        with_fid = [r for r in rows if r[0] is not None]
        if with_fid:  # restoring deleted features (rollback) keeps their ids
            cols = ", ".join(q(n) for n in ["fid", *names])
            marks = ", ".join("?" * (len(names) + 1))
            tx.executemany(f"INSERT INTO {q(table)} ({cols}) VALUES ({marks})",
                           [(r[0], blob, *[_store_value(f, r[2].get(f.name)) for f in fields], r[3])
                            for r, blob in zip(rows, blobs, strict=True) if r[0] is not None])
        new = [(r, blob) for r, blob in zip(rows, blobs, strict=True) if r[0] is None]
        if not new:
            return [r[0] for r in rows]
        cols = ", ".join(q(n) for n in names)
        marks = ", ".join("?" * len(names))
        start = tx.scalar(f"SELECT coalesce(max(fid), 0) FROM {q(table)}")
        seq = tx.scalar("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)) or 0
        first = max(start, seq) + 1
        # Explicit ids in one executemany are much faster than one RETURNING per row on 100k imports.
        bulk = len(new) >= BULK_RTREE
        if bulk:
            tx.execute(f"DROP TRIGGER {q(f'rtree_{table}_geom_insert')}")
        tx.executemany(f"INSERT INTO {q(table)} (fid, {cols}) VALUES (?, {marks})",
                       [(first + i, blob, *[_store_value(f, r[2].get(f.name)) for f in fields], r[3])
                        for i, (r, blob) in enumerate(new)])
        if bulk:
            gpkg.bulk_rtree(tx, table, list(range(first, first + len(new))), [r[1] for r, _ in new])
            tx.execute(gpkg.insert_trigger_sql(table))
        new_ids = iter(range(first, first + len(new)))
        return [r[0] if r[0] is not None else next(new_ids) for r in rows]

    def update(self, tx: Tx, table: str, fields: Sequence[FieldSpec], fid: int, geometry: Any,
               props: dict[str, Any], version: int) -> None:
        sets = ", ".join(f"{q(f.name)} = ?" for f in fields)
        tx.execute(f"UPDATE {q(table)} SET geom = ?, {sets + ', ' if sets else ''}mh_version = ? WHERE fid = ?",
                   (gpkg.encode(geometry), *[_store_value(f, props.get(f.name)) for f in fields], version, fid))

    def delete(self, tx: Tx, table: str, fids: Sequence[int]) -> None:
        tx.executemany(f"DELETE FROM {q(table)} WHERE fid = ?", [(f,) for f in fids])

    def _select(self, fields: Sequence[FieldSpec], table: str) -> str:
        cols = ", ".join(["t.fid", "t.geom", *[f"t.{q(f.name)}" for f in fields], "t.mh_version"])
        return f"SELECT {cols} FROM {q(table)} t"

    def _features(self, fields: Sequence[FieldSpec], rows: list[tuple]) -> list[Feature]:
        geoms = gpkg.decode_many([r[1] for r in rows])
        n = len(fields)
        return [Feature(r[0], g, props_from_row(fields, r[2:2 + n]), r[2 + n]) for r, g in zip(rows, geoms, strict=True)]

    def get(self, tx: Tx, table: str, fields: Sequence[FieldSpec], fid: int, *, lock: bool = False) -> Feature | None:
        rows = tx.execute(self._select(fields, table) + " WHERE t.fid = ?", (fid,)).fetchall()
        return self._features(fields, rows)[0] if rows else None

    def _where(self, table: str, fields: Sequence[FieldSpec], bbox, filters) -> tuple[str, str, list[Any]]:
        join, clauses, params = "", [], []
        if bbox is not None:
            join = f" JOIN {q('rtree_' + table + '_geom')} r ON r.id = t.fid"
            clauses.append("r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?")
            params += [bbox[2], bbox[0], bbox[3], bbox[1]]
        fsql, fparams = filter_sql(fields, filters)
        if fsql:
            clauses.append(fsql)
            params += fparams
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return join, where, params

    def query(self, tx: Tx, table: str, fields: Sequence[FieldSpec], *, bbox=None, filters=None,
              limit: int | None = None, offset: int = 0) -> list[Feature]:
        join, where, params = self._where(table, fields, bbox, filters or {})
        sql = self._select(fields, table) + join + where + " ORDER BY t.fid"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return self._features(fields, tx.execute(sql, params).fetchall())

    def count(self, tx: Tx, table: str, fields: Sequence[FieldSpec], *, bbox=None, filters=None) -> int:
        join, where, params = self._where(table, fields, bbox, filters or {})
        return int(tx.scalar(f"SELECT count(*) FROM {q(table)} t{join}{where}", params))

    def extent(self, tx: Tx, table: str) -> tuple[float, float, float, float] | None:
        row = tx.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {q('rtree_' + table + '_geom')}").fetchone()
        return None if row is None or row[0] is None else tuple(row)

    def touched(self, tx: Tx, table: str) -> None:
        gpkg.update_extent(tx, table)

    def mvt(self, tx: Tx, table: str, fields: Sequence[FieldSpec], z: int, x: int, y: int) -> bytes:
        """Vector tile with mapbox-vector-tile: query the R*Tree with the tile's lon/lat box, clip, encode."""
        from layers.mvt_encode import encode_tile

        return encode_tile(table, fields, z, x, y,
                           lambda bbox: self.query(tx, table, fields, bbox=bbox, filters={}, limit=None))
