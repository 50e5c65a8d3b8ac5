"""The hourly store maintenance gives SQLite's planner statistics to the tables that have none or have
grown or shrunk a lot since, also on a connection of its own (plain ``PRAGMA optimize`` does not)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from kodeks_smart import jobs
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database


def _stats(db: Database) -> dict[str, int]:
    """{table: rows per its statistics}."""
    with db.engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            return {}
        out: dict[str, int] = {}
        for table, stat in conn.execute(text("SELECT tbl, stat FROM sqlite_stat1")):
            out[table] = max(out.get(table, 0), int(stat.split()[0]))
        return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fill(db: Database, table: str, rows: int) -> None:
    with db.engine.begin() as conn:
        start = conn.execute(text(f"SELECT count(*) FROM {_quoted(table)}")).scalar_one()  # noqa: S608
        conn.execute(
            text(f"INSERT INTO {_quoted(table)} (a, b) VALUES (:a, :b)"),  # noqa: S608
            [{"a": k % 50, "b": k} for k in range(start, start + rows)],
        )


def test_tables_without_or_with_stale_statistics_are_analysed(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    db = services.db
    if not db.is_sqlite:
        pytest.skip("SQLite statistics: PostgreSQL is analysed as a whole (and by autovacuum)")
    with db.engine.begin() as conn:
        for name in ("big", "small", 'odd "name'):
            table = _quoted(name)
            conn.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER)"))
            conn.execute(text(f"CREATE INDEX {_quoted('ix_' + name)} ON {table} (a)"))
    _fill(db, "big", 5000)
    _fill(db, "small", 10)  # below STATS_MIN_ROWS: left alone
    _fill(db, 'odd "name', 2000)
    # plain PRAGMA optimize on a new connection (what the job did alone) gives no statistics
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA optimize")
    assert "big" not in _stats(db)

    with caplog.at_level(logging.INFO, logger="kodeks_smart.jobs"):
        jobs._store_maintenance(services)
    stats = _stats(db)
    assert stats["big"] == 5000 and stats['odd "name'] == 2000
    assert "small" not in stats
    assert "planner statistics of big renewed" in caplog.text

    # unchanged or grown less than STATS_DRIFT times: not analysed again
    _fill(db, "big", 5000)
    with db.engine.connect() as conn:
        assert "big" not in jobs.stale_statistics(conn)
    jobs._store_maintenance(services)
    assert _stats(db)["big"] == 5000

    # grown past STATS_DRIFT times: analysed again
    _fill(db, "big", 12000)
    jobs._store_maintenance(services)
    assert _stats(db)["big"] == 22000
    with db.engine.connect() as conn:
        assert jobs.stale_statistics(conn) == []


def test_the_statistics_of_a_migrated_store_with_facts_are_complete(tmp_path: Path) -> None:
    """Every table of the real schema can be estimated (no table without a rowid breaks the job)."""
    from kodeks_smart.store import migrate

    db = Database(f"sqlite:///{tmp_path / 'smart.db'}")
    try:
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            assert jobs.stale_statistics(conn) == []  # empty tables: nothing to analyse
    finally:
        db.dispose()
