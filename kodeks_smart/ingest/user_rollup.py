"""Keeping the per-user usage rollups (`kodeks_smart.store.user_rollup_models`) equal to the facts.

As for the installation rollups (`kodeks_smart.ingest.usage_rollup`), a rollup row is a function of the
facts with its key, so the keys a write touched are deleted and recomputed, in the write's transaction:
the daily rows of the UTC days the written hours fall in, from ``sysinfo_usage`` (``INSERT … SELECT``),
then the monthly rows of those days' months, from the daily rows (a month is at most 31 rows per user).
The backfill builds both from ``sysinfo_usage`` with the same grouping, so a refreshed row and a
backfilled row cannot differ.

Who refreshes:

* the sysinfo writer: on a report's first processing `usage_rollup.add_report_parts` changes the rows by
  difference (sums by the new rows minus the replaced ones, peaks the larger of the stored and the new
  hourly values); otherwise, or when that is not exact (a replaced hour that may have been a peak goes
  down, a row missing, …), `refresh_report` after the report's usage rows are written;
* ORM writes of `SysinfoUsageHour` (tests, the simulator, hand fixes): session events, at commit;
* the retention job: `prune` after the facts are deleted;
* migration 0016 and ``bench/web.py``: `backfill`.

Reprocessing rewrites an upload's usage rows through the writer, so its days are refreshed like a new
report's (rows of hours a corrected time zone no longer writes stay in ``sysinfo_usage`` and in the
rollups alike).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from kodeks_smart.ingest import rollup_hooks
from kodeks_smart.ingest.usage_rollup import Bind, epoch, month_of, table_of
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoUsageHour
from kodeks_smart.store.user_rollup_models import COUNTERS, PEAKS, UserUsageDay, UserUsageMonth

DAY = 86400
USAGE = table_of(SysinfoUsageHour)
DAILY = table_of(UserUsageDay)
MONTHLY = table_of(UserUsageMonth)
KEYS = ("dealer_id", "cabinet_id", "client_id", "installation_id", "login")
VALUES = (*COUNTERS, *PEAKS)


def _dialect(bind: Bind) -> str:
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def _day(moment: datetime) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % DAY, UTC)


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    return (_month_start(moment) + timedelta(days=32)).replace(day=1)


def _raw_values() -> list[ColumnElement[Any]]:
    """The sums and peaks of the usage rows of a group (NULL counts as 0)."""
    u = USAGE
    sums = [func.coalesce(func.sum(func.coalesce(u.c[n], 0)), 0) for n in COUNTERS]
    peaks = []
    for fields in PEAKS.values():
        expr: Any = func.coalesce(u.c[fields[0]], 0)
        for name in fields[1:]:
            expr = expr + func.coalesce(u.c[name], 0)
        peaks.append(func.coalesce(func.max(expr), 0))
    return [*sums, *peaks]


def _fill_days(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert the daily rows of the usage rows matching ``where``."""
    u = USAGE
    at = epoch(u.c.hour, _dialect(bind))
    day = (at // DAY) * DAY
    keys = [u.c[k] for k in KEYS]
    stmt = select(*keys, day, *_raw_values()).where(*where).group_by(*keys, day).order_by(day)
    bind.execute(insert(DAILY).from_select([*KEYS, "at", *VALUES], stmt))


def _fill_months_raw(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert the monthly rows of the usage rows matching ``where`` (the backfill)."""
    u = USAGE
    month = month_of(u.c.hour)
    keys = [u.c[k] for k in KEYS]
    stmt = select(*keys, month, *_raw_values()).where(*where).group_by(*keys, month).order_by(month)
    bind.execute(insert(MONTHLY).from_select([*KEYS, "month", *VALUES], stmt))


def _fill_month_from_days(bind: Bind, month: datetime, *where: ColumnElement[bool]) -> None:
    """Insert the rows of one month from the daily rows matching ``where``."""
    d = DAILY
    keys = [d.c[k] for k in KEYS]
    values = [func.sum(d.c[n]) for n in COUNTERS] + [func.max(d.c[n]) for n in PEAKS]
    stmt = (
        select(*keys, literal(f"{month:%Y-%m}"), *values)
        .where(
            d.c.at >= int(month.timestamp()),
            d.c.at < int(_next_month(month).timestamp()),
            *where,
        )
        .group_by(*keys)
    )
    bind.execute(insert(MONTHLY).from_select([*KEYS, "month", *VALUES], stmt))


def _months(start: datetime, end: datetime) -> list[datetime]:
    """The starts of the UTC months that [start, end) touches."""
    out, m = [], _month_start(start)
    while m < end:
        out.append(m)
        m = _next_month(m)
    return out


def refresh_days(bind: Bind, client_id: int, start: datetime, end: datetime) -> None:
    """Recompute a client's daily rows of the UTC days in [start, end) (day starts) and their months."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    bind.execute(delete(DAILY).where(DAILY.c.client_id == client_id, DAILY.c.at >= lo, DAILY.c.at < hi))
    u = USAGE
    _fill_days(bind, u.c.client_id == client_id, u.c.hour >= start, u.c.hour < end)
    for month in _months(start, end):
        bind.execute(
            delete(MONTHLY).where(MONTHLY.c.client_id == client_id, MONTHLY.c.month == f"{month:%Y-%m}")
        )
        _fill_month_from_days(bind, month, DAILY.c.client_id == client_id)


def refresh_hours(bind: Bind, client_id: int, hours: Iterable[datetime | None]) -> None:
    """After a client's usage rows at these hours were written or deleted: the days around them."""
    moments = sorted({h.astimezone(UTC) for h in hours if h is not None})
    if moments:
        refresh_days(bind, client_id, _day(moments[0]), _day(moments[-1]) + timedelta(days=1))


def refresh_report(bind: Bind, client_id: int, usage_hours: Iterable[datetime | None]) -> None:
    """After the sysinfo writer stored a report's usage rows (`usage_rollup.refresh_report`'s hours)."""
    refresh_hours(bind, client_id, usage_hours)


def backfill(bind: Bind) -> None:
    """Rebuild both tables from the stored facts (migration 0016, bulk-loaded benchmark stores)."""
    for table in (DAILY, MONTHLY):
        bind.execute(delete(table))
    _fill_days(bind)
    _fill_months_raw(bind)


def prune(db: Database, cutoff: datetime) -> dict[str, int]:
    """After retention deleted the usage rows older than ``cutoff``: drop the rows of the days and months
    before it and recompute the cutoff's day and month (one transaction)."""
    with db.write() as session:
        return _prune(session, cutoff)


def _prune(bind: Bind, cutoff: datetime) -> dict[str, int]:
    cut = cutoff.astimezone(UTC)
    day, month = _day(cut), _month_start(cut)
    deleted: dict[str, int] = {}

    def count(stmt: Any) -> int:
        return int(bind.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]

    u = USAGE
    deleted[DAILY.name] = count(delete(DAILY).where(DAILY.c.at <= int(day.timestamp())))
    _fill_days(bind, u.c.hour >= day, u.c.hour < day + timedelta(days=1))
    deleted[MONTHLY.name] = count(delete(MONTHLY).where(MONTHLY.c.month <= f"{month:%Y-%m}"))
    _fill_month_from_days(bind, month)
    return deleted


# -- ORM writes (kodeks_smart.ingest.rollup_hooks) ---------------------------------------------------


def _orm_keys(obj: Any) -> list[tuple[int, list[datetime]]]:
    """The clients and hours of flushed `SysinfoUsageHour` objects."""
    if not isinstance(obj, SysinfoUsageHour):
        return []
    hours = rollup_hooks.values(obj, "hour")
    return [(client_id, hours) for client_id in rollup_hooks.values(obj, "client_id")]


def _orm_refresh(session: Session, client_id: int, hours: set[Any]) -> None:
    refresh_hours(session, client_id, hours)


rollup_hooks.register("user", 2, _orm_keys, _orm_refresh)


__all__ = ["backfill", "prune", "refresh_days", "refresh_hours", "refresh_report"]
