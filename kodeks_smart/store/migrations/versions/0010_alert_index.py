"""Alerts: index of sysinfo searches by client, result and time (the search rules' lookup)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 05:20:00

On PostgreSQL sysinfo_searches is partitioned (0008): the index is created on the parent, which creates it
on every partition (and on partitions made later).
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_sysinfo_searches_client_result_time',
        'sysinfo_searches',
        ['client_id', 'result', 'occurred_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_sysinfo_searches_client_result_time', table_name='sysinfo_searches')
