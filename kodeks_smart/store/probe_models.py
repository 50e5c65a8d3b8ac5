"""Tables of the probes: current check states, abnormal-state intervals, latency samples, billing readings.

* ``probe_checks`` — one row per (installation, check) or (online access, check): the current result
  (``ok``, ``fail``, ``expected``, ``unknown``), since when it holds, the last time the check ran, a short
  value (HTTP code, error class, round-trip time) and a Russian detail. Alert conditions read this table.
* ``probe_state_intervals`` — the seven abnormal server states of the original "Время нештатного состояния
  сервера" chart, each as an interval with the HTTP code seen; an open interval has ``ended_at`` NULL.
* ``probe_latency`` — latencies aggregated over a window (count, mean, max) per target and check.
* ``online_billing_readings`` — the monthly limits and usage of an online access as read from
  ``GetBillingStatus`` (documents, search, print, upload).

Tenancy as everywhere: ``dealer_id`` + ``cabinet_id`` with the composite foreign key to
``cabinets (id, dealer_id)``; the monitored object is referenced with ON DELETE CASCADE, so deleting an
installation or online access removes its probe history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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

CHECK_STATUSES = ("ok", "fail", "expected", "unknown")
#: The abnormal states of the chart "Время нештатного состояния сервера" (spec §7.2), in its order.
ABNORMAL_STATES = (
    "maintenance",  # Режим обслуживания
    "need_support",  # Требуется обслуживание
    "server_down",  # Сервер не работает
    "key_not_found",  # Ключ не найден
    "not_started",  # Сервер не стартовал
    "server_errors",  # Ошибки на сервере
    "licences_exhausted",  # Кончились лицензии
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_ONE_TARGET = "(installation_id IS NULL) <> (online_access_id IS NULL)"


class ProbeCheck(Base):
    """The current result of one check of one installation or online access."""

    __tablename__ = "probe_checks"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("installation_id", "check_name"),
        UniqueConstraint("online_access_id", "check_name"),
        CheckConstraint(_in("status", CHECK_STATUSES), name="status"),
        CheckConstraint(_ONE_TARGET, name="target"),
        Index("ix_probe_checks_check_status", "check_name", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), nullable=True
    )
    online_access_id: Mapped[int | None] = mapped_column(
        ForeignKey("online_accesses.id", ondelete="CASCADE"), nullable=True
    )
    check_name: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    #: When the current status began.
    since: Mapped[datetime] = mapped_column(default=utcnow)
    #: The last run of the check (refreshed at most every few minutes while nothing changes).
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Short value: HTTP code, error class, round-trip time in ms, free seats…
    value: Mapped[str] = mapped_column(String(100), default="")
    #: What was seen, in Russian, for people and alert texts.
    detail: Mapped[str] = mapped_column(Text, default="")


class ProbeStateInterval(Base):
    """An abnormal server state from ``started_at`` until ``ended_at`` (NULL while it lasts)."""

    __tablename__ = "probe_state_intervals"
    __table_args__ = (
        tenant_fk(),
        CheckConstraint(_in("state", ABNORMAL_STATES), name="state"),
        Index("ix_probe_state_intervals_inst_started", "installation_id", "started_at"),
        Index("ix_probe_state_intervals_open", "installation_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    #: The HTTP status code the server answered with; NULL when it did not answer at all.
    http_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class ProbeLatency(Base):
    """Latency of one check of one target over a window ending at ``at``."""

    __tablename__ = "probe_latency"
    __table_args__ = (
        tenant_fk(),
        CheckConstraint(_ONE_TARGET, name="target"),
        Index("ix_probe_latency_inst_at", "installation_id", "at"),
        Index("ix_probe_latency_online_at", "online_access_id", "at"),
        Index("ix_probe_latency_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), nullable=True
    )
    online_access_id: Mapped[int | None] = mapped_column(
        ForeignKey("online_accesses.id", ondelete="CASCADE"), nullable=True
    )
    check_name: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    samples: Mapped[int] = mapped_column(Integer)
    mean_ms: Mapped[float] = mapped_column(Float)
    max_ms: Mapped[float] = mapped_column(Float)


class OnlineBillingReading(Base):
    """Monthly limit (``*_max``) and usage (``*_used``) of an online access's four billing counters.

    A counter the access does not have is NULL. Remaining = max − used.
    """

    __tablename__ = "online_billing_readings"
    __table_args__ = (
        tenant_fk(),
        Index("ix_online_billing_readings_access_read", "online_access_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    online_access_id: Mapped[int] = mapped_column(ForeignKey("online_accesses.id", ondelete="CASCADE"))
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``soap`` (GetBillingStatus).
    source: Mapped[str] = mapped_column(String(10), default="soap")
    docs_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    docs_used: Mapped[int | None] = mapped_column(Integer, nullable=True)
    search_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    search_used: Mapped[int | None] = mapped_column(Integer, nullable=True)
    print_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    print_used: Mapped[int | None] = mapped_column(Integer, nullable=True)
    upload_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    upload_used: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def counter(self, kind: str) -> tuple[int, int] | None:
        """``(max, used)`` of ``docs``, ``search``, ``print`` or ``upload``; None if not read."""
        top = getattr(self, f"{kind}_max")
        used = getattr(self, f"{kind}_used")
        if top is None or used is None:
            return None
        return int(top), int(used)
