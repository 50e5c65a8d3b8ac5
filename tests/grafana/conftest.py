"""Grafana tests run on PostgreSQL only: `db` (and so `tenants`) is the session's throw-away database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection

from kodeks_smart.grafana.macros import TimeRange
from kodeks_smart.store import rls
from kodeks_smart.store.db import Database
from tests.conftest import Tenants, _truncate_all
from tests.grafana.seed import seed, utcnow


@pytest.fixture
def db_url(pg_url: str) -> Iterator[str]:
    """Overrides the sqlite+postgresql `db_url` of tests/conftest.py: RLS exists only on PostgreSQL."""
    yield pg_url
    _truncate_all(pg_url)


@dataclass
class Grafana:
    db: Database
    tenants: Tenants
    now: datetime
    roles: dict[int, str]

    @property
    def range(self) -> TimeRange:
        return TimeRange(self.now - timedelta(days=30), self.now)

    @property
    def role_a(self) -> str:
        return self.roles[self.tenants.cabinet_a]

    @property
    def role_b(self) -> str:
        return self.roles[self.tenants.cabinet_b]


def drop_roles(db: Database, roles: list[str]) -> None:
    with db.engine.begin() as conn:
        for role in roles:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')


@pytest.fixture
def role_prefix() -> str:
    """Roles are cluster-wide: a prefix of its own keeps a test's roles apart from everyone's."""
    return f"smart_t{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def grafana(db: Database, tenants: Tenants, role_prefix: str) -> Iterator[Grafana]:
    """Seeded facts of cabinets A, B (dealer 1) and C (dealer 2), and one RLS role per cabinet."""
    now = utcnow()
    seed(db, now)
    cabinets = [
        (tenants.cabinet_a, tenants.dealer_id),
        (tenants.cabinet_b, tenants.dealer_id),
        (tenants.cabinet_c, tenants.other_dealer_id),
    ]
    with db.engine.begin() as conn:
        plans = rls.plan_roles(conn, cabinets, prefix=role_prefix)
        rls.apply(conn, plans)
    roles = {plan.cabinet_id: plan.role for plan in plans}
    try:
        yield Grafana(db, tenants, now, roles)
    finally:
        drop_roles(db, list(roles.values()))


@contextmanager
def as_role(db: Database, role: str) -> Iterator[Connection]:
    """A transaction running as ``role`` (as Grafana's connection would); always rolled back."""
    with db.engine.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
        try:
            yield conn
        finally:
            tx.rollback()
