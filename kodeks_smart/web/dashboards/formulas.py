"""Derived metrics of the dashboards (spec dashboards.md §4) as pure functions.

Everything here takes plain numbers or rows and returns numbers, so the rules are unit-tested apart from
the store. "MTD" = month to date: counters that restart at 00:00 of the 1st.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TypeVar

#: Interval ends: datetimes or integer microseconds (`merge_intervals`, `merge_micros`).
_T = TypeVar("_T", datetime, int)

#: Involvement colour bands of «Для менеджеров» #1/#5 (spec §3.10): red < 60, yellow 60–80, green ≥ 80.
INVOLVEMENT_LOW = 60.0
INVOLVEMENT_GOOD = 80.0
INVOLVEMENT_TOO_HIGH = 150.0
#: Activity threshold (alert KodeksUserActivityIsLow): 20 points by the 20th.
ACTIVITY_LOW = 20.0
#: OperUp files older than this are red (alert KodeksDBOperUpToOld).
OPERUP_OLD = timedelta(days=3)
NOT_USING_DAYS = 60


def licence_delta(reg: int | None, used: int | None) -> int | None:
    """«Разница между используемыми лицензиями и регом»: ``reg − used`` (None if either is unknown)."""
    if reg is None or used is None:
        return None
    return reg - used


def involvement(users_with_queries: int, reg: int | None) -> float | None:
    """«Процент реальной вовлечённости»: users with DB queries this month × 100 / workplaces in the key.

    Can exceed 100 %. None when the reg count is unknown or zero.
    """
    if not reg:
        return None
    return users_with_queries * 100.0 / reg


def involvement_level(value: float | None) -> str:
    """Colour of an involvement value: ``crit`` (< 60 or empty), ``warn`` (60–80), ``ok`` (≥ 80)."""
    if value is None or value < INVOLVEMENT_LOW:
        return "crit"
    if value < INVOLVEMENT_GOOD:
        return "warn"
    return "ok"


def activity(
    db_requests: int | None = 0,
    docs: int | None = 0,
    free_docs: int | None = 0,
    saved: int | None = 0,
    printed: int | None = 0,
    kassist: int | None = 0,
    services: int | None = 0,
) -> int:
    """«Активность»: all user actions summed — DB requests (searches, links, sections), opened documents
    (licensed and free), exports (save), prints, kAssist requests and services used; MTD when fed
    month-to-date counters. The same sum the alert KodeksUserActivityIsLow checks."""
    return sum(v or 0 for v in (db_requests, docs, free_docs, saved, printed, kassist, services))


def doc_or_service(searches: int | None, docs: int | None, services: int | None) -> int:
    """«Doc or Service»: searches + opened documents + service uses."""
    return (searches or 0) + (docs or 0) + (services or 0)


def billing_docs(docs: int | None, services: int | None) -> int:
    """«billingDocs» of a user: opened documents + services used (MTD)."""
    return (docs or 0) + (services or 0)


def not_using_share(not_using: int, total_users: int) -> float | None:
    """«% не пользуются»: not_using / total_users × 100 (can exceed 100; None when total is 0)."""
    if total_users <= 0:
        return None
    return not_using * 100.0 / total_users


def not_using_count(last_logins: Iterable[datetime | None], now: datetime, days: int = NOT_USING_DAYS) -> int:
    """Accounts whose last login is ``days`` or more ago (an account never seen logging in counts)."""
    limit = now - timedelta(days=days)
    return sum(1 for t in last_logins if t is None or t <= limit)


def billing_used_percent(limit: int | None, remaining: int | None) -> float | None:
    """Online «% исп.»: (limit − remaining) / limit × 100; None when there is no limit."""
    if not limit or remaining is None:
        return None
    return (limit - remaining) * 100.0 / limit


def month_change(current: float | None, previous: float | None) -> float | None:
    """Month-over-month change in %: (cur − prev) / prev × 100; prev 0 and cur > 0 → +inf; no data → None."""
    if current is None or previous is None:
        return None
    if previous == 0:
        return float("inf") if current > 0 else None
    return (current - previous) * 100.0 / previous


def availability(down_seconds: float, window_seconds: float) -> float | None:
    """Availability in % over a window from the time spent down in it (clamped to 0…100)."""
    if window_seconds <= 0:
        return None
    return max(0.0, min(100.0, 100.0 * (1.0 - down_seconds / window_seconds)))


def overlap_seconds(
    intervals: Iterable[tuple[datetime, datetime | None]], start: datetime, end: datetime
) -> float:
    """Seconds of ``[start, end)`` covered by the union of intervals (an open one lasts until ``end``)."""
    spans = sorted((max(a, start), min(b or end, end)) for a, b in intervals)
    total = 0.0
    cur_a: datetime | None = None
    cur_b: datetime | None = None
    for a, b in spans:
        if b <= a:
            continue
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return total


def merge_intervals(
    intervals: Iterable[tuple[datetime, datetime | None]], until: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of intervals as sorted disjoint spans (an open interval lasts until ``until``)."""
    return _merge_sorted(sorted((a, b or until) for a, b in intervals))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` (aware) as integer microseconds since the epoch: exact, unlike ``timestamp()``."""
    return (moment - _EPOCH) // _MICROSECOND


def merge_micros(intervals: Iterable[tuple[int, int | None]], until: int) -> list[tuple[int, int]]:
    """`merge_intervals` on integer microseconds (an open interval, ``None``, lasts until ``until``)."""
    return _merge_sorted(sorted((a, until if b is None else b) for a, b in intervals))


def _merge_sorted(spans: list[tuple[_T, _T]]) -> list[tuple[_T, _T]]:
    """Sorted (start, end) spans merged where they overlap or touch; empty ones dropped."""
    merged: list[tuple[_T, _T]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def rolling_availability_micros(
    spans: list[tuple[int, int]], points: Sequence[int], window: int, since: int | None = None
) -> list[float | None]:
    """The values of `rolling_availability` on integer microseconds, for the dashboards' hot loop.

    ``spans`` are merged (`merge_micros`), ``points`` ascending. The trailing windows' ends and starts
    both move forward, so the down time before each is found by two pointers walking the spans once
    (1,000 installations × 120 points × 2 charts is 240,000 values per «Доступность серверов» page);
    the arithmetic is exact in integers and divided once, so the result is what `availability` gives
    for the same seconds.
    """
    out: list[float | None] = []
    if not spans:
        # No down time: 100 % wherever the window is not empty (``availability(0, span)``).
        for t in points:
            start = t - window
            if since is not None and since > start:
                start = since
            out.append(100.0 if t > start else None)
        return out
    starts = [a for a, _ in spans]
    ends = [b for _, b in spans]
    cumulative = [0]
    for a, b in spans:
        cumulative.append(cumulative[-1] + b - a)
    n = len(spans)
    j = 0  # spans starting at or before the point
    i = 0  # spans starting at or before the window's start
    for t in points:
        start = t - window
        if since is not None and since > start:
            start = since
        if t <= start:
            out.append(None)
            continue
        while j < n and starts[j] <= t:
            j += 1
        while i < n and starts[i] <= start:
            i += 1
        # Down time before t minus down time before the window's start (min() inlined: hot loop).
        down = 0
        if j:
            end = ends[j - 1]
            down = cumulative[j - 1] + (end if end < t else t) - starts[j - 1]
        if i:
            end = ends[i - 1]
            down -= cumulative[i - 1] + (end if end < start else start) - starts[i - 1]
        if not down:
            out.append(100.0)
            continue
        value = 100.0 * (1.0 - (down / 1e6) / ((t - start) / 1e6))
        out.append(0.0 if value < 0.0 else 100.0 if value > 100.0 else value)
    return out


def rolling_availability(
    intervals: list[tuple[datetime, datetime | None]],
    points: Iterable[datetime],
    window: timedelta = timedelta(days=30),
    since: datetime | None = None,
) -> list[tuple[datetime, float | None]]:
    """Availability over the trailing ``window`` at each of ``points`` (spec §3.11: "now vs 30 days ago").

    ``since`` (monitoring start) shortens the window of early points so that the days before
    monitoring do not count as available. The intervals are merged once; the points are then answered
    by `rolling_availability_micros` in one pass.
    """
    times = list(points)
    if not times:
        return []
    ordered = sorted(set(times))
    spans = merge_micros(
        ((micros(a), None if b is None else micros(b)) for a, b in intervals), micros(ordered[-1])
    )
    values = rolling_availability_micros(
        spans, [micros(t) for t in ordered], window // _MICROSECOND, None if since is None else micros(since)
    )
    at = dict(zip(ordered, values, strict=True))
    return [(t, at[t]) for t in times]


def age_seconds(updated: datetime | None, now: datetime) -> float | None:
    """OperUp file age: now − last update."""
    if updated is None:
        return None
    return (now - updated).total_seconds()


def sum_fields(rows: Iterable[Mapping[str, int | None]], field: str) -> int:
    return sum(r.get(field) or 0 for r in rows)


@lru_cache(maxsize=8192)
def _month_of(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.year * 12 + moment.month


def month_to_date(
    points: Iterable[tuple[int, float]], opening: float = 0.0
) -> list[tuple[int, float | None]]:
    """Running sum of per-point increments that restarts at the first point of each calendar month (UTC).

    ``points`` are ``(epoch seconds, increment)`` in time order; ``opening`` is what the month had before
    the first point (the counter does not start at zero in the middle of a month).
    """
    out: list[tuple[int, float | None]] = []
    total = opening
    month: int | None = None
    for ts, value in points:
        key = _month_of(ts)
        if month is not None and key != month:
            total = 0.0
        month = key
        total += value
        out.append((ts, total))
    return out


def card_filled(full_name: str | None, email: str | None, phone: str | None, position: str | None) -> bool:
    """A user card counts as filled when it has the name, a contact (e-mail or phone) and the position.

    The original does not document the rule (spec §3.10 #16); this one is what СПП requests need."""
    return bool(full_name and full_name.strip() and (email or phone) and position and position.strip())


def percent(part: int, whole: int) -> float | None:
    return part * 100.0 / whole if whole else None


def month_start_epoch(ts: int) -> int:
    """Epoch seconds of 00:00 UTC on the 1st of the month that ``ts`` falls into."""
    moment = datetime.fromtimestamp(ts, UTC)
    return int(moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
