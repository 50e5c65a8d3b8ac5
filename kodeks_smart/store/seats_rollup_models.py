"""The daily seats rollup that «Kodeks аналитика» reads for ranges with points of a day or more.

`kodeks_smart.store.usage_rollup_models.ReportSeats` holds one row per installation and report time (the
sessions a report listed and its reg seats): with hourly reports that is 24 rows per installation and day,
2 million for 1,000 installations over 90 days. The seat charts only ever take the largest value per point
(and the ranking the smallest occupied count as well), so for points of whole UTC days one row per
installation and day holds everything they need:

* `SeatsDayRollup`: per installation and UTC day, the largest and the smallest occupied seats of the
  reports that listed sessions (NULL: none did) and the largest reg seats (NULL: none given);
* `SeatsWeekRollup`: the same per installation and epoch-aligned 7-day week (the chart points of the 13M
  and 1y ranges), folded from the week's daily rows.

Derived from ``sysinfo_report_seats`` (not from the facts): `kodeks_smart.ingest.seats_rollup` recomputes
the days a write touched from it (and the weeks from the days) in the same transaction, the retention
job prunes them, migration 0017 fills the daily one and 0018 the weekly one.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK


class _SeatsFold:
    """Tenant, client, installation, period start (epoch s) and the folded seat counts."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The period's start (UTC day / epoch-aligned week), epoch seconds.
    at: Mapped[int] = mapped_column(BigInteger)
    #: The most sessions a report of the period listed (reports with none left out; NULL: no report had
    #: any).
    used_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The fewest sessions of those reports (NULL likewise).
    used_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The largest reg-file seat count of the period's reports (NULL: none given).
    seats_max: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SeatsDayRollup(_SeatsFold, Base):
    """The seat rows of an installation's reports in one UTC day, folded: largest/smallest occupied, largest
    reg seats."""

    __tablename__ = "sysinfo_seats_daily"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_seats_daily_client_at", "client_id", "at"))


class SeatsWeekRollup(_SeatsFold, Base):
    """The daily seats rows of an installation in one epoch-aligned 7-day week (``at``: its start,
    `usage_rollup_models.WEEK`), folded the same way (NULLs ignored)."""

    __tablename__ = "sysinfo_seats_weekly"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_seats_weekly_client_at", "client_id", "at"))
