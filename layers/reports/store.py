"""Report categories (Open311 services) per tenant, and the reports themselves with their status history.

Personal details (the reporter's contact) are sealed at rest and never leave the staff side; the public sees
category, description, location, status and a photo re-encoded without its metadata."""
from __future__ import annotations

import io
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import Principal
from machihub.schema import run_script
from machihub.sealing import Sealer

STATUSES = ("open", "acknowledged", "in_progress", "closed")
MAX_PHOTO = 5 * 1024 * 1024
MAX_TEXT = 2000
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

DDL = """
CREATE TABLE IF NOT EXISTS mh_report_services (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code), code TEXT NOT NULL,
  name_ja TEXT NOT NULL, name_en TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
  department_id {bigint} NOT NULL REFERENCES mh_departments(id), UNIQUE (tenant_code, code));
CREATE TABLE IF NOT EXISTS mh_reports (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code), service_code TEXT NOT NULL,
  department_id {bigint} NOT NULL REFERENCES mh_departments(id), status TEXT NOT NULL,
  description TEXT NOT NULL, lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL,
  address TEXT NOT NULL DEFAULT '', photo {blob}, contact_sealed TEXT, follow_token TEXT NOT NULL,
  status_notes TEXT NOT NULL DEFAULT '', requested TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mh_reports_tenant ON mh_reports (tenant_code, status);
"""


@dataclass(frozen=True)
class Service:
    code: str
    tenant_code: str
    name_ja: str
    name_en: str
    description: str
    department_id: int


@dataclass(frozen=True)
class Report:
    id: int
    tenant_code: str
    service_code: str
    department_id: int
    status: str
    description: str
    lat: float
    lon: float
    address: str
    has_photo: bool
    status_notes: str
    requested: str
    updated: str


def clean_photo(data: bytes) -> bytes:
    """Accept JPEG/PNG only (by content), re-encode as JPEG: drops EXIF (GPS, device) and any payload."""
    if len(data) > MAX_PHOTO:
        raise Invalid(f"the photo is larger than {MAX_PHOTO // (1024 * 1024)} MB")
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
        raise Invalid("the photo must be a JPEG or PNG image")
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise Invalid(f"the photo cannot be read: {exc.__class__.__name__}") from None
    img = img.convert("RGB")
    img.thumbnail((1600, 1600))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def _report(row: dict[str, Any]) -> Report:
    return Report(row["id"], row["tenant_code"], row["service_code"], row["department_id"], row["status"],
                  row["description"], row["lat"], row["lon"], row["address"], row["photo"] is not None,
                  row["status_notes"], row["requested"], row["updated"])


class ReportStore:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, secret_key: str) -> None:
        self.db, self.audit, self.clock = db, audit, clock
        self.sealer = Sealer(secret_key, "report-contacts")

    def create_schema(self, tx) -> None:
        run_script(tx, DDL)

    def add_service(self, by: Principal, tenant_code: str, code: str, name_ja: str, department_id: int, *,
                    name_en: str = "", description: str = "") -> Service:
        if not by.admin_of(tenant_code):
            raise Forbidden("only an admin of this tenant can define report categories")
        if not CODE_RE.match(code):
            raise Invalid(f"service code {code!r}: lower-case letters, digits and _")
        with self.db.transaction() as tx:
            dept = tx.one("SELECT tenant_code FROM mh_departments WHERE id = ?", (department_id,))
            if not dept or dept["tenant_code"] != tenant_code:
                raise Invalid(f"department {department_id} is not a department of tenant {tenant_code}")
            if not tx.one("SELECT id FROM mh_report_services WHERE tenant_code = ? AND code = ?", (tenant_code, code)):
                tx.execute("INSERT INTO mh_report_services (tenant_code, code, name_ja, name_en, description,"
                           " department_id) VALUES (?, ?, ?, ?, ?, ?)",
                           (tenant_code, code, name_ja, name_en, description, department_id))
                self.audit.append(tx, by.actor, "report_service.add", f"service:{tenant_code}/{code}",
                                  tenant=tenant_code, after={"name_ja": name_ja, "department_id": department_id})
        return self.service(tenant_code, code)

    def services(self, tenant_code: str) -> list[Service]:
        with self.db.transaction() as tx:
            rows = tx.query("SELECT * FROM mh_report_services WHERE tenant_code = ? ORDER BY id", (tenant_code,))
        return [Service(r["code"], r["tenant_code"], r["name_ja"], r["name_en"], r["description"],
                        r["department_id"]) for r in rows]

    def service(self, tenant_code: str, code: str) -> Service:
        for s in self.services(tenant_code):
            if s.code == code:
                return s
        raise NotFound(f"no report category {code!r} in {tenant_code}")

    def submit(self, tenant_code: str, service_code: str, *, description: str, lat: float, lon: float,
               address: str = "", photo: bytes | None = None, contact: str | None = None,
               boundary: Any = None) -> tuple[Report, str]:
        """A resident's report, routed to the category's department. Returns it and a follow-up token."""
        service = self.service(tenant_code, service_code)
        description = (description or "").strip()
        if not description:
            raise Invalid("describe the problem")
        if len(description) > MAX_TEXT:
            raise Invalid(f"the description is longer than {MAX_TEXT} characters")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Invalid("the location is not a valid latitude/longitude")
        if boundary is not None:
            import shapely

            if not boundary.buffer(0.01).contains(shapely.Point(lon, lat)):
                raise Invalid("the location is outside this municipality")
        cleaned = clean_photo(photo) if photo else None
        sealed = self.sealer.seal(contact.strip()[:200]) if contact and contact.strip() else None
        token = secrets.token_urlsafe(16)
        now = self.clock.iso()
        with self.db.transaction() as tx:
            rid = tx.insert("INSERT INTO mh_reports (tenant_code, service_code, department_id, status, description,"
                            " lat, lon, address, photo, contact_sealed, follow_token, requested, updated)"
                            " VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (tenant_code, service_code, service.department_id, description, lat, lon,
                             address[:200], cleaned, sealed, token, now, now))
            self.audit.append(tx, "resident", "report.submit", f"report:{rid}", tenant=tenant_code,
                              after={"service": service_code, "department_id": service.department_id})
        return self.get(rid), token

    def get(self, report_id: int) -> Report:
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM mh_reports WHERE id = ?", (report_id,))
        if not row:
            raise NotFound(f"no report {report_id}")
        return _report(row)

    def photo(self, report_id: int) -> bytes:
        with self.db.transaction() as tx:
            data = tx.scalar("SELECT photo FROM mh_reports WHERE id = ?", (report_id,))
        if data is None:
            raise NotFound("this report has no photo")
        return bytes(data)

    def search(self, tenant_code: str, *, status: list[str] | None = None, service_code: str | None = None,
               department_id: int | None = None, start: str | None = None, end: str | None = None,
               limit: int = 1000) -> list[Report]:
        sql, params = "SELECT * FROM mh_reports WHERE tenant_code = ?", [tenant_code]
        if status:
            bad = set(status) - set(STATUSES)
            if bad:
                raise Invalid(f"unknown status {sorted(bad)}; use {', '.join(STATUSES)}")
            sql += f" AND status IN ({', '.join('?' * len(status))})"
            params += status
        for clause, value in (("service_code = ?", service_code), ("department_id = ?", department_id),
                              ("requested >= ?", start), ("requested <= ?", end)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        with self.db.transaction() as tx:
            return [_report(r) for r in tx.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])]

    def set_status(self, by: Principal, report_id: int, status: str, note: str = "") -> Report:
        if status not in STATUSES:
            raise Invalid(f"unknown status {status!r}; use {', '.join(STATUSES)}")
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM mh_reports WHERE id = ?", (report_id,))
            if not row:
                raise NotFound(f"no report {report_id}")
            if not (by.admin_of(row["tenant_code"]) or by.department_id == row["department_id"]):
                raise Forbidden("this report belongs to another department")
            notes = (row["status_notes"] + "\n" if row["status_notes"] else "") + f"{status}: {note.strip()[:500]}"
            tx.execute("UPDATE mh_reports SET status = ?, status_notes = ?, updated = ? WHERE id = ?",
                       (status, notes, self.clock.iso(), report_id))
            self.audit.append(tx, by.actor, "report.status", f"report:{report_id}", tenant=row["tenant_code"],
                              before={"status": row["status"]}, after={"status": status, "note": note})
        return self.get(report_id)

    def contact(self, by: Principal, report_id: int) -> str | None:
        """Staff of the responsible department may read the reporter's contact; the read is audited."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT tenant_code, department_id, contact_sealed FROM mh_reports WHERE id = ?", (report_id,))
            if not row:
                raise NotFound(f"no report {report_id}")
            if not (by.admin_of(row["tenant_code"]) or by.department_id == row["department_id"]):
                raise Forbidden("this report belongs to another department")
            self.audit.append(tx, by.actor, "report.contact_read", f"report:{report_id}", tenant=row["tenant_code"])
        return self.sealer.open(row["contact_sealed"]) if row["contact_sealed"] else None


def services_json(services: list[Service], lang: str = "ja") -> list[dict[str, Any]]:
    return [{"service_code": s.code, "service_name": s.name_ja if lang.startswith("ja") else (s.name_en or s.name_ja),
             "description": s.description, "metadata": False, "type": "realtime", "keywords": "", "group": ""}
            for s in services]


def request_json(r: Report, base_url: str) -> dict[str, Any]:
    """Open311 GeoReport v2 service request (public fields only: no contact, no internal notes)."""
    return {"service_request_id": str(r.id), "status": "closed" if r.status == "closed" else "open",
            "status_notes": r.status, "service_code": r.service_code, "description": r.description,
            "agency_responsible": "", "requested_datetime": r.requested, "updated_datetime": r.updated,
            "address": r.address, "lat": r.lat, "long": r.lon,
            "media_url": f"{base_url}/reports/{r.id}/photo.jpg" if r.has_photo else ""}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
