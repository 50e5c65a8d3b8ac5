"""Tables of the ingest pipeline: the upload log and its durable queue, metric series, samples with
hourly rollups, and the facts parsed from sysinfo reports and metrics files.

Tenancy: every row a cabinet may read carries ``dealer_id`` and ``cabinet_id`` with the composite foreign
key to ``cabinets (id, dealer_id)`` used throughout `kodeks_smart.store.models`. An upload whose client
name is not registered yet ("quarantined") has a dealer but no cabinet: ``cabinet_id`` is NULL, which the
composite key allows (a key with a NULL column is not checked) and which keeps the row visible to the
dealer admin only, since a cabinet scope matches ``cabinet_id IN (...)``.

Facts are written by one processing transaction per upload and carry ``upload_id`` (ON DELETE CASCADE):
reprocessing an upload replaces exactly its rows, and deleting an old upload removes its facts.
Samples are keyed by (series, time) and upserted, newest upload winning, so reports that overlap in time
(a sysinfo report repeats the last days of hourly statistics) store each point once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK, utcnow

UPLOAD_STATUSES = ("queued", "quarantined", "done", "failed")
UPLOAD_KINDS = ("sysinfo", "metrics")
UPLOAD_FORMATS = ("zip", "xml", "status")
UPLOAD_SOURCES = ("agent", "manual", "web", "pull")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Upload(Base):
    """One received file: the upload log, the quarantine (status ``quarantined``) and the processing result.

    The same content uploaded again under the same name is recorded once: ``received_count`` and
    ``last_received_at`` move, nothing is processed twice.
    """

    __tablename__ = "uploads"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("dealer_id", "filename", "sha256"),
        CheckConstraint(_in("status", UPLOAD_STATUSES), name="status"),
        CheckConstraint(_in("kind", UPLOAD_KINDS), name="kind"),
        CheckConstraint(_in("fmt", UPLOAD_FORMATS), name="fmt"),
        CheckConstraint(_in("source", UPLOAD_SOURCES), name="source"),
        Index("ix_uploads_dealer_file", "dealer_id", "filename", "id"),
        Index("ix_uploads_dealer_received", "dealer_id", "received_at"),
        Index("ix_uploads_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    #: NULL while the client name is unknown (quarantine).
    cabinet_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), nullable=True, index=True
    )
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL"), nullable=True
    )
    #: The name the agent sent, e.g. ``client.zip``; its stem is the client's short name.
    filename: Mapped[str] = mapped_column(String(200))
    client_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    fmt: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Path of the raw file relative to SMART_DATA_DIR; NULL once removed by retention.
    raw_path: Mapped[str | None] = mapped_column(String(400), nullable=True)
    source: Mapped[str] = mapped_column(String(10), default="agent")
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: The processing error shown to the user (Russian, English gloss in parentheses).
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: What processing produced: record counts per table, unknown elements, missing blocks.
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The time inside the report (sysinfo generation time or metrics sample time), UTC.
    report_time: Mapped[datetime | None] = mapped_column(nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: How many times processing committed (1 after the first run; reprocessing adds one).
    processed_count: Mapped[int] = mapped_column(Integer, default=0)
    parser_version: Mapped[str | None] = mapped_column(String(20), nullable=True)


class IngestTask(Base):
    """The durable processing queue: one row per upload waiting to be (re)processed.

    A consumer claims a row with a conditional UPDATE that must change exactly one row, and deletes it in
    the same transaction that writes the upload's facts, so a crash at any point leaves either the
    finished result or the row to claim again, never both and never neither.
    """

    __tablename__ = "ingest_queue"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'claimed')", name="state"),
        Index("ix_ingest_queue_state_available", "state", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), unique=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(12), default="upload")
    state: Mapped[str] = mapped_column(String(10), default="pending")
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


# -- numeric series -------------------------------------------------------------------------------


class MetricSeries(Base):
    """A named series of one client: metric name + label set (sysmon metrics, sysinfo statistics)."""

    __tablename__ = "metric_series"
    __table_args__ = (tenant_fk(), UniqueConstraint("client_id", "name", "labels_key"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: SHA-256 of the canonical label JSON, so that the unique key stays short.
    labels_key: Mapped[str] = mapped_column(String(64))
    #: ``metrics`` (a .status file or a pulled /sysmon/metrics) or ``sysinfo``.
    source: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sample(Base):
    """One point of a series (the raw history, kept 13 months)."""

    __tablename__ = "metric_samples"
    __table_args__ = (tenant_fk(), Index("ix_metric_samples_ts", "ts"))

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    #: The upload that wrote the point last (no foreign key: samples outlive nothing but their series).
    upload_id: Mapped[int] = mapped_column(BigInteger)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)


class HourlyRollup(Base):
    """Per-hour aggregate of a series (the trend): updated with each new sample, recomputed from the
    samples of the hour when a stored sample is replaced."""

    __tablename__ = "metric_rollups_hourly"
    __table_args__ = (tenant_fk(), Index("ix_metric_rollups_hourly_hour", "hour"))

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    last: Mapped[float] = mapped_column(Float)
    #: Time of the sample ``last`` comes from.
    last_ts: Mapped[datetime] = mapped_column()
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)


# -- facts from metrics files ---------------------------------------------------------------------


class CatalogHealthFact(Base):
    """``kserver_main_page`` / ``kserver_product_control`` of one catalog at one time (0 OK, 1 problem)."""

    __tablename__ = "catalog_health"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("upload_id", "service", "path"),
        Index("ix_catalog_health_client_observed", "client_id", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL"), nullable=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    observed_at: Mapped[datetime] = mapped_column()
    service: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(300))
    main_page: Mapped[float | None] = mapped_column(Float, nullable=True)
    main_page_status: Mapped[str | None] = mapped_column(String(200), nullable=True)
    product_control: Mapped[float | None] = mapped_column(Float, nullable=True)


# -- facts from sysinfo reports -------------------------------------------------------------------
#
# Three kinds of tables, by how reports overlap:
# * per report (a snapshot at report time: components, catalogs, databases, volumes, DB errors, OperUp
#   files, connected sessions, data gaps): rows belong to one upload, replaced when it is reprocessed;
# * events (refusals, logins, searches, hourly usage, kAssist days): every hourly report repeats the last
#   days, so a row is keyed by what happened and stored once; the in-progress hour or day is updated by
#   newer reports;
# * state (users): one row per account, updated by newer reports, first appearance kept.


class _SysinfoFact:
    """Columns every sysinfo fact row has (tenant, client, installation and the upload that wrote it)."""

    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL"), nullable=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    #: Attributes of the element that the mapping does not name (a report that differs loses nothing).
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class SysinfoReportRow(_SysinfoFact, Base):
    """One processed sysinfo report: its header, server, registration and protection blocks.

    Local times of the report are converted to UTC with ``utc_offset_minutes`` (the installation's offset;
    the report's own declaration, if any, is kept in ``declared_offset_minutes``).
    """

    __tablename__ = "sysinfo_reports"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("upload_id"),
        Index("ix_sysinfo_reports_client_created", "client_id", "created_at"),
        Index("ix_sysinfo_reports_regnum", "regnum"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(nullable=True)
    utc_offset_minutes: Mapped[int] = mapped_column(Integer)
    declared_offset_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    format: Mapped[str | None] = mapped_column(String(20), nullable=True)
    module_version: Mapped[str | None] = mapped_column(String(50), nullable=True)
    period_from: Mapped[datetime | None] = mapped_column(nullable=True)
    period_to: Mapped[datetime | None] = mapped_column(nullable=True)
    server_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    server_os: Mapped[str | None] = mapped_column(String(255), nullable=True)
    install_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    server_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    server_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    backup_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    restart_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    regnum: Mapped[str | None] = mapped_column(String(50), nullable=True)
    client_legal_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inventory: Mapped[str | None] = mapped_column(String(50), nullable=True)
    reg_file: Mapped[str | None] = mapped_column(String(500), nullable=True)
    support_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    protection_binding: Mapped[str | None] = mapped_column(String(50), nullable=True)
    key_number: Mapped[str | None] = mapped_column(String(50), nullable=True)
    protection_status: Mapped[str | None] = mapped_column(String(50), nullable=True)
    protection_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    protection_checked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    protection_failed_since: Mapped[datetime | None] = mapped_column(nullable=True)
    protection_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    licman_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    licman_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    licman_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    licman_source: Mapped[str | None] = mapped_column(String(100), nullable=True)
    licman_beacon_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Container attributes by block (counts, periods, OperUp directory, seats of the sessions block).
    sections: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unknown_elements: Mapped[int] = mapped_column(Integer, default=0)
    unknown_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    bad_values: Mapped[int] = mapped_column(Integer, default=0)
    zip_member: Mapped[str | None] = mapped_column(String(255), nullable=True)


class SysinfoGap(_SysinfoFact, Base):
    """A "data missing" record: a block or a required value absent from a report."""

    __tablename__ = "sysinfo_gaps"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_gaps_client_block", "client_id", "block"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    block: Mapped[str] = mapped_column(String(50))
    field: Mapped[str | None] = mapped_column(String(50), nullable=True)
    item: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SysinfoComponent(_SysinfoFact, Base):
    __tablename__ = "sysinfo_components"
    __table_args__ = (tenant_fk(),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)


class SysinfoCatalog(_SysinfoFact, Base):
    __tablename__ = "sysinfo_catalogs"
    __table_args__ = (tenant_fk(),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    path: Mapped[str | None] = mapped_column(String(200), nullable=True)
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    databases: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class SysinfoDatabase(_SysinfoFact, Base):
    """A connected database with its licence (``license_to`` NULL: the licence block is missing)."""

    __tablename__ = "sysinfo_databases"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_databases_client_report", "client_id", "report_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    product: Mapped[str | None] = mapped_column(String(50), nullable=True)
    catalog: Mapped[str | None] = mapped_column(String(200), nullable=True)
    update_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    volumes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    license_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    license_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    license_update: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SysinfoVolume(_SysinfoFact, Base):
    __tablename__ = "sysinfo_volumes"
    __table_args__ = (tenant_fk(),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    database: Mapped[str | None] = mapped_column(String(50), nullable=True)
    path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    update_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SysinfoDbError(_SysinfoFact, Base):
    """An error of a database volume (``code`` NULL: a code-less error such as a duplicate volume)."""

    __tablename__ = "sysinfo_db_errors"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_db_errors_client_report", "client_id", "report_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    database: Mapped[str | None] = mapped_column(String(50), nullable=True)
    volume: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alt_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(nullable=True)
    text: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class SysinfoOperUpFile(_SysinfoFact, Base):
    __tablename__ = "sysinfo_operup_files"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_operup_files_client_report", "client_id", "report_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    database: Mapped[str | None] = mapped_column(String(50), nullable=True)
    modified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_text: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class SysinfoOperUpLatest(Base):
    """Per installation and OperUp file, the newest report time of its rows with a file time (what
    «Сколько дней назад обновились файлы в OperUp» ranks the files by): derived from
    `SysinfoOperUpFile` by `kodeks_smart.ingest.operup_latest`, so the ranking reads a row per file
    instead of every report's rows of the range (24 a day per file with hourly reports). A file without a
    path is kept under `operup_latest.NO_PATH`."""

    __tablename__ = "sysinfo_operup_latest"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("installation_id", "path"),
        Index("ix_sysinfo_operup_latest_client_report", "client_id", "report_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1000))
    report_at: Mapped[datetime] = mapped_column()


class SysinfoSession(_SysinfoFact, Base):
    """A user connected (holding a seat) when the report was made."""

    __tablename__ = "sysinfo_sessions"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_sessions_client_report", "client_id", "report_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_at: Mapped[datetime] = mapped_column()
    login: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    browser: Mapped[str | None] = mapped_column(String(200), nullable=True)
    domain: Mapped[str | None] = mapped_column(String(200), nullable=True)
    login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(nullable=True)
    catalog: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SysinfoRefusal(_SysinfoFact, Base):
    """A refused login (no free seats, protection error, wrong password…)."""

    __tablename__ = "sysinfo_refusals"
    __table_args__ = (tenant_fk(), UniqueConstraint("client_id", "occurred_at", "login", "reason"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column()
    login: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(50))
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    browser: Mapped[str | None] = mapped_column(String(200), nullable=True)
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alt_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    text: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class SysinfoLogin(_SysinfoFact, Base):
    __tablename__ = "sysinfo_logins"
    __table_args__ = (tenant_fk(), UniqueConstraint("client_id", "occurred_at", "login", "ip"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column()
    login: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64))
    browser: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SysinfoSearch(_SysinfoFact, Base):
    """One search from the report's search log (``result``: found, empty or error)."""

    __tablename__ = "sysinfo_searches"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("client_id", "occurred_at", "login", "query_key"),
        # The search alert rules: empty / failed searches of one client in the last 24 hours.
        Index("ix_sysinfo_searches_client_result_time", "client_id", "result", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column()
    login: Mapped[str] = mapped_column(String(200))
    #: Hash of query, catalog, type and source: two identical searches in one second are one row.
    query_key: Mapped[str] = mapped_column(String(32))
    catalog: Mapped[str | None] = mapped_column(String(200), nullable=True)
    type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    result: Mapped[str | None] = mapped_column(String(20), nullable=True)
    found: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str | None] = mapped_column(String(50), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    query: Mapped[str | None] = mapped_column(Text, nullable=True)


class SysinfoUsageHour(_SysinfoFact, Base):
    """A user's activity in one hour (UTC start). The hour in progress is updated by newer reports."""

    __tablename__ = "sysinfo_usage"
    __table_args__ = (tenant_fk(), UniqueConstraint("client_id", "hour", "login"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    hour: Mapped[datetime] = mapped_column()
    login: Mapped[str] = mapped_column(String(200))
    #: Time of the report that wrote the row; a newer report wins.
    report_at: Mapped[datetime] = mapped_column()
    db_requests: Mapped[int | None] = mapped_column(Integer, nullable=True)
    docs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    free_docs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    saved: Mapped[int | None] = mapped_column(Integer, nullable=True)
    printed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kassist: Mapped[int | None] = mapped_column(Integer, nullable=True)
    services: Mapped[int | None] = mapped_column(Integer, nullable=True)
    searches: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SysinfoKassistDay(_SysinfoFact, Base):
    """kAssist link statistics of one (local) day; today's row is updated by newer reports."""

    __tablename__ = "sysinfo_kassist_days"
    __table_args__ = (tenant_fk(), UniqueConstraint("client_id", "day"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    report_at: Mapped[datetime] = mapped_column()
    links_added: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unique_links: Mapped[int | None] = mapped_column(Integer, nullable=True)
    not_matched: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active_checked: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SysinfoUser(Base):
    """A user account of an installation as the newest report shows it (card, activity, month counters).

    One row per (client, login); ``first_seen_at`` is when SMART first saw the account (new users),
    ``last_seen_at`` the time of the newest report that listed it.
    """

    __tablename__ = "sysinfo_users"
    __table_args__ = (tenant_fk(), UniqueConstraint("client_id", "login"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL"), nullable=True
    )
    #: The upload that wrote the row last (no foreign key: the row outlives old uploads).
    upload_id: Mapped[int] = mapped_column(BigInteger)
    login: Mapped[str] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    full_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(100), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    position: Mapped[str | None] = mapped_column(String(300), nullable=True)
    department: Mapped[str | None] = mapped_column(String(300), nullable=True)
    domain: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ad_group: Mapped[str | None] = mapped_column(String(300), nullable=True)
    user_group: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(nullable=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    month_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    month_db_requests: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_docs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_free_docs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_saved: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_printed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_kassist: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_services: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_searches: Mapped[int | None] = mapped_column(Integer, nullable=True)
    month_empty_searches: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


#: Tenant tables of this module (each read through `kodeks_smart.store.scope.Tenant`).
INGEST_TENANT_MODELS: tuple[type[Any], ...] = (
    Upload,
    MetricSeries,
    Sample,
    HourlyRollup,
    CatalogHealthFact,
    SysinfoReportRow,
    SysinfoGap,
    SysinfoComponent,
    SysinfoCatalog,
    SysinfoDatabase,
    SysinfoVolume,
    SysinfoDbError,
    SysinfoOperUpFile,
    SysinfoSession,
    SysinfoRefusal,
    SysinfoLogin,
    SysinfoSearch,
    SysinfoUsageHour,
    SysinfoKassistDay,
    SysinfoUser,
)
