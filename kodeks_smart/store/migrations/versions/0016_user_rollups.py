"""Per-user usage rollups for «Для менеджеров» and «Карточки пользователей»: per user and UTC day / month,
the usage counters summed and the hourly peaks the charts rank users by; filled from the stored facts

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 11:00:00

Derived data (kodeks_smart/store/user_rollup_models.py): the backfill rebuilds both tables from
sysinfo_usage with INSERT … SELECT, the grouping the sysinfo writer runs for the days a report touches
(kodeks_smart/ingest/user_rollup.py). Not partitioned on PostgreSQL (one row per user and day or month);
the retention job prunes them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from kodeks_smart.ingest import user_rollup
from kodeks_smart.store.types import BigIntPK

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

VALUES = (
    "db_requests",
    "docs",
    "free_docs",
    "saved",
    "printed",
    "kassist",
    "services",
    "searches",
    "peak_billing",
    "peak_db_requests",
    "peak_saved",
    "peak_printed",
)


def _columns() -> list[Any]:
    return [
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("dealer_id", sa.BigInteger(), nullable=False),
        sa.Column("cabinet_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=True),
        sa.Column("login", sa.String(200), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in VALUES),
        sa.ForeignKeyConstraint(
            ["cabinet_id", "dealer_id"], ["cabinets.id", "cabinets.dealer_id"], ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table("sysinfo_user_usage_daily", *_columns(), sa.Column("at", sa.BigInteger(), nullable=False))
    op.create_index("ix_sysinfo_user_usage_daily_client_at", "sysinfo_user_usage_daily", ["client_id", "at"])
    op.create_table(
        "sysinfo_user_usage_monthly", *_columns(), sa.Column("month", sa.String(7), nullable=False)
    )
    op.create_index(
        "ix_sysinfo_user_usage_monthly_client_month", "sysinfo_user_usage_monthly", ["client_id", "month"]
    )
    user_rollup.backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("sysinfo_user_usage_monthly")
    op.drop_table("sysinfo_user_usage_daily")
