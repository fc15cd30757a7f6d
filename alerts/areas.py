"""Area units residents subscribe to and alerts name: the whole town, its 町丁目, school districts and other
drawn zones. 町丁目 and the town are built once per tenant from the shipped address points (see geo.voronoi_cells)
and the tenant boundary; school districts and zones are polygons staff add."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from alerts import geo
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, Tx
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import Principal
from machihub.tenants import TenantStore

ZONE_KINDS = ("school", "zone")


@dataclass(frozen=True)
class AreaUnit:
    id: int
    tenant_code: str
    kind: str
    name: str
    geom: Any


@dataclass
class _TenantUnits:
    units: list[AreaUnit]
    geoms: np.ndarray
    tree: shapely.STRtree
    by_key: dict[tuple[str, str], AreaUnit]


class AreaStore:
    def __init__(self, db: Database, tenants: TenantStore, audit: AuditLog, clock: Clock, address_dir: Path) -> None:
        self.db, self.tenants, self.audit, self.clock = db, tenants, audit, clock
        self.address_dir = Path(address_dir)
        self._cache: dict[str, tuple[int, _TenantUnits]] = {}
        self._lock = threading.Lock()

    # -- building ---------------------------------------------------------------------------------------
    def _address_points(self, tenant_code: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for path in sorted(self.address_dir.glob(f"{tenant_code}_*.json")):
            rows.extend(json.loads(path.read_text(encoding="utf-8")))
        return rows

    def ensure_units(self, tx: Tx, tenant_code: str) -> None:
        """Create the town and 町丁目 units of a tenant the first time they are needed (idempotent)."""
        if tx.scalar("SELECT count(*) FROM al_area_units WHERE tenant_code = ? AND kind = 'town'", (tenant_code,)):
            return
        tenant = self.tenants.get(tenant_code)
        points = self._address_points(tenant_code)
        names = [p["town"] for p in points]
        lons, lats = [p["lng"] for p in points], [p["lat"] for p in points]
        boundary = tenant.boundary
        if boundary is None:
            if not points:
                raise Invalid(f"tenant {tenant_code} has neither a boundary nor address data to build areas from")
            boundary = geo.town_outline(lons, lats)
        now = self.clock.iso()
        rows = [(tenant_code, "town", tenant.name, shapely.to_wkb(boundary), now)]
        if len(points) >= 2:
            cells = geo.voronoi_cells(names, lons, lats, boundary)
            rows += [(tenant_code, "chome", name, shapely.to_wkb(cell), now) for name, cell in sorted(cells.items())]
        tx.executemany("INSERT INTO al_area_units (tenant_code, kind, name, geom, created) VALUES (?, ?, ?, ?, ?)"
                       " ON CONFLICT DO NOTHING", rows)

    def add_zone(self, by: Principal, tenant_code: str, kind: str, name: str, geom: Any) -> AreaUnit:
        """A school district (通学区域) or another drawn zone staff can target and residents can choose."""
        if not by.admin_of(tenant_code) and not (by.has("alert_composer") and by.tenant_code == tenant_code):
            raise Forbidden("only alert staff of this tenant can add areas")
        if kind not in ZONE_KINDS:
            raise Invalid(f"area kind must be one of {', '.join(ZONE_KINDS)}")
        if not name.strip():
            raise Invalid("the area needs a name")
        geom = geo.polygon_from_geojson(shapely.geometry.mapping(geom)) if not isinstance(geom, dict) \
            else geo.polygon_from_geojson(geom)
        with self.db.transaction() as tx:
            self.ensure_units(tx, tenant_code)
            if tx.one("SELECT id FROM al_area_units WHERE tenant_code = ? AND kind = ? AND name = ?",
                      (tenant_code, kind, name)):
                tx.execute("UPDATE al_area_units SET geom = ? WHERE tenant_code = ? AND kind = ? AND name = ?",
                           (shapely.to_wkb(geom), tenant_code, kind, name))
            else:
                tx.execute("INSERT INTO al_area_units (tenant_code, kind, name, geom, created) VALUES (?, ?, ?, ?, ?)",
                           (tenant_code, kind, name, shapely.to_wkb(geom), self.clock.iso()))
            self.audit.append(tx, by.actor, "alerts.area.set", f"area:{tenant_code}/{kind}/{name}",
                              tenant=tenant_code, after={"bounds": list(geom.bounds)})
        self._cache.pop(tenant_code, None)
        return self.unit(tenant_code, kind, name)

    # -- reading ----------------------------------------------------------------------------------------
    def _load(self, tenant_code: str) -> _TenantUnits:
        with self.db.transaction() as tx:
            self.ensure_units(tx, tenant_code)
            stamp = tx.one("SELECT count(*) AS n, max(id) AS m FROM al_area_units WHERE tenant_code = ?",
                           (tenant_code,))
            key = int(stamp["n"]) * 1_000_000_007 + int(stamp["m"] or 0)
            cached = self._cache.get(tenant_code)
            if cached and cached[0] == key:
                return cached[1]
            rows = tx.query("SELECT id, kind, name, geom FROM al_area_units WHERE tenant_code = ? ORDER BY id",
                            (tenant_code,))
        units = [AreaUnit(r["id"], tenant_code, r["kind"], r["name"], shapely.from_wkb(bytes(r["geom"])))
                 for r in rows]
        geoms = np.array([u.geom for u in units], dtype=object)
        loaded = _TenantUnits(units, geoms, shapely.STRtree(geoms), {(u.kind, u.name): u for u in units})
        with self._lock:
            self._cache[tenant_code] = (key, loaded)
        return loaded

    def units(self, tenant_code: str, kind: str | None = None) -> list[AreaUnit]:
        return [u for u in self._load(tenant_code).units if kind is None or u.kind == kind]

    def unit(self, tenant_code: str, kind: str, name: str) -> AreaUnit:
        unit = self._load(tenant_code).by_key.get((kind, name))
        if unit is None:
            raise NotFound(f"{tenant_code} has no {kind} area {name!r}")
        return unit

    def town(self, tenant_code: str) -> AreaUnit:
        return next(u for u in self._load(tenant_code).units if u.kind == "town")

    def overlapping_units(self, tenant_code: str, geom: Any) -> list[int]:
        """Ids of the units that overlap geom (STRtree candidates, then a vectorised overlap test)."""
        loaded = self._load(tenant_code)
        cand = loaded.tree.query(geom, predicate="intersects")
        if cand.size == 0:
            return []
        keep = cand[geo.overlapping(loaded.geoms[cand], geom)]
        return [loaded.units[int(i)].id for i in keep]

    def geometry_of(self, tenant_code: str, geocodes: list[tuple[str, str]]) -> tuple[list[Any], list[int]]:
        """CAP geocodes → (geometries, unit ids named outright). Unknown codes are refused by name."""
        geoms: list[Any] = []
        ids: list[int] = []
        for name, value in geocodes:
            if name == "machihub-area":
                kind, _, unit_name = value.partition(":")
                unit = self.unit(tenant_code, kind, unit_name)
            elif name == "JIS-X0402" and value[:5] == tenant_code:
                unit = self.town(tenant_code)
            else:
                continue  # other code lists (JMA areas) are mapped to polygons by feeds before they get here
            geoms.append(unit.geom)
            ids.append(unit.id)
        return geoms, ids
