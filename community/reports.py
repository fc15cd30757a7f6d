"""Suspicious-person and crime-prevention reports (不審者情報). Staff or a police/school liaison (API key,
purpose 'liaison') file a report with the exact point; it is generalised at once (町丁目 or grid cell) and its
text checked for personal data. An approver (alert_approver, not the filer) keeps or removes each finding,
then approves: one transaction creates a crime-topic alert for the affected and neighbouring 町丁目 (through
the alert lifecycle, so subscribers, feeds and the alert pages get it), posts it to the school and PTA groups
whose district covers the point, and puts it on the public map layer until it expires."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely

from alerts.model import JST, Alert, AlertArea, AlertText
from community.groups import GroupStore
from community.privacy import MASK, Finding, apply_decisions, find_personal_data, generalise
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import Principal

FIELDS = ("what", "person", "follow_up")


@dataclass(frozen=True)
class ReportConfig:
    generalise: str = "chome"   # chome | grid
    grid_m: float = 100.0
    public_days: int = 30


@dataclass(frozen=True)
class Report:
    id: int
    tenant_code: str
    state: str
    occurred: str
    place_name: str
    texts: dict[str, str]
    findings: list[Finding]
    filed_by: str
    alert_id: int | None
    public_until: str | None
    version: int


def _report(r: dict[str, Any]) -> Report:
    return Report(r["id"], r["tenant_code"], r["state"], r["occurred"], r["place_name"] or "",
                  {f: r[f] for f in FIELDS}, [Finding(**f) for f in json.loads(r["findings"])], r["filed_by"],
                  r["alert_id"], r["public_until"], r["version"])


class ReportStore:
    def __init__(self, alerts: Any, groups: GroupStore, config: ReportConfig) -> None:
        self.al, self.groups, self.config = alerts, groups, config
        self.db, self.clock, self.audit = alerts.db, alerts.clock, alerts.audit

    @staticmethod
    def _filer(by: Principal, tenant_code: str) -> None:
        staff = by.has("alert_composer") and (by.is_system or by.tenant_code == tenant_code)
        liaison = by.purpose == "liaison" and by.tenant_code == tenant_code
        if not (staff or liaison):
            raise Forbidden("filing reports needs the alert composer role or a liaison API key of this municipality")

    def _chome(self, tenant_code: str) -> list[tuple[str, Any]]:
        return [(u.name, u.geom) for u in self.al.areas.units(tenant_code, "chome")]

    def file(self, by: Principal, tenant_code: str, *, occurred: datetime, lat: float, lon: float, what: str,
             person: str = "", follow_up: str = "") -> int:
        self._filer(by, tenant_code)
        if not what.strip():
            raise Invalid("say what happened")
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=JST)  # a time typed into a form is Japanese wall time
        occurred = occurred.astimezone(JST)  # stored as JST: the pages show its date and time as they are
        if occurred > self.clock.now() + timedelta(minutes=10):
            raise Invalid("the time it happened is in the future")
        if max(len(what), len(person), len(follow_up)) > 2000:
            raise Invalid("each text may be at most 2000 characters")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Invalid("latitude and longitude are out of range")
        town = self.al.areas.town(tenant_code)
        if not town.geom.buffer(0.01).covers(shapely.Point(lon, lat)):
            raise Invalid("the place is outside this municipality")
        texts = {"what": what.strip(), "person": person.strip(), "follow_up": follow_up.strip()}
        place = generalise(lat, lon, self.config.generalise, self._chome(tenant_code), town.name, self.config.grid_m)
        findings = [f.as_dict() for f in find_personal_data(texts)]
        with self.db.transaction() as tx:
            rid = tx.insert("INSERT INTO cm_reports (tenant_code, state, occurred, lat, lon, what, person, follow_up,"
                            " findings, place_name, public_geom, public_lat, public_lon, filed_by, created)"
                            " VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (tenant_code, occurred.isoformat(), lat, lon, texts["what"], texts["person"],
                             texts["follow_up"], json.dumps(findings, ensure_ascii=False), place.name,
                             shapely.to_wkb(place.geom), place.lat, place.lon, by.actor, self.clock.iso()))
            self.audit.append(tx, by.actor, "community.report.file", f"report:{rid}", tenant=tenant_code,
                              after={"place": place.name, "findings": len(findings)})
        return rid

    def get(self, report_id: int) -> Report:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM cm_reports WHERE id = ?", (report_id,))
        if not row:
            raise NotFound(f"no report {report_id}")
        return _report(row)

    def pending(self, tenant_code: str) -> list[Report]:
        with self.db.read() as tx:
            return [_report(r) for r in tx.query("SELECT * FROM cm_reports WHERE tenant_code = ? AND state = 'pending'"
                                                 " ORDER BY id", (tenant_code,))]

    def recent(self, tenant_code: str, limit: int = 50) -> list[Report]:
        """Every state, newest first (the staff list)."""
        with self.db.read() as tx:
            return [_report(r) for r in tx.query("SELECT * FROM cm_reports WHERE tenant_code = ? ORDER BY id DESC"
                                                 " LIMIT ?", (tenant_code, limit))]

    def places(self, report_id: int) -> dict[str, Any]:
        """For the reviewer: the exact point and what the public will see (the generalised area and its point)."""
        with self.db.read() as tx:
            r = tx.one("SELECT lat, lon, public_geom, public_lat, public_lon FROM cm_reports WHERE id = ?",
                       (report_id,))
        if not r:
            raise NotFound(f"no report {report_id}")
        return {"exact": [r["lat"], r["lon"]], "public_point": [r["public_lat"], r["public_lon"]],
                "public_area": shapely.geometry.mapping(shapely.from_wkb(bytes(r["public_geom"])))}

    @staticmethod
    def _approver(by: Principal, report: Report) -> None:
        if not by.has("alert_approver") or (not by.is_system and by.tenant_code != report.tenant_code):
            raise Forbidden("approving reports needs the alert approver role in this municipality")
        if by.actor == report.filed_by:
            raise Forbidden("a second person must approve: the filer cannot approve their own report")

    def decide(self, by: Principal, report_id: int, decisions: dict[int, str]) -> Report:
        """The approver keeps or removes each personal-data finding (by its index)."""
        report = self.get(report_id)
        self._approver(by, report)
        if any(d not in ("keep", "remove") for d in decisions.values()):
            raise Invalid("each finding is either kept or removed")
        if any(not 0 <= i < len(report.findings) for i in decisions):
            raise Invalid("no such personal-data finding in this report")
        if report.state != "pending":
            raise Conflict(f"the report is {report.state}")
        findings = [Finding(f.field, f.kind, f.text, decisions.get(i, f.decision)) for i, f in enumerate(report.findings)]
        with self.db.transaction() as tx:
            tx.execute("UPDATE cm_reports SET findings = ?, version = version + 1 WHERE id = ? AND state = 'pending'",
                       (json.dumps([f.as_dict() for f in findings], ensure_ascii=False), report_id))
            self.audit.append(tx, by.actor, "community.report.decide", f"report:{report_id}",
                              tenant=report.tenant_code, after={"decisions": {str(k): v for k, v in decisions.items()}})
        return self.get(report_id)

    def _areas(self, report: Report, lat: float, lon: float) -> list[AlertArea]:
        """The affected 町丁目 and its neighbours, named so targeting reaches their subscribers."""
        chome = self._chome(report.tenant_code)
        point = shapely.Point(lon, lat)
        hit = [(n, g) for n, g in chome if g.covers(point)]
        if not hit:
            cell = shapely.Point(lon, lat).buffer(0.001)
            hit = [(n, g) for n, g in chome if g.intersects(cell)]
        names = {n for n, _ in hit}
        for _, g in hit:
            near = g.buffer(1e-6)
            names |= {n for n, other in chome if other.intersects(near)}
        return [AlertArea(desc=n, geocodes=[("machihub-area", f"chome:{n}")]) for n in sorted(names)]

    def approve(self, by: Principal, report_id: int) -> int:
        """→ the alert id. Refused while a personal-data finding is still open."""
        report = self.get(report_id)
        self._approver(by, report)
        if report.state != "pending":
            raise Conflict(f"the report is {report.state}")
        open_ = [f for f in report.findings if not f.decision]
        if open_:
            raise Conflict("confirm or remove the personal data first: " + ", ".join(f"{f.kind} '{f.text}'" for f in open_),
                           details={"open": [f.as_dict() for f in open_]})
        texts = apply_decisions(report.texts, report.findings)
        now = self.clock.now()
        when = datetime.fromisoformat(report.occurred).astimezone(JST).strftime("%m月%d日 %H時頃")
        description = f"{when}、{report.place_name}付近で{texts['what']}"
        if texts["person"]:
            description += f"\n不審者の特徴：{texts['person']}"
        until = now + timedelta(days=self.config.public_days)
        with self.db.read() as tx:
            row = tx.one("SELECT lat, lon FROM cm_reports WHERE id = ?", (report_id,))
        alert = Alert(tenant_code=report.tenant_code, topic="crime", event="不審者情報", severity="Moderate",
                      texts={"ja": AlertText(headline=f"不審者情報（{report.place_name}）", description=description,
                                             instruction=texts["follow_up"])},
                      areas=self._areas(report, row["lat"], row["lon"]), expires=until)
        composer = Principal(actor=f"system:community-report-{report_id}", tenant_code=report.tenant_code,
                             roles=frozenset({"alert_composer"}))
        with self.db.transaction() as tx:  # the lifecycle joins this transaction: all of it or nothing
            alert_id = self.al.lifecycle.create(composer, alert)
            self.al.lifecycle.submit(composer, alert_id)
            self.al.lifecycle.approve(by, alert_id)
            for gid in self.groups.covering(tx, report.tenant_code, row["lat"], row["lon"]):
                self.groups.post_in_tx(tx, gid, f"不審者情報（{report.place_name}）",
                                       description + (f"\n{texts['follow_up']}" if texts["follow_up"] else ""),
                                       f"report:{report_id}")
            done = tx.execute("UPDATE cm_reports SET state = 'approved', approver = ?, alert_id = ?, published = ?,"
                              " public_until = ?, what = ?, person = ?, follow_up = ?, version = version + 1"
                              " WHERE id = ? AND version = ? AND state = 'pending'",
                              (by.actor, alert_id, now.isoformat(), until.isoformat(), texts["what"], texts["person"],
                               texts["follow_up"], report_id, report.version)).rowcount
            if done != 1:
                raise Conflict("the report changed meanwhile; reload it")
            self.audit.append(tx, by.actor, "community.report.approve", f"report:{report_id}",
                              tenant=report.tenant_code, after={"alert": alert_id})
        return alert_id

    def reject(self, by: Principal, report_id: int, reason: str) -> None:
        report = self.get(report_id)
        self._approver(by, report)
        if not reason.strip():
            raise Invalid("say why the report is rejected")
        with self.db.transaction() as tx:
            if not tx.execute("UPDATE cm_reports SET state = 'rejected', approver = ? WHERE id = ? AND state = 'pending'",
                              (by.actor, report_id)).rowcount:
                raise Conflict(f"the report is {report.state}")
            self.audit.append(tx, by.actor, "community.report.reject", f"report:{report_id}",
                              tenant=report.tenant_code, after={"reason": reason})

    def public_layer(self, tenant_code: str) -> dict[str, Any]:
        """GeoJSON of approved reports still on the map: the generalised area only, never the exact point."""
        now = self.clock.iso()
        with self.db.read() as tx:
            rows = tx.query("SELECT id, occurred, place_name, what, person, follow_up, public_geom, public_lat,"
                            " public_lon, published, public_until FROM cm_reports WHERE tenant_code = ?"
                            " AND state = 'approved' AND public_until > ? ORDER BY published DESC",
                            (tenant_code, now))
        feats = [{"type": "Feature", "id": r["id"],
                  "geometry": shapely.geometry.mapping(shapely.from_wkb(bytes(r["public_geom"]))),
                  "properties": {"place": r["place_name"], "date": r["occurred"][:10], "what": r["what"],
                                 "person": r["person"], "follow_up": r["follow_up"], "label_lat": r["public_lat"],
                                 "label_lon": r["public_lon"], "until": r["public_until"]}} for r in rows]
        return {"type": "FeatureCollection", "features": feats}

    def forget_points(self) -> int:
        """Reports gone from the map keep only their generalised place (the exact point is personal data);
        rejected ones, never public, likewise after the same period, with every personal-data finding masked."""
        now = self.clock.now()
        with self.db.transaction() as tx:
            n = tx.execute("UPDATE cm_reports SET lat = public_lat, lon = public_lon WHERE state = 'approved'"
                           " AND public_until <= ? AND (lat <> public_lat OR lon <> public_lon)",
                           (now.isoformat(),)).rowcount
            cutoff = (now - timedelta(days=self.config.public_days)).isoformat()
            for r in tx.query("SELECT * FROM cm_reports WHERE state = 'rejected' AND created <= ?"
                              " AND (lat <> public_lat OR lon <> public_lon)", (cutoff,)):
                rep = _report(r)
                texts = apply_decisions(rep.texts, [Finding(f.field, f.kind, f.text, "remove") for f in rep.findings])
                masked = [Finding(f.field, f.kind, MASK, "remove").as_dict() for f in rep.findings]
                tx.execute("UPDATE cm_reports SET lat = public_lat, lon = public_lon, what = ?, person = ?,"
                           " follow_up = ?, findings = ?, version = version + 1 WHERE id = ?",
                           (texts["what"], texts["person"], texts["follow_up"], json.dumps(masked, ensure_ascii=False),
                            r["id"]))
                n += 1
        return n
