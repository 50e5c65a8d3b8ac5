"""Rollups that only the dashboards read: per-day aggregates of the metric series.

«Дисковое пространство» draws the minimum free space per chart point; at 13 months a point is 7 days and
the hourly rollups of 100 series are 950,000 rows, which SQLite needs about 0.6 s just to read. The daily
rows (24× fewer) are kept equal to the hourly ones by the metrics writer
(kodeks_smart/ingest/metric_daily.py), filled by migration 0014 for the existing data, and pruned with them
by the retention job.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from kodeks_smart.store.models import Base, tenant_fk


class DailyRollup(Base):
    """Per-UTC-day aggregate of a series: the fold of the day's `HourlyRollup` rows (count, sum, min,
    max); ``day`` is 00:00 UTC of the day."""

    __tablename__ = "metric_rollups_daily"
    __table_args__ = (tenant_fk(), Index("ix_metric_rollups_daily_day", "day"))

    series_id: Mapped[int] = mapped_column(
        ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    dealer_id: Mapped[int] = mapped_column(BigInteger)
    cabinet_id: Mapped[int] = mapped_column(BigInteger)
