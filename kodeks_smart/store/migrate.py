"""Apply and inspect Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kodeks_smart.store.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(db: Database) -> bool:
    return current_revision(db) == head_revision(db)


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call on an up-to-date database."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            # Two processes starting together must not both migrate.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(735001)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def autogenerate(db: Database, message: str) -> None:
    """Developer helper: write a new revision from the difference between models and schema."""
    cfg = alembic_config(db)
    command.revision(cfg, message=message, autogenerate=True)
