"""The daily seats rollup that «Kodeks аналитика» reads for ranges with points of a day or more.

`kodeks_smart.store.usage_rollup_models.ReportSeats` holds one row per installation and report time (the
sessions a report listed and its reg seats): with hourly reports that is 24 rows per installation and day,
2 million for 1,000 installations over 90 days. The seat charts only ever take the largest value per point
(and the ranking the smallest occupied count as well), so for points of whole UTC days one row per
installation and day holds everything they need:

* `SeatsDayRollup`: per installation and UTC day, the largest and the smallest occupied seats of the
  reports that listed sessions (NULL: none did) and the largest reg seats (NULL: none given).

Derived from ``sysinfo_report_seats`` (not from the facts): `kodeks_smart.ingest.seats_rollup` recomputes
the days a write touched from it in the same transaction, the retention job prunes it, and migration 0017
fills it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk
from kodeks_smart.store.types import BigIntPK


class SeatsDayRollup(Base):
    """The seat rows of an installation's reports in one UTC day, folded: largest/smallest occupied, largest
    reg seats."""

    __tablename__ = "sysinfo_seats_daily"
    __table_args__ = (tenant_fk(), Index("ix_sysinfo_seats_daily_client_at", "client_id", "at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The UTC day's start, epoch seconds.
    at: Mapped[int] = mapped_column(BigInteger)
    #: The most sessions a report of the day listed (reports with none left out; NULL: no report had any).
    used_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The fewest sessions of those reports (NULL likewise).
    used_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The largest reg-file seat count of the day's reports (NULL: none given).
    seats_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
