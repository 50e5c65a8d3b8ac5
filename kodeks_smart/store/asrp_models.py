"""Tables of the ASRP forwarding: the dealer's forwarder configuration and the forwarding queue and log.

* ``asrp_forwarders`` — one per dealer (the dealer's ASRP account is dealer-wide): how a processed sysinfo
  report is sent on (``http``: a multipart request to a configured URL; ``folder``: a file written into a
  directory). The credential is stored encrypted (`kodeks_smart.lib.secrets.SecretBox`).
* ``asrp_forwards`` — one row per processed sysinfo upload and forwarder, unique by ``(forwarder_id,
  upload_id)``: reprocessing an upload never forwards it twice. The row is the durable queue entry (state
  ``pending``/``sending``, claimed with a conditional UPDATE like the notification outbox) and, once
  finished, the log line the cabinet shows (``accepted`` = «Принят», ``duplicate`` = «Повтор», ``failed`` =
  «Ошибка» after the last try). It is a tenant row: ``dealer_id`` + ``cabinet_id`` of the upload's client.
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

FORWARDER_KINDS = ("http", "folder")
AUTH_KINDS = ("none", "basic", "bearer", "header")
FORWARD_STATES = ("pending", "sending", "accepted", "duplicate", "failed")


class AsrpForwarder(Base):
    """How one dealer's processed sysinfo reports are forwarded to ASRP."""

    __tablename__ = "asrp_forwarders"
    __table_args__ = (
        CheckConstraint("kind IN ('http', 'folder')", name="kind"),
        CheckConstraint("auth IN ('none', 'basic', 'bearer', 'header')", name="auth"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # -- http
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    method: Mapped[str] = mapped_column(String(6), default="POST")
    file_field: Mapped[str] = mapped_column(String(100), default="file")
    #: Extra form fields, values with placeholders such as ``{client}``.
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    auth: Mapped[str] = mapped_column(String(10), default="none")
    #: Login (basic) or header name (header); the password / token / header value is ``secret_enc``.
    auth_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    success_statuses: Mapped[list[int]] = mapped_column(JSON, default=list)
    success_regex: Mapped[str] = mapped_column(String(500), default="")
    duplicate_regex: Mapped[str] = mapped_column(String(500), default="")
    number_regex: Mapped[str] = mapped_column(String(500), default="")
    ident_regex: Mapped[str] = mapped_column(String(500), default="")
    timeout: Mapped[float] = mapped_column(Float, default=60.0)
    # -- folder
    directory: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    filename_pattern: Mapped[str] = mapped_column(String(300), default="{dealer}_{client}_{upload_id}.zip")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AsrpForward(Base):
    """One processed sysinfo upload on its way to (or through) one forwarder: queue entry and log line."""

    __tablename__ = "asrp_forwards"
    __table_args__ = (
        tenant_fk(),
        UniqueConstraint("forwarder_id", "upload_id"),
        CheckConstraint("state IN ('pending', 'sending', 'accepted', 'duplicate', 'failed')", name="state"),
        Index("ix_asrp_forwards_state_next", "state", "next_attempt_at"),
        Index("ix_asrp_forwards_client_created", "client_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, index=True)
    forwarder_id: Mapped[int] = mapped_column(ForeignKey("asrp_forwarders.id", ondelete="CASCADE"))
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), nullable=True
    )
    client_name: Mapped[str] = mapped_column(String(100))
    regnum: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: First failed attempt since the row was created (what the alert measures); NULL while none failed.
    first_failed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The server's answer, shortened and stripped of control characters (shown as «Ответ сервера»).
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    upload_number: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ident: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
