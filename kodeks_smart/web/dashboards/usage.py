"""Queries shared by the usage dashboards («Kodeks аналитика», «Для менеджеров»).

Everything is grouped in SQL by installation and chart point (`framework.bucket`), so a page reads one
row per installation and point, not the raw per-user hourly rows.

Without a user filter («domain», «Логин пользователя») the sums, occupied seats and first requests come
from the rollups (`kodeks_smart.store.usage_rollup_models`, `seats_rollup_models`): whole epoch-aligned
weeks from the weekly rollups when a chart point is whole weeks (the 13M and 1y ranges) or the points do
not matter, whole UTC days around them from the daily ones, the partial days at the range's edges (and
charts with points shorter than a day) from the hourly one / the per-report seats, so the numbers are
exactly those of the raw facts — the raw path below stays for filtered views and is what the
tests compare the rollups with. A user filter needs the per-user rows, so it reads the raw facts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)

from kodeks_smart.store.ingest_models import (
    SysinfoReportRow,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.store.seats_rollup_models import SeatsDayRollup, SeatsWeekRollup
from kodeks_smart.store.usage_rollup_models import (
    WEEK,
    ReportSeats,
    UsageDayRollup,
    UsageHourRollup,
    UsageWeekRollup,
)
from kodeks_smart.web.dashboards.framework import (
    MAX_SERIES,
    Chart,
    Filter,
    Series,
    Targets,
    View,
    bucket,
    ids_in,
    points_by,
)

UNDEFINED_DOMAIN = "НеОпределён"
#: Per-hour counters of sysinfo_usage and their Russian names.
USAGE_FIELDS = ("db_requests", "docs", "free_docs", "saved", "printed", "kassist", "services", "searches")


def domain_filter(view: View, targets: Targets) -> Filter:
    """«domain»: the users' AD groups as sysinfo records them (no group = «НеОпределён»)."""
    stmt = (
        select(SysinfoUser.domain)
        .where(view.tenant.scope.condition(SysinfoUser), targets.where_client(SysinfoUser.client_id))
        .distinct()
    )
    return view.multi("domain", "domain", {d or UNDEFINED_DOMAIN for d in view.db.scalars(stmt)})


def domain_clause(f: Filter, model: Any) -> ColumnElement[bool]:
    """Rows of ``model`` (with client_id and login) whose user is in one of the chosen domains."""
    if not f.active:
        return true()
    named = [d for d in f.selected if d != UNDEFINED_DOMAIN]
    cond: ColumnElement[bool] = SysinfoUser.domain.in_(named)
    if UNDEFINED_DOMAIN in f.selected:
        cond = or_(cond, SysinfoUser.domain.is_(None))
    if model is SysinfoUser:
        return cond
    return exists().where(SysinfoUser.client_id == model.client_id, SysinfoUser.login == model.login, cond)


def login_clause(f: Filter | None, column: Any) -> ColumnElement[bool]:
    if f is None or not f.active:
        return true()
    return column.in_(f.selected)  # type: ignore[no-any-return]


#: Read the rollups where the view allows (the tests switch this off to compare with the raw facts).
ROLLUPS = True
DAY = 86400
HOUR = 3600
#: {chart name: the usage counters it sums}.
Sums = Mapping[str, tuple[str, ...]]


def rollups_for(*filters: Filter | None) -> bool:
    """Whether the rollups can answer: no filter on users is active (they sum all users)."""
    return ROLLUPS and not any(f is not None and f.active for f in filters)


def _epoch(moment: datetime) -> int:
    """The first whole epoch second at or after ``moment``: an hour start (whole seconds) is ≥ moment
    exactly when it is ≥ this."""
    return math.ceil(moment.timestamp())


def _at_range(view: View, model: Any) -> ColumnElement[bool]:
    """``model.at`` (the epoch seconds of its time column) within the range, for the (client_id, at)
    index; the exact comparison on the time column goes with it."""
    return and_(model.at >= math.floor(view.time.start.timestamp()), model.at <= _epoch(view.time.end))


def _ceil(ts: int, unit: int) -> int:
    return -(-ts // unit) * unit


def _rollup_parts(
    view: View,
    targets: Targets,
    fields: Sums,
    start: datetime,
    end: datetime,
    per_point: bool,
    only: Iterable[int] | None = None,
    weeks: bool = True,
) -> Any:
    """A subquery of (installation, at, one sum per name) rows covering hours in [start, end): weekly
    rows for the whole epoch-aligned weeks when a chart point is whole weeks (or, ``per_point`` False
    and ``weeks``, the points do not matter), daily rows for the whole UTC days when a point (or the
    whole span, ``per_point`` False) holds whole days, hourly rows for the rest. ``weeks`` False: the
    caller groups by the month of each row's day, which a week can straddle."""
    lo, hi = _epoch(start), _epoch(end)
    step = view.time.step
    whole_days = not per_point or step % DAY == 0
    whole_weeks = (not per_point and weeks) or step % WEEK == 0
    day_lo, day_hi = _ceil(lo, DAY), hi - hi % DAY
    week_lo, week_hi = _ceil(day_lo, WEEK), day_hi - day_hi % WEEK
    spans: list[tuple[Any, int, int]] = []
    if whole_days and whole_weeks and week_lo < week_hi:
        spans = [
            (UsageHourRollup, lo, day_lo),
            (UsageDayRollup, day_lo, week_lo),
            (UsageWeekRollup, week_lo, week_hi),
            (UsageDayRollup, week_hi, day_hi),
            (UsageHourRollup, day_hi, hi),
        ]
    elif whole_days and day_lo < day_hi:
        spans = [
            (UsageHourRollup, lo, day_lo),
            (UsageDayRollup, day_lo, day_hi),
            (UsageHourRollup, day_hi, hi),
        ]
    else:
        spans = [(UsageHourRollup, lo, hi)]
    parts = []
    for model, a, b in spans:
        if a >= b:
            continue
        sums = [_sum_of(model, f).label(n) for n, f in zip(_names(fields), fields.values(), strict=True)]
        parts.append(
            select(model.installation_id.label("inst"), model.at.label("at"), *sums).where(
                view.tenant.scope.condition(model),
                model.at >= a,
                model.at < b,
                narrow_to(targets, model, only),
            )
        )
    if not parts:  # an empty span: a query that returns no rows
        parts.append(
            select(
                literal(None).label("inst"),
                literal(0).label("at"),
                *(literal(0).label(n) for n in _names(fields)),
            ).where(false())
        )
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def narrow_to(targets: Targets, model: Any, only: Iterable[int] | None) -> ColumnElement[bool]:
    """`Targets.narrow`, or with ``only`` just those of these installations that are chosen, and their
    clients: the (client_id, …) index then reads the rows of the shown installations, not the rows of every
    client. Use it instead of `Targets.narrow`, never with it: a second ``client_id IN (…)`` list on the
    same table makes PostgreSQL square its row estimate and pick a sequential scan over the index
    (0.5 s instead of 30 ms for the rollups of 1,000 installations)."""
    if only is None:
        return targets.narrow(model)
    by_id = targets.by_id
    insts = sorted({i for i in only if i in by_id})
    clients = sorted({by_id[i].client_id for i in insts})
    return and_(ids_in(model.client_id, clients), ids_in(model.installation_id, insts))


def _names(fields: Sums) -> list[str]:
    """SQL-safe labels of the sums (chart names have dashes)."""
    return [f"v{k}" for k in range(len(fields))]


def _sum_of(model: Any, counters: tuple[str, ...]) -> Any:
    expr: Any = getattr(model, counters[0])
    for c in counters[1:]:
        expr = expr + getattr(model, c)
    return expr


def usage_points(
    view: View,
    targets: Targets,
    fields: Sums,
    *where: ColumnElement[bool],
    rollups: bool = False,
    only: Iterable[int] | None = None,
    pick: Mapping[str, Collection[int]] | None = None,
) -> dict[str, dict[int, list[tuple[int, float]]]]:
    """Sums of usage counters per installation and chart point, grouped in SQL:
    {name: {installation: [(epoch s, sum), …] in time order}}.

    ``rollups``: read the rollups (no user filter; ``where`` is then ignored); ``only`` these
    installations (the ranked ones a chart shows); ``pick``: per name, the only installations whose
    points are wanted (each chart shows its own; building every name's points for all of them made
    six times the objects, and the garbage collector's passes over them cost as much as the query)."""
    names = list(fields)
    if pick is not None:
        only = {i for insts in pick.values() for i in insts}
    if rollups:
        part = _rollup_parts(view, targets, fields, view.time.start, view.time.end, True, only)
        step = view.time.step
        point = (part.c.at // step) * step
        stmt = (
            select(part.c.inst, point, *(func.sum(part.c[n]) for n in _names(fields)))
            .group_by(part.c.inst, point)
            .order_by(part.c.inst, point)
        )
    else:
        u = SysinfoUsageHour
        raw_point = bucket(u.hour, view)
        stmt = (
            select(u.installation_id, raw_point, *(func.sum(total(*fields[n])) for n in names))
            .where(view.tenant.scope.condition(u), view.in_range(u.hour), targets.narrow(u), *where)
            .group_by(u.installation_id, raw_point)
            .order_by(u.installation_id, raw_point)
        )
    out: dict[str, dict[int, list[tuple[int, float]]]] = {n: {} for n in names}
    columns = [out[n] for n in names]
    wanted = None if pick is None else [set(pick.get(n, ())) for n in names]
    # Rows come ordered by installation: one list per installation and name, built by comprehensions
    # (a tuple append per row and name was a third of the page's time for 1,000 installations).
    for inst, group in groupby(view.db.execute(stmt).all(), key=itemgetter(0)):
        if inst is None:
            continue
        rows = list(group)
        stamps = [int(r[1]) for r in rows]
        for k, series in enumerate(columns, start=2):
            if wanted is None or inst in wanted[k - 2]:
                series[inst] = list(zip(stamps, [float(r[k] or 0) for r in rows], strict=True))
    return out


def month_to_date(points: list[tuple[int, float]], opening: float = 0.0) -> list[tuple[int, float | None]]:
    """`formulas.month_to_date` (the running sum restarting at each UTC month), for points in time order,
    with one date computation per month instead of one per point (5,000 series × 90 points per page)."""
    out: list[tuple[int, float | None]] = []
    total = opening
    month_end: int | None = None
    for ts, value in points:
        if month_end is None or ts >= month_end:
            if month_end is not None:
                total = 0.0
            start = datetime.fromtimestamp(ts, UTC)
            first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            month_end = int((first + timedelta(days=32)).replace(day=1).timestamp())
        total += value
        out.append((ts, total))
    return out


def point_months(
    view: View, targets: Targets, fields: Sums
) -> tuple[dict[str, dict[int, list[float]]], set[int]]:
    """From the rollups, per name and installation, the sums of the chart points of each UTC month (the
    month of the point's start): ({name: {installation: [sum, …] in month order}}, the installations with a
    negative value of any name in a row).

    A few rows per installation instead of one per point: enough to rank the month-to-date series (whose
    values are these running sums) before reading the points of the few that are shown. The month of a
    point is found by comparing it with the month starts of the range (integers, no date function)."""
    part = _rollup_parts(view, targets, fields, view.time.start, view.time.end, per_point=True)
    index = _month_index(view, part.c.at)
    values = [part.c[n] for n in _names(fields)]
    # One aggregate for the smallest value of any name (a min per name was a fifth of the query): a
    # negative value of another name only sends a series to the exact path, which gives the same numbers.
    least: Any = values[0]
    if len(values) > 1:
        least = (func.least if view.db.get_bind().dialect.name == "postgresql" else func.min)(*values)
    stmt = (
        select(part.c.inst, index, *(func.sum(v) for v in values), func.min(least))
        .group_by(part.c.inst, index)
        .order_by(part.c.inst, index)
    )
    # Plain floats in lists (no tuple per month and name): fewer objects for the garbage collector.
    out: dict[str, dict[int, list[float]]] = {n: defaultdict(list) for n in fields}
    columns = [out[n] for n in fields]
    negative: set[int] = set()
    width = len(values)
    for row in view.db.execute(stmt):
        inst = row[0]
        if inst is None:
            continue
        if (row[2 + width] or 0) < 0:
            negative.add(inst)
        for k, series in enumerate(columns, start=2):
            series[inst].append(float(row[k] or 0))
    return out, negative


def _month_index(view: View, at: Any) -> Any:
    """SQL: the index of the UTC month (0 = the month before the range's first) of the chart point that a
    rollup row at ``at`` (epoch s) falls in: compared with the month starts, no date function."""
    step = view.time.step
    first = view.time.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    bounds: list[int] = []
    month = first.replace(day=1)
    while month < view.time.end:
        month = (month + timedelta(days=32)).replace(day=1)
        bounds.append(int(month.timestamp()))
    # A point starts before month start b exactly when its rows start before b rounded up to a point.
    return case(*((at < _ceil(b, step), k) for k, b in enumerate(bounds)), else_=len(bounds))


def month_sums_and_last(
    view: View, targets: Targets, fields: Sums
) -> tuple[dict[str, dict[int, float]], set[int], dict[int, int]]:
    """From the rollups, what ranks a month-to-date chart by its «last» value (the sum of the chart points
    of its last UTC month with any, plus the opening when that is its only month) and a chart of per-point
    values by the last one: ({name: {installation: the sum of its last month}}, the installations with
    points in an earlier month of the range too, {installation: the start (epoch s) of its last point}).

    Every chart step divides a day or is whole days, so all hours of a UTC day fall in one point's month
    (the month the point starts in, as `_month_index` counts). The rows from the first point of the range
    end's month on are summed per installation (from the daily rollup: a row per installation and day, not
    per hour); of the rows before it only whether an installation has any is asked (from the weekly rollup
    where weeks are whole: a seventh of the rows). Only an installation without points in the end's month
    (stopped reporting) has its earlier rows grouped per month (`_month_sums`). Grouping every row of the
    range by its month was the dearest statement of «Для менеджеров» at 93 days (63 ms of 640)."""
    step = view.time.step
    start, end = view.time.start, view.time.end
    month_start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    split = max(start, datetime.fromtimestamp(_ceil(int(month_start.timestamp()), step), UTC))
    names = _names(fields)
    out: dict[str, dict[int, float]] = {n: {} for n in fields}
    newest: dict[int, int] = {}
    whole_days = DAY % step == 0 or step % DAY == 0
    if split < end:
        part = _rollup_parts(view, targets, fields, split, end, per_point=not whole_days, weeks=False)
        stmt = select(part.c.inst, *(func.sum(part.c[n]) for n in names), func.max(part.c.at))
        for row in view.db.execute(stmt.group_by(part.c.inst)):
            if row[0] is not None:
                for k, n in enumerate(fields, start=1):
                    out[n][row[0]] = float(row[k] or 0)
                newest[row[0]] = int(row[-1])
    earlier: set[int] = set()
    if start < split:
        part = _rollup_parts(view, targets, fields, start, split, per_point=False)
        before = {i for (i,) in view.db.execute(select(part.c.inst).distinct()) if i is not None}
        earlier = before & newest.keys()
        stopped = sorted(before - newest.keys())
        if stopped:
            months, last = _month_sums(view, targets, fields, start, split, stopped)
            for n in fields:
                for inst, sums in months[n].items():
                    out[n][inst] = sums[-1]
            newest.update(last)
            earlier |= {i for i, sums in months[next(iter(fields))].items() if len(sums) > 1}
    if whole_days and step < DAY and newest:
        h = UsageHourRollup
        since = max(min(newest.values()), _epoch(start))
        hours = (
            select(h.installation_id, func.max(h.at))
            .where(view.tenant.scope.condition(h), targets.narrow(h), h.at >= since, h.at < _epoch(end))
            .group_by(h.installation_id)
        )
        for hour_inst, at in view.db.execute(hours):
            if hour_inst in newest and at is not None:
                newest[hour_inst] = max(newest[hour_inst], int(at))
    return out, earlier, {inst: at // step * step for inst, at in newest.items()}


def _month_sums(
    view: View, targets: Targets, fields: Sums, start: datetime, end: datetime, only: list[int]
) -> tuple[dict[str, dict[int, list[float]]], dict[int, int]]:
    """Of these installations, per name the sums of their chart points of each UTC month with any from
    ``start`` to ``end`` (in month order), and the newest rollup row's time (epoch s)."""
    whole_days = DAY % view.time.step == 0 or view.time.step % DAY == 0
    part = _rollup_parts(view, targets, fields, start, end, per_point=not whole_days, only=only, weeks=False)
    index = _month_index(view, part.c.at)
    stmt = (
        select(part.c.inst, index, *(func.sum(part.c[n]) for n in _names(fields)), func.max(part.c.at))
        .group_by(part.c.inst, index)
        .order_by(part.c.inst, index)
    )
    out: dict[str, dict[int, list[float]]] = {n: defaultdict(list) for n in fields}
    columns = [out[n] for n in fields]
    newest: dict[int, int] = {}
    for row in view.db.execute(stmt):
        inst = row[0]
        if inst is None:
            continue
        for k, series in enumerate(columns, start=2):
            series[inst].append(float(row[k] or 0))
        newest[inst] = int(row[-1])  # rows come in month order: the last is the newest
    return out, newest


def month_to_date_stat(months: list[float], opening: float, stat: str) -> float:
    """The ``max`` or ``last`` of `month_to_date` of a series from its per-month sums (of non-negative
    values: else the running sum can go down and only the points tell). The opening goes to the series'
    first month, as `month_to_date` adds it to its first point."""
    first = months[0] + opening
    if stat == "max":
        return max([first, *months[1:]])
    return months[-1] if len(months) > 1 else first


def ranked(stats: dict[int, float], label: Callable[[int], str]) -> list[int]:
    """Installations in the order a chart with more than `MAX_SERIES` series shows them: largest stat
    first, then by name and installation (the order the series were given in)."""
    return sorted(stats, key=lambda i: (-stats[i], label(i).casefold(), i))


@dataclass
class TopChart(Chart):
    """A chart given only the series it shows (ranked in advance, in that order) and the number of series
    there are (`hidden` in the payload counts the others, as `Chart` does when it drops them itself)."""

    #: None: all series were given (`Chart` ranks and cuts them itself).
    total: int | None = None

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        if self.total is not None:
            data["hidden"] = max(0, self.total - len(data["series"]))
        return data


def usage_before(
    view: View, targets: Targets, fields: Sums, *where: ColumnElement[bool], rollups: bool = False
) -> dict[str, dict[int, float]]:
    """Sums of the counters from the start of the range's first month to the range start (the
    month-to-date opening): {name: {installation: sum}}."""
    names = list(fields)
    out: dict[str, dict[int, float]] = {n: {} for n in names}
    month_start = view.time.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if month_start >= view.time.start:
        return out
    if rollups:
        part = _rollup_parts(view, targets, fields, month_start, view.time.start, per_point=False)
        stmt = select(part.c.inst, *(func.sum(part.c[n]) for n in _names(fields))).group_by(part.c.inst)
    else:
        u = SysinfoUsageHour
        stmt = (
            select(u.installation_id, *(func.sum(total(*fields[n])) for n in names))
            .where(
                view.tenant.scope.condition(u),
                u.hour >= month_start,
                u.hour < view.time.start,
                targets.narrow(u),
                *where,
            )
            .group_by(u.installation_id)
        )
    for row in view.db.execute(stmt):
        if row[0] is not None:
            for k, n in enumerate(names):
                out[n][row[0]] = float(row[1 + k] or 0)
    return out


def total(*fields: str) -> Any:
    """SQL: the sum of several usage counters of a row (NULL counts as 0)."""
    u = SysinfoUsageHour
    expr: Any = func.coalesce(getattr(u, fields[0]), 0)
    for f in fields[1:]:
        expr = expr + func.coalesce(getattr(u, f), 0)
    return expr


def _report_seats_max(view: View, targets: Targets, column: Any, condition: ColumnElement[bool]) -> Any:
    """The largest ``column`` of `ReportSeats` per installation and chart point (rows where ``condition``)."""
    rs = ReportSeats
    point = (rs.at // view.time.step) * view.time.step
    return (
        select(rs.installation_id, point, func.max(column))
        .where(
            view.tenant.scope.condition(rs),
            _at_range(view, rs),
            view.in_range(rs.report_at),
            targets.narrow(rs),
            condition,
        )
        .group_by(rs.installation_id, point)
    )


def used_licences(
    view: View, targets: Targets, *where: ColumnElement[bool], rollups: bool = False
) -> dict[int, list[tuple[int, float]]]:
    """Occupied seats per installation: sessions in each report, the maximum per chart point.

    ``rollups``: the sessions counted per report when they were written (`ReportSeats`)."""
    if rollups:
        stmt: Any = _report_seats_max(view, targets, ReportSeats.used, ReportSeats.used > 0)
    else:
        s = SysinfoSession
        per_report = (
            select(s.installation_id.label("inst"), s.report_at.label("at"), func.count().label("used"))
            .where(
                view.tenant.scope.condition(s),
                view.in_range(s.report_at),
                targets.narrow(s),
                *where,
            )
            .group_by(s.installation_id, s.report_at)
            .subquery()
        )
        point = bucket(per_report.c.at, view)
        stmt = select(per_report.c.inst, point, func.max(per_report.c.used)).group_by(
            per_report.c.inst, point
        )
    out: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for inst, ts, used in view.db.execute(stmt):
        if inst is not None:
            out[inst].append((int(ts), float(used)))
    for pts in out.values():
        pts.sort()
    return out


def seats(view: View, targets: Targets, rollups: bool = False) -> dict[int, list[tuple[int, float]]]:
    """Seats in the reg file per installation and chart point (the largest a report gave)."""
    if rollups:
        stmt: Any = _report_seats_max(view, targets, ReportSeats.seats, ReportSeats.seats.is_not(None))
    else:
        r = SysinfoReportRow
        point = bucket(r.created_at, view)
        stmt = (
            select(r.installation_id, point, func.max(r.seats))
            .where(
                view.tenant.scope.condition(r),
                view.in_range(r.created_at),
                targets.narrow(r),
                r.seats.is_not(None),
            )
            .group_by(r.installation_id, point)
        )
    out: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for inst, ts, n in view.db.execute(stmt):
        if inst is not None:
            out[inst].append((int(ts), float(n)))
    for pts in out.values():
        pts.sort()
    return out


def _seat_parts(
    view: View, targets: Targets, only: Iterable[int] | None = None, per_point: bool = True
) -> Any:
    """A subquery of (inst, at, used_max, used_min, seats_max) rows covering the seats of the range.

    When a chart point holds whole UTC days (or the points do not matter, ``per_point`` False), the whole
    days of the range come from the daily rollup (`SeatsDayRollup`: one row per installation and day
    instead of one per report) and only the partial days at its edges from the per-report rows
    (`ReportSeats`); of those days, the whole epoch-aligned weeks come from the weekly rollup
    (`SeatsWeekRollup`) when a point is whole weeks (or ``per_point`` False); otherwise the per-report
    rows give everything. Occupied seats count only from reports that listed sessions, as the raw path
    has it."""
    rs, sd, sw = ReportSeats, SeatsDayRollup, SeatsWeekRollup
    taken = case((rs.used > 0, rs.used))
    # Whole days within the range: from its first day start (a second ≥ start) to its last (≤ end).
    last = math.floor(view.time.end.timestamp())
    day_lo, day_hi = _ceil(_epoch(view.time.start), DAY), last - last % DAY
    step = view.time.step
    whole_days = (not per_point or step % DAY == 0) and day_lo < day_hi
    week_lo, week_hi = _ceil(day_lo, WEEK), day_hi - day_hi % WEEK
    whole_weeks = whole_days and (not per_point or step % WEEK == 0) and week_lo < week_hi

    def per_report(lo: int, hi: int) -> Any:
        """The seat rows with ``at`` in [lo, hi] (only these bounds on ``at``: given a looser one as
        well, SQLite's index range takes that)."""
        return select(
            rs.installation_id.label("inst"),
            rs.at.label("at"),
            taken.label("used_max"),
            taken.label("used_min"),
            rs.seats.label("seats_max"),
        ).where(
            view.tenant.scope.condition(rs),
            rs.at >= lo,
            rs.at <= hi,
            view.in_range(rs.report_at),
            narrow_to(targets, rs, only),
            or_(rs.used > 0, rs.seats.is_not(None)),
        )

    first, last_second = math.floor(view.time.start.timestamp()), _epoch(view.time.end)
    if not whole_days:
        return per_report(first, last_second).subquery()
    # The partial days at the edges as two index ranges: ``at < day_lo OR at >= day_hi`` made the
    # (client_id, at) index read every seat row of the range and filter them (396,000 at 13M: 34 → 3 ms).
    reports = [per_report(first, day_lo - 1), per_report(day_hi, last_second)]

    def folded(model: Any, *span: ColumnElement[bool]) -> Any:
        return select(
            model.installation_id.label("inst"),
            model.at.label("at"),
            model.used_max.label("used_max"),
            model.used_min.label("used_min"),
            model.seats_max.label("seats_max"),
        ).where(
            view.tenant.scope.condition(model),
            narrow_to(targets, model, only),
            *span,
            or_(model.used_max.is_not(None), model.seats_max.is_not(None)),
        )

    if not whole_weeks:
        return union_all(folded(sd, sd.at >= day_lo, sd.at < day_hi), *reports).subquery()
    # The days before and after the weeks as two index ranges, likewise.
    days = [folded(sd, sd.at >= day_lo, sd.at < week_lo), folded(sd, sd.at >= week_hi, sd.at < day_hi)]
    return union_all(folded(sw, sw.at >= week_lo, sw.at < week_hi), *days, *reports).subquery()


def seat_stats(view: View, targets: Targets) -> dict[int, tuple[float | None, float | None, float | None]]:
    """From the rollups, per installation over the range: the largest and the smallest occupied seats (of
    reports listing sessions) and the largest reg seats — what ranks the seat charts (and bounds the
    delta chart's values) before the points of the shown installations are read."""
    part = _seat_parts(view, targets, per_point=False)
    stmt = select(
        part.c.inst, func.max(part.c.used_max), func.min(part.c.used_min), func.max(part.c.seats_max)
    ).group_by(part.c.inst)

    def num(v: Any) -> float | None:
        return None if v is None else float(v)

    return {inst: (num(a), num(b), num(c)) for inst, a, b, c in view.db.execute(stmt) if inst is not None}


def used_and_seats(
    view: View,
    targets: Targets,
    *where: ColumnElement[bool],
    rollups: bool = False,
    only: Iterable[int] | None = None,
) -> tuple[dict[int, list[tuple[int, float]]], dict[int, list[tuple[int, float]]]]:
    """`used_licences` and `seats` together: from the rollups in one pass (``only`` these installations)."""
    if not rollups:
        return used_licences(view, targets, *where), seats(view, targets)
    part = _seat_parts(view, targets, only)
    step = view.time.step
    point: Any = (part.c.at // step) * step
    stmt = (
        select(part.c.inst, point, func.max(part.c.used_max), func.max(part.c.seats_max))
        .group_by(part.c.inst, point)
        .order_by(part.c.inst, point)
    )
    used: dict[int, list[tuple[int, float]]] = {}
    reg: dict[int, list[tuple[int, float]]] = {}
    for inst, group in groupby(view.db.execute(stmt).all(), key=itemgetter(0)):
        if inst is None:
            continue
        rows = list(group)
        taken = [(int(r[1]), float(r[2])) for r in rows if r[2] is not None]
        given = [(int(r[1]), float(r[3])) for r in rows if r[3] is not None]
        if taken:
            used[inst] = taken
        if given:
            reg[inst] = given
    return used, reg


#: How far before the range a page looks for an installation's newest report (`newest.newest_reports`):
#: an installation silent for longer has no current parameters.
REPORT_LOOKBACK = timedelta(days=45)


def top_user_series(
    view: View,
    targets: Targets,
    values: dict[str, Any],
    *where: ColumnElement[bool],
    limit: int = MAX_SERIES,
) -> tuple[dict[str, tuple[list[Series], int]], set[tuple[int, str]]]:
    """Per-user series of several usage expressions (each summed per chart point), each for the ``limit``
    users with the highest hourly peak; returns ({name: (series, users with data)}, the (installation,
    login) pairs with any usage row in the range).

    Two queries whatever the number of expressions: the peaks of every user, then the points of the
    users that made any of the tops. The pairs come with the peaks, so «not using in the period» needs
    no query of its own."""
    u = SysinfoUsageHour
    base = (
        view.tenant.scope.condition(u),
        view.in_range(u.hour),
        targets.narrow(u),
        u.installation_id.is_not(None),
        *where,
    )
    names = list(values)
    peaks = list(
        view.db.execute(
            select(u.installation_id, u.login, *(func.max(values[n]) for n in names))
            .where(*base)
            .group_by(u.installation_id, u.login)
        )
    )
    tops: dict[str, list[tuple[int, str]]] = {}
    totals: dict[str, int] = {}
    for k, n in enumerate(names):
        having = [(row[2 + k] or 0, row[0], row[1]) for row in peaks if (row[2 + k] or 0) > 0]
        having.sort(key=lambda r: (-r[0], r[1], r[2]))
        tops[n] = [(inst, login) for _, inst, login in having[:limit]]
        totals[n] = len(having)
    active = {(row[0], row[1]) for row in peaks}
    wanted = sorted({pair for pairs in tops.values() for pair in pairs})
    if not wanted:
        return {n: ([], 0) for n in names}, active
    point = bucket(u.hour, view)
    stmt = (
        select(u.installation_id, u.login, point, *(func.sum(values[n]) for n in names))
        .where(*base, tuple_(u.installation_id, u.login).in_(wanted))
        .group_by(u.installation_id, u.login, point)
    )
    rows = list(view.db.execute(stmt))
    by_target = targets.by_id
    out: dict[str, tuple[list[Series], int]] = {}
    for k, n in enumerate(names):
        chosen = set(tops[n])
        picked = [
            ((r[0], r[1]), r[2], r[3 + k]) for r in rows if (r[0], r[1]) in chosen and r[0] in by_target
        ]
        out[n] = (points_by(picked, lambda key: f"{by_target[key[0]].host}: {key[1]}"), totals[n])
    return out, active
