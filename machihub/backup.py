"""Consistent backups while the hub runs: SQLite's online backup API, or pg_dump for PostgreSQL."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from machihub.db import SqliteDatabase
from machihub.errors import Invalid


def backup(hub, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(hub.db, SqliteDatabase):
        src = sqlite3.connect(hub.db.path)
        dst = sqlite3.connect(out)
        with dst:
            src.backup(dst)
        dst.close()
        src.close()
        return out
    if not shutil.which("pg_dump"):
        raise Invalid("pg_dump is not installed; install postgresql-client to back up a PostgreSQL store")
    url = hub.db.url.split("?")[0]
    subprocess.run(["pg_dump", "--format=custom", f"--file={out}", url], check=True)
    return out
