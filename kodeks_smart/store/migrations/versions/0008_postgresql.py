"""PostgreSQL production shape: worker membership table; monthly partitions of the high-volume tables

On every backend: ``worker_members`` (dynamic sharding of the probe targets, `kodeks_smart.cluster`).

On PostgreSQL only: metric_samples, probe_latency, sysinfo_searches and sysinfo_usage become range-
partitioned by month on their time column (`kodeks_smart.store.partitions`). For each table: the old
table is renamed, a partitioned table of the same columns, defaults and checks is created under the
original name with a default partition and one partition per month from the oldest row to two months
ahead, the rows are copied, the id sequence is handed over, the old table dropped, and the primary key
(extended by the time column where needed: a partitioned table's unique keys must contain it), unique
constraints, foreign keys and indexes are created again under their original names. Nothing refers to
these tables by foreign key. The downgrade turns them back into plain tables.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 04:05:00
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection, text

import kodeks_smart.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: table → time column (the same as `kodeks_smart.store.partitions.PARTITIONED`, frozen here).
TABLES = {
    "metric_samples": "ts",
    "probe_latency": "at",
    "sysinfo_searches": "occurred_at",
    "sysinfo_usage": "hour",
}
AHEAD = 2


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def _definitions(conn: Connection, table: str) -> dict[str, list[tuple[str, str]]]:
    """Constraints by kind (p, u, f) and the other indexes, as (name, definition)."""
    found: dict[str, list[tuple[str, str]]] = {"p": [], "u": [], "f": [], "i": []}
    rows = conn.execute(
        text(
            "SELECT contype, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u', 'f')"
        ),
        {"t": table},
    )
    for kind, name, definition in rows:
        found[kind].append((name, definition))
    constraints = {name for kind in "puf" for name, _ in found[kind]}
    for name, definition in conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = :t"
        ),
        {"t": table},
    ):
        if name not in constraints:
            found["i"].append((name, definition))
    return found


def _key_columns(definition: str) -> list[str]:
    """``PRIMARY KEY (id, at)`` → ``['id', 'at']``."""
    inner = definition[definition.index("(") + 1 : definition.rindex(")")]
    return [c.strip().strip('"') for c in inner.split(",")]


def _rebuild(conn: Connection, table: str, column: str, *, partitioned: bool) -> None:
    incoming = conn.execute(
        text("SELECT count(*) FROM pg_constraint WHERE confrelid = CAST(:t AS regclass) AND contype = 'f'"),
        {"t": table},
    ).scalar()
    if incoming:
        raise RuntimeError(f"{table}: other tables refer to it by foreign key; it cannot be partitioned")
    defs = _definitions(conn, table)
    has_id = bool(
        conn.execute(
            text(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = :t AND column_name = 'id'"
            ),
            {"t": table},
        ).scalar()
    )
    sequence = (
        conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
        if has_id
        else None
    )
    old = f"{table}_pre0008"
    conn.execute(text(f'ALTER TABLE "{table}" RENAME TO "{old}"'))
    spec = f' PARTITION BY RANGE ("{column}")' if partitioned else ""
    conn.execute(
        text(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS){spec}')
    )
    if partitioned:
        conn.execute(text(f'CREATE TABLE "{table}_pdefault" PARTITION OF "{table}" DEFAULT'))
        now = datetime.now(UTC)
        oldest = conn.execute(text(f'SELECT min("{column}") FROM "{old}"')).scalar()  # noqa: S608 - names are constants
        month = date(now.year, now.month, 1)
        if oldest is not None:
            month = min(month, date(oldest.year, oldest.month, 1))
        last = _add_months(date(now.year, now.month, 1), AHEAD)
        while month <= last:
            following = _add_months(month, 1)
            conn.execute(
                text(
                    f'CREATE TABLE "{table}_p{month:%Y%m}" PARTITION OF "{table}"'
                    f" FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(following)}')"
                )
            )
            month = following
    conn.execute(text(f'INSERT INTO "{table}" SELECT * FROM "{old}"'))  # noqa: S608 - names are constants
    if sequence:
        conn.execute(text(f'ALTER SEQUENCE {sequence} OWNED BY "{table}".id'))
    conn.execute(text(f'DROP TABLE "{old}"'))
    for name, definition in defs["p"]:
        columns = _key_columns(definition)
        if partitioned and column not in columns:
            columns.append(column)
        elif not partitioned and has_id and columns == ["id", column]:
            columns = ["id"]
        quoted = ", ".join(f'"{c}"' for c in columns)
        conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" PRIMARY KEY ({quoted})'))
    for kind in ("u", "f"):
        for name, definition in defs[kind]:
            conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
    for _name, definition in defs["i"]:
        # A partitioned table's index is defined ``ON ONLY`` the parent: recurse on a rebuilt table.
        conn.execute(text(definition.replace(" ON ONLY ", " ON ")))


def upgrade() -> None:
    op.create_table(
        "worker_members",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_members")),
        sa.UniqueConstraint("name", name=op.f("uq_worker_members_name")),
    )
    with op.batch_alter_table("worker_members", schema=None) as batch_op:
        batch_op.create_index("ix_worker_members_heartbeat_at", ["heartbeat_at"], unique=False)
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table, column in TABLES.items():
        _rebuild(conn, table, column, partitioned=True)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table, column in TABLES.items():
            _rebuild(conn, table, column, partitioned=False)
    with op.batch_alter_table("worker_members", schema=None) as batch_op:
        batch_op.drop_index("ix_worker_members_heartbeat_at")
    op.drop_table("worker_members")
