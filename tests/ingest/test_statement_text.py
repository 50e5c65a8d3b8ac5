"""The one-statement batch of a sysinfo report on PostgreSQL keeps one text from report to report.

psycopg converts the placeholders of a statement once per text (and PostgreSQL can keep a statement
prepared per text), so the read the batch carries (`usage_rollup.report_state`) must not change its
text with the number of the report's hours or users: one array parameter each, not a placeholder per
value. And psycopg must cache the conversion of texts that long (`store.db.make_engine`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg._queries
from sqlalchemy.orm import Session

from kodeks_smart.ingest import usage_rollup
from kodeks_smart.store.db import PSYCOPG_CACHED_STATEMENT_LENGTH, make_engine

CREATED = datetime(2026, 11, 20, 11, 48, tzinfo=UTC)


def _text(dialect: str, hours: int, logins: int) -> tuple[str, dict[str, object]]:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none" if dialect == "postgresql" else "sqlite://")
    try:
        stmt, params = usage_rollup.report_state(
            Session(engine),
            7,
            CREATED,
            [CREATED - timedelta(hours=k) for k in range(hours)],
            [f"user{k}" for k in range(logins)],
        )
        # as executed: an expanding parameter becomes a placeholder per value
        compiled = stmt.params(**params).compile(
            dialect=engine.dialect,
            compile_kwargs={"render_postcompile": True},
        )
        return str(compiled), params
    finally:
        engine.dispose()


def test_the_report_state_read_has_one_text_for_any_number_of_hours_and_users_on_postgresql() -> None:
    short, _ = _text("postgresql", 1, 2)
    long, long_params = _text("postgresql", 30, 100)
    assert short == long
    assert len(long_params["rs_hours"]) == 30 and len(long_params["rs_logins"]) == 100  # type: ignore[arg-type]
    assert "ANY" in long
    # SQLite keeps a placeholder per value (it has no arrays; its driver does no such conversion)
    assert _text("sqlite", 3, 2)[0] != _text("sqlite", 4, 2)[0]


def test_psycopg_keeps_the_conversion_of_long_statements() -> None:
    """The batch of a report is 28–46 KB of SQL; psycopg caches conversions up to 4 KB unless raised."""
    make_engine("postgresql://nobody@127.0.0.1:1/none").dispose()
    assert psycopg._queries.MAX_CACHED_STATEMENT_LENGTH >= PSYCOPG_CACHED_STATEMENT_LENGTH >= 64 * 1024
