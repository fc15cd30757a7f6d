"""Tables of the alert dispatcher, written once for both stores (machihub.schema placeholders).

Geometries are WKB (EPSG:6668, x = longitude) in a blob on both stores; on PostGIS a generated geometry /
geography column with a GiST index sits next to them so targeting can run in the database. Timestamps are
ISO-8601 UTC text (they sort as text), JSON is text."""
from __future__ import annotations

from machihub.db import Tx
from machihub.schema import run_script

ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS al_area_units (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  kind TEXT NOT NULL CHECK (kind IN ('town', 'chome', 'school', 'zone')),
  name TEXT NOT NULL, geom {blob} NOT NULL, created TEXT NOT NULL,
  UNIQUE (tenant_code, kind, name));
CREATE TABLE IF NOT EXISTS al_subscribers (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
  audience TEXT NOT NULL DEFAULT 'public' CHECK (audience IN ('public', 'staff')),
  topics {bigint} NOT NULL, language TEXT NOT NULL DEFAULT 'ja',
  quiet_start INTEGER, quiet_end INTEGER,
  link_nonce TEXT NOT NULL, created TEXT NOT NULL, confirmed TEXT, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS al_subscribers_tenant ON al_subscribers (tenant_code, status);
CREATE TABLE IF NOT EXISTS al_contacts (
  id {id}, subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  tenant_code TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('email', 'webpush', 'webhook')),
  address_sealed TEXT NOT NULL, address_hash TEXT NOT NULL, created TEXT NOT NULL,
  UNIQUE (subscriber_id, kind), UNIQUE (tenant_code, kind, address_hash));
CREATE INDEX IF NOT EXISTS al_contacts_hash ON al_contacts (address_hash);
CREATE TABLE IF NOT EXISTS al_sub_areas (
  id {id}, subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  unit_id {bigint} REFERENCES al_area_units(id),
  lat REAL, lon REAL, radius_m REAL,
  geom {blob}, minx REAL, miny REAL, maxx REAL, maxy REAL);
CREATE INDEX IF NOT EXISTS al_sub_areas_unit ON al_sub_areas (unit_id, subscriber_id);
CREATE INDEX IF NOT EXISTS al_sub_areas_sub ON al_sub_areas (subscriber_id);
CREATE INDEX IF NOT EXISTS al_sub_areas_box ON al_sub_areas (miny, minx);
CREATE TABLE IF NOT EXISTS al_suppressions (
  address_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, reason TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS al_signup_tokens (
  token_hash TEXT PRIMARY KEY, tenant_code TEXT, address_sealed TEXT NOT NULL, expires TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS al_rate_events (id {id}, subject TEXT NOT NULL, ts TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS al_rate_events_subject ON al_rate_events (subject, ts);
CREATE TABLE IF NOT EXISTS al_rules (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code), source TEXT NOT NULL,
  topic TEXT NOT NULL, min_severity TEXT NOT NULL, created TEXT NOT NULL,
  UNIQUE (tenant_code, source, topic));
CREATE TABLE IF NOT EXISTS al_alerts (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  identifier TEXT NOT NULL UNIQUE, state TEXT NOT NULL, source TEXT NOT NULL,
  cap_status TEXT NOT NULL, msg_type TEXT NOT NULL, topic TEXT NOT NULL, severity TEXT NOT NULL,
  body TEXT NOT NULL, composer TEXT NOT NULL, approver TEXT, send_at TEXT, expires TEXT,
  refers_to {bigint} REFERENCES al_alerts(id), created TEXT NOT NULL, updated TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS al_alerts_tenant ON al_alerts (tenant_code, state);
CREATE TABLE IF NOT EXISTS al_outbox (
  id {id}, alert_id {bigint} REFERENCES al_alerts(id),
  subscriber_id {bigint} REFERENCES al_subscribers(id) ON DELETE SET NULL,
  contact_id {bigint} REFERENCES al_contacts(id) ON DELETE SET NULL,
  channel TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'alert', payload_sealed TEXT,
  state TEXT NOT NULL DEFAULT 'queued', priority INTEGER NOT NULL DEFAULT 0,
  due TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT, lease_until TEXT, last_error TEXT, sent_at TEXT, sent_by TEXT, created TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS al_outbox_once ON al_outbox (alert_id, subscriber_id, channel);
CREATE INDEX IF NOT EXISTS al_outbox_claim ON al_outbox (state, priority DESC, id);
CREATE INDEX IF NOT EXISTS al_outbox_alert ON al_outbox (alert_id, state);
"""

# PostGIS columns generated from the portable ones, so inserts are the same SQL on both stores.
POSTGIS_DDL = """
ALTER TABLE al_area_units ADD COLUMN IF NOT EXISTS g geometry(Geometry, 6668)
  GENERATED ALWAYS AS (ST_GeomFromWKB(geom, 6668)) STORED;
CREATE INDEX IF NOT EXISTS al_area_units_g ON al_area_units USING gist (g);
ALTER TABLE al_sub_areas ADD COLUMN IF NOT EXISTS g geometry(Geometry, 6668)
  GENERATED ALWAYS AS (ST_GeomFromWKB(geom, 6668)) STORED;
CREATE INDEX IF NOT EXISTS al_sub_areas_g ON al_sub_areas USING gist (g);
ALTER TABLE al_sub_areas ADD COLUMN IF NOT EXISTS pt geography(Point, 4326)
  GENERATED ALWAYS AS (CASE WHEN lat IS NULL THEN NULL
                       ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END) STORED;
CREATE INDEX IF NOT EXISTS al_sub_areas_pt ON al_sub_areas USING gist (pt);
"""


def create_alert_schema(tx: Tx) -> None:
    run_script(tx, ALERTS_DDL)
    if tx.dialect == "postgresql":
        tx.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        run_script(tx, POSTGIS_DDL)
