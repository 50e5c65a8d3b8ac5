"""PostgreSQL row-level security per cabinet, for Grafana and any other direct SQL reader.

Design (docs/grafana.md explains it to operators):

* Tenant tables are found by their columns, never listed by hand: a table with ``cabinet_id`` is
  cabinet-scoped, a table with ``dealer_id`` only is dealer-scoped. A table another feature adds later is
  covered as soon as ``smart grafana roles`` runs again (migration 0009 covers the tables that exist then).
* Every such table gets ``ENABLE ROW LEVEL SECURITY`` and one policy, ``smart_cabinet_rows``. A
  cabinet-scoped row is visible when its ``cabinet_id`` is in ``smart_allowed_cabinets()``: the cabinets
  mapped to ``current_user`` in ``grafana_roles``. Adding a cabinet adds a mapping row and a role, no DDL per
  table. Dealer-scoped tables get a policy that admits nothing but the dealer's own row in ``dealers``.
* RLS is enabled, not FORCEd: the table owner (the role SMART itself connects and migrates with) keeps full
  access, as do superusers. Any other role sees only what the policies admit — nothing when it is not in
  ``grafana_roles``. SMART therefore must connect as the owner of its tables (or a BYPASSRLS role).
* The functions are SECURITY INVOKER, name their table with its schema and pin ``search_path``, so that a
  cabinet role cannot shadow ``grafana_roles`` with a temporary table of its own.
* Cabinet roles get SELECT on the columns of cabinet tables except secrets (``*_enc``, hashes, tokens),
  on ``dealers`` (id, code, name) and ``cabinets``; never on accounts, sessions, SMTP relays, queues or any
  dealer-scoped table.

Everything here is DDL text; `apply` runs it in one transaction. Re-running is harmless.
"""

# ruff: noqa: S608 - DDL is built from quoted identifiers read from our own schema, never from input.
from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, LargeBinary, MetaData, inspect, text

MAPPING_TABLE = "grafana_roles"
POLICY = "smart_cabinet_rows"
CABINETS_FUNCTION = "smart_allowed_cabinets"
DEALERS_FUNCTION = "smart_allowed_dealers"
DEFAULT_ROLE_PREFIX = "smart_cab_"

#: Tables a cabinet role never reads, whatever columns they have: logins, sessions, mail relays, queues.
NEVER_GRANTED = frozenset(
    {
        "accounts",
        "account_cabinets",
        "web_sessions",
        "smtp_relays",
        "smtp_relay_usage",
        "job_states",
        "ingest_queue",
        "alembic_version",
    }
)
#: Column names that hold secrets or credentials, on any table.
SECRET_COLUMNS = frozenset({"token_hash", "password_hash", "csrf_token", "claim_token", "secret"})
#: Columns of the dimension tables a cabinet role may read (the rows are limited by their policies).
DIMENSION_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "dealers": ("id", "code", "name"),
    "cabinets": ("id", "dealer_id", "name"),
    MAPPING_TABLE: ("role_name", "cabinet_id", "dealer_id"),
}
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RlsError(RuntimeError):
    """A request the row-level security setup cannot carry out (the message is Russian, for the CLI)."""


@dataclass(frozen=True)
class TableInfo:
    """What the DDL needs to know about one table: its name and its columns (name → is it a secret)."""

    name: str
    columns: Mapping[str, bool]
    #: A partition of a partitioned table: read through its parent (whose grant and policy apply), never
    #: granted itself, so the monthly partitions created later need nothing.
    partition: bool = False

    @property
    def scope(self) -> str | None:
        """``cabinet``, ``dealer`` or None (not a tenant table); ``cabinets``/``dealers`` are special."""
        if self.name in ("dealers", "cabinets", MAPPING_TABLE):
            return self.name
        if "cabinet_id" in self.columns:
            return "cabinet"
        if "dealer_id" in self.columns:
            return "dealer"
        return None

    def readable_columns(self) -> list[str]:
        """Columns a cabinet role may SELECT; empty when it may read nothing of this table."""
        if self.name in DIMENSION_COLUMNS:
            return [c for c in DIMENSION_COLUMNS[self.name] if c in self.columns]
        if self.partition or self.scope != "cabinet" or self.name in NEVER_GRANTED:
            return []
        if "dealer_id" not in self.columns:
            return []
        return [name for name, secret in self.columns.items() if not secret]


def is_secret(name: str, type_: object) -> bool:
    return name.endswith("_enc") or name in SECRET_COLUMNS or isinstance(type_, LargeBinary)


def tables_of_metadata(metadata: MetaData) -> list[TableInfo]:
    """The tables the models declare (used by the tests to check coverage)."""
    return sorted(
        (
            TableInfo(t.name, {c.name: is_secret(c.name, c.type) for c in t.columns})
            for t in metadata.tables.values()
        ),
        key=lambda t: t.name,
    )


def tables_of_database(conn: Connection, schema: str | None = None) -> list[TableInfo]:
    """The tables that exist in the database (the DDL only ever names these)."""
    inspector = inspect(conn)
    partitions = set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relispartition AND n.nspname = coalesce(:schema, current_schema())"
            ),
            {"schema": schema},
        ).scalars()
    )
    result = []
    for name in sorted(inspector.get_table_names(schema=schema)):
        columns = inspector.get_columns(name, schema=schema)
        secrets_ = {c["name"]: is_secret(c["name"], c["type"]) for c in columns}
        result.append(TableInfo(name, secrets_, partition=name in partitions))
    return result


def tenant_tables(tables: Iterable[TableInfo]) -> list[TableInfo]:
    """Every table row-level security applies to: cabinet- and dealer-scoped, plus the dimensions."""
    return [t for t in tables if t.scope is not None and t.name != "alembic_version"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def function_statements(schema: str) -> list[str]:
    """The two lookup functions the policies call."""
    mapping = f"{_q(schema)}.{_q(MAPPING_TABLE)}"
    statements = []
    for function, column in ((CABINETS_FUNCTION, "cabinet_id"), (DEALERS_FUNCTION, "dealer_id")):
        statements.append(
            f"CREATE OR REPLACE FUNCTION {_q(schema)}.{function}() RETURNS SETOF bigint "
            f"LANGUAGE sql STABLE SECURITY INVOKER SET search_path = pg_catalog, {_q(schema)} "
            f"AS $fn$ SELECT DISTINCT {column} FROM {mapping} WHERE role_name = current_user $fn$"
        )
    return statements


def _predicate(table: TableInfo, schema: str) -> str:
    cabinets = f"(SELECT {_q(schema)}.{CABINETS_FUNCTION}())"
    dealers = f"(SELECT {_q(schema)}.{DEALERS_FUNCTION}())"
    if table.scope == MAPPING_TABLE:
        return "role_name = current_user"
    if table.scope == "cabinets":
        return f"id IN {cabinets}"
    if table.scope == "dealers":
        return f"id IN {dealers}"
    if table.scope == "cabinet":
        return f"cabinet_id IN {cabinets}"
    # Dealer-scoped tables are never granted; the policy keeps them closed even if someone grants them.
    return "false"


def policy_statements(tables: Iterable[TableInfo], schema: str) -> list[str]:
    """Functions, then ENABLE + one SELECT policy per tenant table (idempotent)."""
    statements = function_statements(schema)
    for table in tenant_tables(tables):
        name = f"{_q(schema)}.{_q(table.name)}"
        statements += [
            f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY} ON {name}",
            f"CREATE POLICY {POLICY} ON {name} FOR SELECT TO PUBLIC USING ({_predicate(table, schema)})",
        ]
        if table.scope == MAPPING_TABLE:
            # Every role may look itself up (its policy shows it its own rows only), so a role that is
            # granted some table but mapped to no cabinet sees no rows instead of failing.
            columns = ", ".join(_q(c) for c in DIMENSION_COLUMNS[MAPPING_TABLE])
            statements.append(f"GRANT SELECT ({columns}) ON {name} TO PUBLIC")
    return statements


def role_name(cabinet_id: int, prefix: str = DEFAULT_ROLE_PREFIX) -> str:
    name = f"{prefix}{cabinet_id}"
    check_role_name(name)
    return name


def check_role_name(name: str) -> None:
    if not _ROLE_NAME.match(name):
        raise RlsError(
            f"недопустимое имя роли {name!r}: строчные латинские буквы, цифры и _, не длиннее 63 символов"
        )


def grant_statements(role: str, database: str, schema: str, tables: Iterable[TableInfo]) -> list[str]:
    """Privileges of one cabinet role: connect, the schema, readable columns, the functions."""
    check_role_name(role)
    r = _q(role)
    statements = [
        f"GRANT CONNECT ON DATABASE {_q(database)} TO {r}",
        f"GRANT USAGE ON SCHEMA {_q(schema)} TO {r}",
        # Start from nothing, so that a column or table that became secret loses its grant.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {_q(schema)} FROM {r}",
    ]
    for table in tables:
        columns = table.readable_columns()
        if columns:
            cols = ", ".join(_q(c) for c in columns)
            statements.append(f"GRANT SELECT ({cols}) ON {_q(schema)}.{_q(table.name)} TO {r}")
    for function in (CABINETS_FUNCTION, DEALERS_FUNCTION):
        statements.append(f"GRANT EXECUTE ON FUNCTION {_q(schema)}.{function}() TO {r}")
    return statements


def role_ddl(role: str, *, exists: bool, password: str | None) -> list[str]:
    """CREATE or ALTER one login role without any privilege beyond what it is granted."""
    check_role_name(role)
    attributes = (
        "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 20"
    )
    secret = f" PASSWORD {_literal(password)}" if password is not None else ""
    verb = "ALTER" if exists else "CREATE"
    return [
        f"{verb} ROLE {_q(role)} {attributes}{secret}",
        f"ALTER ROLE {_q(role)} SET statement_timeout = '60s'",
    ]


def new_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class RolePlan:
    """What `plan_roles` decided for one cabinet."""

    role: str
    cabinet_id: int
    dealer_id: int
    exists: bool
    password: str | None
    statements: list[str]


def current_names(conn: Connection) -> tuple[str, str]:
    row = conn.execute(text("SELECT current_database(), current_schema()")).one()
    return str(row[0]), str(row[1])


def require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise RlsError("Grafana требует PostgreSQL: SMART_DATABASE_URL указывает на SQLite")


def plan_roles(
    conn: Connection,
    cabinets: Iterable[tuple[int, int]],
    *,
    prefix: str = DEFAULT_ROLE_PREFIX,
    new_password_for: Iterable[str] = (),
) -> list[RolePlan]:
    """Decide the DDL for the roles of ``cabinets`` (cabinet id, dealer id); nothing is executed.

    A role gets a new password when it is created or is named in ``new_password_for``.
    """
    require_postgresql(conn)
    database, schema = current_names(conn)
    tables = tables_of_database(conn, schema)
    existing = set(conn.execute(text("SELECT rolname FROM pg_roles")).scalars())
    renew = set(new_password_for)
    plans = []
    for cabinet_id, dealer_id in cabinets:
        role = role_name(cabinet_id, prefix)
        exists = role in existing
        password = new_password() if not exists or role in renew else None
        statements = role_ddl(role, exists=exists, password=password)
        statements += grant_statements(role, database, schema, tables)
        plans.append(RolePlan(role, cabinet_id, dealer_id, exists, password, statements))
    return plans


def apply(conn: Connection, plans: Iterable[RolePlan]) -> None:
    """Run the policy DDL and each role's DDL, and map each role to its cabinet, in ``conn``'s transaction."""
    require_postgresql(conn)
    _database, schema = current_names(conn)
    for statement in policy_statements(tables_of_database(conn, schema), schema):
        conn.exec_driver_sql(statement)
    now = datetime.now(UTC)
    for plan in plans:
        for statement in plan.statements:
            conn.exec_driver_sql(statement)
        conn.execute(
            text(
                f"INSERT INTO {_q(MAPPING_TABLE)} (role_name, cabinet_id, dealer_id, created_at, "
                "password_set_at) VALUES (:role, :cabinet, :dealer, :now, :set_at) "
                "ON CONFLICT (role_name, cabinet_id) DO UPDATE SET dealer_id = EXCLUDED.dealer_id, "
                f"password_set_at = COALESCE(EXCLUDED.password_set_at, {_q(MAPPING_TABLE)}.password_set_at)"
            ),
            {
                "role": plan.role,
                "cabinet": plan.cabinet_id,
                "dealer": plan.dealer_id,
                "now": now,
                "set_at": now if plan.password is not None else None,
            },
        )


def masked(statement: str) -> str:
    """The statement as `--dry-run` prints it: passwords replaced."""
    return re.sub(r"PASSWORD '(?:[^']|'')*'", "PASSWORD '***'", statement)
