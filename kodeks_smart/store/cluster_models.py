"""Tables of the process cluster: the live members that share the probe targets between them.

Not a tenant table: a row describes a SMART process, not a customer's data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base
from kodeks_smart.store.types import BigIntPK, utcnow


class WorkerMember(Base):
    """One worker process taking part in dynamic sharding (`kodeks_smart.cluster`).

    ``name`` is the stable identity that the rendezvous hashing uses: a worker restarted under the same
    name gets back the same targets. ``heartbeat_at`` moves every SMART_WORKER_HEARTBEAT seconds; a row
    older than SMART_WORKER_TTL is a dead worker whose targets the others take over.
    """

    __tablename__ = "worker_members"
    __table_args__ = (Index("ix_worker_members_heartbeat_at", "heartbeat_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
