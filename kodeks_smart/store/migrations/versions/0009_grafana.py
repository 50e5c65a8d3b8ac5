"""Grafana: the role → cabinet mapping and PostgreSQL row-level security on every tenant table

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kodeks_smart.store.types
from kodeks_smart.store import rls

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'grafana_roles',
        sa.Column('role_name', sa.String(length=63), nullable=False),
        sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
        sa.Column('dealer_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('password_set_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['cabinet_id', 'dealer_id'],
            ['cabinets.id', 'cabinets.dealer_id'],
            name=op.f('fk_grafana_roles_cabinet_id_cabinets'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('role_name', 'cabinet_id', name=op.f('pk_grafana_roles')),
    )
    with op.batch_alter_table('grafana_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grafana_roles_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grafana_roles_dealer_id'), ['dealer_id'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # Policies on the tables that exist now; `smart grafana roles` covers tables added later.
        schema = bind.execute(sa.text('SELECT current_schema()')).scalar_one()
        for statement in rls.policy_statements(rls.tables_of_database(bind, schema), schema):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        schema = bind.execute(sa.text('SELECT current_schema()')).scalar_one()
        for table in rls.tenant_tables(rls.tables_of_database(bind, schema)):
            name = f'"{schema}"."{table.name}"'
            op.execute(f'DROP POLICY IF EXISTS {rls.POLICY} ON {name}')
            op.execute(f'ALTER TABLE {name} DISABLE ROW LEVEL SECURITY')
        for function in (rls.CABINETS_FUNCTION, rls.DEALERS_FUNCTION):
            op.execute(f'DROP FUNCTION IF EXISTS "{schema}".{function}()')
    with op.batch_alter_table('grafana_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grafana_roles_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_grafana_roles_cabinet_id'))
    op.drop_table('grafana_roles')
