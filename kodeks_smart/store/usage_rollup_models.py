"""Rollups of the sysinfo usage facts that «Kodeks аналитика» and «Для менеджеров» read.

The raw facts are per user and hour (`SysinfoUsageHour`) and per connected session (`SysinfoSession`);
grouping them at request time for 1,000 installations and months of data is what made those dashboards
take seconds. These tables hold the same numbers already grouped, so a page reads one row per
installation and hour, day or report instead:

* `UsageHourRollup` / `UsageDayRollup`: the counters of ``sysinfo_usage`` summed per installation and UTC
  hour / UTC day (NULL counters count as 0, as the dashboards' sums do);
* `UsageWeekRollup`: the same sums per installation and epoch-aligned 7-day week (the chart points of
  the 13M and 1y ranges): summed from the daily rows, so a long range reads a seventh of them;
* `UsageFirstRequest`: per installation, user and UTC calendar month, the first and the last hour with DB
  requests (the «involvement» chart counts users by the first, «Ноль запросов к БД за 60 дней» asks the
  last);
* `ReportSeats`: per installation and report time, the sessions the report listed (occupied seats) and
  the seats of its reg file.

Times are stored as epoch seconds (``at``) as well: chart points are then integer arithmetic on both
SQLite and PostgreSQL instead of a date function per row.

They are derived data: `kodeks_smart.ingest.usage_rollup` rebuilds the keys a write touched in the same
transaction (the sysinfo writer calls it; ORM writes are caught by session events), the retention job
prunes them with the facts, and migration 0013 fills them from the facts already stored (0018 the weekly
one, from the daily rows).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK

#: The usage counters summed by the rollups (the columns of ``sysinfo_usage`` with the same names).
COUNTERS = ("db_requests", "docs", "free_docs", "saved", "printed", "kassist", "services", "searches")


class _UsageSums:
    """Tenant, client, installation, period start (epoch s) and the summed counters."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    at: Mapped[int] = mapped_column(BigInteger)
    db_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    docs: Mapped[int] = mapped_column(BigInteger, default=0)
    free_docs: Mapped[int] = mapped_column(BigInteger, default=0)
    saved: Mapped[int] = mapped_column(BigInteger, default=0)
    printed: Mapped[int] = mapped_column(BigInteger, default=0)
    kassist: Mapped[int] = mapped_column(BigInteger, default=0)
    services: Mapped[int] = mapped_column(BigInteger, default=0)
    searches: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageHourRollup(_UsageSums, Base):
    """``sysinfo_usage`` summed over the users of an installation, per stored hour (``at`` is that hour's
    start, not rounded: with a UTC offset of 5:30 the hours start at :30, and short ranges cut there)."""

    __tablename__ = "sysinfo_usage_hourly"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_usage_hourly_client_at", "client_id", "at"))


class UsageDayRollup(_UsageSums, Base):
    """``sysinfo_usage`` summed over the users of an installation, per UTC day."""

    __tablename__ = "sysinfo_usage_daily"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_usage_daily_client_at", "client_id", "at"))


#: A week of the weekly rollups, seconds: weeks start at ``(at // WEEK) * WEEK`` (Thursdays 00:00 UTC), as
#: the 7-day chart points do (`kodeks_smart.web.dashboards.framework` aligns points to the epoch).
WEEK = 7 * 86400


class UsageWeekRollup(_UsageSums, Base):
    """``sysinfo_usage`` summed over the users of an installation, per epoch-aligned 7-day week (``at`` is
    the week's start): the sum of the installation's daily rows of that week."""

    __tablename__ = "sysinfo_usage_weekly"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_usage_weekly_client_at", "client_id", "at"))


class UsageFirstRequest(Base):
    """The first and the last hour (epoch s) in a UTC calendar month in which a user made DB requests."""

    __tablename__ = "sysinfo_usage_first"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_usage_first_client_month", "client_id", "month"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    login: Mapped[str] = mapped_column(String(200))
    #: The month as ``YYYY-MM`` (UTC).
    month: Mapped[str] = mapped_column(String(7))
    first_at: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)


class ReportSeats(Base):
    """Occupied seats (sessions listed) and reg-file seats of an installation at one report time."""

    __tablename__ = "sysinfo_report_seats"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_report_seats_client_at", "client_id", "at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    report_at: Mapped[datetime] = mapped_column()
    at: Mapped[int] = mapped_column(BigInteger)
    #: Sessions of the reports made at that time (0: the report listed none).
    used: Mapped[int] = mapped_column(Integer, default=0)
    #: The largest reg-file seat count of the reports made at that time (NULL: none given).
    seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
