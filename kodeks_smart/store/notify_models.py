"""Tables of notification delivery: notifications, the outbox, delivery attempts, webhooks, SMTP usage.

A *notification* is one message of the alert engine (its text stored once); the *outbox* has one row per
(notification, target) and is the delivery queue: a row is written before anything is sent and carries
the state, the retry schedule and the claim lease of the worker that sends it. Every send is recorded in
*delivery attempts*. *Webhook endpoints* are a cabinet's integration targets (secret encrypted with the
service's `SecretBox`). *SMTP relay usage* counts the messages a relay sent per hour, so that a provider's
daily limit (Yandex: 500 per 24 h) can be respected over a rolling day.
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
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK, utcnow

#: Delivery channels of an outbox row.
CHANNELS = ("email", "telegram", "webhook")
#: States of an outbox row: waiting (maybe for a retry or a digest), claimed by a worker, done, given up.
OUTBOX_STATES = ("pending", "sending", "sent", "failed")
#: Outcomes of one delivery attempt.
ATTEMPT_OUTCOMES = ("sent", "retry", "failed")


class Notification(Base):
    """One message of the alert engine for one cabinet; ``dedup_key`` makes enqueuing idempotent."""

    __tablename__ = "notifications"
    __table_args__ = (tenant_fk(), UniqueConstraint("dealer_id", "dedup_key"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), nullable=True, index=True
    )
    dedup_key: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(100))
    dealer_code: Mapped[str] = mapped_column(String(40))
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    telegram_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: [[title, url], ...]
    links: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxItem(Base):
    """Delivery of one notification to one target: the unit the worker claims, sends and retries."""

    __tablename__ = "outbox"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("notification_id", "channel", "target_key"),
        CheckConstraint("channel IN ('email', 'telegram', 'webhook')", name="channel"),
        CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed')", name="state"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_outbox_digest_group", "held", "relay_id", "dealer_id", "target_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    #: What the target is, for people: an e-mail address, a chat id, a webhook URL without its query.
    target: Mapped[str] = mapped_column(String(500))
    #: The identity used for deduplication: lower-case e-mail, chat id, or ``webhook:<endpoint id>``.
    target_key: Mapped[str] = mapped_column(String(330))
    #: ``telegram_chats.id`` or ``webhook_endpoints.id`` whose credentials are used to send.
    ref_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Stable across retries: the e-mail Message-ID and the webhook idempotency header are built from it.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When retrying stops; NULL means ``created_at`` + SMART_NOTIFY_GIVE_UP_HOURS.
    give_up_at: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Parts of a long Telegram message already delivered (a retry resumes after them).
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    #: Waiting to be sent in a digest because the relay's daily limit is nearly used up.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    relay_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The outbox row whose digest carried this one.
    digest_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeliveryAttempt(Base):
    """One try to send an outbox row: when, how long, and what went wrong."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        tenant_fk(),
        CheckConstraint("outcome IN ('sent', 'retry', 'failed')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker: Mapped[str] = mapped_column(String(200), default="")


class WebhookEndpoint(Base):
    """A URL that receives a cabinet's notifications of some categories as JSON POST requests."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (tenant_fk(),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(300), default="")
    #: HMAC-SHA256 key for the X-Smart-Signature header, encrypted; NULL: requests are not signed.
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmtpRelayUsage(Base):
    """Messages an SMTP relay accepted in one hour; the last 24 hours are summed against its daily limit."""

    __tablename__ = "smtp_relay_usage"

    relay_id: Mapped[int] = mapped_column(ForeignKey("smtp_relays.id", ondelete="CASCADE"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
