"""The relational model.

Tenancy: ``dealer`` → ``cabinet`` → ``manager`` / ``client`` → ``installation`` / ``online_access``.
Every tenant row carries ``dealer_id`` and ``cabinet_id``; composite foreign keys to
``cabinets (id, dealer_id)`` make it impossible for a row to name a cabinet of another dealer, and keep
``dealer_id`` in every key a distributed PostgreSQL (Citus) would need as distribution column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kodeks_smart.store.types import BigIntPK, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Alert categories a mailbox or chat can take (see spec/alerts.md, routing).
CATEGORIES = ("critical", "technical", "analytics", "online")
INSTALLATION_KINDS = ("internet", "closed", "cloud")
ROLES = ("operator", "dealer-admin", "cabinet")
DEALER_CODE_PATTERN = r"^[A-Za-z0-9_-]{3,40}$"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it as is


def tenant_fk() -> ForeignKeyConstraint:
    """The composite key that keeps a tenant row inside its dealer: (cabinet_id, dealer_id) → cabinets."""
    return ForeignKeyConstraint(
        ["cabinet_id", "dealer_id"], ["cabinets.id", "cabinets.dealer_id"], ondelete="CASCADE"
    )


class Dealer(Base):
    """A distributor: one upload token, any number of cabinets."""

    __tablename__ = "dealers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    token_hash: Mapped[str] = mapped_column(String(64))
    token_created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cabinet(Base):
    """A personal cabinet: the visibility boundary (a branch, a sales stream or the whole dealer)."""

    __tablename__ = "cabinets"
    __table_args__ = (UniqueConstraint("dealer_id", "name"), UniqueConstraint("id", "dealer_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Manager(Base):
    """A distributor's support or sales manager; gets every alert of his clients."""

    __tablename__ = "managers"
    __table_args__ = (tenant_fk(), UniqueConstraint("cabinet_id", "name"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(200))
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)


class Client(Base):
    """A legal entity. ``short_name`` is the Latin name the agent scripts upload under."""

    __tablename__ = "clients"
    __table_args__ = (tenant_fk(), UniqueConstraint("dealer_id", "short_name"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL"), nullable=True
    )
    short_name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Installation(Base):
    """A Kodeks / Techexpert server installation of a client."""

    __tablename__ = "installations"
    __table_args__ = (
        tenant_fk(),
        CheckConstraint("kind IN ('internet', 'closed', 'cloud')", name="kind"),
        CheckConstraint("protocol IN ('http', 'https')", name="protocol"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: host:port or base URL for internet and cloud installations; empty for a closed contour.
    address: Mapped[str | None] = mapped_column(String(500), nullable=True)
    protocol: Mapped[str] = mapped_column(String(5), default="http")
    ping: Mapped[bool] = mapped_column(Boolean, default=True)
    licman_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    licman_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: offset of the installation's local time from UTC, in minutes (sysinfo times are local).
    tz_offset_minutes: Mapped[int] = mapped_column(Integer, default=180)
    test_login: Mapped[str | None] = mapped_column(String(100), nullable=True)
    test_password_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Seconds between two probe cycles; NULL: SMART_PROBE_INTERVAL (probes, migration 0005).
    probe_interval: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Daily backup and restart times, "HH:MM" local time, from /admin/pref or configured.
    backup_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    restart_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    #: SMART pulls sysinfo and sysmon metrics from the installation itself (managers.csv "download").
    pull: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OnlineAccess(Base):
    """A simple online access on the vendor's data centre (SMART.Online)."""

    __tablename__ = "online_accesses"
    __table_args__ = (
        tenant_fk(),
        CheckConstraint("scheme IN ('http', 'https')", name="scheme"),
        UniqueConstraint("dealer_id", "host", "catalog", "login"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    firm_name: Mapped[str] = mapped_column(String(300))
    scheme: Mapped[str] = mapped_column(String(5), default="https")
    host: Mapped[str] = mapped_column(String(255))
    catalog: Mapped[str] = mapped_column(String(100))
    login: Mapped[str] = mapped_column(String(100))
    password_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mailbox(Base):
    """An address that takes some alert categories of one cabinet (support, training, online…)."""

    __tablename__ = "mailboxes"
    __table_args__ = (tenant_fk(), UniqueConstraint("cabinet_id", "address"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    address: Mapped[str] = mapped_column(String(320))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(300), default="")
    #: Switched off from the cabinet: keeps its address and categories, gets no notifications.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class TelegramChat(Base):
    """A Telegram chat that takes some alert categories of one cabinet; the bot token is encrypted."""

    __tablename__ = "telegram_chats"
    __table_args__ = (tenant_fk(), UniqueConstraint("cabinet_id", "chat_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300), default="")
    bot_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Switched off from the cabinet: keeps its settings, gets no notifications.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class SmtpRelay(Base):
    """Outgoing mail server of a dealer (``dealer_id`` NULL: the operator's default)."""

    __tablename__ = "smtp_relays"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int | None] = mapped_column(
        ForeignKey("dealers.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=587)
    security: Mapped[str] = mapped_column(String(10), default="starttls")
    username: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sender: Mapped[str] = mapped_column(String(320))
    daily_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Account(Base):
    """A login: the operator, a dealer admin, or a cabinet user granted one or more cabinets."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'dealer-admin', 'cabinet')", name="role"),
        CheckConstraint("role = 'operator' OR dealer_id IS NOT NULL", name="dealer"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    dealer_id: Mapped[int | None] = mapped_column(
        ForeignKey("dealers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AccountCabinet(Base):
    """A cabinet granted to a cabinet user (a branch head has his branch's, a company head all)."""

    __tablename__ = "account_cabinets"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    cabinet_id: Mapped[int] = mapped_column(
        ForeignKey("cabinets.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class JobState(Base):
    """What the scheduler last did with a periodic job; read by `smart jobs` from any process."""

    __tablename__ = "job_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)


#: Models whose rows belong to one cabinet (and its dealer).
TENANT_MODELS: tuple[type[Any], ...] = (
    Manager,
    Client,
    Installation,
    OnlineAccess,
    Mailbox,
    TelegramChat,
)
