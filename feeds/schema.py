"""Tables of the feeds package on both stores: every received telegram/CAP document (fd_telegrams), which
alert or feed-only notice each event became per tenant (fd_events), feed-only notices (fd_notices) and the
feed entries already fetched (fd_entries, so a JMA telegram is downloaded once)."""
from __future__ import annotations

from machihub.db import Tx
from machihub.schema import run_script

FEEDS_DDL = """
CREATE TABLE IF NOT EXISTS fd_telegrams (
  id {id}, hash TEXT NOT NULL UNIQUE, source TEXT NOT NULL, kind TEXT NOT NULL,
  type_code TEXT, title TEXT, status TEXT, info_type TEXT, event_key TEXT, event_id TEXT, serial TEXT,
  report_dt TEXT, headline TEXT, is_drill INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', raw TEXT NOT NULL,
  seen INTEGER NOT NULL DEFAULT 1, received TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fd_telegrams_event ON fd_telegrams (event_key, report_dt);
CREATE INDEX IF NOT EXISTS fd_telegrams_received ON fd_telegrams (received);
CREATE TABLE IF NOT EXISTS fd_events (
  id {id}, event_key TEXT NOT NULL, tenant_code TEXT NOT NULL, alert_id {bigint}, notice_id {bigint},
  signature TEXT NOT NULL, telegram_id {bigint} NOT NULL, updated TEXT NOT NULL,
  UNIQUE (event_key, tenant_code));
CREATE TABLE IF NOT EXISTS fd_notices (
  id {id}, tenant_code TEXT NOT NULL, topic TEXT NOT NULL, identifier TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'active', created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fd_notices_tenant ON fd_notices (tenant_code, id);
CREATE TABLE IF NOT EXISTS fd_entries (
  id {id}, feed_url TEXT NOT NULL, entry_id TEXT NOT NULL, link TEXT NOT NULL, telegram_id {bigint},
  fetched TEXT NOT NULL, UNIQUE (feed_url, entry_id));
CREATE TABLE IF NOT EXISTS fd_feed_state (
  feed_url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, checked TEXT NOT NULL);
"""


def create_feeds_schema(tx: Tx) -> None:
    run_script(tx, FEEDS_DDL)
