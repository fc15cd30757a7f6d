"""Alerts in force for the public map: actual (never drill) alerts that were sent and have not expired or
been cancelled, with their areas as GeoJSON, coloured by severity on the map."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import shapely

SEVERITY_COLOURS = {"Extreme": "#7b1fa2", "Severe": "#b3261e", "Moderate": "#b45309", "Minor": "#0b5cad",
                    "Unknown": "#4a4a4a"}


def _area_geometry(hub: Any, tenant_code: str, area: Any) -> Any:
    parts = [shapely.Polygon([(lon, lat) for lat, lon in ring]) for ring in area.polygons if len(ring) >= 4]
    for c in area.circles:  # CAP circle: centre lat,lon and radius in km; ~111 km per degree is enough here
        parts.append(shapely.Point(c.lon, c.lat).buffer(c.radius_km / 111.0))
    if area.geocodes:
        geoms, _ = hub.alerts.areas.geometry_of(tenant_code, area.geocodes)
        parts += geoms
    return shapely.union_all(parts) if parts else None


def alerts_in_force(hub: Any, tenant_code: str, lang: str) -> list[dict[str, Any]]:
    if getattr(hub, "alerts", None) is None:
        return []
    now = hub.clock.now()
    out = []
    for rec in hub.alerts.lifecycle.list(tenant_code, limit=200):
        a = rec.alert
        if rec.state not in ("sent", "sending") or a.is_drill or a.msg_type == "Cancel":
            continue
        if a.expires and a.expires <= now:
            continue
        _, text = a.text_for("ja" if lang.startswith("ja") else lang)
        geom = None
        try:
            geom = shapely.union_all([g for g in (_area_geometry(hub, tenant_code, ar) for ar in a.areas) if g is not None])
        except Exception:  # noqa: BLE001 - an unmappable area still lists the alert, just without a shape
            geom = None
        out.append({"id": rec.id, "headline": text.headline, "severity": a.severity, "event": a.event,
                    "area": "、".join(ar.desc for ar in a.areas), "color": SEVERITY_COLOURS.get(a.severity, "#4a4a4a"),
                    "expires": a.expires.isoformat() if isinstance(a.expires, datetime) else None,
                    "geometry": json.loads(shapely.to_geojson(geom)) if geom is not None and not geom.is_empty else None})
    return out
