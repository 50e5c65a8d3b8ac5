"""Tables of the alert engine: alert states, their state-change events, and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK, utcnow


class AlertState(Base):
    """One alert of one rule for one object: pending → firing → resolved.

    ``key`` identifies the object within the rule (e.g. ``inst:42`` or ``inst:42:db:Кодекс``).
    ``notified_at`` is the last firing (or repeat) notification; ``resolve_pending`` asks the dispatcher
    for a RESOLVED notification, which is due only for alerts whose firing was notified.
    """

    __tablename__ = "alert_states"
    __table_args__ = (tenant_fk(), UniqueConstraint("rule", "key"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    online_access_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rule: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), index=True)  # pending | firing | resolved
    severity: Mapped[str] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(12))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")
    #: The rule's digest of what labels and summary are made of (`kodeks_smart.alerts.engine.Instance`), for
    #: rules whose labels are costly to build: a cycle compares it instead of building and comparing them.
    fingerprint: Mapped[str | None] = mapped_column(String(40), nullable=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolve_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertEvent(Base):
    """A state change of an alert, written in the same transaction as the change."""

    __tablename__ = "alert_events"
    __table_args__ = (tenant_fk(),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, index=True)
    rule: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))  # firing | resolved | notified | muted
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class Silence(Base):
    """Mutes notifications of alerts matching all given matchers during [starts_at, ends_at)."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    cabinet_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: e.g. {"client": "alpha", "rule": "KodeksMaintenance", "installation": "42"}; all must match.
    matchers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
