"""Migration 0015 on both backends: mailboxes and Telegram chats get `enabled`, every existing channel stays
on, the schema then matches the models, and the downgrade takes the column away again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from kodeks_smart.store import migrate
from kodeks_smart.store.schema import metadata
from tests.asrp.test_migration import _downgrade, _drop, _fresh, _objects

TABLES = {"mailboxes", "telegram_chats"}


def _columns(db: object, table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_0015_adds_enabled_keeps_existing_channels_on_and_downgrades(backend: str, tmp_path: Path) -> None:
    db, name = _fresh(backend, tmp_path)
    try:
        migrate.upgrade(db, "0014")
        assert "enabled" not in _columns(db, "mailboxes")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO dealers (id, code, name, token_hash, token_created_at, created_at)"
                    " VALUES (1, 'D1', 'Дилер', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO cabinets (id, dealer_id, name, created_at)"
                    " VALUES (1, 1, 'Кабинет', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO mailboxes (dealer_id, cabinet_id, address, categories, note)"
                    " VALUES (1, 1, 'a@b.ru', '[\"critical\"]', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO telegram_chats"
                    " (dealer_id, cabinet_id, chat_id, title, bot_token_enc, categories)"
                    " VALUES (1, 1, '-1001', '', :token, '[]')"
                ),
                {"token": b"x"},
            )
        migrate.upgrade(db, "0015")
        with db.engine.connect() as conn:
            for table in TABLES:
                enabled = conn.execute(text(f"SELECT enabled FROM {table}")).scalars().all()  # noqa: S608
                assert enabled == [True], table
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        ours = [
            d
            for d in diff
            if TABLES & {x if isinstance(x, str) else getattr(x, "name", None) for x in _objects(d)}
        ]
        assert ours == []
        _downgrade(db, "0014")
        assert all("enabled" not in _columns(db, t) for t in TABLES)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT address FROM mailboxes")).scalars().all() == ["a@b.ru"]
    finally:
        db.dispose()
        _drop(name)
