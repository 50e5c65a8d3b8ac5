"""Migration 0006 creates exactly the tables of the models and is reversible, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from kodeks_smart.store import migrate
from kodeks_smart.store.db import Database, normalize_url
from kodeks_smart.store.schema import metadata
from tests.conftest import PG_ENV, PG_SKIP_REASON

TABLES = {"asrp_forwarders", "asrp_forwards"}


def _fresh(backend: str, tmp_path: Path) -> tuple[Database, str | None]:
    if backend == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'm.db'}"), None
    import os
    import uuid

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    name = f"smart_asrp_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False)
    return Database(url), name


def _drop(name: str | None) -> None:
    import os

    if name is None:
        return
    admin = create_engine(normalize_url(os.environ[PG_ENV]), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _downgrade(db: Database, revision: str) -> None:
    cfg = migrate.alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_0006_matches_the_models_and_downgrades(backend: str, tmp_path: Path) -> None:
    db, name = _fresh(backend, tmp_path)
    try:
        migrate.upgrade(db, "0006")
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        ours = [
            d
            for d in diff
            if TABLES & {x if isinstance(x, str) else getattr(x, "name", None) for x in _objects(d)}
        ]
        assert ours == []
        _downgrade(db, "0005")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        migrate.upgrade(db, "0006")
        assert set(inspect(db.engine).get_table_names()) >= TABLES
    finally:
        db.dispose()
        _drop(name)


def _objects(diff: object) -> list[object]:
    """What one autogenerate difference talks about: tables, the tables of columns and indexes, names."""
    items = diff if isinstance(diff, list) else [diff]
    found: list[object] = []
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            table = getattr(part, "table", None)
            found.append(table if table is not None else part)
    return found
