"""probes: current check states, abnormal-state intervals, latency, online billing; probe columns of
installations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 01:21:56.070118
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kodeks_smart.store.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('online_billing_readings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('online_access_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('read_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('docs_max', sa.Integer(), nullable=True),
    sa.Column('docs_used', sa.Integer(), nullable=True),
    sa.Column('search_max', sa.Integer(), nullable=True),
    sa.Column('search_used', sa.Integer(), nullable=True),
    sa.Column('print_max', sa.Integer(), nullable=True),
    sa.Column('print_used', sa.Integer(), nullable=True),
    sa.Column('upload_max', sa.Integer(), nullable=True),
    sa.Column('upload_used', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_online_billing_readings_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['online_access_id'], ['online_accesses.id'], name=op.f('fk_online_billing_readings_online_access_id_online_accesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_billing_readings'))
    )
    with op.batch_alter_table('online_billing_readings', schema=None) as batch_op:
        batch_op.create_index('ix_online_billing_readings_access_read', ['online_access_id', 'read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_online_billing_readings_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_online_billing_readings_dealer_id'), ['dealer_id'], unique=False)

    op.create_table('probe_checks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('online_access_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('check_name', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('since', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('checked_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('ok', 'fail', 'expected', 'unknown')", name=op.f('ck_probe_checks_status')),
    sa.CheckConstraint('(installation_id IS NULL) <> (online_access_id IS NULL)', name=op.f('ck_probe_checks_target')),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_probe_checks_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_probe_checks_installation_id_installations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['online_access_id'], ['online_accesses.id'], name=op.f('fk_probe_checks_online_access_id_online_accesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_probe_checks')),
    sa.UniqueConstraint('installation_id', 'check_name', name=op.f('uq_probe_checks_installation_id_check_name')),
    sa.UniqueConstraint('online_access_id', 'check_name', name=op.f('uq_probe_checks_online_access_id_check_name'))
    )
    with op.batch_alter_table('probe_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_probe_checks_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_probe_checks_check_status', ['check_name', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_probe_checks_dealer_id'), ['dealer_id'], unique=False)

    op.create_table('probe_latency',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('online_access_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('check_name', sa.String(length=20), nullable=False),
    sa.Column('at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('mean_ms', sa.Float(), nullable=False),
    sa.Column('max_ms', sa.Float(), nullable=False),
    sa.CheckConstraint('(installation_id IS NULL) <> (online_access_id IS NULL)', name=op.f('ck_probe_latency_target')),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_probe_latency_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_probe_latency_installation_id_installations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['online_access_id'], ['online_accesses.id'], name=op.f('fk_probe_latency_online_access_id_online_accesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_probe_latency'))
    )
    with op.batch_alter_table('probe_latency', schema=None) as batch_op:
        batch_op.create_index('ix_probe_latency_at', ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_probe_latency_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index('ix_probe_latency_inst_at', ['installation_id', 'at'], unique=False)
        batch_op.create_index('ix_probe_latency_online_at', ['online_access_id', 'at'], unique=False)

    op.create_table('probe_state_intervals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('http_code', sa.Integer(), nullable=True),
    sa.Column('started_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.CheckConstraint("state IN ('maintenance', 'need_support', 'server_down', 'key_not_found', 'not_started', 'server_errors', 'licences_exhausted')", name=op.f('ck_probe_state_intervals_state')),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_probe_state_intervals_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_probe_state_intervals_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_probe_state_intervals'))
    )
    with op.batch_alter_table('probe_state_intervals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_probe_state_intervals_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_probe_state_intervals_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index('ix_probe_state_intervals_inst_started', ['installation_id', 'started_at'], unique=False)
        batch_op.create_index('ix_probe_state_intervals_open', ['installation_id', 'ended_at'], unique=False)

    with op.batch_alter_table('installations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('probe_interval', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('backup_time', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('restart_time', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('pull', sa.Boolean(), server_default='1', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('installations', schema=None) as batch_op:
        batch_op.drop_column('pull')
        batch_op.drop_column('restart_time')
        batch_op.drop_column('backup_time')
        batch_op.drop_column('probe_interval')

    with op.batch_alter_table('probe_state_intervals', schema=None) as batch_op:
        batch_op.drop_index('ix_probe_state_intervals_open')
        batch_op.drop_index('ix_probe_state_intervals_inst_started')
        batch_op.drop_index(batch_op.f('ix_probe_state_intervals_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_probe_state_intervals_cabinet_id'))

    op.drop_table('probe_state_intervals')
    with op.batch_alter_table('probe_latency', schema=None) as batch_op:
        batch_op.drop_index('ix_probe_latency_online_at')
        batch_op.drop_index('ix_probe_latency_inst_at')
        batch_op.drop_index(batch_op.f('ix_probe_latency_dealer_id'))
        batch_op.drop_index('ix_probe_latency_at')

    op.drop_table('probe_latency')
    with op.batch_alter_table('probe_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_probe_checks_dealer_id'))
        batch_op.drop_index('ix_probe_checks_check_status')
        batch_op.drop_index(batch_op.f('ix_probe_checks_cabinet_id'))

    op.drop_table('probe_checks')
    with op.batch_alter_table('online_billing_readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_online_billing_readings_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_online_billing_readings_cabinet_id'))
        batch_op.drop_index('ix_online_billing_readings_access_read')

    op.drop_table('online_billing_readings')
