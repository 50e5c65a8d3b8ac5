"""The mapping PostgreSQL row-level security reads: which cabinet a database role may see.

``smart grafana roles`` writes one row per cabinet role (``smart_cab_<id>``); the policies created by
`kodeks_smart.store.rls` admit a row when its ``cabinet_id`` is mapped to ``current_user`` here, so a new
cabinet needs a row (and a role), never new DDL per table. On SQLite the table exists but nothing reads it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import utcnow


class GrafanaRole(Base):
    """A database role confined to one cabinet (a role may be mapped to several cabinets)."""

    __tablename__ = "grafana_roles"
    __table_args__ = (tenant_fk(),)

    role_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    cabinet_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the role's password was last set (it is written to a file, never stored here).
    password_set_at: Mapped[datetime | None] = mapped_column(nullable=True)
