"""A thin database layer so store code is written once for SQLite and PostgreSQL.

SQL is written with `?` placeholders; the PostgreSQL side rewrites them to `%s`. Dialect differences in DDL
live with each store's schema, not here. Stores are synchronous; the web layer calls them in a thread."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from machihub.errors import Invalid

Row = dict[str, Any]


class Tx:
    """One open transaction. `dialect` lets callers pick the few statements that differ."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cur = cursor
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        if self.dialect == "postgresql":
            return sql.replace("%", "%%").replace("?", "%s")
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._cur.execute(self._sql(sql), tuple(params))
        return self._cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self.execute(sql, params)
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else row[0]

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """INSERT … RETURNING id works on both (SQLite ≥ 3.35)."""
        return int(self.scalar(sql + " RETURNING id", params))


class Database:
    dialect: str
    url: str

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def read(self):
        """A read-only transaction: on SQLite it does not take the write lock, so readers run in parallel."""
        return self.transaction(write=False)

    def close(self) -> None:  # pragma: no cover - abstract
        pass


class SqliteDatabase(Database):
    """One connection per thread, WAL, writers serialised with BEGIN IMMEDIATE."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, on_connect: Sequence[Callable[[sqlite3.Connection], None]] = ()) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._on_connect = list(on_connect)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def add_connect_hook(self, hook: Callable[[sqlite3.Connection], None]) -> None:
        self._on_connect.append(hook)
        with self._lock:
            for conn in self._all:
                hook(conn)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            for hook in self._on_connect:
                hook(conn)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        conn = self._conn()
        if conn.in_transaction:  # nested use joins the outer transaction
            yield Tx(conn.cursor(), self.dialect)
            return
        # Writers take the lock up front (no deadlock on upgrade); readers use WAL snapshots and never wait.
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
        try:
            yield Tx(conn.cursor(), self.dialect)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def checkpoint(self) -> None:
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self._pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                    kwargs={"autocommit": False})
        self._local = threading.local()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        outer = getattr(self._local, "cur", None)
        if outer is not None:
            yield Tx(outer, self.dialect)
            return
        with self._pool.connection() as conn:
            with conn.transaction(), conn.cursor() as cur:
                self._local.cur = cur
                try:
                    yield Tx(cur, self.dialect)
                finally:
                    self._local.cur = None

    def close(self) -> None:
        self._pool.close()


def open_database(url: str) -> Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parsed.path
        if not path:
            raise Invalid(f"store URL {url!r} names no file")
        return SqliteDatabase(path)
    if parsed.scheme in ("postgresql", "postgres"):
        return PostgresDatabase(url)
    raise Invalid(f"store URL {url!r}: use sqlite:///path/hub.gpkg or postgresql://user@host/db")
