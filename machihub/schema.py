"""Core tables (tenants, staff, API keys, sessions, audit) for both stores.

DDL is written once with a few dialect placeholders. Timestamps are ISO-8601 UTC text and JSON is text on
both stores so that rows read back identically whichever store is configured."""
from __future__ import annotations

import sqlite3

from machihub.db import Tx

DIALECT_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB", "bigint": "INTEGER"},
    "postgresql": {"id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "blob": "BYTEA", "bigint": "BIGINT"},
}

CORE_DDL = """
CREATE TABLE IF NOT EXISTS mh_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mh_tenants (
  code TEXT PRIMARY KEY CHECK (length(code) = 5),
  name TEXT NOT NULL, name_en TEXT NOT NULL DEFAULT '', prefecture TEXT NOT NULL DEFAULT '',
  boundary {blob}, bbox TEXT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mh_departments (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  code TEXT NOT NULL, name TEXT NOT NULL, name_en TEXT NOT NULL DEFAULT '',
  UNIQUE (tenant_code, code), UNIQUE (tenant_code, name));
CREATE TABLE IF NOT EXISTS mh_users (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  username TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL, department_id {bigint} REFERENCES mh_departments(id),
  roles TEXT NOT NULL DEFAULT '', active INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mh_api_keys (
  id {id}, tenant_code TEXT NOT NULL REFERENCES mh_tenants(code),
  name TEXT NOT NULL, purpose TEXT NOT NULL, key_id TEXT NOT NULL UNIQUE,
  secret_hash TEXT NOT NULL, secret_sealed TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT);
CREATE TABLE IF NOT EXISTS mh_sessions (
  token_hash TEXT PRIMARY KEY, user_id {bigint} NOT NULL REFERENCES mh_users(id),
  csrf_token TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mh_login_failures (
  id {id}, subject TEXT NOT NULL, ts TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mh_login_failures_subject ON mh_login_failures (subject, ts);
CREATE TABLE IF NOT EXISTS mh_audit (
  id {id}, ts TEXT NOT NULL, actor TEXT NOT NULL, tenant_code TEXT,
  action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE);
"""

# The audit log is append-only in the database itself, not just by convention.
AUDIT_GUARD = {
    "sqlite": """
CREATE TRIGGER IF NOT EXISTS mh_audit_no_update BEFORE UPDATE ON mh_audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS mh_audit_no_delete BEFORE DELETE ON mh_audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
""",
    "postgresql": """
CREATE OR REPLACE FUNCTION mh_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
DROP TRIGGER IF EXISTS mh_audit_guard ON mh_audit;
CREATE TRIGGER mh_audit_guard BEFORE UPDATE OR DELETE ON mh_audit
FOR EACH ROW EXECUTE FUNCTION mh_audit_append_only();
""",
}


def run_script(tx: Tx, script: str) -> None:
    """Run `;`-separated DDL with the dialect's types filled in (dollar-quoted bodies kept whole)."""
    filled = script.format(**DIALECT_TYPES[tx.dialect])
    statements: list[str] = []
    buf: list[str] = []
    in_dollar = False
    for line in filled.splitlines():
        if line.count("$$") % 2 == 1:
            in_dollar = not in_dollar
        buf.append(line)
        if not in_dollar and sqlite3.complete_statement("\n".join(buf)):
            statements.append("\n".join(buf))
            buf = []
    if "".join(buf).strip():
        statements.append("\n".join(buf))
    for stmt in statements:
        if stmt.strip():
            tx._cur.execute(stmt)


def create_core_schema(tx: Tx) -> None:
    run_script(tx, CORE_DDL)
    run_script(tx, AUDIT_GUARD[tx.dialect])
