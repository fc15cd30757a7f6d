"""Tenants (municipalities by 5-digit 団体コード) and their departments (課)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import shapely

from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import Principal

CODE_RE = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class Tenant:
    code: str
    name: str
    name_en: str
    prefecture: str
    bbox: tuple[float, float, float, float] | None
    boundary: Any = None  # shapely geometry in EPSG:6668, or None


@dataclass(frozen=True)
class Department:
    id: int
    tenant_code: str
    code: str
    name: str
    name_en: str


def _tenant(row: dict[str, Any]) -> Tenant:
    boundary = shapely.from_wkb(bytes(row["boundary"])) if row.get("boundary") else None
    bbox = tuple(json.loads(row["bbox"])) if row.get("bbox") else None
    return Tenant(row["code"], row["name"], row["name_en"], row["prefecture"], bbox, boundary)


class TenantStore:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self.db, self.audit, self.clock = db, audit, clock

    def add(self, by: Principal, code: str, name: str, *, name_en: str = "", prefecture: str = "",
            boundary: Any = None) -> Tenant:
        if not by.is_system:
            raise Forbidden("only the hub operator can add tenants")
        if not CODE_RE.match(code or ""):
            raise Invalid(f"tenant code {code!r} must be the 5-digit 団体コード (e.g. 37201)")
        if not name.strip():
            raise Invalid("tenant name is empty")
        wkb = shapely.to_wkb(boundary) if boundary is not None else None
        bbox = json.dumps(list(boundary.bounds)) if boundary is not None else None
        with self.db.transaction() as tx:
            existing = tx.one("SELECT code FROM mh_tenants WHERE code = ?", (code,))
            if existing:
                tx.execute("UPDATE mh_tenants SET name=?, name_en=?, prefecture=?, boundary=?, bbox=? WHERE code=?",
                           (name, name_en, prefecture, wkb, bbox, code))
            else:
                tx.execute("INSERT INTO mh_tenants (code, name, name_en, prefecture, boundary, bbox, created)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)", (code, name, name_en, prefecture, wkb, bbox,
                                                              self.clock.iso()))
            self.audit.append(tx, by.actor, "tenant.update" if existing else "tenant.add", f"tenant:{code}",
                              tenant=code, after={"name": name, "name_en": name_en, "prefecture": prefecture})
        return self.get(code)

    def get(self, code: str) -> Tenant:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_tenants WHERE code = ?", (code,))
        if not row:
            raise NotFound(f"no tenant with code {code}")
        return _tenant(row)

    def list(self) -> list[Tenant]:
        with self.db.read() as tx:
            return [_tenant(r) for r in tx.query("SELECT * FROM mh_tenants ORDER BY code")]

    def add_department(self, by: Principal, tenant_code: str, code: str, name: str, name_en: str = "") -> Department:
        if not by.admin_of(tenant_code):
            raise Forbidden("only an admin of this tenant can add departments")
        if not code.strip() or not name.strip():
            raise Invalid("department code and name are required")
        self.get(tenant_code)
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM mh_departments WHERE tenant_code = ? AND code = ?", (tenant_code, code))
            if row is None:
                tx.execute("INSERT INTO mh_departments (tenant_code, code, name, name_en) VALUES (?, ?, ?, ?)",
                           (tenant_code, code, name, name_en))
                self.audit.append(tx, by.actor, "department.add", f"department:{tenant_code}/{code}",
                                  tenant=tenant_code, after={"name": name, "name_en": name_en})
            row = tx.one("SELECT * FROM mh_departments WHERE tenant_code = ? AND code = ?", (tenant_code, code))
        return Department(**row)

    def department(self, dept_id: int) -> Department:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_departments WHERE id = ?", (dept_id,))
        if not row:
            raise NotFound(f"no department {dept_id}")
        return Department(**row)

    def find_department(self, tenant_code: str, code_or_name: str) -> Department:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_departments WHERE tenant_code = ? AND (code = ? OR name = ?)",
                         (tenant_code, code_or_name, code_or_name))
        if not row:
            raise NotFound(f"tenant {tenant_code} has no department {code_or_name!r}")
        return Department(**row)

    def departments(self, tenant_code: str | None = None) -> list[Department]:
        with self.db.read() as tx:
            if tenant_code:
                rows = tx.query("SELECT * FROM mh_departments WHERE tenant_code = ? ORDER BY code", (tenant_code,))
            else:
                rows = tx.query("SELECT * FROM mh_departments ORDER BY tenant_code, code")
        return [Department(**r) for r in rows]
