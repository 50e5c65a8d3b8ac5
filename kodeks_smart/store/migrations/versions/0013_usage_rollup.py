"""Usage rollups for «Kodeks аналитика» and «Для менеджеров»: hourly and daily sums per installation, first
and last request per user and month, occupied and reg seats per report; filled from the stored facts

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 07:20:00

The four tables are derived data (kodeks_smart/store/usage_rollup_models.py): the backfill rebuilds them
from sysinfo_usage, sysinfo_sessions and sysinfo_reports with INSERT … SELECT — the same statements the
sysinfo writer runs for the keys a report touches (kodeks_smart/ingest/usage_rollup.py). They are small
(one row per installation and hour, day, report, or user and month), so they are not partitioned on
PostgreSQL; the retention job prunes them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from kodeks_smart.ingest import usage_rollup
from kodeks_smart.store.types import BigIntPK, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COUNTERS = ("db_requests", "docs", "free_docs", "saved", "printed", "kassist", "services", "searches")


def _tenant() -> list[Any]:
    return [
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("dealer_id", sa.BigInteger(), nullable=False),
        sa.Column("cabinet_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cabinet_id", "dealer_id"], ["cabinets.id", "cabinets.dealer_id"], ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    for name in ("sysinfo_usage_hourly", "sysinfo_usage_daily"):
        op.create_table(
            name,
            *_tenant(),
            sa.Column("at", sa.BigInteger(), nullable=False),
            *(sa.Column(c, sa.BigInteger(), nullable=False) for c in COUNTERS),
        )
        op.create_index(f"ix_{name}_client_at", name, ["client_id", "at"])
    op.create_table(
        "sysinfo_usage_first",
        *_tenant(),
        sa.Column("login", sa.String(200), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sysinfo_usage_first_client_month", "sysinfo_usage_first", ["client_id", "month"])
    op.create_table(
        "sysinfo_report_seats",
        *_tenant(),
        sa.Column("report_at", UTCDateTime(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=True),
    )
    op.create_index("ix_sysinfo_report_seats_client_at", "sysinfo_report_seats", ["client_id", "at"])
    usage_rollup.backfill(op.get_bind())


def downgrade() -> None:
    for name in (
        "sysinfo_report_seats",
        "sysinfo_usage_first",
        "sysinfo_usage_daily",
        "sysinfo_usage_hourly",
    ):
        op.drop_table(name)
