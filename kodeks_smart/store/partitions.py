"""Monthly range partitions of the high-volume append-only tables on PostgreSQL.

Migration 0008 turns the tables in `PARTITIONED` into partitioned tables (``PARTITION BY RANGE`` on
their time column) with one partition per calendar month (UTC), named ``<table>_pYYYYMM``, and a
default partition ``<table>_pdefault`` for rows outside every monthly partition (a backfill of old
data, a sample from a far-off clock). The ``partitions`` job (singleton, hourly):

1. creates the partitions of the current month and the next `AHEAD` months; rows of such a month that
   already sit in the default partition are moved into the new partition in the same transaction;
2. drops monthly partitions that end before the retention cutoff (SMART_RETENTION_DAYS): a whole month
   goes at once, without deleting row by row. The batch retention jobs keep running: they remove what
   is left before the cutoff in the oldest remaining partition and in the default partition.

On SQLite nothing is partitioned and the batch retention does all the work.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

from kodeks_smart.store.db import Database
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

#: table → time column it is partitioned by.
PARTITIONED: dict[str, str] = {
    "metric_samples": "ts",
    "probe_latency": "at",
    "sysinfo_searches": "occurred_at",
    "sysinfo_usage": "hour",
}
AHEAD = 2
_MONTHLY = re.compile(r"_p(\d{4})(\d{2})$")


def month_start(at: datetime | date) -> date:
    return date(at.year, at.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y%m}"


def _bound(month: date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def is_partitioned(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
                " WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace"
            ),
            {"t": table},
        ).scalar()
    )


def partitions(conn: Connection, table: str) -> dict[str, date | None]:
    """Partitions of ``table``: name → first day of its month (None for the default partition)."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = :t AND p.relnamespace = current_schema()::regnamespace"
        ),
        {"t": table},
    ).scalars()
    found: dict[str, date | None] = {}
    for name in names:
        match = _MONTHLY.search(name)
        found[name] = date(int(match.group(1)), int(match.group(2)), 1) if match else None
    return found


def create_month(conn: Connection, table: str, column: str, month: date) -> bool:
    """Create the partition of ``month`` unless it exists; True if created.

    Rows of that month already in the default partition are moved into it first (PostgreSQL refuses to
    create a partition whose rows sit in the default one).
    """
    name = partition_name(table, month)
    if name in partitions(conn, table):
        return False
    lo, hi = _bound(month), _bound(add_months(month, 1))
    default = f"{table}_pdefault"
    in_range = f'"{column}" >= :lo AND "{column}" < :hi'
    has_default = default in partitions(conn, table)
    bounds = {"lo": lo, "hi": hi}
    # Table and column names below are the constants of PARTITIONED, never input.
    probe = f'SELECT 1 FROM "{default}" WHERE {in_range} LIMIT 1'  # noqa: S608
    misplaced = has_default and conn.execute(text(probe), bounds).scalar()
    if not misplaced:
        conn.execute(
            text(f"CREATE TABLE \"{name}\" PARTITION OF \"{table}\" FOR VALUES FROM ('{lo}') TO ('{hi}')")
        )
        return True
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    move = f'INSERT INTO "{name}" SELECT * FROM "{default}" WHERE {in_range}'  # noqa: S608
    conn.execute(text(move), bounds)
    conn.execute(text(f'DELETE FROM "{default}" WHERE {in_range}'), bounds)  # noqa: S608
    conn.execute(
        text(f"ALTER TABLE \"{table}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{lo}') TO ('{hi}')")
    )
    return True


def ensure_default(conn: Connection, table: str) -> None:
    default = f"{table}_pdefault"
    if default not in partitions(conn, table):
        conn.execute(text(f'CREATE TABLE "{default}" PARTITION OF "{table}" DEFAULT'))


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def maintain(
    db: Database, retention_days: int, now: datetime | None = None, ahead: int = AHEAD
) -> Maintenance:
    """Create the partitions of this month and the next ``ahead`` ones; drop the expired ones.

    Each table is handled in its own short transaction. Does nothing on SQLite or on tables that are not
    partitioned.
    """
    done = Maintenance()
    if db.is_sqlite:
        return done
    now = now or utcnow()
    cutoff = now.astimezone(UTC) - timedelta(days=retention_days)
    current = month_start(now.astimezone(UTC))
    for table, column in PARTITIONED.items():
        with db.engine.begin() as conn:
            if not is_partitioned(conn, table):
                continue
            ensure_default(conn, table)
            for n in range(ahead + 1):
                month = add_months(current, n)
                if create_month(conn, table, column, month):
                    done.created.append(partition_name(table, month))
            for name, first in sorted(partitions(conn, table).items()):
                if first is None:
                    continue
                ends = datetime.combine(add_months(first, 1), datetime.min.time(), tzinfo=UTC)
                if ends <= cutoff:
                    conn.execute(text(f'DROP TABLE "{name}"'))
                    done.dropped.append(name)
    if done.created or done.dropped:
        log.info("partitions created %s, dropped %s", done.created, done.dropped)
    return done
