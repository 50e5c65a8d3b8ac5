"""Migration 0009 on both backends: the mapping table; on PostgreSQL, RLS on and off again."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from kodeks_smart.store import migrate
from kodeks_smart.store.db import Database, normalize_url
from tests.conftest import PG_ENV, PG_SKIP_REASON


def _downgrade(db: Database, revision: str) -> None:
    cfg = migrate.alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of its own: this test moves the schema back and forth."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/smart.db")
        yield db
        db.dispose()
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    name = f"smart_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _policies(db: Database) -> int:
    if db.is_sqlite:
        return 0
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_policies WHERE policyname = 'smart_cabinet_rows'")
            ).scalar_one()
        )


def test_0009_adds_the_mapping_and_policies_and_takes_them_away_again(fresh: Database) -> None:
    migrate.upgrade(fresh, "0009")
    assert "grafana_roles" in inspect(fresh.engine).get_table_names()
    with_policies = _policies(fresh)
    assert fresh.is_sqlite or with_policies > 20

    _downgrade(fresh, "0008")
    assert "grafana_roles" not in inspect(fresh.engine).get_table_names()
    assert _policies(fresh) == 0

    migrate.upgrade(fresh, "0009")
    assert _policies(fresh) == with_policies
