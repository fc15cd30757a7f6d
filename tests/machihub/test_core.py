"""Settings, staff accounts, login rate limiting, API keys and the tamper-evident audit log."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest

from machihub.errors import Forbidden, Invalid, TooManyRequests, Unauthorized
from machihub.principal import SYSTEM
from machihub.settings import DECLARED, load_settings


def test_settings_layering(tmp_path):
    cfg = tmp_path / "machihub.toml"
    cfg.write_text('[machihub]\npublic_port = 9000\ntile_url = ""\n', encoding="utf-8")
    s = load_settings(cfg, env={"MACHIHUB_PUBLIC_PORT": "9100", "MACHIHUB_COOKIE_SECURE": "false"})
    assert s.public_port == 9100 and s.tile_url == "" and s.cookie_secure is False
    with pytest.raises(Invalid, match="public_port"):
        load_settings(cfg, env={"MACHIHUB_PUBLIC_PORT": "many"})
    cfg.write_text("[machihub]\nno_such_setting = 1\n", encoding="utf-8")
    with pytest.raises(Invalid, match="no_such_setting"):
        load_settings(cfg, env={})


def test_every_setting_is_documented_in_help_and_readme():
    from pathlib import Path

    from machihub.cli import parser

    help_text = parser().format_help()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for s in DECLARED:
        assert s.help and f"MACHIHUB_{s.name.upper()}" in help_text, s.name
        assert f"MACHIHUB_{s.name.upper()}" in readme, f"{s.name} missing from README"


def test_login_sessions_and_rate_limit(hub, towns):
    session = hub.users.login("sato", towns["password"], "10.0.0.1")
    assert hub.users.session(session.token).user.username == "sato"
    assert hub.users.session("forged-token") is None
    hub.users.logout(session.token)
    assert hub.users.session(session.token) is None
    for _ in range(5):
        with pytest.raises(Unauthorized):
            hub.users.login("sato", "wrong password!", "10.0.0.2")
    with pytest.raises(TooManyRequests):  # even the right password is refused while limited
        hub.users.login("sato", towns["password"], "10.0.0.3")
    hub.clock.advance(timedelta(minutes=2))
    assert hub.users.login("sato", towns["password"], "10.0.0.3").user.username == "sato"
    with hub.db.transaction() as tx:
        stored = tx.scalar("SELECT password_hash FROM mh_users WHERE username = 'sato'")
    assert stored.startswith("$argon2id$") and towns["password"] not in stored


def test_sessions_expire(hub, towns):
    session = hub.users.login("sato", towns["password"])
    hub.clock.advance(timedelta(hours=11))
    assert hub.users.session(session.token) is None


def test_user_validation(hub, towns):
    with pytest.raises(Invalid, match="password"):
        hub.users.add(SYSTEM, "37201", "short", "abc", roles=["call_center"])
    with pytest.raises(Invalid, match="unknown roles"):
        hub.users.add(SYSTEM, "37201", "x1", "long enough password", roles=["king"])
    with pytest.raises(Forbidden):
        hub.users.add(towns["bousai_editor"].principal(), "37201", "x2", "long enough password", roles=["admin"])
    with pytest.raises(Forbidden):  # an admin of one town cannot create users in another
        hub.users.add(towns["admin"].principal(), "13219", "x3", "long enough password", roles=["admin"])


def test_api_keys_scope_and_hmac(hub, towns):
    key_id, secret = hub.users.add_api_key(towns["admin"].principal(), "37201", "library ILS", "ils")
    body = b'{"patron": "123"}'
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    p = hub.users.api_signed(key_id, body, f"sha256={sig}", "ils")
    assert p.tenant_code == "37201" and p.purpose == "ils"
    with pytest.raises(Unauthorized):
        hub.users.api_signed(key_id, body + b" ", sig, "ils")
    with pytest.raises(Forbidden):
        hub.users.api_signed(key_id, body, sig, "receiver")
    with hub.db.transaction() as tx:
        row = tx.one("SELECT secret_sealed, secret_hash FROM mh_api_keys WHERE key_id = ?", (key_id,))
    assert secret not in row["secret_sealed"] and secret not in row["secret_hash"]


def test_audit_chain_detects_tampering(sqlite_hub):
    hub = sqlite_hub
    hub.tenants.add(SYSTEM, "37201", "高松市")
    hub.tenants.add_department(SYSTEM, "37201", "a", "危機管理課")
    hub.tenants.add_department(SYSTEM, "37201", "b", "道路管理課")
    assert hub.audit.verify().ok and hub.audit.verify().entries == 3
    with hub.db.transaction() as tx:  # someone with file access bypasses the guard and rewrites history
        tx.execute("DROP TRIGGER mh_audit_no_update")
        tx.execute("UPDATE mh_audit SET after = '{\"name\":\"X\"}' WHERE id = 2")
    result = hub.audit.verify()
    assert not result.ok and result.first_bad_id == 2 and "hash" in result.reason


def test_cli_audit_verify_and_layers(tmp_path, capsys):
    from machihub.cli import main

    store = f"sqlite:///{tmp_path}/hub.gpkg"
    env_args = ["--config", str(tmp_path / "none.toml"), "--store", store]
    import os

    os.environ["MACHIHUB_DATA_DIR"] = str(tmp_path)
    try:
        main([*env_args, "init"])
        main([*env_args, "tenants", "add", "37201", "高松市", "--prefecture", "香川県"])
        main([*env_args, "departments", "add", "37201", "bousai", "危機管理課"])
        main([*env_args, "audit", "verify"])
    finally:
        del os.environ["MACHIHUB_DATA_DIR"]
    out = capsys.readouterr().out
    assert "tenant 37201 高松市" in out and "audit chain intact: 2 entries" in out


def test_cli_import_export_history_rollback_backup(tmp_path, capsys, monkeypatch):
    import sqlite3

    import pyogrio

    from machihub.cli import main
    from tests.conftest import DATA

    monkeypatch.setenv("MACHIHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MACHIHUB_SECRET_KEY", "cli-test-secret-0123456789")
    base = ["--config", str(tmp_path / "none.toml"), "--store", f"sqlite:///{tmp_path}/hub.gpkg"]
    main([*base, "init"])
    main([*base, "tenants", "add", "37201", "高松市"])
    main([*base, "departments", "add", "37201", "kenko", "保健センター"])
    main([*base, "layers", "import", str(DATA / "gis" / "takamatsu" / "aed_location.csv"), "--tenant", "37201",
          "--layer", "aed", "--name", "AED", "--department", "kenko", "--credit", "高松市オープンデータ"])
    main([*base, "layers", "export", "aed_37201", str(tmp_path / "aed.gpkg")])
    main([*base, "layers", "export", "aed_37201", str(tmp_path / "aed.csv")])
    main([*base, "layers", "rollback", "aed_37201", "0", "--note", "start over"])
    main([*base, "layers", "history", "aed_37201"])
    main([*base, "backup", str(tmp_path / "backup.gpkg")])
    out = capsys.readouterr().out
    assert "aed_37201: 455 features in revision 1 (new layer)" in out
    assert "r2\t" in out and "rollback\tstart over" in out and "r1\t" in out and "import" in out
    assert len(pyogrio.read_dataframe(tmp_path / "aed.gpkg")) == 455
    csv_bytes = (tmp_path / "aed.csv").read_bytes()
    assert csv_bytes.startswith("\ufeff".encode()) and "高松市オープンデータ" in csv_bytes.decode("utf-8-sig")
    with sqlite3.connect(tmp_path / "backup.gpkg") as c:  # the backup is a complete, consistent store
        assert c.execute('SELECT count(*) FROM "aed_37201"').fetchone()[0] == 0  # after the rollback to r0
        assert c.execute("SELECT count(*) FROM mh_feature_versions").fetchone()[0] == 910


def test_every_top_level_package_is_installed():
    """`make run` uses the installed console script: a package missing from pyproject breaks it, not the tests."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    include = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.parent.name for p in root.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= {pattern.rstrip("*") for pattern in include}, packages
