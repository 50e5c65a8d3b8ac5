"""Row-level security: a cabinet role reads only its cabinet's rows, even with hand-written SQL."""

# ruff: noqa: S608 - the SQL names tables and ids of the test's own database

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from kodeks_smart.store import rls
from kodeks_smart.store.schema import metadata
from tests.grafana.conftest import Grafana, as_role

pytestmark = pytest.mark.postgres


def _own_filter(table: str, g: Grafana, role: str) -> str:
    if table == "dealers":
        return f"id = {g.tenants.dealer_id}"
    if table == "cabinets":
        return f"id = {g.tenants.cabinet_a}"
    if table == rls.MAPPING_TABLE:
        return f"role_name = '{role}'"
    return f"cabinet_id = {g.tenants.cabinet_a}"


def test_select_from_every_readable_table_returns_only_cabinet_a_rows(grafana: Grafana) -> None:
    with grafana.db.engine.connect() as owner:
        tables = [t for t in rls.tables_of_database(owner) if t.readable_columns()]
        expected = {
            t.name: owner.execute(
                text(f'SELECT count(*) FROM "{t.name}" WHERE {_own_filter(t.name, grafana, grafana.role_a)}')
            ).scalar_one()
            for t in tables
        }
        totals = {
            t.name: owner.execute(text(f'SELECT count(*) FROM "{t.name}"')).scalar_one() for t in tables
        }
    assert {"clients", "installations", "sysinfo_sessions", "alert_states", "dealers", "cabinets"} <= set(
        expected
    )
    hidden = 0
    with as_role(grafana.db, grafana.role_a) as conn:
        for t in tables:
            columns = ", ".join(f'"{c}"' for c in t.readable_columns())
            rows = conn.execute(text(f'SELECT {columns} FROM "{t.name}"')).mappings().all()
            assert len(rows) == expected[t.name], t.name
            if "cabinet_id" in t.columns and t.name != "cabinets":
                assert {r["cabinet_id"] for r in rows} <= {grafana.tenants.cabinet_a}, t.name
            hidden += totals[t.name] - len(rows)
    assert hidden > 0
    assert expected["sysinfo_sessions"] == 3


FORBIDDEN = (
    "SELECT * FROM accounts",
    "SELECT * FROM web_sessions",
    "SELECT * FROM account_cabinets",
    "SELECT * FROM smtp_relays",
    "SELECT * FROM ingest_queue",
    "SELECT token_hash FROM dealers",
    "SELECT test_password_enc FROM installations",
    "SELECT * FROM installations",
    "SELECT password_enc FROM online_accesses",
    "SELECT bot_token_enc FROM telegram_chats",
    "UPDATE clients SET display_name = 'x'",
    "DELETE FROM clients",
    "INSERT INTO grafana_roles (role_name, cabinet_id, dealer_id, created_at) "
    "VALUES (current_user, 1, 1, now())",
)


def test_a_cabinet_role_cannot_read_accounts_sessions_or_secrets_nor_write(grafana: Grafana) -> None:
    for sql in FORBIDDEN:
        with (
            as_role(grafana.db, grafana.role_a) as conn,
            pytest.raises(ProgrammingError, match="permission denied"),
        ):
            conn.execute(text(sql))


def test_a_temporary_table_cannot_impersonate_the_role_mapping(grafana: Grafana) -> None:
    """pg_temp comes first in search_path; the policy's function must not read a look-alike table."""
    b = grafana.tenants.cabinet_b
    with as_role(grafana.db, grafana.role_a) as conn:
        conn.execute(
            text("CREATE TEMP TABLE grafana_roles (role_name text, cabinet_id bigint, dealer_id bigint)")
        )
        conn.execute(
            text(f"INSERT INTO grafana_roles VALUES (current_user, {b}, {grafana.tenants.dealer_id})")
        )
        conn.execute(text("SET search_path = pg_temp, public"))
        cabinets = set(conn.execute(text("SELECT cabinet_id FROM public.clients")).scalars())
    assert cabinets == {grafana.tenants.cabinet_a}


def test_every_table_with_cabinet_id_has_row_level_security_and_a_policy(grafana: Grafana) -> None:
    with grafana.db.engine.connect() as owner:
        secured = set(owner.execute(text("SELECT relname FROM pg_class WHERE relrowsecurity")).scalars())
        policies = set(
            owner.execute(
                text(f"SELECT tablename FROM pg_policies WHERE policyname = '{rls.POLICY}'")
            ).scalars()
        )
    cabinet_tables = {t.name for t in rls.tables_of_metadata(metadata) if "cabinet_id" in t.columns}
    assert {"clients", "sysinfo_usage", "alert_states", "web_sessions"} <= cabinet_tables
    assert cabinet_tables <= secured
    assert cabinet_tables <= policies
    tenant = {t.name for t in rls.tenant_tables(rls.tables_of_metadata(metadata))}
    assert tenant <= secured & policies


def test_a_role_logs_in_with_its_password_and_sees_its_cabinet(grafana: Grafana) -> None:
    with grafana.db.engine.begin() as owner:
        owner.exec_driver_sql(f"ALTER ROLE \"{grafana.role_a}\" PASSWORD 'role-a-password'")
    url = make_url(grafana.db.url).set(username=grafana.role_a, password="role-a-password")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == grafana.role_a
            cabinets = set(conn.execute(text("SELECT cabinet_id FROM clients")).scalars())
    finally:
        engine.dispose()
    assert cabinets == {grafana.tenants.cabinet_a}


def test_a_database_role_without_a_mapping_sees_nothing(grafana: Grafana, role_prefix: str) -> None:
    from tests.grafana.conftest import drop_roles

    stranger = role_prefix + "stranger"
    with grafana.db.engine.begin() as owner:
        owner.exec_driver_sql(f'CREATE ROLE "{stranger}" NOLOGIN')
        owner.exec_driver_sql(f'GRANT SELECT ON clients TO "{stranger}"')
    try:
        with as_role(grafana.db, stranger) as conn:
            assert conn.execute(text("SELECT count(*) FROM clients")).scalar_one() == 0
    finally:
        drop_roles(grafana.db, [stranger])


def test_roles_are_updated_in_place_and_keep_their_password(grafana: Grafana) -> None:
    with grafana.db.engine.begin() as conn:
        prefix = grafana.role_a.removesuffix(str(grafana.tenants.cabinet_a))
        plans = rls.plan_roles(conn, [(grafana.tenants.cabinet_a, grafana.tenants.dealer_id)], prefix=prefix)
        assert plans[0].exists and plans[0].password is None
        assert not any("PASSWORD" in s for s in plans[0].statements)
        rls.apply(conn, plans)
    with as_role(grafana.db, grafana.role_a) as conn:
        assert conn.execute(text("SELECT count(*) FROM clients")).scalar_one() == 1


def test_partitions_are_read_only_through_their_parent(grafana: Grafana) -> None:
    with grafana.db.engine.connect() as owner:
        partitions = [t.name for t in rls.tables_of_database(owner) if t.partition]
    if not partitions:
        pytest.skip("no partitioned tables in this schema")
    for name in partitions[:3]:
        with (
            as_role(grafana.db, grafana.role_a) as conn,
            pytest.raises(ProgrammingError, match="permission denied"),
        ):
            conn.execute(text(f'SELECT count(*) FROM "{name}"'))
