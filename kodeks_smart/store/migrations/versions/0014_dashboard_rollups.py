"""Dashboards: daily metric rollups (metric_rollups_daily), filled from the hourly rollups

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 07:20:00

Derived data (kodeks_smart/store/dashboard_rollup_models.py): one row per series and UTC day folding the
day's hourly rollups, kept current by the metrics writer (kodeks_smart/ingest/metric_daily.py). The
backfill is one INSERT … SELECT per dialect over metric_rollups_hourly. Small (24× fewer rows than the
hourly table), so not partitioned on PostgreSQL; the retention job prunes it with the hourly rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kodeks_smart.ingest.metric_daily import BACKFILL_SQL
from kodeks_smart.store.types import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'metric_rollups_daily',
        sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('day', UTCDateTime(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('sum', sa.Float(), nullable=False),
        sa.Column('min', sa.Float(), nullable=False),
        sa.Column('max', sa.Float(), nullable=False),
        sa.Column('dealer_id', sa.BigInteger(), nullable=False),
        sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(['series_id'], ['metric_series.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('series_id', 'day'),
    )
    op.create_index('ix_metric_rollups_daily_day', 'metric_rollups_daily', ['day'])
    bind = op.get_bind()
    op.execute(BACKFILL_SQL['postgresql' if bind.dialect.name == 'postgresql' else 'sqlite'])


def downgrade() -> None:
    op.drop_index('ix_metric_rollups_daily_day', table_name='metric_rollups_daily')
    op.drop_table('metric_rollups_daily')
