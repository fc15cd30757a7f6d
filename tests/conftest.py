"""Shared fixtures: a real hub on the embedded GeoPackage store and on PostGIS (one schema per test).

Without CI=true, PostGIS and Chromium tests skip with the reason; with CI=true they must run."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from machihub.clock import Clock
from machihub.compose import Hub, build_hub
from machihub.principal import SYSTEM
from machihub.settings import load_settings
from tests.shared_data import DATA, SHARED  # noqa: E402,F401

PG_URL = os.environ.get("MACHIHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(reason: str) -> None:
    """Skip locally, fail in CI: CI must run every test."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _postgis_admin():
    import psycopg

    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        need(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        conn.close()
        need(f"PostGIS extension not installed (apt-get install postgresql-15-postgis-3): {exc}")
    return conn


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    conn = _postgis_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema},public"
    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.close()


def make_hub(store: str, tmp_path: Path, **overrides) -> Hub:
    settings = load_settings(config_file=tmp_path / "none.toml", env={}, store=store, data_dir=str(tmp_path),
                             secret_key="test-secret-key-0123456789", **overrides)
    hub = build_hub(settings, clock=Clock())
    hub.init_schema()
    return hub


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hub.gpkg"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def hub(store_url, tmp_path):
    h = make_hub(store_url, tmp_path)
    yield h
    h.close()


@pytest.fixture
def sqlite_hub(tmp_path):
    h = make_hub(f"sqlite:///{tmp_path}/hub.gpkg", tmp_path)
    yield h
    h.close()


@pytest.fixture
def towns(hub):
    """Two real towns (高松市, 狛江市) with departments and staff of each role."""
    return seed_towns(hub)


def seed_towns(hub: Hub) -> dict:
    t = {}
    hub.tenants.add(SYSTEM, "37201", "高松市", name_en="Takamatsu", prefecture="香川県")
    hub.tenants.add(SYSTEM, "13219", "狛江市", name_en="Komae", prefecture="東京都")
    t["bousai"] = hub.tenants.add_department(SYSTEM, "37201", "bousai", "危機管理課", "Crisis Management")
    t["doboku"] = hub.tenants.add_department(SYSTEM, "37201", "doboku", "道路管理課", "Roads")
    t["kenko"] = hub.tenants.add_department(SYSTEM, "37201", "kenko", "健康福祉課", "Health and Welfare")
    t["komae_bousai"] = hub.tenants.add_department(SYSTEM, "13219", "bousai", "安心安全課", "Safety")
    pw = "correct horse battery"
    users = hub.users
    t["bousai_editor"] = users.add(SYSTEM, "37201", "sato", pw, roles=["layer_editor"], department_id=t["bousai"].id)
    t["doboku_editor"] = users.add(SYSTEM, "37201", "suzuki", pw, roles=["layer_editor"], department_id=t["doboku"].id)
    t["kenko_viewer"] = users.add(SYSTEM, "37201", "takahashi", pw, roles=["call_center"], department_id=t["kenko"].id)
    t["admin"] = users.add(SYSTEM, "37201", "admin37201", pw, roles=["admin"])
    t["komae_editor"] = users.add(SYSTEM, "13219", "komae1", pw, roles=["layer_editor"],
                                  department_id=t["komae_bousai"].id)
    t["password"] = pw
    return t
