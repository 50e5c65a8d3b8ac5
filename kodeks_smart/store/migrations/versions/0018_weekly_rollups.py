"""Long ranges of the usage dashboards: weekly usage and seats rollups (sysinfo_usage_weekly,
sysinfo_seats_weekly), filled from the daily ones

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 17:00:00

Derived data (kodeks_smart/store/usage_rollup_models.py, seats_rollup_models.py): per installation and
epoch-aligned 7-day week (``at // 604800 * 604800``, the 7-day chart points of the 13M and 1y ranges) the
usage sums and the folded seats of the week's daily rows. The backfill is the INSERT … SELECT over the
daily rollups that the sysinfo writer runs for the weeks a re-sum touches (kodeks_smart/ingest/
usage_rollup.py, seats_rollup.py). Small (one row per installation and week), so not partitioned on
PostgreSQL; the retention job prunes them; row-level security covers them by their columns (rls.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from kodeks_smart.ingest import seats_rollup, usage_rollup
from kodeks_smart.store.types import BigIntPK

revision = "0018"
down_revision = "0017"
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
        sa.Column("at", sa.BigInteger(), nullable=False),
    ]


def _tenant_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["cabinet_id", "dealer_id"], ["cabinets.id", "cabinets.dealer_id"], ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "sysinfo_usage_weekly",
        *_tenant(),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in COUNTERS),
        _tenant_fk(),
    )
    op.create_index("ix_sysinfo_usage_weekly_client_at", "sysinfo_usage_weekly", ["client_id", "at"])
    op.create_table(
        "sysinfo_seats_weekly",
        *_tenant(),
        sa.Column("used_max", sa.Integer(), nullable=True),
        sa.Column("used_min", sa.Integer(), nullable=True),
        sa.Column("seats_max", sa.Integer(), nullable=True),
        _tenant_fk(),
    )
    op.create_index("ix_sysinfo_seats_weekly_client_at", "sysinfo_seats_weekly", ["client_id", "at"])
    bind = op.get_bind()
    usage_rollup.fill_weeks(bind)
    seats_rollup.backfill_weeks(bind)


def downgrade() -> None:
    for name in ("sysinfo_seats_weekly", "sysinfo_usage_weekly"):
        op.drop_index(f"ix_{name}_client_at", table_name=name)
        op.drop_table(name)
