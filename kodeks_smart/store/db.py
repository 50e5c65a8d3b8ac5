"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite: WAL, foreign keys on, busy timeout, IMMEDIATE write transactions."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    _psycopg_caches_long_statements()
    return create_engine(url, **kwargs)


#: The longest statement text whose placeholder conversion psycopg keeps (see below).
PSYCOPG_CACHED_STATEMENT_LENGTH = 128 * 1024


def _psycopg_caches_long_statements() -> None:
    """psycopg converts a statement's ``%(name)s`` placeholders (a regular-expression scan of the text)
    once per text, but only for texts up to 4 KB (``psycopg._queries.MAX_CACHED_STATEMENT_LENGTH``); the
    ingest writes a sysinfo report in one statement of 28–46 KB (`writers.Batch`), which psycopg then
    scanned again for every report (1.3 ms of client CPU each, two per report). Its cache holds 128
    texts, so raising the limit costs at most a few MB. The setting is psycopg's own module constant,
    not a documented option: if a psycopg release drops it, nothing is changed (and a test says so)."""
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    limit = getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", None)
    if isinstance(limit, int) and limit < PSYCOPG_CACHED_STATEMENT_LENGTH:
        _queries.MAX_CACHED_STATEMENT_LENGTH = PSYCOPG_CACHED_STATEMENT_LENGTH


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so that BEGIN is emitted by us below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock at BEGIN, so two writers queue on the busy
        # timeout instead of failing with "database is locked" when a read lock is upgraded.
        if conn.get_execution_options().get("smart_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """Owns the engine; hands out read sessions and write sessions."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        #: Whether two sessions may read at the same time from different threads, each on a connection of
        #: its own: not for an in-memory SQLite database (one connection that every session shares).
        self.concurrent_reads = not (self.is_sqlite and self.engine.url.database in (None, "", ":memory:"))
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(smart_write=True), expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (and writes that may wait for a lock); committed on success."""
        with self._read.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error."""
        with self._write.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
