"""Tables of the community package (reports, groups, library holds, watch-over), one DDL for both stores
(machihub.schema placeholders). Timestamps are ISO-8601 UTC text; personal identifiers from other systems
(library patron ids, watched persons' ids) are kept only as keyed hashes."""
from __future__ import annotations

from machihub.db import Tx
from machihub.schema import run_script

COMMUNITY_DDL = """
CREATE TABLE IF NOT EXISTS cm_reports (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
  occurred TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
  what TEXT NOT NULL, person TEXT NOT NULL DEFAULT '', follow_up TEXT NOT NULL DEFAULT '',
  findings TEXT NOT NULL DEFAULT '[]', place_name TEXT, public_geom {blob}, public_lat REAL, public_lon REAL,
  filed_by TEXT NOT NULL, approver TEXT, alert_id {bigint}, created TEXT NOT NULL, published TEXT,
  public_until TEXT, version INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS cm_reports_public ON cm_reports (tenant_code, state, public_until);
CREATE TABLE IF NOT EXISTS cm_groups (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code), name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('jichikai', 'school', 'pta', 'other')),
  private INTEGER NOT NULL DEFAULT 0, moderated INTEGER NOT NULL DEFAULT 0,
  join_mode TEXT NOT NULL CHECK (join_mode IN ('code', 'approval')),
  invite_hash TEXT, unit_id {bigint} REFERENCES al_area_units(id), created TEXT NOT NULL,
  UNIQUE (tenant_code, name));
CREATE TABLE IF NOT EXISTS cm_members (
  group_id {bigint} NOT NULL REFERENCES cm_groups(id) ON DELETE CASCADE,
  subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
  state TEXT NOT NULL CHECK (state IN ('active', 'pending')), created TEXT NOT NULL,
  PRIMARY KEY (group_id, subscriber_id));
CREATE TABLE IF NOT EXISTS cm_posts (
  id {id}, group_id {bigint} NOT NULL REFERENCES cm_groups(id) ON DELETE CASCADE,
  parent_id {bigint} REFERENCES cm_posts(id) ON DELETE CASCADE, author TEXT NOT NULL,
  author_sid {bigint}, title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('published', 'pending', 'rejected')), created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cm_posts_group ON cm_posts (group_id, state, id);
CREATE TABLE IF NOT EXISTS cm_library_links (
  tenant_code TEXT NOT NULL, patron_hash TEXT NOT NULL,
  subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  show_titles INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, PRIMARY KEY (tenant_code, patron_hash));
CREATE TABLE IF NOT EXISTS cm_link_codes (
  code_hash TEXT PRIMARY KEY, tenant_code TEXT NOT NULL, patron_hash TEXT NOT NULL, expires TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cm_holds (
  id {id}, tenant_code TEXT NOT NULL, hold_ref TEXT NOT NULL, patron_hash TEXT NOT NULL,
  branch TEXT NOT NULL, deadline TEXT NOT NULL, title_sealed TEXT,
  state TEXT NOT NULL CHECK (state IN ('ready', 'collected', 'cancelled')),
  notified INTEGER NOT NULL DEFAULT 0, reminder_rows TEXT, reminded TEXT, created TEXT NOT NULL,
  UNIQUE (tenant_code, hold_ref));
CREATE INDEX IF NOT EXISTS cm_holds_due ON cm_holds (state, reminded, deadline);
CREATE TABLE IF NOT EXISTS cm_watch_guardians (
  id {id}, tenant_code TEXT NOT NULL, person_hash TEXT NOT NULL,
  subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  label TEXT NOT NULL DEFAULT '', code_hash TEXT, confirmed_by TEXT, confirmed TEXT, created TEXT NOT NULL,
  UNIQUE (tenant_code, person_hash, subscriber_id));
CREATE UNIQUE INDEX IF NOT EXISTS cm_watch_code ON cm_watch_guardians (code_hash);
CREATE TABLE IF NOT EXISTS cm_watch_events (
  id {id}, tenant_code TEXT NOT NULL, event_ref TEXT NOT NULL, person_hash TEXT NOT NULL,
  source TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL, queued INTEGER NOT NULL, created TEXT NOT NULL,
  UNIQUE (tenant_code, source, event_ref));
CREATE TABLE IF NOT EXISTS cm_arrivals (
  id {id}, tenant_code TEXT NOT NULL, item_ref TEXT NOT NULL, title TEXT NOT NULL, ndc TEXT NOT NULL,
  subject TEXT NOT NULL, branch TEXT NOT NULL, arrived TEXT NOT NULL, created TEXT NOT NULL,
  UNIQUE (tenant_code, item_ref));
CREATE INDEX IF NOT EXISTS cm_arrivals_week ON cm_arrivals (tenant_code, subject, created);
CREATE TABLE IF NOT EXISTS cm_arrival_prefs (
  subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  tenant_code TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (subscriber_id, tenant_code, subject));
CREATE TABLE IF NOT EXISTS cm_arrival_sent (
  subscriber_id {bigint} NOT NULL REFERENCES al_subscribers(id) ON DELETE CASCADE,
  arrival_id {bigint} NOT NULL REFERENCES cm_arrivals(id) ON DELETE CASCADE, sent TEXT NOT NULL,
  PRIMARY KEY (subscriber_id, arrival_id));
CREATE TABLE IF NOT EXISTS cm_arrival_runs (
  tenant_code TEXT NOT NULL, slot TEXT NOT NULL, ran TEXT NOT NULL, mails INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_code, slot));
"""


def create_community_schema(tx: Tx) -> None:
    run_script(tx, COMMUNITY_DDL)
