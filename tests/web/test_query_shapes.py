"""The shapes of the dashboards' SQL that PostgreSQL's planner depends on.

* A chart point is the floor of the epoch seconds to the step, exactly, on both backends (PostgreSQL
  computes it from ``date_part``'s float8 seconds; the microsecond before midnight must stay in its day).
* No statement narrows one table by two ``client_id IN (…)`` lists: PostgreSQL multiplies their
  selectivities, expects about one row and reads the whole table instead of the (client_id, time) index
  (0.5 s instead of 30 ms for the usage rollups of 1,000 installations).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Date, DateTime, event, literal, select

from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.web.dashboards import analytics, framework, managers, usage
from kodeks_smart.web.dashboards.framework import bucket
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard
from tests.web.test_managers_ranking import _sites

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MOMENTS = [
    datetime(2026, 11, 25, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 11, 26, 0, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 34, 56, 500000, tzinfo=UTC),
    datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
]
STEPS = [1, 60, 3600, 6 * 3600, 86400, 7 * 86400]


def test_a_chart_point_is_the_floor_of_the_epoch_seconds(db: Database) -> None:
    with db.session() as s:
        for moment in MOMENTS:
            for step in STEPS:
                view: Any = SimpleNamespace(db=s, time=SimpleNamespace(step=step))
                got = s.scalar(select(bucket(literal(moment, DateTime(timezone=True)), view)))
                whole = (moment - EPOCH) // timedelta(seconds=1)
                assert got == whole - whole % step, (moment, step)


DATES = [date(1970, 1, 1), date(2024, 2, 29), date(2026, 11, 26), date(2026, 12, 31), date(2038, 1, 19)]


def test_a_chart_point_of_a_date_is_the_floor_of_its_midnight(db: Database) -> None:
    """Date columns (kAssist days) take their own, cheaper path on SQLite."""
    with db.session() as s:
        for day in DATES:
            for step in STEPS:
                view: Any = SimpleNamespace(db=s, time=SimpleNamespace(step=step))
                got = s.scalar(select(bucket(literal(day, Date()), view)))
                whole = (day - date(1970, 1, 1)).days * 86400
                assert got == whole - whole % step, (day, step)


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    yield seen
    event.remove(db.engine, "before_cursor_execute", keep)


def twice_narrowed(statement: str) -> list[str]:
    """The tables that one WHERE clause of ``statement`` narrows by more than one ``client_id IN`` list
    (a clause ends where its SELECT goes on or a subquery closes)."""
    found = []
    ends = r"(?=\bGROUP BY\b|\bORDER BY\b|\bUNION\b|\bLIMIT\b|\) AS \w+|$)"
    for clause in re.finditer(r"\bWHERE\b(.*?)" + ends, statement, re.S):
        lists = Counter(re.findall(r"(\w+)\.client_id IN \(", clause.group(1)))
        found += [table for table, n in lists.items() if n > 1]
    return found


def test_twice_narrowed_finds_a_second_list() -> None:
    assert twice_narrowed("SELECT a FROM t WHERE t.client_id IN (1, 2) AND t.at > 0 AND t.client_id IN (1)")
    assert not twice_narrowed(
        "SELECT a FROM t WHERE t.client_id IN (1) UNION ALL SELECT a FROM t WHERE t.client_id IN (2)"
    )
    assert not twice_narrowed(
        "SELECT t.a FROM t JOIN (SELECT t.id FROM t WHERE t.client_id IN (1) GROUP BY t.id) AS anon_1"
        " ON anon_1.id = t.id WHERE t.client_id IN (1)"
    )
    assert twice_narrowed(
        "SELECT x FROM (SELECT t.a FROM t WHERE t.client_id IN (1) AND t.client_id IN (1, 2)) AS anon_1"
    )


@pytest.mark.parametrize("shown", [50, 2])
def test_no_dashboard_statement_narrows_a_table_twice(
    services: Services,
    tenants: Tenants,
    statements: list[str],
    monkeypatch: pytest.MonkeyPatch,
    shown: int,
) -> None:
    """The usage and seat rollups, the per-user rollups, OperUp and the newest-report look-ups of the
    pages that read them, with every series shown and with the ranked paths (2 shown of 6)."""
    from kodeks_smart.app import create_app
    from tests.web.test_cabinet import login

    ctx = IngestContext.from_services(services)
    _sites(ctx, services, tenants)
    for module in (framework, usage, analytics, managers):
        monkeypatch.setattr(module, "MAX_SERIES", shown)
    with TestClient(create_app(services), follow_redirects=False) as web:
        login(web, "alice", "alice-password")
        statements.clear()
        for slug in ("analytics", "managers", "disk-space", "versions", "connected-users", "db-errors"):
            for query in ("range=90d", "range=7d", "range=24h", "range=13M"):
                open_dashboard(web, tenants.cabinet_a, slug, query)
    assert len(statements) > 50
    offending = {table for statement in statements for table in twice_narrowed(statement)}
    assert not offending


def test_an_id_list_is_written_into_the_cached_statement(db: Database, tenants: Tenants) -> None:
    """`framework.ids_in`: the ids are in the SQL text (no parameters to adapt), part of the cache key
    (two lists never share a cached text), and a plain ``IN`` on SQLite too (no ``= 1`` after it, which
    would keep SQLite from the index); the rows it selects are those of the list."""
    from sqlalchemy.dialects import postgresql, sqlite

    from kodeks_smart.store.models import Client

    ids_in = framework.ids_in
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = select(Client.id).where(ids_in(Client.id, [3, 1, 2])).compile(dialect=dialect)
        assert str(compiled).endswith("WHERE (clients.id IN (3, 1, 2))"), str(compiled)
        assert not compiled.params
        negated = str(select(Client.id).where(~ids_in(Client.id, [3])).compile(dialect=dialect))
        assert negated.endswith("WHERE NOT (clients.id IN (3))")
    key = select(Client.id).where(ids_in(Client.id, [1, 2]))._generate_cache_key()
    assert key == select(Client.id).where(ids_in(Client.id, [1, 2]))._generate_cache_key()
    assert key != select(Client.id).where(ids_in(Client.id, [1, 3]))._generate_cache_key()
    with db.session() as s:
        every = set(s.scalars(select(Client.id)))
        assert len(every) >= 3
        some = sorted(every)[:2]
        for _ in range(2):  # the second time from the statement cache
            assert set(s.scalars(select(Client.id).where(ids_in(Client.id, some)))) == set(some)
            assert set(s.scalars(select(Client.id).where(~ids_in(Client.id, some)))) == every - set(some)
            assert not list(s.scalars(select(Client.id).where(ids_in(Client.id, []))))
        other = sorted(every)[2:3]
        assert set(s.scalars(select(Client.id).where(ids_in(Client.id, other)))) == set(other)
