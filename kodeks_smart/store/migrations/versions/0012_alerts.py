"""Alerts: alert_states.fingerprint (a rule's digest of what an alert's labels are made of)

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-26 07:20:00

A full evaluation pass compares the fingerprint of an alert whose labels are costly to build (the list of
empty searches of `KodeksSearchIsEmpty`) instead of building and comparing the labels. Existing alerts get
NULL, i.e. they are compared by their labels once and get their fingerprint in that cycle.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_states") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_states") as batch:
        batch.drop_column("fingerprint")
