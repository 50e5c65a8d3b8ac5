"""Keeping the daily and weekly seats rollups (`kodeks_smart.store.seats_rollup_models.SeatsDayRollup`,
`SeatsWeekRollup`) equal to the per-report seat rows (``sysinfo_report_seats``) they fold.

A day's row is a function of that day's seat rows, so it is never updated incrementally: the days a write
touched are deleted and recomputed with one ``INSERT … SELECT`` from ``sysinfo_report_seats`` (a few rows
per installation and day), in the same transaction and after `kodeks_smart.ingest.usage_rollup` brought
those rows up to date. It is the statement the backfill runs without a day filter. The weeks of those
days are then folded again from the daily rows the same way (seven rows per installation and week).

Who refreshes:

* the sysinfo writer: on a report's first processing `usage_rollup.add_report_parts` folds the day's
  other seat rows (read before the writes) with the report's, and the week's other days with that day;
  otherwise, after the usage rollups, `refresh_report` (the report's day and the days next to it, where a
  reprocessed upload with a corrected time zone may have left seat rows before);
* ORM writes of sessions and reports: session events (`_collect` / `_refresh_pending`), which run after
  `usage_rollup`'s (this module imports it, so its listeners are registered first);
* the retention job: `prune` after `usage_rollup.prune`;
* migration 0017 (the daily rows), 0018 (the weekly ones) and ``bench/web.py``: `backfill`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, select
from sqlalchemy.orm import Session

from kodeks_smart.ingest import rollup_hooks
from kodeks_smart.ingest.usage_rollup import SEATS, SEATS_SLACK, STALE_WINDOW, Bind, has_table, table_of
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoReportRow, SysinfoSession
from kodeks_smart.store.seats_rollup_models import SeatsDayRollup, SeatsWeekRollup
from kodeks_smart.store.usage_rollup_models import WEEK

DAY = 86400
DAILY = table_of(SeatsDayRollup)
WEEKLY = table_of(SeatsWeekRollup)
#: The columns both rollups fill, in the order their INSERT … SELECT statements give them.
_COLUMNS = [
    "dealer_id",
    "cabinet_id",
    "client_id",
    "installation_id",
    "at",
    "used_max",
    "used_min",
    "seats_max",
]


def _day(moment: datetime) -> int:
    """Epoch seconds of the UTC day that contains ``moment``."""
    ts = int(moment.timestamp())
    return ts - ts % DAY


def _fill(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert the day rows folding the seat rows that match ``where``."""
    s = SEATS.c
    day = (s.at // DAY) * DAY
    taken = case((s.used > 0, s.used))
    keys = (s.dealer_id, s.cabinet_id, s.client_id, s.installation_id)
    stmt = (
        select(*keys, day, func.max(taken), func.min(taken), func.max(s.seats))
        .where(*where)
        .group_by(*keys, day)
        .order_by(day)
    )
    bind.execute(insert(DAILY).from_select(_COLUMNS, stmt))


def fill_weeks(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert the week rows folding the daily rows that match ``where`` (whole weeks of them)."""
    d = DAILY.c
    week = (d.at // WEEK) * WEEK
    keys = (d.dealer_id, d.cabinet_id, d.client_id, d.installation_id)
    stmt = (
        select(*keys, week, func.max(d.used_max), func.min(d.used_min), func.max(d.seats_max))
        .where(*where)
        .group_by(*keys, week)
        .order_by(week)
    )
    bind.execute(insert(WEEKLY).from_select(_COLUMNS, stmt))


def refresh_days(bind: Bind, client_id: int, start: int, end: int) -> None:
    """Recompute a client's day rows for the UTC days starting in [start, end) (epoch seconds, day starts),
    and the week rows of their weeks."""
    bind.execute(delete(DAILY).where(DAILY.c.client_id == client_id, DAILY.c.at >= start, DAILY.c.at < end))
    _fill(bind, SEATS.c.client_id == client_id, SEATS.c.at >= start, SEATS.c.at < end)
    lo, hi = start - start % WEEK, -(-end // WEEK) * WEEK
    bind.execute(delete(WEEKLY).where(WEEKLY.c.client_id == client_id, WEEKLY.c.at >= lo, WEEKLY.c.at < hi))
    fill_weeks(bind, DAILY.c.client_id == client_id, DAILY.c.at >= lo, DAILY.c.at < hi)


def refresh_report(bind: Bind, client_id: int, report_at: datetime | None) -> None:
    """After the sysinfo writer stored a report (and `usage_rollup` its seat row): the days around its time.

    The seat rows `usage_rollup.refresh_report` may have removed lie within `STALE_WINDOW` of the report
    time, so those days are recomputed too (two statements whatever the span)."""
    if report_at is None:
        return
    refresh_days(bind, client_id, _day(report_at - STALE_WINDOW), _day(report_at + STALE_WINDOW) + DAY)


def refresh_report_times(bind: Bind, client_id: int, times: Iterable[datetime | None]) -> None:
    """Recompute a client's days from the first to the last of the given report times."""
    days = sorted({_day(t) for t in times if t is not None})
    if days:
        refresh_days(bind, client_id, days[0], days[-1] + DAY)


def backfill(bind: Bind) -> None:
    """Rebuild the rollups from ``sysinfo_report_seats`` (migration 0017, bulk-loaded benchmark stores); the
    weekly one when it exists (migration 0017 runs this before 0018 creates it)."""
    bind.execute(delete(DAILY))
    _fill(bind)
    if has_table(bind, WEEKLY):
        backfill_weeks(bind)


def backfill_weeks(bind: Bind) -> None:
    """Rebuild the weekly rollup from the daily one (migration 0018)."""
    bind.execute(delete(WEEKLY))
    fill_weeks(bind)


def prune(db: Database, cutoff: datetime) -> dict[str, int]:
    """After `usage_rollup.prune` (which drops the seat rows before the cutoff and recomputes those just
    after it): drop the day rows up to the last day it recomputed and fold those days again, and the week
    rows up to that day's week likewise from the day rows."""
    end = _day(cutoff.astimezone(UTC) + SEATS_SLACK) + DAY
    week_end = -(-end // WEEK) * WEEK
    with db.write() as session:
        deleted = int(session.execute(delete(DAILY).where(DAILY.c.at < end)).rowcount or 0)  # type: ignore[attr-defined]
        _fill(session, SEATS.c.at < end)
        weeks = int(session.execute(delete(WEEKLY).where(WEEKLY.c.at < week_end)).rowcount or 0)  # type: ignore[attr-defined]
        fill_weeks(session, DAILY.c.at < week_end)
    return {DAILY.name: deleted, WEEKLY.name: weeks}


# -- ORM writes (kodeks_smart.ingest.rollup_hooks) ---------------------------------------------------


def _orm_keys(obj: Any) -> list[tuple[int, list[datetime]]]:
    """The clients and report times of flushed sessions and reports."""
    if isinstance(obj, SysinfoSession):
        name = "report_at"
    elif isinstance(obj, SysinfoReportRow):
        name = "created_at"
    else:
        return []
    moments = rollup_hooks.values(obj, name)
    return [(client_id, moments) for client_id in rollup_hooks.values(obj, "client_id")]


def _orm_refresh(session: Session, client_id: int, moments: set[Any]) -> None:
    refresh_report_times(session, client_id, moments)


# After the usage rollups (order 0): the days are folded from the per-report seat rows they refresh.
rollup_hooks.register("seats", 1, _orm_keys, _orm_refresh)


__all__ = [
    "backfill",
    "backfill_weeks",
    "fill_weeks",
    "prune",
    "refresh_days",
    "refresh_report",
    "refresh_report_times",
]
