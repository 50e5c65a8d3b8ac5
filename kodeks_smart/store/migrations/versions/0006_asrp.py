"""ASRP forwarding: the dealers' forwarder configuration and the forwarding queue / log

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kodeks_smart.store.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asrp_forwarders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('method', sa.String(length=6), nullable=False),
    sa.Column('file_field', sa.String(length=100), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('auth', sa.String(length=10), nullable=False),
    sa.Column('auth_name', sa.String(length=200), nullable=True),
    sa.Column('secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('success_statuses', sa.JSON(), nullable=False),
    sa.Column('success_regex', sa.String(length=500), nullable=False),
    sa.Column('duplicate_regex', sa.String(length=500), nullable=False),
    sa.Column('number_regex', sa.String(length=500), nullable=False),
    sa.Column('ident_regex', sa.String(length=500), nullable=False),
    sa.Column('timeout', sa.Float(), nullable=False),
    sa.Column('directory', sa.String(length=1000), nullable=True),
    sa.Column('filename_pattern', sa.String(length=300), nullable=False),
    sa.Column('created_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("auth IN ('none', 'basic', 'bearer', 'header')", name=op.f('ck_asrp_forwarders_auth')),
    sa.CheckConstraint("kind IN ('http', 'folder')", name=op.f('ck_asrp_forwarders_kind')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_asrp_forwarders_dealer_id_dealers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asrp_forwarders')),
    sa.UniqueConstraint('dealer_id', name=op.f('uq_asrp_forwarders_dealer_id'))
    )
    op.create_table('asrp_forwards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('forwarder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('client_name', sa.String(length=100), nullable=False),
    sa.Column('regnum', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('last_attempt_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_failed_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('upload_number', sa.String(length=200), nullable=True),
    sa.Column('ident', sa.String(length=200), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'sending', 'accepted', 'duplicate', 'failed')", name=op.f('ck_asrp_forwards_state')),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_asrp_forwards_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_asrp_forwards_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['forwarder_id'], ['asrp_forwarders.id'], name=op.f('fk_asrp_forwards_forwarder_id_asrp_forwarders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_asrp_forwards_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asrp_forwards')),
    sa.UniqueConstraint('forwarder_id', 'upload_id', name=op.f('uq_asrp_forwards_forwarder_id_upload_id'))
    )
    op.create_index(op.f('ix_asrp_forwards_cabinet_id'), 'asrp_forwards', ['cabinet_id'], unique=False)
    op.create_index('ix_asrp_forwards_client_created', 'asrp_forwards', ['client_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_asrp_forwards_dealer_id'), 'asrp_forwards', ['dealer_id'], unique=False)
    op.create_index('ix_asrp_forwards_state_next', 'asrp_forwards', ['state', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_asrp_forwards_upload_id'), 'asrp_forwards', ['upload_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_asrp_forwards_upload_id'), table_name='asrp_forwards')
    op.drop_index('ix_asrp_forwards_state_next', table_name='asrp_forwards')
    op.drop_index(op.f('ix_asrp_forwards_dealer_id'), table_name='asrp_forwards')
    op.drop_index('ix_asrp_forwards_client_created', table_name='asrp_forwards')
    op.drop_index(op.f('ix_asrp_forwards_cabinet_id'), table_name='asrp_forwards')
    op.drop_table('asrp_forwards')
    op.drop_table('asrp_forwarders')
