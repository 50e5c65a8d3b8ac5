"""Channels: mailboxes and Telegram chats can be switched off without losing their settings

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 07:20:00

Before, a channel was "switched off" by clearing its categories, which lost what it had received. The column
defaults to true, so every existing channel stays on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('mailboxes', 'telegram_chats'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    for table in ('mailboxes', 'telegram_chats'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('enabled')
