"""The integrated layer store (統合型GIS): departments own, share and edit layers; every change is a new
revision with who/when/department/note; history, diff and rollback; optimistic locking on every edit.

The same code runs on both backends (GeoPackage on SQLite, PostGIS); only the feature tables differ."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import shapely

from gis.geometry import needs_attention
from layers import history
from layers.geometry_rules import fit_geometry
from layers.model import Feature, FieldSpec, Layer, LayerSchema, Revision, _coerce, check_layer_definition
from layers.permissions import can_edit, can_manage, can_read
from layers.tables import FeatureTables
from layers.tile_cache import LruCache
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, Tx
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import Principal

BATCH = 5000


class StaleEdit(Conflict):
    """The edit started from an older version than the one stored; details hold both versions."""


def _layer(row: dict[str, Any]) -> Layer:
    return Layer(row["id"], row["key"], row["tenant_code"], row["slug"], row["name_ja"], row["name_en"],
                 row["owner_department_id"], row["classification"], row["geometry_type"],
                 LayerSchema.from_list(json.loads(row["schema_json"])), json.loads(row["style_json"]),
                 json.loads(row["metadata_json"]), row["revision"], row["updated"])


def _json_props(props: dict[str, Any]) -> str:
    return json.dumps(props, ensure_ascii=False, sort_keys=True)


def feature_snapshot(f: Feature | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"fid": f.fid, "version": f.version, "properties": f.properties,
            "geometry": json.loads(shapely.to_geojson(f.geometry)) if f.geometry is not None else None}


class LayerStore:
    def __init__(self, db: Database, tables: FeatureTables, audit: AuditLog, clock: Clock) -> None:
        self.db, self.tables, self.audit, self.clock = db, tables, audit, clock
        self._tiles = LruCache(4096)

    def create_schema(self, tx: Tx) -> None:
        self.tables.create_schema(tx)

    # -- reading definitions -------------------------------------------------------------------------
    def _load(self, tx: Tx, key: str, *, lock: bool = False) -> tuple[Layer, dict[int, str]]:
        row = tx.one("SELECT * FROM mh_layers WHERE key = ?" + (" FOR UPDATE" if lock and tx.dialect == "postgresql" else ""),
                     (key,))
        if not row:
            raise NotFound(f"no layer {key!r}")
        shares = {r["department_id"]: r["mode"] for r in tx.query(
            "SELECT department_id, mode FROM mh_layer_shares WHERE layer_id = ?", (row["id"],))}
        return _layer(row), shares

    def _readable(self, tx: Tx, key: str, by: Principal | None) -> Layer:
        layer, shares = self._load(tx, key)
        if not can_read(by, layer, shares):
            raise NotFound(f"no layer {key!r}")  # invisible, not forbidden: do not reveal that it exists
        return layer

    def get_layer(self, key: str, by: Principal | None = None) -> Layer:
        with self.db.read() as tx:
            return self._readable(tx, key, by)

    def shares(self, key: str) -> dict[int, str]:
        with self.db.read() as tx:
            return self._load(tx, key)[1]

    def list_layers(self, by: Principal | None = None, *, tenant_code: str | None = None) -> list[Layer]:
        with self.db.read() as tx:
            rows = tx.query("SELECT * FROM mh_layers ORDER BY tenant_code, key")
            shares: dict[int, dict[int, str]] = {}
            for r in tx.query("SELECT layer_id, department_id, mode FROM mh_layer_shares"):
                shares.setdefault(r["layer_id"], {})[r["department_id"]] = r["mode"]
        layers = [_layer(r) for r in rows if tenant_code is None or r["tenant_code"] == tenant_code]
        return [la for la in layers if can_read(by, la, shares.get(la.id, {}))]

    def editable(self, key: str, by: Principal | None) -> bool:
        with self.db.read() as tx:
            layer, shares = self._load(tx, key)
        return can_edit(by, layer, shares)

    # -- definitions ---------------------------------------------------------------------------------
    def create_layer(self, by: Principal, tenant_code: str, slug: str, name_ja: str, *, owner_department_id: int,
                     geometry_type: str, schema: LayerSchema, classification: str = "internal", name_en: str = "",
                     style: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> Layer:
        metadata = metadata or {}
        check_layer_definition(slug, classification, geometry_type, schema, metadata)
        if not name_ja.strip():
            raise Invalid("layer name (ja) is required")
        key = f"{slug}_{tenant_code}"
        with self.db.transaction() as tx:
            dept = tx.one("SELECT tenant_code FROM mh_departments WHERE id = ?", (owner_department_id,))
            if not dept or dept["tenant_code"] != tenant_code:
                raise Invalid(f"department {owner_department_id} is not a department of tenant {tenant_code}")
            allowed = by.admin_of(tenant_code) or ("layer_editor" in by.roles and by.department_id == owner_department_id)
            if not allowed:
                raise Forbidden("only the owning department's editors or the tenant admin can create this layer")
            if tx.one("SELECT id FROM mh_layers WHERE key = ?", (key,)):
                raise Invalid(f"layer {key!r} already exists")
            now = self.clock.iso()
            layer_id = tx.insert(
                "INSERT INTO mh_layers (key, tenant_code, slug, name_ja, name_en, owner_department_id, classification,"
                " geometry_type, schema_json, style_json, metadata_json, revision, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (key, tenant_code, slug, name_ja, name_en, owner_department_id, classification, geometry_type,
                 json.dumps(schema.to_list(), ensure_ascii=False), json.dumps(style or {}, ensure_ascii=False),
                 json.dumps(metadata, ensure_ascii=False), now, now))
            self.tables.create_table(tx, key, geometry_type, schema.fields, name_ja)
            self.audit.append(tx, by.actor, "layer.create", f"layer:{key}", tenant=tenant_code,
                              after={"name_ja": name_ja, "classification": classification, "id": layer_id,
                                     "schema": schema.to_list(), "geometry_type": geometry_type})
        return self.get_layer(key, by)

    def set_classification(self, by: Principal, key: str, classification: str) -> Layer:
        with self.db.transaction() as tx:
            layer, _ = self._load(tx, key, lock=True)
            if not can_manage(by, layer):
                raise Forbidden("only the owning department or the tenant admin can publish or unpublish a layer")
            check_layer_definition(layer.slug, classification, layer.geometry_type, layer.schema, layer.metadata)
            tx.execute("UPDATE mh_layers SET classification = ?, updated = ? WHERE id = ?",
                       (classification, self.clock.iso(), layer.id))
            self.audit.append(tx, by.actor, "layer.classify", f"layer:{key}", tenant=layer.tenant_code,
                              before={"classification": layer.classification}, after={"classification": classification})
        return self.get_layer(key, by)

    def share(self, by: Principal, key: str, department_id: int, mode: str | None) -> None:
        """mode 'read' or 'edit'; None removes the share. Departments of other tenants may be named (県域共同利用)."""
        if mode not in ("read", "edit", None):
            raise Invalid("share mode must be 'read' or 'edit'")
        with self.db.transaction() as tx:
            layer, shares = self._load(tx, key, lock=True)
            if not can_manage(by, layer):
                raise Forbidden("only the owning department or the tenant admin can share a layer")
            if not tx.one("SELECT id FROM mh_departments WHERE id = ?", (department_id,)):
                raise Invalid(f"no department {department_id}")
            tx.execute("DELETE FROM mh_layer_shares WHERE layer_id = ? AND department_id = ?", (layer.id, department_id))
            if mode:
                tx.execute("INSERT INTO mh_layer_shares (layer_id, department_id, mode) VALUES (?, ?, ?)",
                           (layer.id, department_id, mode))
            self.audit.append(tx, by.actor, "layer.share", f"layer:{key}", tenant=layer.tenant_code,
                              before={"department_id": department_id, "mode": shares.get(department_id)},
                              after={"department_id": department_id, "mode": mode})

    def update_definition(self, by: Principal, key: str, *, name_ja: str | None = None, name_en: str | None = None,
                          style: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                          add_fields: Sequence[FieldSpec] = ()) -> Layer:
        with self.db.transaction() as tx:
            layer, _ = self._load(tx, key, lock=True)
            if not can_manage(by, layer):
                raise Forbidden("only the owning department or the tenant admin can change a layer's definition")
            schema = LayerSchema(layer.schema.fields + tuple(add_fields))
            new_meta = layer.metadata if metadata is None else metadata
            check_layer_definition(layer.slug, layer.classification, layer.geometry_type, schema, new_meta)
            for f in add_fields:
                if f.required:
                    raise Invalid(f"new field {f.name!r} cannot be required: existing features have no value")
                self.tables.add_column(tx, key, f)
            values = {"name_ja": name_ja or layer.name_ja, "name_en": layer.name_en if name_en is None else name_en,
                      "style_json": json.dumps(layer.style if style is None else style, ensure_ascii=False),
                      "metadata_json": json.dumps(new_meta, ensure_ascii=False),
                      "schema_json": json.dumps(schema.to_list(), ensure_ascii=False)}
            tx.execute("UPDATE mh_layers SET name_ja=?, name_en=?, style_json=?, metadata_json=?, schema_json=?,"
                       " updated=? WHERE id=?", (*values.values(), self.clock.iso(), layer.id))
            self.audit.append(tx, by.actor, "layer.define", f"layer:{key}", tenant=layer.tenant_code,
                              before={"name_ja": layer.name_ja, "metadata": layer.metadata, "schema": layer.schema.to_list()},
                              after={"name_ja": values["name_ja"], "metadata": new_meta, "schema": schema.to_list()})
        return self.get_layer(key, by)

    # -- writing features ----------------------------------------------------------------------------
    def _begin_revision(self, tx: Tx, by: Principal, key: str, note: str, kind: str) -> tuple[Layer, int]:
        layer, shares = self._load(tx, key, lock=True)
        if not can_edit(by, layer, shares):
            if can_read(by, layer, shares):
                raise Forbidden(f"your department cannot edit layer {key!r}")
            raise NotFound(f"no layer {key!r}")
        rev = int(tx.scalar("UPDATE mh_layers SET revision = revision + 1, updated = ? WHERE id = ? RETURNING revision",
                            (self.clock.iso(), layer.id)))
        tx.execute("INSERT INTO mh_layer_revisions (layer_id, rev, ts, actor, department_id, note, kind)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", (layer.id, rev, self.clock.iso(), by.actor, by.department_id,
                                                     note, kind))
        return layer, rev

    def _record_versions(self, tx: Tx, layer_id: int, rev: int,
                         items: Iterable[tuple[int, str, Any, dict[str, Any] | None]]) -> None:
        items = list(items)
        wkbs = shapely.to_wkb([g for _, _, g, _ in items])  # one vectorised call (None stays None)
        rows = [(layer_id, fid, rev, op, wkb, _json_props(p) if p is not None else None)
                for (fid, op, _, p), wkb in zip(items, wkbs, strict=True)]
        tx.executemany("INSERT INTO mh_feature_versions (layer_id, fid, rev, op, geom, props) VALUES (?, ?, ?, ?, ?, ?)",
                       rows)

    def _clean(self, layer: Layer, geometry: Any, props: dict[str, Any], row: int | None = None,
               checked: bool = False) -> tuple[Any, dict]:
        return (fit_geometry(geometry, layer.geometry_type, row=row, checked=checked),
                layer.schema.validate(props, row=row))

    def add_features(self, by: Principal, key: str, items: Sequence[tuple[Any, dict[str, Any]]], *, note: str = "",
                     kind: str = "edit", progress: Callable[[int, int], None] | None = None) -> tuple[int, list[int]]:
        """All-or-nothing: every item is validated before anything is written; one revision for the batch."""
        if not items:
            raise Invalid("nothing to add")
        with self.db.transaction() as tx:
            layer, rev = self._begin_revision(tx, by, key, note, kind)
            problems: list[str] = []
            cleaned: list[tuple[Any, dict]] = []
            attention = needs_attention([g for g, _ in items])
            for i, (geom, props) in enumerate(items, start=1):
                try:
                    cleaned.append(self._clean(layer, geom, props, row=i if len(items) > 1 else None,
                                               checked=not attention[i - 1]))
                except Invalid as exc:
                    problems.append(exc.message)
                    if len(problems) >= 20:
                        break
            if problems:
                raise Invalid(f"{len(problems)} feature(s) rejected, nothing imported: " + "; ".join(problems[:5]),
                              details={"problems": problems})
            fids: list[int] = []
            for start in range(0, len(cleaned), BATCH):
                chunk = cleaned[start:start + BATCH]
                new = self.tables.insert(tx, key, layer.schema.fields, [(None, g, p, rev) for g, p in chunk])
                self._record_versions(tx, layer.id, rev, [(fid, "insert", g, p) for fid, (g, p) in zip(new, chunk, strict=True)])
                fids += new
                if progress:
                    progress(len(fids), len(cleaned))
            self.tables.touched(tx, key)
            after = ({"count": len(fids), "note": note} if len(fids) > 1 else
                     feature_snapshot(Feature(fids[0], cleaned[0][0], cleaned[0][1], rev)))
            self.audit.append(tx, by.actor, f"feature.{'import' if kind == 'import' else 'insert'}", f"layer:{key}",
                              tenant=layer.tenant_code, after=after)
        return rev, fids

    def _stale(self, current: Feature | None, base_version: int | None, proposed: dict[str, Any]) -> None:
        if current is None:
            raise NotFound("that feature does not exist (it may have been deleted)")
        if base_version is None:
            raise Invalid("an edit must name the version it started from")
        if current.version != base_version:
            raise StaleEdit(f"feature {current.fid} was changed by someone else (version {current.version}, "
                            f"you started from {base_version})",
                            details={"current": feature_snapshot(current), "yours": proposed,
                                     "base_version": base_version})

    def update_feature(self, by: Principal, key: str, fid: int, *, base_version: int | None, geometry: Any = None,
                       properties: dict[str, Any] | None = None, replace: bool = False, note: str = "") -> Feature:
        """replace=False merges properties (PATCH); replace=True takes them as the whole set (PUT)."""
        with self.db.transaction() as tx:
            layer, rev = self._begin_revision(tx, by, key, note, "edit")
            current = self.tables.get(tx, key, layer.schema.fields, fid, lock=True)
            proposed = {"properties": properties,
                        "geometry": json.loads(shapely.to_geojson(geometry)) if geometry is not None else None}
            self._stale(current, base_version, proposed)
            props = dict(properties or {}) if replace else {**current.properties, **(properties or {})}
            geom, clean = self._clean(layer, geometry if geometry is not None else current.geometry, props)
            self.tables.update(tx, key, layer.schema.fields, fid, geom, clean, rev)
            self._record_versions(tx, layer.id, rev, [(fid, "update", geom, clean)])
            self.tables.touched(tx, key)
            updated = Feature(fid, geom, clean, rev)
            self.audit.append(tx, by.actor, "feature.update", f"layer:{key}/{fid}", tenant=layer.tenant_code,
                              before=feature_snapshot(current), after=feature_snapshot(updated))
        return updated

    def delete_feature(self, by: Principal, key: str, fid: int, *, base_version: int | None, note: str = "") -> int:
        with self.db.transaction() as tx:
            layer, rev = self._begin_revision(tx, by, key, note, "edit")
            current = self.tables.get(tx, key, layer.schema.fields, fid, lock=True)
            self._stale(current, base_version, {"deleted": True})
            self.tables.delete(tx, key, [fid])
            self._record_versions(tx, layer.id, rev, [(fid, "delete", None, None)])
            self.tables.touched(tx, key)
            self.audit.append(tx, by.actor, "feature.delete", f"layer:{key}/{fid}", tenant=layer.tenant_code,
                              before=feature_snapshot(current))
        return rev

    # -- reading features ----------------------------------------------------------------------------
    def _filters(self, layer: Layer, filters: dict[str, Any] | None) -> dict[str, Any]:
        specs = layer.schema.by_name()
        out = {}
        for name, value in (filters or {}).items():
            if name not in specs:
                raise Invalid(f"layer {layer.key!r} has no property {name!r}")
            try:
                out[name] = _coerce(specs[name], value) if not (specs[name].enum and value not in specs[name].enum) else value
            except (TypeError, ValueError) as exc:
                raise Invalid(f"filter {name}: {exc}") from None
            if specs[name].type == "boolean" and self.tables.dialect == "sqlite":
                out[name] = 1 if out[name] else 0
        return out

    def get_feature(self, key: str, fid: int, by: Principal | None = None) -> Feature:
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            f = self.tables.get(tx, key, layer.schema.fields, fid)
        if f is None:
            raise NotFound(f"layer {key!r} has no feature {fid}")
        return f

    def features(self, key: str, by: Principal | None = None, *, bbox: tuple[float, float, float, float] | None = None,
                 filters: dict[str, Any] | None = None, limit: int | None = None, offset: int = 0) -> list[Feature]:
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            return self.tables.query(tx, key, layer.schema.fields, bbox=bbox, filters=self._filters(layer, filters),
                                     limit=limit, offset=offset)

    def count(self, key: str, by: Principal | None = None, *, bbox=None, filters=None) -> int:
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            return self.tables.count(tx, key, layer.schema.fields, bbox=bbox, filters=self._filters(layer, filters))

    def extent(self, key: str, by: Principal | None = None) -> tuple[float, float, float, float] | None:
        with self.db.read() as tx:
            self._readable(tx, key, by)
            return self.tables.extent(tx, key)

    # -- history -------------------------------------------------------------------------------------
    def revisions(self, key: str, by: Principal | None) -> list[Revision]:
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            rows = tx.query("SELECT rev, ts, actor, department_id, note, kind FROM mh_layer_revisions"
                            " WHERE layer_id = ? ORDER BY rev DESC", (layer.id,))
        return [Revision(**r) for r in rows]

    def feature_history(self, key: str, fid: int, by: Principal | None) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            rows = tx.query(
                "SELECT v.rev, v.op, v.geom, v.props, r.ts, r.actor, r.department_id, r.note FROM mh_feature_versions v"
                " JOIN mh_layer_revisions r ON r.layer_id = v.layer_id AND r.rev = v.rev"
                " WHERE v.layer_id = ? AND v.fid = ? ORDER BY v.rev DESC", (layer.id, fid))
        if not rows:
            raise NotFound(f"layer {key!r} has no feature {fid}")
        return [{**{k: r[k] for k in ("rev", "op", "ts", "actor", "department_id", "note")},
                 "properties": json.loads(r["props"]) if r["props"] else None,
                 "geometry": shapely.from_wkb(bytes(r["geom"])) if r["geom"] is not None else None} for r in rows]

    def diff(self, key: str, rev_a: int, rev_b: int, by: Principal | None) -> history.LayerDiff:
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            for rev in (rev_a, rev_b):
                if rev < 0 or rev > layer.revision:
                    raise Invalid(f"layer {key!r} has no revision {rev} (latest is {layer.revision})")
            return history.diff(tx, layer.id, rev_a, rev_b)

    def rollback(self, by: Principal, key: str, to_rev: int, *, note: str = "") -> int:
        """Bring the layer back to how it was after `to_rev`, as a new revision (history stays as it was)."""
        with self.db.transaction() as tx:
            layer, rev = self._begin_revision(tx, by, key, note or f"rollback to r{to_rev}", "rollback")
            if to_rev < 0 or to_rev > layer.revision:
                raise Invalid(f"layer {key!r} has no revision {to_rev} (latest is {layer.revision})")
            fids = history.changed_fids(tx, layer.id, to_rev, layer.revision)
            target = history.state_at(tx, layer.id, to_rev, fids)
            current = history.state_at(tx, layer.id, layer.revision, fids)
            fields = layer.schema.fields
            known = {f.name for f in fields}
            gone = [fid for fid in fids if fid in current and fid not in target]
            back = [fid for fid in fids if fid in target and fid not in current]
            changed = [fid for fid in fids if fid in target and fid in current]
            self.tables.delete(tx, key, gone)
            self.tables.insert(tx, key, fields, [(fid, target[fid][0], {k: v for k, v in target[fid][1].items()
                                                                            if k in known}, rev) for fid in back])
            for fid in changed:
                self.tables.update(tx, key, fields, fid, target[fid][0], target[fid][1], rev)
            self._record_versions(tx, layer.id, rev, [(fid, "delete", None, None) for fid in gone]
                                  + [(fid, "insert" if fid in back else "update", *target[fid]) for fid in back + changed])
            self.tables.touched(tx, key)
            self.audit.append(tx, by.actor, "layer.rollback", f"layer:{key}", tenant=layer.tenant_code,
                              before={"revision": layer.revision}, after={"revision": rev, "restored": to_rev,
                                                                          "features": len(fids)})
        return rev

    def tile(self, key: str, z: int, x: int, y: int, by: Principal | None = None) -> bytes:
        """Vector tile; cached per layer revision, so an edit is visible at once and unchanged tiles cost
        nothing (the embedded store encodes in Python, PostGIS in the database)."""
        if not (0 <= z <= 22 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
            raise NotFound(f"no tile {z}/{x}/{y}")
        with self.db.read() as tx:
            layer = self._readable(tx, key, by)
            cache_key = (key, layer.revision, layer.updated, z, x, y)
            cached = self._tiles.get(cache_key)
            if cached is not None:
                return cached
            data = self.tables.mvt(tx, key, layer.schema.fields, z, x, y)
        self._tiles.put(cache_key, data)
        return data
