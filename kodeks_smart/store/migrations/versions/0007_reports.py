"""reports: files attached to notifications (monthly renewal reports by e-mail)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notification_attachments',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('dealer_id', sa.BigInteger(), nullable=False),
        sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
        sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ['cabinet_id', 'dealer_id'],
            ['cabinets.id', 'cabinets.dealer_id'],
            name=op.f('fk_notification_attachments_cabinet_id_dealer_id_cabinets'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['notification_id'],
            ['notifications.id'],
            name=op.f('fk_notification_attachments_notification_id_notifications'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_attachments')),
    )
    with op.batch_alter_table('notification_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_attachments_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_attachments_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_notification_attachments_notification_id'), ['notification_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('notification_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_attachments_notification_id'))
        batch_op.drop_index(batch_op.f('ix_notification_attachments_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_notification_attachments_cabinet_id'))
    op.drop_table('notification_attachments')
