"""«Для менеджеров»: the newest report time per OperUp file (sysinfo_operup_latest), filled from
sysinfo_operup_files

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 04:00:00

Derived data (SysinfoOperUpLatest in kodeks_smart/store/ingest_models.py): per installation and OperUp
file, the newest report time among its rows with a file time, which «Сколько дней назад обновились файлы в
OperUp» ranks the files by. The backfill is the INSERT … SELECT that the sysinfo writer runs for a client
after reprocessing (kodeks_smart/ingest/operup_latest.py); a row per file, so not partitioned; row-level
security covers it by its columns (rls.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kodeks_smart.ingest import operup_latest
from kodeks_smart.store.types import BigIntPK, UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sysinfo_operup_latest",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("dealer_id", sa.BigInteger(), nullable=False),
        sa.Column("cabinet_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", BigIntPK, nullable=False),
        sa.Column("installation_id", BigIntPK, nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("report_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cabinet_id", "dealer_id"], ["cabinets.id", "cabinets.dealer_id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["installation_id"], ["installations.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("installation_id", "path"),
    )
    op.create_index(
        "ix_sysinfo_operup_latest_client_report", "sysinfo_operup_latest", ["client_id", "report_at"]
    )
    operup_latest.backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_sysinfo_operup_latest_client_report", table_name="sysinfo_operup_latest")
    op.drop_table("sysinfo_operup_latest")
