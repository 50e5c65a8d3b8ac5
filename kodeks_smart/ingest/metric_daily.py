"""Daily metric rollups (`DailyRollup`): kept equal to the fold of the hourly rollups of each UTC day.

The metrics writer calls `add` with the hourly increments it has just upserted (new samples: the day's
count and sum grow, min and max widen — the same merge as the hourly rows) and `rebuild` for the hours it
recomputed from the samples (a stored sample was replaced, so the day is read again from its hourly
rows). Migration 0014 fills the table for the rollups that existed before (`BACKFILL_SQL`). Only
``min`` is read today («Дисковое пространство» at ranges with a chart point of whole days); ``sum`` is the
sum of the hourly sums and may differ from them in the last bits of a float.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kodeks_smart.store.dashboard_rollup_models import DailyRollup
from kodeks_smart.store.ingest_models import HourlyRollup

DAY = timedelta(days=1)
CHUNK = 500


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def day_of(moment: datetime) -> datetime:
    """00:00 UTC of the day ``moment`` (aware, UTC) falls into."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _upsert(session: Session, rows: list[dict[str, Any]], *, merge: bool) -> None:
    """INSERT the day rows; on a clash either fold them in (``merge``) or replace the stored values."""
    if not rows:
        return
    table = _table(DailyRollup)
    postgres = session.get_bind().dialect.name == "postgresql"
    ins = postgresql.insert(table) if postgres else sqlite.insert(table)
    ex = ins.excluded
    if merge:
        least, greatest = (func.least, func.greatest) if postgres else (func.min, func.max)
        values = {
            "count": table.c.count + ex.count,
            "sum": table.c.sum + ex.sum,
            "min": least(table.c.min, ex.min),
            "max": greatest(table.c.max, ex.max),
        }
    else:
        values = {c: ex[c] for c in ("count", "sum", "min", "max")}
    upsert = ins.on_conflict_do_update(index_elements=["series_id", "day"], set_=values)
    # One multi-row VALUES statement per chunk, not executemany: psycopg would send a statement per row
    # (see `writers.write_rows`), and a metrics file touches a day row per series.
    for k in range(0, len(rows), CHUNK):
        session.execute(upsert.values(rows[k : k + CHUNK]))


def add(session: Session, hourly: Sequence[Mapping[str, Any]]) -> None:
    """Fold hourly increments (rows of `HourlyRollup` as the writer upserts them with ``merge="rollup"``)
    into their days: one row per series and day, merged like the hourly rows."""
    days: dict[tuple[int, datetime], dict[str, Any]] = {}
    for r in hourly:
        day = day_of(r["hour"])
        cur = days.get((r["series_id"], day))
        if cur is None:
            days[(r["series_id"], day)] = {
                "series_id": r["series_id"],
                "day": day,
                "count": r["count"],
                "sum": r["sum"],
                "min": r["min"],
                "max": r["max"],
                "dealer_id": r["dealer_id"],
                "cabinet_id": r["cabinet_id"],
            }
        else:
            cur["count"] += r["count"]
            cur["sum"] += r["sum"]
            cur["min"] = min(cur["min"], r["min"])
            cur["max"] = max(cur["max"], r["max"])
    _upsert(session, list(days.values()), merge=True)


def rebuild(session: Session, touched: Iterable[tuple[int, datetime]]) -> None:
    """Recompute the days of the touched (series, hour) pairs from their hourly rows."""
    wanted = {(sid, day_of(hour)) for sid, hour in touched}
    if not wanted:
        return
    by_series: dict[int, set[datetime]] = defaultdict(set)
    for sid, day in wanted:
        by_series[sid].add(day)
    h = HourlyRollup
    first = min(day for _, day in wanted)
    last = max(day for _, day in wanted) + DAY
    folded: dict[tuple[int, datetime], dict[str, Any]] = {}
    series = sorted(by_series)
    for k in range(0, len(series), CHUNK):
        part = series[k : k + CHUNK]
        rows = session.execute(
            select(h.series_id, h.hour, h.count, h.sum, h.min, h.max, h.dealer_id, h.cabinet_id).where(
                and_(h.series_id.in_(part), h.hour >= first, h.hour < last)
            )
        )
        for sid, hour, count, total, low, high, dealer, cabinet in rows:
            key = (sid, day_of(hour))
            if key not in wanted:
                continue
            cur = folded.get(key)
            if cur is None:
                folded[key] = {
                    "series_id": sid,
                    "day": key[1],
                    "count": count,
                    "sum": total,
                    "min": low,
                    "max": high,
                    "dealer_id": dealer,
                    "cabinet_id": cabinet,
                }
            else:
                cur["count"] += count
                cur["sum"] += total
                cur["min"] = min(cur["min"], low)
                cur["max"] = max(cur["max"], high)
    d = DailyRollup
    for sid, day in sorted(wanted - set(folded)):
        session.execute(delete(d).where(d.series_id == sid, d.day == day))
    _upsert(session, list(folded.values()), merge=False)


_PG_DAY = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
# SQLite stores times as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): the day in the same format, so that comparisons
# with bound times (strings) keep working.
_SQLITE_DAY = "strftime('%Y-%m-%d 00:00:00.000000', hour)"
_BACKFILL = (
    "INSERT INTO metric_rollups_daily (series_id, day, count, sum, min, max, dealer_id, cabinet_id)"
    " SELECT series_id, {day}, sum(count), sum(sum), min(min), max(max), dealer_id, cabinet_id"
    " FROM metric_rollups_hourly GROUP BY series_id, {day}, dealer_id, cabinet_id"
)
#: INSERT … SELECT that rebuilds every day row from the hourly rollups (migration 0014, benchmarks), per
#: dialect.
BACKFILL_SQL = {
    "postgresql": _BACKFILL.replace("{day}", _PG_DAY),
    "sqlite": _BACKFILL.replace("{day}", _SQLITE_DAY),
}
