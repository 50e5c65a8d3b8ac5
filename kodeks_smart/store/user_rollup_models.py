"""Per-user rollups of the hourly usage facts, for the per-user panels of «Для менеджеров» and the
Top-20 of «Карточки пользователей».

``sysinfo_usage`` holds one row per user and hour: 13 months of 1,000 installations are 2.5 million rows,
and ranking users over a range grouped all of them at request time. These tables hold the same numbers per
user and UTC day / UTC calendar month:

* the usage counters summed (`COUNTERS`; NULL counts as 0, as the dashboards' sums do);
* the largest hourly value of the expressions the «Для менеджеров» charts rank users by (`PEAKS`): a
  range's peak is then the largest of the stored peaks of its whole days or months and of the raw hours
  at its edges, exactly the raw hourly peak.

A row exists exactly when the user has a usage row in that day or month, so the users «with usage in the
period» are the users with rows. Login and domain filters apply to them as to the raw rows (both are per
user). They are derived data: `kodeks_smart.ingest.user_rollup` rebuilds the keys a write touched in the
same transaction, the retention job prunes them, migration 0016 fills them from the stored facts.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK

#: The usage counters summed per user (the columns of ``sysinfo_usage`` with the same names).
COUNTERS = ("db_requests", "docs", "free_docs", "saved", "printed", "kassist", "services", "searches")
#: {peak column: the counters whose hourly sum it is the maximum of}.
PEAKS: dict[str, tuple[str, ...]] = {
    "peak_billing": ("docs", "services"),
    "peak_db_requests": ("db_requests",),
    "peak_saved": ("saved",),
    "peak_printed": ("printed",),
}


class _UserUsage:
    """Tenant, client, installation, login, the summed counters and the hourly peaks."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    login: Mapped[str] = mapped_column(String(200))
    db_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    docs: Mapped[int] = mapped_column(BigInteger, default=0)
    free_docs: Mapped[int] = mapped_column(BigInteger, default=0)
    saved: Mapped[int] = mapped_column(BigInteger, default=0)
    printed: Mapped[int] = mapped_column(BigInteger, default=0)
    kassist: Mapped[int] = mapped_column(BigInteger, default=0)
    services: Mapped[int] = mapped_column(BigInteger, default=0)
    searches: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_billing: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_db_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_saved: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_printed: Mapped[int] = mapped_column(BigInteger, default=0)


class UserUsageDay(_UserUsage, Base):
    """A user's usage in one UTC day; ``at`` is the day's start (epoch s)."""

    __tablename__ = "sysinfo_user_usage_daily"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_user_usage_daily_client_at", "client_id", "at"))

    at: Mapped[int] = mapped_column(BigInteger)


class UserUsageMonth(_UserUsage, Base):
    """A user's usage in one UTC calendar month (``YYYY-MM``)."""

    __tablename__ = "sysinfo_user_usage_monthly"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_user_usage_monthly_client_month", "client_id", "month"))

    month: Mapped[str] = mapped_column(String(7))
