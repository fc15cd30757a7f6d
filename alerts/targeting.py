"""Who gets an alert, written straight into the outbox in the caller's transaction.

Subscribers match when one of their areas overlaps the alert's areas (more than a shared edge) and one of
their topics is the alert's. Area units (town, 町丁目, school districts) are matched once per alert, not per
subscriber (an STRtree over the tenant's units, or PostGIS), and their subscribers come from an index; points
with a radius and drawn areas are prefiltered by bounding box in SQL, then tested vectorised with shapely
(SQLite) or by PostGIS. The outbox rows are then one INSERT … SELECT per quiet-hours group, so a 100k send
never travels through Python row by row. Only CAP status Actual reaches residents: drills (Exercise/Test),
System and Draft messages go to staff subscribers only."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely

from alerts import geo
from alerts.areas import AreaStore
from alerts.model import JST, TOPICS, Alert, overrides_quiet_hours, severity_rank

_TMP = {"sqlite": "CREATE TEMP TABLE IF NOT EXISTS al_tmp_targets (sid INTEGER PRIMARY KEY)",
        "postgresql": "CREATE TEMP TABLE IF NOT EXISTS al_tmp_targets (sid BIGINT PRIMARY KEY) ON COMMIT DELETE ROWS"}
_IN_QUIET = ("(s.quiet_start IS NOT NULL AND ((s.quiet_start < s.quiet_end AND ? >= s.quiet_start AND ? < s.quiet_end)"
             " OR (s.quiet_start > s.quiet_end AND (? >= s.quiet_start OR ? < s.quiet_end))))")


def alert_geometry(areas: AreaStore, alert: Alert) -> tuple[Any, list[int]]:
    """Union of the alert's polygons, circles and geocoded units, and the unit ids it names outright."""
    parts: list[Any] = []
    named: list[int] = []
    for area in alert.areas:
        parts += [geo.ring_polygon(r) for r in area.polygons]
        parts += [geo.circle(c.lat, c.lon, c.radius_km * 1000) for c in area.circles]
        geoms, ids = areas.geometry_of(alert.tenant_code, area.geocodes)
        parts += geoms
        named += ids
    return (shapely.union_all(parts) if parts else None), named


def next_minute(now: datetime, minute: int) -> datetime:
    """The next time (after now) the JST clock shows minute-of-day `minute`."""
    local = now.astimezone(JST)
    at = local.replace(hour=minute // 60, minute=minute % 60, second=0, microsecond=0)
    return (at if at > local else at + timedelta(days=1)).astimezone(UTC)  # stored times are UTC text


class Targeting:
    def __init__(self, areas: AreaStore) -> None:
        self.areas = areas

    def _custom_matches(self, tx: Any, tenant_code: str, geom: Any) -> list[int]:
        minx, miny, maxx, maxy = geom.bounds
        box = ("FROM al_sub_areas a JOIN al_subscribers s ON s.id = a.subscriber_id WHERE s.tenant_code = ?"
               " AND a.unit_id IS NULL AND a.miny <= ? AND a.maxy >= ? AND a.minx <= ? AND a.maxx >= ?")
        params = (tenant_code, maxy, miny, maxx, minx)
        if tx.dialect == "postgresql":
            wkb = shapely.to_wkb(geom)
            rows = tx.query(
                f"SELECT DISTINCT a.subscriber_id AS sid {box} AND ("
                " (a.pt IS NOT NULL AND ST_DWithin(a.pt, ST_GeomFromWKB(?, 4326)::geography, a.radius_m))"
                " OR (a.g IS NOT NULL AND ST_Intersects(a.g, ST_GeomFromWKB(?, 6668))"
                f" AND ST_Area(ST_Intersection(a.g, ST_GeomFromWKB(?, 6668))) > {geo.MIN_OVERLAP}))",
                (*params, wkb, wkb, wkb))
            return [r["sid"] for r in rows]
        rows = tx.query(f"SELECT a.subscriber_id AS sid, a.lat, a.lon, a.radius_m, a.geom {box}", params)
        if not rows:
            return []
        sids = np.array([r["sid"] for r in rows], dtype=np.int64)
        is_pt = np.array([r["lat"] is not None for r in rows])
        hit = np.zeros(len(rows), dtype=bool)
        if is_pt.any():
            pts = [r for r, p in zip(rows, is_pt, strict=True) if p]
            hit[is_pt] = geo.points_within(np.array([r["lat"] for r in pts]), np.array([r["lon"] for r in pts]),
                                           np.array([r["radius_m"] for r in pts]), geom)
        if (~is_pt).any():
            drawn = shapely.from_wkb([bytes(r["geom"]) for r, p in zip(rows, is_pt, strict=True) if not p])
            hit[~is_pt] = geo.overlapping(np.asarray(drawn), geom)
        return sorted(set(sids[hit].tolist()))

    def _unit_matches(self, tx: Any, tenant_code: str, geom: Any) -> list[int]:
        if tx.dialect == "postgresql":
            wkb = shapely.to_wkb(geom)
            return [r["id"] for r in tx.query(
                "SELECT id FROM al_area_units WHERE tenant_code = ? AND ST_Intersects(g, ST_GeomFromWKB(?, 6668))"
                f" AND ST_Area(ST_Intersection(g, ST_GeomFromWKB(?, 6668))) > {geo.MIN_OVERLAP}",
                (tenant_code, wkb, wkb))]
        return self.areas.overlapping_units(tenant_code, geom)

    def fill_targets(self, tx: Any, alert: Alert) -> None:
        """al_tmp_targets ← ids of subscribers whose areas overlap the alert (any topic, any status)."""
        tx.execute(_TMP[tx.dialect])
        tx.execute("DELETE FROM al_tmp_targets")
        self.areas.ensure_units(tx, alert.tenant_code)
        geom, named = alert_geometry(self.areas, alert)
        units = set(named)
        custom: list[int] = []
        if geom is not None and not geom.is_empty:
            units.update(self._unit_matches(tx, alert.tenant_code, geom))
            custom = self._custom_matches(tx, alert.tenant_code, geom)
        if units:
            ids = sorted(units)
            tx.execute("INSERT INTO al_tmp_targets (sid) SELECT DISTINCT subscriber_id FROM al_sub_areas"
                       f" WHERE unit_id IN ({', '.join('?' for _ in ids)})", ids)
        if custom:
            tx.executemany("INSERT INTO al_tmp_targets (sid) VALUES (?) ON CONFLICT DO NOTHING", [(s,) for s in custom])

    def queue(self, tx: Any, alert_id: int, alert: Alert, now: datetime, *, recipients_of: int | None = None) -> int:
        """Write the outbox rows of one alert (unique per alert, subscriber, channel). Returns rows written."""
        if alert.status != "Actual":  # Exercise, Test (drills), System, Draft: staff subscribers only
            who, who_params = "AND s.audience = 'staff'", ()
        elif recipients_of is not None:  # a cancel notice goes to whoever got the original
            # 'sent', or stopped while a worker held it: its hand-off may be acknowledged after this query
            who = ("AND s.id IN (SELECT subscriber_id FROM al_outbox WHERE alert_id = ? AND (state = 'sent'"
                   " OR (state = 'cancelled' AND lease_owner IS NOT NULL)))")
            who_params = (recipients_of,)
        else:
            self.fill_targets(tx, alert)
            who, who_params = "AND s.id IN (SELECT sid FROM al_tmp_targets)", ()
        iso = now.isoformat(timespec="microseconds")
        local = now.astimezone(JST)
        minute = local.hour * 60 + local.minute
        head = ("INSERT INTO al_outbox (alert_id, subscriber_id, contact_id, channel, kind, state, priority, due, created)"
                " SELECT ?, s.id, c.id, c.kind, 'alert', 'queued', ?, ?, ? FROM al_subscribers s"
                " JOIN al_contacts c ON c.subscriber_id = s.id WHERE s.tenant_code = ? AND s.status = 'active'"
                f" AND (s.topics & ?) <> 0 {who}"
                " AND NOT EXISTS (SELECT 1 FROM al_suppressions x WHERE x.address_hash = c.address_hash)")
        common = (alert.tenant_code, TOPICS[alert.topic][0], *who_params)
        prio = severity_rank(alert.severity)
        if overrides_quiet_hours(alert.severity) or alert.status != "Actual":
            return tx.execute(head + " ON CONFLICT DO NOTHING", (alert_id, prio, iso, iso, *common)).rowcount
        quiet = (minute,) * 4
        count = tx.execute(head + f" AND NOT {_IN_QUIET} ON CONFLICT DO NOTHING",
                           (alert_id, prio, iso, iso, *common, *quiet)).rowcount
        ends = [r["e"] for r in tx.query("SELECT DISTINCT quiet_end AS e FROM al_subscribers WHERE tenant_code = ?"
                                         " AND quiet_end IS NOT NULL", (alert.tenant_code,))]
        for end in ends:  # held back until that subscriber's quiet hours end
            due = next_minute(now, end).isoformat(timespec="microseconds")
            count += tx.execute(head + f" AND {_IN_QUIET} AND s.quiet_end = ? ON CONFLICT DO NOTHING",
                                (alert_id, prio, due, iso, *common, *quiet, end)).rowcount
        return count
