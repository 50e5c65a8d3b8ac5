"""ingest: uploads and their queue, metric series, samples, rollups and parsed sysinfo / metrics facts

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kodeks_smart.store.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('metric_series',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('labels_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('created_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_metric_series_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_metric_series_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_metric_series_installation_id_installations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_series')),
    sa.UniqueConstraint('client_id', 'name', 'labels_key', name=op.f('uq_metric_series_client_id_name_labels_key'))
    )
    with op.batch_alter_table('metric_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_series_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_series_dealer_id'), ['dealer_id'], unique=False)

    op.create_table('sysinfo_users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger(), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('first_seen_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('full_name', sa.String(length=300), nullable=True),
    sa.Column('phone', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('position', sa.String(length=300), nullable=True),
    sa.Column('department', sa.String(length=300), nullable=True),
    sa.Column('domain', sa.String(length=200), nullable=True),
    sa.Column('ad_group', sa.String(length=300), nullable=True),
    sa.Column('user_group', sa.String(length=300), nullable=True),
    sa.Column('created_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=True),
    sa.Column('month_from', sa.Date(), nullable=True),
    sa.Column('month_db_requests', sa.Integer(), nullable=True),
    sa.Column('month_docs', sa.Integer(), nullable=True),
    sa.Column('month_free_docs', sa.Integer(), nullable=True),
    sa.Column('month_saved', sa.Integer(), nullable=True),
    sa.Column('month_printed', sa.Integer(), nullable=True),
    sa.Column('month_kassist', sa.Integer(), nullable=True),
    sa.Column('month_services', sa.Integer(), nullable=True),
    sa.Column('month_searches', sa.Integer(), nullable=True),
    sa.Column('month_empty_searches', sa.Integer(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_users_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_users_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_users_installation_id_installations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_users')),
    sa.UniqueConstraint('client_id', 'login', name=op.f('uq_sysinfo_users_client_id_login'))
    )
    with op.batch_alter_table('sysinfo_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_users_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_users_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_users_last_seen_at'), ['last_seen_at'], unique=False)

    op.create_table('uploads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=True),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('client_name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('fmt', sa.String(length=10), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('raw_path', sa.String(length=400), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('received_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_received_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_count', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.Column('report_time', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('processed_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('processed_count', sa.Integer(), nullable=False),
    sa.Column('parser_version', sa.String(length=20), nullable=True),
    sa.CheckConstraint("fmt IN ('zip', 'xml', 'status')", name=op.f('ck_uploads_fmt')),
    sa.CheckConstraint("kind IN ('sysinfo', 'metrics')", name=op.f('ck_uploads_kind')),
    sa.CheckConstraint("source IN ('agent', 'manual', 'web', 'pull')", name=op.f('ck_uploads_source')),
    sa.CheckConstraint("status IN ('queued', 'quarantined', 'done', 'failed')", name=op.f('ck_uploads_status')),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_uploads_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_uploads_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_uploads_dealer_id_dealers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_uploads_installation_id_installations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads')),
    sa.UniqueConstraint('dealer_id', 'filename', 'sha256', name=op.f('uq_uploads_dealer_id_filename_sha256'))
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uploads_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_uploads_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_uploads_dealer_file', ['dealer_id', 'filename', 'id'], unique=False)
        batch_op.create_index('ix_uploads_dealer_received', ['dealer_id', 'received_at'], unique=False)
        batch_op.create_index('ix_uploads_status', ['status'], unique=False)

    op.create_table('catalog_health',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('observed_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('main_page', sa.Float(), nullable=True),
    sa.Column('main_page_status', sa.String(length=200), nullable=True),
    sa.Column('product_control', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_catalog_health_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_catalog_health_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_catalog_health_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_catalog_health_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_health')),
    sa.UniqueConstraint('upload_id', 'service', 'path', name=op.f('uq_catalog_health_upload_id_service_path'))
    )
    with op.batch_alter_table('catalog_health', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_health_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_catalog_health_client_observed', ['client_id', 'observed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_health_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_health_upload_id'), ['upload_id'], unique=False)

    op.create_table('ingest_queue',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('available_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('lease_until', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'claimed')", name=op.f('ck_ingest_queue_state')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_ingest_queue_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_queue')),
    sa.UniqueConstraint('upload_id', name=op.f('uq_ingest_queue_upload_id'))
    )
    with op.batch_alter_table('ingest_queue', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_queue_state_available', ['state', 'available_at'], unique=False)

    op.create_table('metric_rollups_hourly',
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('sum', sa.Float(), nullable=False),
    sa.Column('min', sa.Float(), nullable=False),
    sa.Column('max', sa.Float(), nullable=False),
    sa.Column('last', sa.Float(), nullable=False),
    sa.Column('last_ts', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_metric_rollups_hourly_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['metric_series.id'], name=op.f('fk_metric_rollups_hourly_series_id_metric_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'hour', name=op.f('pk_metric_rollups_hourly'))
    )
    with op.batch_alter_table('metric_rollups_hourly', schema=None) as batch_op:
        batch_op.create_index('ix_metric_rollups_hourly_hour', ['hour'], unique=False)

    op.create_table('metric_samples',
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ts', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('upload_id', sa.BigInteger(), nullable=False),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_metric_samples_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['metric_series.id'], name=op.f('fk_metric_samples_series_id_metric_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'ts', name=op.f('pk_metric_samples'))
    )
    with op.batch_alter_table('metric_samples', schema=None) as batch_op:
        batch_op.create_index('ix_metric_samples_ts', ['ts'], unique=False)

    op.create_table('sysinfo_catalogs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('databases', sa.String(length=2000), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_catalogs_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_catalogs_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_catalogs_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_catalogs_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_catalogs'))
    )
    with op.batch_alter_table('sysinfo_catalogs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_catalogs_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_catalogs_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_catalogs_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_components',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_components_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_components_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_components_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_components_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_components'))
    )
    with op.batch_alter_table('sysinfo_components', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_components_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_components_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_components_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_databases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('product', sa.String(length=50), nullable=True),
    sa.Column('catalog', sa.String(length=200), nullable=True),
    sa.Column('update_number', sa.Integer(), nullable=True),
    sa.Column('volumes', sa.Integer(), nullable=True),
    sa.Column('license_from', sa.Date(), nullable=True),
    sa.Column('license_to', sa.Date(), nullable=True),
    sa.Column('license_update', sa.Integer(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_databases_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_databases_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_databases_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_databases_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_databases'))
    )
    with op.batch_alter_table('sysinfo_databases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_databases_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_sysinfo_databases_client_report', ['client_id', 'report_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_databases_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_databases_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_db_errors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('database', sa.String(length=50), nullable=True),
    sa.Column('volume', sa.String(length=1000), nullable=True),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('alt_code', sa.Integer(), nullable=True),
    sa.Column('occurred_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('text', sa.String(length=2000), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_db_errors_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_db_errors_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_db_errors_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_db_errors_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_db_errors'))
    )
    with op.batch_alter_table('sysinfo_db_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_db_errors_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_sysinfo_db_errors_client_report', ['client_id', 'report_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_db_errors_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_db_errors_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_gaps',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('block', sa.String(length=50), nullable=False),
    sa.Column('field', sa.String(length=50), nullable=True),
    sa.Column('item', sa.String(length=200), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_gaps_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_gaps_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_gaps_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_gaps_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_gaps'))
    )
    with op.batch_alter_table('sysinfo_gaps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_gaps_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_sysinfo_gaps_client_block', ['client_id', 'block'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_gaps_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_gaps_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_kassist_days',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('links_added', sa.Integer(), nullable=True),
    sa.Column('unique_links', sa.Integer(), nullable=True),
    sa.Column('not_matched', sa.Integer(), nullable=True),
    sa.Column('active_checked', sa.Integer(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_kassist_days_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_kassist_days_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_kassist_days_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_kassist_days_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_kassist_days')),
    sa.UniqueConstraint('client_id', 'day', name=op.f('uq_sysinfo_kassist_days_client_id_day'))
    )
    with op.batch_alter_table('sysinfo_kassist_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_kassist_days_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_kassist_days_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_kassist_days_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_logins',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('browser', sa.String(length=200), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_logins_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_logins_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_logins_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_logins_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_logins')),
    sa.UniqueConstraint('client_id', 'occurred_at', 'login', 'ip', name=op.f('uq_sysinfo_logins_client_id_occurred_at_login_ip'))
    )
    with op.batch_alter_table('sysinfo_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_logins_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_logins_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_logins_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_operup_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=True),
    sa.Column('database', sa.String(length=50), nullable=True),
    sa.Column('modified_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_text', sa.String(length=2000), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_operup_files_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_operup_files_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_operup_files_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_operup_files_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_operup_files'))
    )
    with op.batch_alter_table('sysinfo_operup_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_operup_files_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_sysinfo_operup_files_client_report', ['client_id', 'report_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_operup_files_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_operup_files_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_refusals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('browser', sa.String(length=200), nullable=True),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('alt_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('text', sa.String(length=1000), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_refusals_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_refusals_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_refusals_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_refusals_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_refusals')),
    sa.UniqueConstraint('client_id', 'occurred_at', 'login', 'reason', name=op.f('uq_sysinfo_refusals_client_id_occurred_at_login_reason'))
    )
    with op.batch_alter_table('sysinfo_refusals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_refusals_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_refusals_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_refusals_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('utc_offset_minutes', sa.Integer(), nullable=False),
    sa.Column('declared_offset_minutes', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=20), nullable=True),
    sa.Column('module_version', sa.String(length=50), nullable=True),
    sa.Column('period_from', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('period_to', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('server_host', sa.String(length=255), nullable=True),
    sa.Column('server_os', sa.String(length=255), nullable=True),
    sa.Column('install_path', sa.String(length=500), nullable=True),
    sa.Column('server_port', sa.Integer(), nullable=True),
    sa.Column('server_started_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('backup_time', sa.String(length=5), nullable=True),
    sa.Column('restart_time', sa.String(length=5), nullable=True),
    sa.Column('regnum', sa.String(length=50), nullable=True),
    sa.Column('client_legal_name', sa.String(length=500), nullable=True),
    sa.Column('seats', sa.Integer(), nullable=True),
    sa.Column('inventory', sa.String(length=50), nullable=True),
    sa.Column('reg_file', sa.String(length=500), nullable=True),
    sa.Column('support_until', sa.Date(), nullable=True),
    sa.Column('protection_binding', sa.String(length=50), nullable=True),
    sa.Column('key_number', sa.String(length=50), nullable=True),
    sa.Column('protection_status', sa.String(length=50), nullable=True),
    sa.Column('protection_code', sa.Integer(), nullable=True),
    sa.Column('protection_checked_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('protection_failed_since', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('protection_message', sa.String(length=1000), nullable=True),
    sa.Column('licman_configured', sa.Boolean(), nullable=True),
    sa.Column('licman_host', sa.String(length=255), nullable=True),
    sa.Column('licman_port', sa.Integer(), nullable=True),
    sa.Column('licman_source', sa.String(length=100), nullable=True),
    sa.Column('licman_beacon_port', sa.Integer(), nullable=True),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('unknown_elements', sa.Integer(), nullable=False),
    sa.Column('unknown_paths', sa.JSON(), nullable=False),
    sa.Column('bad_values', sa.Integer(), nullable=False),
    sa.Column('zip_member', sa.String(length=255), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_reports_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_reports_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_reports_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_reports_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_reports')),
    sa.UniqueConstraint('upload_id', name=op.f('uq_sysinfo_reports_upload_id'))
    )
    with op.batch_alter_table('sysinfo_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_reports_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_sysinfo_reports_client_created', ['client_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_reports_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index('ix_sysinfo_reports_regnum', ['regnum'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_reports_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_searches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('query_key', sa.String(length=32), nullable=False),
    sa.Column('catalog', sa.String(length=200), nullable=True),
    sa.Column('type', sa.String(length=50), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('found', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=50), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('query', sa.Text(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_searches_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_searches_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_searches_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_searches_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_searches')),
    sa.UniqueConstraint('client_id', 'occurred_at', 'login', 'query_key', name=op.f('uq_sysinfo_searches_client_id_occurred_at_login_query_key'))
    )
    with op.batch_alter_table('sysinfo_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_searches_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_searches_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_searches_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('browser', sa.String(length=200), nullable=True),
    sa.Column('domain', sa.String(length=200), nullable=True),
    sa.Column('login_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('catalog', sa.String(length=200), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_sessions_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_sessions_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_sessions_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_sessions_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_sessions'))
    )
    with op.batch_alter_table('sysinfo_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_sessions_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index('ix_sysinfo_sessions_client_report', ['client_id', 'report_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_sessions_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_sessions_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_usage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('db_requests', sa.Integer(), nullable=True),
    sa.Column('docs', sa.Integer(), nullable=True),
    sa.Column('free_docs', sa.Integer(), nullable=True),
    sa.Column('saved', sa.Integer(), nullable=True),
    sa.Column('printed', sa.Integer(), nullable=True),
    sa.Column('kassist', sa.Integer(), nullable=True),
    sa.Column('services', sa.Integer(), nullable=True),
    sa.Column('searches', sa.Integer(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_usage_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_usage_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_usage_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_usage_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_usage')),
    sa.UniqueConstraint('client_id', 'hour', 'login', name=op.f('uq_sysinfo_usage_client_id_hour_login'))
    )
    with op.batch_alter_table('sysinfo_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_usage_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_usage_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_usage_upload_id'), ['upload_id'], unique=False)

    op.create_table('sysinfo_volumes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_at', kodeks_smart.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('database', sa.String(length=50), nullable=True),
    sa.Column('path', sa.String(length=1000), nullable=True),
    sa.Column('update_number', sa.Integer(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.BigInteger(), nullable=False),
    sa.Column('cabinet_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('upload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id', 'dealer_id'], ['cabinets.id', 'cabinets.dealer_id'], name=op.f('fk_sysinfo_volumes_cabinet_id_dealer_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sysinfo_volumes_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sysinfo_volumes_installation_id_installations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_sysinfo_volumes_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sysinfo_volumes'))
    )
    with op.batch_alter_table('sysinfo_volumes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sysinfo_volumes_cabinet_id'), ['cabinet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_volumes_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sysinfo_volumes_upload_id'), ['upload_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sysinfo_volumes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_volumes_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_volumes_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_volumes_cabinet_id'))

    op.drop_table('sysinfo_volumes')
    with op.batch_alter_table('sysinfo_usage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_usage_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_usage_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_usage_cabinet_id'))

    op.drop_table('sysinfo_usage')
    with op.batch_alter_table('sysinfo_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_sessions_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_sessions_dealer_id'))
        batch_op.drop_index('ix_sysinfo_sessions_client_report')
        batch_op.drop_index(batch_op.f('ix_sysinfo_sessions_cabinet_id'))

    op.drop_table('sysinfo_sessions')
    with op.batch_alter_table('sysinfo_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_searches_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_searches_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_searches_cabinet_id'))

    op.drop_table('sysinfo_searches')
    with op.batch_alter_table('sysinfo_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_reports_upload_id'))
        batch_op.drop_index('ix_sysinfo_reports_regnum')
        batch_op.drop_index(batch_op.f('ix_sysinfo_reports_dealer_id'))
        batch_op.drop_index('ix_sysinfo_reports_client_created')
        batch_op.drop_index(batch_op.f('ix_sysinfo_reports_cabinet_id'))

    op.drop_table('sysinfo_reports')
    with op.batch_alter_table('sysinfo_refusals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_refusals_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_refusals_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_refusals_cabinet_id'))

    op.drop_table('sysinfo_refusals')
    with op.batch_alter_table('sysinfo_operup_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_operup_files_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_operup_files_dealer_id'))
        batch_op.drop_index('ix_sysinfo_operup_files_client_report')
        batch_op.drop_index(batch_op.f('ix_sysinfo_operup_files_cabinet_id'))

    op.drop_table('sysinfo_operup_files')
    with op.batch_alter_table('sysinfo_logins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_logins_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_logins_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_logins_cabinet_id'))

    op.drop_table('sysinfo_logins')
    with op.batch_alter_table('sysinfo_kassist_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_kassist_days_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_kassist_days_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_kassist_days_cabinet_id'))

    op.drop_table('sysinfo_kassist_days')
    with op.batch_alter_table('sysinfo_gaps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_gaps_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_gaps_dealer_id'))
        batch_op.drop_index('ix_sysinfo_gaps_client_block')
        batch_op.drop_index(batch_op.f('ix_sysinfo_gaps_cabinet_id'))

    op.drop_table('sysinfo_gaps')
    with op.batch_alter_table('sysinfo_db_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_db_errors_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_db_errors_dealer_id'))
        batch_op.drop_index('ix_sysinfo_db_errors_client_report')
        batch_op.drop_index(batch_op.f('ix_sysinfo_db_errors_cabinet_id'))

    op.drop_table('sysinfo_db_errors')
    with op.batch_alter_table('sysinfo_databases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_databases_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_databases_dealer_id'))
        batch_op.drop_index('ix_sysinfo_databases_client_report')
        batch_op.drop_index(batch_op.f('ix_sysinfo_databases_cabinet_id'))

    op.drop_table('sysinfo_databases')
    with op.batch_alter_table('sysinfo_components', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_components_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_components_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_components_cabinet_id'))

    op.drop_table('sysinfo_components')
    with op.batch_alter_table('sysinfo_catalogs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_catalogs_upload_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_catalogs_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_catalogs_cabinet_id'))

    op.drop_table('sysinfo_catalogs')
    with op.batch_alter_table('metric_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_samples_ts')

    op.drop_table('metric_samples')
    with op.batch_alter_table('metric_rollups_hourly', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_rollups_hourly_hour')

    op.drop_table('metric_rollups_hourly')
    with op.batch_alter_table('ingest_queue', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_queue_state_available')

    op.drop_table('ingest_queue')
    with op.batch_alter_table('catalog_health', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_health_upload_id'))
        batch_op.drop_index(batch_op.f('ix_catalog_health_dealer_id'))
        batch_op.drop_index('ix_catalog_health_client_observed')
        batch_op.drop_index(batch_op.f('ix_catalog_health_cabinet_id'))

    op.drop_table('catalog_health')
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_uploads_status')
        batch_op.drop_index('ix_uploads_dealer_received')
        batch_op.drop_index('ix_uploads_dealer_file')
        batch_op.drop_index(batch_op.f('ix_uploads_client_id'))
        batch_op.drop_index(batch_op.f('ix_uploads_cabinet_id'))

    op.drop_table('uploads')
    with op.batch_alter_table('sysinfo_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sysinfo_users_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_users_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_sysinfo_users_cabinet_id'))

    op.drop_table('sysinfo_users')
    with op.batch_alter_table('metric_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_series_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_metric_series_cabinet_id'))

    op.drop_table('metric_series')
