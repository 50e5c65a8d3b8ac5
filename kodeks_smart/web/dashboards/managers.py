"""«Для менеджеров» (spec §3.10): demand, involvement and problems of all installations at once."""

from __future__ import annotations

import heapq
import math
import operator
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    String,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)

from kodeks_smart.store.ingest_models import (
    SysinfoDatabase,
    SysinfoOperUpFile,
    SysinfoOperUpLatest,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.store.usage_rollup_models import UsageFirstRequest
from kodeks_smart.store.user_rollup_models import UserUsageDay, UserUsageMonth
from kodeks_smart.web.dashboards import formulas
from kodeks_smart.web.dashboards import usage as usage_module
from kodeks_smart.web.dashboards.analytics import top_chart
from kodeks_smart.web.dashboards.concurrent import build_concurrently
from kodeks_smart.web.dashboards.framework import (
    MAX_SERIES,
    Chart,
    Panel,
    Series,
    Table,
    Targets,
    View,
    bucket,
    dashboard,
    days_until,
    epoch_seconds,
    fmt_duration,
    ids_in,
    points_by,
)
from kodeks_smart.web.dashboards.newest import newest_report_values
from kodeks_smart.web.dashboards.usage import (
    REPORT_LOOKBACK,
    UNDEFINED_DOMAIN,
    TopChart,
    domain_clause,
    domain_filter,
    login_clause,
    month_sums_and_last,
    month_to_date,
    ranked,
    rollups_for,
    seat_stats,
    top_user_series,
    usage_before,
    usage_points,
    used_and_seats,
    used_licences,
)
from kodeks_smart.web.tables import Column

NO_SEATS_CODE, NO_SEATS_ALT, NO_SEATS_REASON = 2008, 4106, "no-seats"
#: What the page reads of each installation's newest report (`newest_report_values`: rows, not objects).
REPORT_FIELDS = (SysinfoReportRow.seats, SysinfoReportRow.regnum, SysinfoReportRow.upload_id)
ACTIVITY_FIELDS = ("db_requests", "docs", "free_docs", "saved", "printed", "kassist", "services")


def _pct(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


CLIENT_COLUMNS = [
    Column("client", "Клиент"),
    Column("expires_in", "Окончание", fmt=fmt_duration),
    Column("involvement", "Вовлеч. %", fmt=_pct, align="right"),
    Column("activity", "Активность", align="right"),
    Column("seats", "Кол-во", align="right"),
    Column("regnum", "Номер рега"),
    Column("manager", "Менеджер"),
    Column("host", "Адрес"),
]
EMPTY_COLUMNS = [
    Column("time", "Time"),
    Column("host", "host"),
    Column("manager", "manager"),
    Column("login", "name"),
    Column("query", "query"),
    Column("type", "searchtype"),
    Column("catalog", "Каталог"),
]
REFUSAL_COLUMNS = [
    Column("day", "День"),
    Column("client", "Клиент"),
    Column("login", "Логин"),
    Column("count", "Количество за день", align="right"),
]
NOT_USING_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("not_using", "не пользуются", align="right"),
    Column("users", "Всего пользователей", align="right"),
    Column("share", "% не пользуются", fmt=lambda v: f"{v:.0f}", align="right"),
]
ZERO_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("login", "Логин"),
    Column("full_name", "ФИО"),
    Column("domain", "domain"),
    Column("last_login_at", "Последний вход"),
]
CARD_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("logged_in", "Заходили", align="right"),
    Column("filled", "Карточка заполнена", align="right"),
    Column("share", "%", fmt=lambda v: f"{v:.0f}", align="right"),
]


# -- per-user usage from the rollups ----------------------------------------------------------------

DAY = 86400
#: The per-user charts: {name: (the counters each point sums, the peak column users are ranked by)}.
USER_CHARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "billing": (("docs", "services"), "peak_billing"),
    "requests": (("db_requests",), "peak_db_requests"),
    "saved": (("saved",), "peak_saved"),
    "printed": (("printed",), "peak_printed"),
}
UserWhere = Callable[[Any], list[ColumnElement[bool]]]


def raw_user_values() -> dict[str, Any]:
    """The per-user chart expressions on the raw hourly rows (`usage.top_user_series`)."""
    h = SysinfoUsageHour
    return {name: _row_sum(h, fields) for name, (fields, _) in USER_CHARTS.items()}


def _row_sum(model: Any, fields: tuple[str, ...]) -> Any:
    """SQL: the sum of a raw usage row's counters (NULL counts as 0)."""
    expr: Any = func.coalesce(getattr(model, fields[0]), 0)
    for name in fields[1:]:
        expr = expr + func.coalesce(getattr(model, name), 0)
    return expr


def _rows(view: View, stmt: Any) -> Sequence[Any]:
    """All rows of a column-only ``stmt``, run on the session's connection (Core), not through the ORM:
    the ORM's per-row step adds about a third to the fetch of plain columns (20,000 first-request rows
    of 1,000 installations: 25 ms instead of 18). Same transaction, same rows and types; the statements
    carry their tenant condition themselves. Fetched in one call: iterating a Core result fetches row
    by row (58,000 calls of the cursor per page)."""
    return view.db.connection().execute(stmt).all()


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _month_after(moment: datetime) -> datetime:
    """The start of the UTC month after the one ``moment`` is in."""
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=32)).replace(day=1)


def _open_end(view: View, targets: Targets) -> bool:
    """Whether no usage row of the chosen installations lies at or after the range end: then a day or
    month row reaching past the end holds exactly the range's part of it (the usual «last N days»)."""
    u = SysinfoUsageHour
    stmt = select(u.id).where(view.tenant.scope.condition(u), targets.narrow(u), u.hour >= view.time.end)
    return view.db.execute(stmt.limit(1)).first() is None


def user_usage_parts(
    view: View,
    targets: Targets,
    columns: Sequence[str],
    where: UserWhere,
    *,
    per_day: bool,
    only: Sequence[tuple[int, str]] | None = None,
    open_end: bool | None = None,
) -> Any:
    """A subquery of (inst, login, at, *columns) rows that together hold the usage hours of the range,
    each hour exactly once: the per-user monthly rows of the whole UTC months in it (not with
    ``per_day``: charts need days), the daily rows of the other whole UTC days, the raw hourly rows of
    the partial days at the edges. ``columns`` are counters (summed) or peaks (`USER_CHARTS`).

    When no usage lies after the range end (`_open_end`; ``open_end`` when the caller knows it already)
    the range is read as if it ran to the end of its last month: the same rows, fewer of them."""
    start, end = view.time.start, view.time.end
    if open_end is None:
        open_end = _open_end(view, targets)
    reach = _month_after(end) if open_end else end
    lo, hi = math.ceil(start.timestamp()), math.ceil(reach.timestamp())
    day_lo, day_hi = -(-lo // DAY) * DAY, hi - hi % DAY
    raw: list[tuple[datetime, datetime]] = [(start, end)]
    days: list[tuple[int, int]] = []
    months: list[str] = []
    if day_lo < day_hi:
        raw = [(start, min(end, _utc(day_lo))), (_utc(day_hi), end)]
        days = [(day_lo, day_hi)]
        if not per_day:
            m_lo = _month_after(_utc(day_lo - 1))
            m_hi = _utc(day_hi).replace(day=1)
            if m_lo < m_hi:
                days = [(day_lo, int(m_lo.timestamp())), (int(m_hi.timestamp()), day_hi)]
                m = m_lo
                while m < m_hi:
                    months.append(f"{m:%Y-%m}")
                    m = _month_after(m)
    parts: list[Any] = []

    def add(model: Any, at: Any, values: list[Any], *cond: ColumnElement[bool]) -> None:
        # One narrowing per table: the chosen clients, or only the wanted pairs' (see `usage.narrow_to`).
        narrowed = targets.narrow(model) if only is None else _only(targets, model, only)
        parts.append(
            select(
                model.installation_id.label("inst"),
                model.login.label("login"),
                cast(at, BigInteger).label("at"),
                *(cast(v, BigInteger).label(c) for v, c in zip(values, columns, strict=True)),
            ).where(
                view.tenant.scope.condition(model),
                narrowed,
                model.installation_id.is_not(None),
                *where(model),
                *cond,
            )
        )

    u = SysinfoUsageHour
    peaks = {peak: fields for fields, peak in USER_CHARTS.values()}
    raw_values = [_row_sum(u, peaks.get(c, (c,))) for c in columns]
    for a, b in raw:
        if a < b:
            add(u, epoch_seconds(u.hour, view), raw_values, u.hour >= a, u.hour < b)
    d = UserUsageDay
    for a_s, b_s in days:
        if a_s < b_s:
            add(d, d.at, [getattr(d, c) for c in columns], d.at >= a_s, d.at < b_s)
    if months:
        mo = UserUsageMonth
        add(mo, literal(0), [getattr(mo, c) for c in columns], mo.month.in_(months))
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


class _MonthStarts(dict[int, int]):
    """{epoch s: the start of its UTC month}, computed once per chart point."""

    def __missing__(self, ts: int) -> int:
        self[ts] = start = formulas.month_start_epoch(ts)
        return start


class _Dates(dict[int, date]):
    """{the epoch s of a UTC day's start: its date}, computed once per day (a refusal row per user and
    day: 13,000 at 93 days)."""

    def __missing__(self, key: int) -> date:
        self[key] = day = datetime.fromtimestamp(key, UTC).date()
        return day


def _only(
    targets: Targets, model: Any, pairs: Sequence[tuple[int, str]], column: Any = None
) -> ColumnElement[bool]:
    """Rows of those of these (installation, login or ``column``) pairs whose installation is chosen,
    narrowed to their clients first (the (client_id, time) index then reads only their clients' rows).
    Instead of `Targets.narrow`, not with it (see `usage.narrow_to`)."""
    by_id = targets.by_id
    chosen = [(inst, key) for inst, key in pairs if inst in by_id]
    clients = sorted({by_id[inst].client_id for inst, _ in chosen})
    second = model.login if column is None else column
    if not chosen:
        return false()
    return ids_in(model.client_id, clients) & tuple_(model.installation_id, second).in_(chosen)


def _operup_newest(
    view: View, targets: Targets, points_from: Callable[[datetime], Any], names: dict[int, Any]
) -> dict[tuple[int, str], tuple[int, float]]:
    """{(installation, path): (its newest point, the age there)} from the (inst, path, point, age) rows
    of ``points_from(start)`` (OperUp files grouped per point, from ``start`` to the range end).

    The newest report time of each file first, then only the points from the oldest of those files'
    newest points on: each file's newest point with all its rows, usually the last day instead of the
    whole range. That start replaces the range's own (a second lower bound next to it let SQLite seek by
    the range start and filter a month of rows). The newest times come from ``sysinfo_operup_latest`` (a
    row per file) when no file has a row at or after the range end (the usual «last N days»): then a
    file's newest row in the range is its newest row; otherwise from a maximum over the range's rows."""
    o = SysinfoOperUpFile
    lt = SysinfoOperUpLatest
    start, end = view.time.start, view.time.end
    latest_where = (view.tenant.scope.condition(lt), targets.narrow(lt))
    ahead = view.db.execute(select(lt.id).where(*latest_where, lt.report_at >= end).limit(1)).first()
    files: Any
    if ahead is None:
        files = select(lt.installation_id, epoch_seconds(lt.report_at, view)).where(
            *latest_where, lt.report_at >= start
        )
    else:
        files = (
            points_from(start)
            .with_only_columns(o.installation_id, epoch_seconds(func.max(o.report_at), view))
            .group_by(None)
            .group_by(o.installation_id, o.path)
        )
    newest_at = [int(at) for inst, at in _rows(view, files) if inst in names and at is not None]
    if not newest_at:
        return {}
    step = view.time.step
    # The oldest of the files' newest points starts here: chart points and `newest_at` are both whole UTC
    # epoch seconds, so a minute of slack is plenty (a whole point of slack read twice the rows: 130 ms on
    # SQLite with hourly reports). Older points partly read lose to each file's newest below.
    since = _utc(min(newest_at) // step * step - 60)
    newest: dict[tuple[int, str], tuple[int, float]] = {}
    for inst, path, ts, days in _rows(view, points_from(max(start, since))):
        seen = newest.get((inst, path))
        if inst in names and (seen is None or ts > seen[0]):
            newest[(inst, path)] = (ts, float(days or 0))
    return newest


def top_users_from_rollups(
    view: View, targets: Targets, where: UserWhere, limit: int = MAX_SERIES
) -> tuple[dict[str, tuple[list[Series], int]], set[tuple[int, str]]]:
    """`usage.top_user_series` of the `USER_CHARTS` read from the per-user rollups: the same ranking (by
    the hourly peak), series and «users with usage in the range»."""
    names = list(USER_CHARTS)
    peak_columns = [USER_CHARTS[n][1] for n in names]
    open_end = _open_end(view, targets)  # once for both reads of the rollups
    part = user_usage_parts(view, targets, peak_columns, where, per_day=False, open_end=open_end)
    peaks = _rows(
        view,
        select(part.c.inst, part.c.login, *(func.max(part.c[c]) for c in peak_columns)).group_by(
            part.c.inst, part.c.login
        ),
    )
    if not peaks:
        return {n: ([], 0) for n in names}, set()
    # One column per peak (transposed in C), then per chart only the users with a positive peak.
    insts, logins, *columns = zip(*peaks, strict=True)
    tops: dict[str, list[tuple[int, str]]] = {}
    totals: dict[str, int] = {}
    for n, column in zip(names, columns, strict=True):
        # (−peak, inst, login) tuples compared in C; the `limit` smallest are `sorted(having)[:limit]`.
        having = [
            (-v, i, x) for v, i, x in zip(column, insts, logins, strict=True) if v is not None and v > 0
        ]
        tops[n] = [(inst, login) for _, inst, login in heapq.nsmallest(limit, having)]
        totals[n] = len(having)
    active = set(zip(insts, logins, strict=True))
    wanted = sorted({pair for pairs in tops.values() for pair in pairs})
    if not wanted:
        return {n: ([], 0) for n in names}, active
    by_target = targets.by_id
    # The rows of each user once (not a pass over all rows per chart), taken in (inst, login) order: the
    # order the grouped query returns them in, which names that compare equal keep.
    by_pair: dict[tuple[int, str], list[Any]] = {}
    for r in _user_points(view, targets, where, wanted, open_end):
        by_pair.setdefault((r[0], r[1]), []).append(r)
    out: dict[str, tuple[list[Series], int]] = {}
    for k, n in enumerate(names):
        picked = [
            (pair, r[2], r[3 + k])
            for pair in sorted(tops[n])
            if pair[0] in by_target
            for r in by_pair.get(pair, ())
        ]
        out[n] = (points_by(picked, lambda key: f"{by_target[key[0]].host}: {key[1]}"), totals[n])
    return out, active


def _user_points(
    view: View, targets: Targets, where: UserWhere, wanted: list[tuple[int, str]], open_end: bool
) -> list[Any]:
    """(inst, login, point, one sum per `USER_CHARTS` name) of the wanted users: from the daily rollup
    when a point holds whole UTC days, else from the raw hours (a few users). ``open_end``: `_open_end`."""
    step = view.time.step
    if step % DAY:
        h = SysinfoUsageHour
        point = bucket(h.hour, view)
        values = raw_user_values()
        stmt: Any = (
            select(h.installation_id, h.login, point, *(func.sum(values[n]) for n in USER_CHARTS))
            .where(
                view.tenant.scope.condition(h),
                view.in_range(h.hour),
                _only(targets, h, wanted),
                h.installation_id.is_not(None),
                *where(h),
            )
            .group_by(h.installation_id, h.login, point)
        )
        return list(_rows(view, stmt))
    counters = sorted({c for fields, _ in USER_CHARTS.values() for c in fields})
    part = user_usage_parts(view, targets, counters, where, per_day=True, only=wanted, open_end=open_end)
    point = (part.c.at // step) * step
    sums = []
    for fields, _ in USER_CHARTS.values():
        expr: Any = func.sum(part.c[fields[0]])
        for c in fields[1:]:
            expr = expr + func.sum(part.c[c])
        sums.append(expr)
    stmt = select(part.c.inst, part.c.login, point, *sums).group_by(part.c.inst, part.c.login, point)
    return list(_rows(view, stmt))


REFUSED_CHART: tuple[str, dict[str, Any]] = (
    "Количество пользователей, не сумевших подключиться",
    {"kind": "bar", "legend": ("sum", "max")},
)
ACTIVITY_CHART: tuple[str, dict[str, Any]] = (
    "Активность пользователей в текущем месяце",
    {
        "log": True,
        "legend": ("last",),
        "rank_by": "last",
        "bands": [(0, formulas.ACTIVITY_LOW, "crit"), (formulas.ACTIVITY_LOW, 1e9, "ok")],
    },
)
INVOLVEMENT_CHART: tuple[str, dict[str, Any]] = (
    "Процент реальной вовлечённости в текущем месяце",
    {
        "unit": "%",
        "legend": ("max", "last"),
        "rank_by": "last",
        "bands": [(0, 60, "crit"), (60, 80, "warn"), (80, 150, "ok"), (150, 1e6, "crit")],
    },
)
USED_CHART: tuple[str, dict[str, Any]] = (
    "Максимальное число занятых лицензий на инсталляции",
    {"legend": ("min", "max", "last")},
)


def _first_requests(view: View, targets: Targets, where: UserWhere, rollups: bool) -> dict[int, list[float]]:
    """{installation: the epoch seconds of each user's first DB request of a month, sorted}, for the
    months from the range's first one to its end."""
    names = targets.by_id
    h = SysinfoUsageHour
    first_month = view.time.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if rollups:
        f = UsageFirstRequest
        first_rows: Any = _rows(  # (not the login: 20,000 rows at 93 days)
            view,
            select(f.installation_id, f.first_at).where(
                view.tenant.scope.condition(f),
                targets.narrow(f),
                f.month >= f"{first_month:%Y-%m}",
                f.first_at < math.ceil(view.time.end.timestamp()),
            ),
        )
    else:
        first_rows = (
            (inst, first.timestamp() if first is not None else None)
            for inst, _login, first in view.db.execute(
                select(h.installation_id, h.login, func.min(h.hour))
                .where(
                    view.tenant.scope.condition(h),
                    h.hour >= first_month,
                    h.hour < view.time.end,
                    targets.narrow(h),
                    h.db_requests > 0,
                    *where(h),
                )
                .group_by(h.installation_id, h.login, func.substr(cast(h.hour, String), 1, 7))
            )
        )
    firsts: dict[int, list[float]] = {}
    for inst, first in first_rows:
        if inst in names and first is not None:
            firsts.setdefault(inst, []).append(first)  # epoch s; int or float compare alike
    for starts in firsts.values():
        starts.sort()
    return firsts


def _by_name(name: str, spec: tuple[str, dict[str, Any]], series: list[Series]) -> Chart:
    """A chart of all its series, in name order (`Chart` ranks and cuts them itself)."""
    title, options = spec
    return Chart(name, title, series=sorted(series, key=lambda x: x.name.casefold()), **options)


def _usage_charts(
    view: View,
    targets: Targets,
    where: UserWhere,
    rollups: bool,
    reports: dict[int, Row[Any]],
    firsts: dict[int, list[float]],
) -> list[Chart]:
    """«Активность пользователей в текущем месяце» (month-to-date activity per installation) and «Процент
    реальной вовлечённости…» (users whose first request of the month lies before each activity point's
    end × 100 / seats of the newest report).

    With the rollups the installations are ranked first (`usage.month_sums_and_last`: activity by its last
    month's sum, involvement at each installation's last point) and only the points of the shown ones are
    read: the same series, order and «hidden» count as building all of them."""
    names = targets.by_id
    sums: dict[str, tuple[str, ...]] = {"activity": ACTIVITY_FIELDS}
    h = SysinfoUsageHour
    opening = usage_before(view, targets, sums, *where(h), rollups=rollups)["activity"]
    step = view.time.step
    month_of = _MonthStarts()
    share = formulas.involvement

    def host_of(inst: int) -> str:
        return names[inst].host

    def seats_of(inst: int) -> int | None:
        report = reports.get(inst)
        return report.seats if report is not None and report.seats else None

    def activity(inst: int, pts: list[tuple[int, float]]) -> Series:
        return Series(host_of(inst), month_to_date(pts, opening.get(inst, 0.0)))

    def involvement(inst: int, stamps: list[int], seats: int) -> Series:
        starts = firsts.get(inst, [])
        # Users whose first request of the month lies in [month start, point end): one comprehension per
        # installation (68,000 points at 30 days).
        pts: list[tuple[int, float | None]] = [
            (ts, share(bisect_left(starts, ts + step) - bisect_left(starts, month_of[ts]), seats))
            for ts in stamps
        ]
        return Series(host_of(inst), pts)

    if not rollups:
        usage = usage_points(view, targets, sums, *where(h), rollups=rollups)["activity"]
        shown = [i for i in usage if i in names]
        return [
            _by_name("activity", ACTIVITY_CHART, [activity(i, usage[i]) for i in shown]),
            _by_name(
                "involvement",
                INVOLVEMENT_CHART,
                [involvement(i, [ts for ts, _ in usage[i]], s) for i in shown if (s := seats_of(i))],
            ),
        ]
    act_rank, inv_rank = _usage_ranks(view, targets, sums, opening, seats_of, involvement)
    top_act, top_inv = ranked(act_rank, host_of)[:MAX_SERIES], ranked(inv_rank, host_of)[:MAX_SERIES]
    pick = {"activity": {*top_act, *top_inv}}
    usage = usage_points(view, targets, sums, rollups=True, pick=pick)["activity"]

    def inv_series(inst: int) -> Series:
        return involvement(inst, [ts for ts, _ in usage.get(inst, [])], seats_of(inst) or 0)

    charts: list[Chart] = []
    for name, spec, rank, top, make in (
        ("activity", ACTIVITY_CHART, act_rank, top_act, lambda i: activity(i, usage.get(i, []))),
        ("involvement", INVOLVEMENT_CHART, inv_rank, top_inv, inv_series),
    ):
        if len(rank) <= MAX_SERIES:
            charts.append(_by_name(name, spec, [make(i) for i in sorted(rank)]))
        else:
            title, options = spec
            charts.append(TopChart(name, title, series=[make(i) for i in top], total=len(rank), **options))
    return charts


def _usage_ranks(
    view: View,
    targets: Targets,
    sums: dict[str, tuple[str, ...]],
    opening: dict[int, float],
    seats_of: Callable[[int], int | None],
    involvement: Callable[[int, list[int], int], Series],
) -> tuple[dict[int, float], dict[int, float]]:
    """({installation: its activity chart's last value}, {installation: its involvement chart's last
    value}) from the rollups' last-month sums and last points (`usage.month_sums_and_last`): the stats
    `Chart` ranks those series by («last»: the running sum of the last month, plus the opening when it is the
    series' only month; the share at the last point)."""
    names = targets.by_id
    last_month, earlier, last = month_sums_and_last(view, targets, sums)
    act = {
        inst: total if inst in earlier else total + opening.get(inst, 0.0)
        for inst, total in last_month["activity"].items()
        if inst in names
    }
    inv: dict[int, float] = {}
    for inst, ts in last.items():
        if inst in names and (seats := seats_of(inst)):
            inv[inst] = involvement(inst, [ts], seats).points[-1][1] or 0.0
    return act, inv


def _used_chart(view: View, targets: Targets, domain: Any, logins: Any, rollups: bool) -> Chart:
    """«Максимальное число занятых лицензий на инсталляции»: occupied seats per installation and point.
    With the rollups and more installations than shown, ranked by their largest occupied seats over the
    range (`usage.seat_stats`, the stat the chart ranks by) and the points read for the shown ones only."""
    names = targets.by_id

    def host_of(inst: int) -> str:
        return names[inst].host

    if rollups:
        used_max = {i: v[0] for i, v in seat_stats(view, targets).items() if i in names and v[0] is not None}
        if len(used_max) > MAX_SERIES:
            top = ranked(used_max, host_of)[:MAX_SERIES]
            used, _ = used_and_seats(view, targets, rollups=True, only=top)
            title, options = USED_CHART
            series = [Series(host_of(i), used.get(i, [])) for i in top]
            return TopChart("max-used", title, series=series, total=len(used_max), **options)
    s = SysinfoSession
    used_all = used_licences(
        view, targets, domain_clause(domain, s), login_clause(logins, s.login), rollups=rollups
    )
    return _by_name(
        "max-used", USED_CHART, [Series(host_of(i), p) for i, p in used_all.items() if i in names]
    )


def _refusals(view: View, targets: Targets, where: UserWhere) -> tuple[Chart, list[dict[str, Any]]]:
    """«Количество пользователей, не сумевших подключиться» (distinct users refused per installation and
    point) and the table of refusals for lack of seats per user and UTC day, from one grouping of the
    range's refusals by installation, user and grain: the point when it divides a day, else the day (every
    chart step divides a day or is whole days). Two scans before (a ranked chart and the table): 49 ms of
    the page at 93 days."""
    names = targets.by_id
    r = SysinfoRefusal
    step = view.time.step
    grain = step if DAY % step == 0 else DAY
    at = bucket(r.occurred_at, view, grain)
    no_seats = or_(r.code == NO_SEATS_CODE, r.alt_code == NO_SEATS_ALT, r.reason == NO_SEATS_REASON)
    rows = _rows(
        view,
        select(r.installation_id, r.login, at, func.sum(case((no_seats, 1), else_=0)))
        .where(view.tenant.scope.condition(r), view.in_range(r.occurred_at), targets.narrow(r), *where(r))
        .group_by(r.installation_id, r.login, at),
    )
    rows = [row for row in rows if row[0] in names]
    if not rows:
        return top_chart("refused", {}, lambda i: [], lambda i: names[i].host, REFUSED_CHART), []
    # Column-wise and counted in C (13,000 rows at 93 days): a row is one user in one grain.
    insts, logins, stamps, counts = zip(*rows, strict=True)
    stamps = tuple(map(int, stamps))
    points_of = stamps if grain == step else tuple(ts // step * step for ts in stamps)
    users = Counter(zip(insts, points_of, strict=True))  # (inst, point): distinct users (logins never NULL)
    days: dict[tuple[int, str, int], int]  # (inst, login, day): refusals for lack of seats
    if grain == DAY:  # one row per key already
        days = {
            (inst, login, ts): int(n)
            for inst, login, ts, n in zip(insts, logins, stamps, counts, strict=True)
            if n
        }
    else:
        days = {}
        for inst, login, ts, n in zip(insts, logins, stamps, counts, strict=True):
            if n:
                day_key = (inst, login, ts - ts % DAY)
                days[day_key] = days.get(day_key, 0) + int(n)
    points: dict[int, list[tuple[int, float | None]]] = {}
    for (inst, ts), n in sorted(users.items()):
        points.setdefault(inst, []).append((ts, float(n)))
    peaks = {inst: max(n for _, n in pts if n is not None) for inst, pts in points.items()}
    chart = top_chart("refused", peaks, lambda i: points[i], lambda i: names[i].host, REFUSED_CHART)
    date_of = _Dates()
    table = [
        {"day": date_of[ts], "client": names[inst].client, "login": login, "count": n}
        for (inst, login, ts), n in days.items()
    ]
    return chart, table


def _client_rows(
    view: View, targets: Targets, where: UserWhere, reports: dict[int, Row[Any]]
) -> list[dict[str, Any]]:
    """«Параметры клиентов»: expiry, involvement and activity of the month so far, seats, regnum."""
    u = SysinfoUser
    month_rows = view.db.execute(
        select(
            u.installation_id,
            func.sum(
                reduce(operator.add, [func.coalesce(getattr(u, f"month_{f}"), 0) for f in ACTIVITY_FIELDS])
            ),
            func.sum(case((u.month_db_requests > 0, 1), else_=0)),
        )
        .where(
            view.tenant.scope.condition(u),
            targets.narrow(u),
            u.month_from == view.time.month_start().date(),
            *where(u),
        )
        .group_by(u.installation_id)
    )
    month: dict[int, tuple[int, int]] = {
        inst: (int(act or 0), int(inv or 0)) for inst, act, inv in month_rows if inst is not None
    }
    d = SysinfoDatabase
    expiry = dict(
        view.db.execute(
            select(d.installation_id, func.min(d.license_to))
            .where(
                view.tenant.scope.condition(d),
                ids_in(d.upload_id, [r.upload_id for r in reports.values()]),  # literals: 1,000 ids
                d.license_to.is_not(None),
            )
            .group_by(d.installation_id)
        ).all()
    )
    rows = []
    for t in targets.chosen:
        report = reports.get(t.id)
        act, involved = month.get(t.id, (0, 0))
        seats = report.seats if report else None
        rows.append(
            {
                "client": t.client,
                "expires_in": days_until(expiry.get(t.id), view.now),
                "involvement": formulas.involvement(involved, seats),
                "activity": act if report else None,
                "seats": seats,
                "regnum": report.regnum if report else None,
                "manager": t.manager,
                "host": t.host,
                "status": formulas.involvement_level(formulas.involvement(involved, seats)),
            }
        )
    return rows


def _empty_searches(view: View, targets: Targets, where: UserWhere) -> list[dict[str, Any]]:
    """«Детектирование что ничего не нашлось»: the newest 5,000 empty searches of the range (columns only:
    no ORM objects for 5,000 rows)."""
    names = targets.by_id
    s = SysinfoSearch
    return [
        {
            "time": at,
            "host": names[inst].host,
            "manager": names[inst].manager,
            "login": login,
            "query": query,
            "type": kind,
            "catalog": catalog,
        }
        for inst, at, login, query, kind, catalog in _rows(
            view,
            select(s.installation_id, s.occurred_at, s.login, s.query, s.type, s.catalog)
            .where(
                view.tenant.scope.condition(s),
                view.in_range(s.occurred_at),
                targets.narrow(s),
                s.result == "empty",
                *where(s),
            )
            .order_by(s.occurred_at.desc())
            .limit(5000),
        )
        if inst in names
    ]


def _operup_series(view: View, targets: Targets) -> tuple[list[Series], int | None]:
    """«Сколько дней назад обновились файлы в OperUp»: the age of each OperUp file at each report (report
    time − file time, in days, computed in SQL), and how many files there are when only the
    `MAX_SERIES` with the largest last age are shown (else None)."""
    names = targets.by_id
    o = SysinfoOperUpFile
    point = bucket(o.report_at, view)
    # The newest times first, then one conversion per point (stored times sort as they compare).
    age = (
        epoch_seconds(func.max(o.report_at), view) - epoch_seconds(func.max(o.modified_at), view)
    ) / 86400.0

    def operup_points(narrowed: ColumnElement[bool], start: datetime = view.time.start) -> Any:
        return (
            select(
                o.installation_id.label("inst"), o.path.label("path"), point.label("point"), age.label("age")
            )
            .where(
                view.tenant.scope.condition(o),
                o.report_at >= start,
                o.report_at < view.time.end,
                narrowed,
                o.modified_at.is_not(None),
            )
            .group_by(o.installation_id, o.path, point)
        )

    per_point = operup_points(targets.narrow(o))

    def operup_name(key: tuple[int, str]) -> str:
        return f"{names[key[0]].host}: {key[1]}"

    # A file per installation and catalog: thousands of series, of which the chart shows the MAX_SERIES
    # with the largest last age. Rank them by their newest point first (one row per file, the newest point
    # picked in SQL) and read and build only the shown series (building 2,000 series to drop 1,950 was a
    # fifth of the page; fetching their 60,000 points another).
    total: int | None = None
    if rollups_for():
        newest = _operup_newest(view, targets, lambda start: operup_points(targets.narrow(o), start), names)
        rows_stmt = per_point
        if len(newest) > MAX_SERIES:
            order = sorted(newest, key=lambda k: (-newest[k][1], operup_name(k).casefold()))
            wanted = order[:MAX_SERIES]
            rows_stmt = operup_points(_only(targets, o, wanted, column=o.path))
            total = len(newest)
        rows = [(inst, path, ts, days) for inst, path, ts, days in _rows(view, rows_stmt) if inst in names]
    else:
        rows = [(inst, path, ts, days) for inst, path, ts, days in _rows(view, per_point) if inst in names]
    series = points_by((((inst, path), ts, days) for inst, path, ts, days in rows), operup_name)
    if total is not None:  # in the order the chart shows them (largest last age first)
        series.sort(key=lambda x: -(x.stats()["last"] or 0))
    return series, total


def _accounts(view: View, targets: Targets, where: UserWhere) -> tuple[Sequence[Any], set[tuple[int, str]]]:
    """The accounts of the chosen installations (columns, not ORM objects: 5,000 accounts of 1,000
    installations cost 0.1 s as objects) and the (installation, login) pairs with DB requests in the last
    60 days: the last request of each month (rollup) or the raw hours."""
    u = SysinfoUser
    users = _rows(
        view,
        select(
            u.installation_id,
            u.login,
            u.first_seen_at,
            u.last_login_at,
            u.full_name,
            u.domain,
            u.email,
            u.phone,
            u.position,
        ).where(view.tenant.scope.condition(u), targets.narrow(u), *where(u)),
    )
    since_60 = view.now - timedelta(days=60)
    queried_rows: Any
    if rollups_for():  # no user filter applies to this list's query
        f = UsageFirstRequest
        queried_rows = _rows(
            view,
            select(f.installation_id, f.login)
            .where(
                view.tenant.scope.condition(f),
                f.month >= f"{since_60:%Y-%m}",
                targets.narrow(f),
                f.last_at >= math.ceil(since_60.timestamp()),
            )
            .distinct(),
        )
    else:
        h = SysinfoUsageHour
        queried_rows = _rows(
            view,
            select(h.installation_id, h.login)
            .where(
                view.tenant.scope.condition(h),
                h.hour >= since_60,
                targets.narrow(h),
                h.db_requests > 0,
            )
            .group_by(h.installation_id, h.login),
        )
    return users, {(inst, login) for inst, login in queried_rows}


@dashboard(
    "managers",
    "Для менеджеров",
    default_range="30d",
    # Month-based KPIs over longer ranges mislead (spec §3.10), and per-user panels over a year are slow.
    max_range=timedelta(days=93),
    description="Как пользователи работают со всеми инсталляциями сразу: вовлечённость, активность,"
    " пустые поиски, отказы в подключении, обновление OperUp. Месячные показатели считаются с начала"
    " месяца, в котором заканчивается период.",
)
def managers(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    domain = domain_filter(view, targets)
    logins = view.multi(
        "login",
        "Логин пользователя",
        view.db.scalars(
            select(SysinfoUser.login)
            .where(view.tenant.scope.condition(SysinfoUser), targets.where_client(SysinfoUser.client_id))
            .distinct()
        ),
    )
    names = targets.by_id
    now = view.now

    def users_where(model: Any) -> list[ColumnElement[bool]]:
        return [domain_clause(domain, model), login_clause(logins, model.login)]

    # The independent parts of the page, longest first, built at the same time (`build_concurrently`):
    # each gets the view to read through — the page's own or a helper thread's — and returns plain data.
    rollups = rollups_for(domain, logins)

    def clients_and_usage(v: View) -> tuple[list[dict[str, Any]], list[Chart]]:
        # «Параметры клиентов»: month-to-date counters of the users the newest report lists (as the alerts
        # do); then month-to-date activity and involvement per installation, from the hourly usage (its
        # rollups without user filters). Involvement over time: distinct users with DB requests since the
        # month start, × 100 / seats, at each activity point.
        reports = newest_report_values(v, targets, REPORT_LOOKBACK, *REPORT_FIELDS)
        client_rows = _client_rows(v, targets, users_where, reports)
        firsts = _first_requests(v, targets, users_where, rollups)
        return client_rows, _usage_charts(v, targets, users_where, rollups, reports, firsts)

    def per_user_charts(v: View) -> tuple[dict[str, tuple[list[Series], int]], set[tuple[int, str]]]:
        h = SysinfoUsageHour
        if usage_module.ROLLUPS:  # login and domain are per user: the per-user rollups serve those filters
            return top_users_from_rollups(v, targets, users_where)
        return top_user_series(v, targets, raw_user_values(), *users_where(h))

    def refusals(v: View) -> tuple[Chart, list[dict[str, Any]]]:
        return _refusals(v, targets, users_where)

    def operup(v: View) -> tuple[list[Series], int | None]:
        return _operup_series(v, targets)

    def used(v: View) -> Chart:
        return _used_chart(v, targets, domain, logins, rollups)

    def empty_searches(v: View) -> list[dict[str, Any]]:
        return _empty_searches(v, targets, users_where)

    def accounts(v: View) -> tuple[Sequence[Any], set[tuple[int, str]]]:
        return _accounts(v, targets, users_where)

    (
        (client_rows, usage_charts),
        (per_user, active_in_range),
        (refused, refusal_rows),
        (operup_series, operup_total),
        used_chart,
        empty_rows,
        (users, queried_60),
    ) = build_concurrently(
        view, [clients_and_usage, per_user_charts, refusals, operup, used, empty_searches, accounts]
    )
    billing, billing_total = per_user["billing"]
    requests, requests_total = per_user["requests"]
    saved, saved_total = per_user["saved"]
    printed, printed_total = per_user["printed"]

    # Users: not using in the period, no DB requests in 60 days, filled cards.
    per_inst: dict[int, list[Any]] = {}
    for user in users:
        if user.installation_id in names:
            per_inst.setdefault(user.installation_id, []).append(user)
    not_using_rows, zero_rows, card_rows = [], [], []
    seen_before = now - timedelta(days=60)  # (once, not per account)
    start, end = view.time.start, view.time.end
    for inst, members in per_inst.items():
        t = names[inst]
        idle = sum(1 for m in members if (inst, m.login) not in active_in_range)
        not_using_rows.append(
            {
                "host": t.host,
                "client": t.client,
                "not_using": idle,
                "users": len(members),
                "share": formulas.not_using_share(idle, len(members)),
            }
        )
        for m in members:
            if (inst, m.login) not in queried_60 and m.first_seen_at <= seen_before:
                zero_rows.append(
                    {
                        "host": t.host,
                        "client": t.client,
                        "login": m.login,
                        "full_name": m.full_name,
                        "domain": m.domain or UNDEFINED_DOMAIN,
                        "last_login_at": m.last_login_at,
                    }
                )
        logged = [m for m in members if m.last_login_at is not None and start <= m.last_login_at < end]
        filled = sum(1 for m in logged if formulas.card_filled(m.full_name, m.email, m.phone, m.position))
        card_rows.append(
            {
                "host": t.host,
                "client": t.client,
                "logged_in": len(logged),
                "filled": filled,
                "share": formulas.percent(filled, len(logged)),
            }
        )

    def note(total: int) -> str:
        return f"По пользователям; показаны до 50 с наибольшими значениями из {total}."

    return [
        Table(
            "clients",
            "Параметры клиентов",
            columns=CLIENT_COLUMNS,
            rows=client_rows,
            sort="involvement",
            description="Вовлечённость: пользователи с запросами к БД в этом месяце × 100 / мест в ключе"
            " (красный < 60, жёлтый 60–80, зелёный ≥ 80). Активность: сумма действий пользователей с начала"
            " месяца (порог 20).",
        ),
        Table(
            "empty",
            "Детектирование что ничего не нашлось",
            columns=EMPTY_COLUMNS,
            rows=empty_rows,
            sort="time",
            desc=True,
        ),
        TopChart(
            "operup",
            "Сколько дней назад обновились файлы в OperUp",
            total=operup_total,
            series=operup_series,
            unit="дн.",
            legend=("last", "max"),
            rank_by="last",
            bands=[(0, 3, "ok"), (3, 10_000, "crit")],
        ),
        *usage_charts,
        used_chart,
        Chart(
            "billing-docs",
            "billingDocs",
            series=billing,
            kind="bar",
            legend=("max", "sum"),
            description=note(billing_total),
        ),
        Chart(
            "requests",
            "Запросы к БД за час",
            series=requests,
            kind="bar",
            legend=("max",),
            description=note(requests_total),
        ),
        Table(
            "refusals",
            "Пользователи, не сумевшие подключиться из-за занятости всех лицензий, по дням",
            columns=REFUSAL_COLUMNS,
            rows=refusal_rows,
            sort="day",
            desc=True,
        ),
        refused,
        Chart(
            "printed",
            "Print statistic",
            series=printed,
            kind="bar",
            legend=("max", "sum"),
            description=note(printed_total),
        ),
        Chart(
            "saved",
            "Сохранено документов",
            series=saved,
            kind="bar",
            legend=("max",),
            description=note(saved_total),
        ),
        Table(
            "not-using",
            "Не пользуются в выбранном периоде",
            columns=NOT_USING_COLUMNS,
            rows=not_using_rows,
            sort="share",
            desc=True,
        ),
        Table("zero-60", "Ноль запросов к БД за 60 дней", columns=ZERO_COLUMNS, rows=zero_rows, sort="host"),
        Table(
            "cards",
            "Процент заполненных карточек заходивших в систему пользователей",
            columns=CARD_COLUMNS,
            rows=card_rows,
            sort="share",
        ),
    ]
