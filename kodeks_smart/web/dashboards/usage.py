"""Queries shared by the usage dashboards («Kodeks аналитика», «Для менеджеров»).

Everything is grouped in SQL by installation and chart point (`framework.bucket`), so a page reads one
row per installation and point, not the raw per-user hourly rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true, tuple_

from kodeks_smart.store.ingest_models import (
    SysinfoReportRow,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.web.dashboards.framework import MAX_SERIES, Filter, Series, Targets, View, bucket, points_by

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


def usage_points(
    view: View, targets: Targets, values: dict[str, Any], *where: ColumnElement[bool]
) -> dict[str, dict[int, list[tuple[int, float]]]]:
    """Sums of usage expressions per installation and chart point, grouped in SQL:
    {name: {installation: [(epoch s, sum), …] in time order}}."""
    u = SysinfoUsageHour
    point = bucket(u.hour, view)
    names = list(values)
    stmt = (
        select(u.installation_id, point, *(func.sum(values[n]) for n in names))
        .where(view.tenant.scope.condition(u), view.in_range(u.hour), targets.narrow(u), *where)
        .group_by(u.installation_id, point)
        .order_by(u.installation_id, point)
    )
    out: dict[str, dict[int, list[tuple[int, float]]]] = {n: defaultdict(list) for n in names}
    columns = [out[n] for n in names]
    for row in view.db.execute(stmt):
        inst = row[0]
        if inst is None:
            continue
        ts = int(row[1])
        for k, series in enumerate(columns):
            series[inst].append((ts, float(row[2 + k] or 0)))
    return out


def usage_before(
    view: View, targets: Targets, values: dict[str, Any], *where: ColumnElement[bool]
) -> dict[str, dict[int, float]]:
    """Sums of the expressions from the start of the range's first month to the range start (the
    month-to-date opening): {name: {installation: sum}}."""
    u = SysinfoUsageHour
    names = list(values)
    out: dict[str, dict[int, float]] = {n: {} for n in names}
    month_start = view.time.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if month_start >= view.time.start:
        return out
    stmt = (
        select(u.installation_id, *(func.sum(values[n]) for n in names))
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


def used_licences(
    view: View, targets: Targets, *where: ColumnElement[bool]
) -> dict[int, list[tuple[int, float]]]:
    """Occupied seats per installation: sessions in each report, the maximum per chart point."""
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
    stmt = select(per_report.c.inst, point, func.max(per_report.c.used)).group_by(per_report.c.inst, point)
    out: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for inst, ts, used in view.db.execute(stmt):
        if inst is not None:
            out[inst].append((int(ts), float(used)))
    for pts in out.values():
        pts.sort()
    return out


def seats(view: View, targets: Targets) -> dict[int, list[tuple[int, float]]]:
    """Seats in the reg file per installation and chart point (the last report's value)."""
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


#: How far before the range `latest_reports` looks for an installation's newest report.
REPORT_LOOKBACK = timedelta(days=45)


def latest_reports(view: View, targets: Targets) -> dict[int, SysinfoReportRow]:
    """The newest report of each installation up to the end of the range (at most `REPORT_LOOKBACK`
    before its start: an installation silent for longer has no current parameters)."""
    r = SysinfoReportRow
    since = min(view.time.start, view.time.end - REPORT_LOOKBACK)
    newest = (
        select(r.client_id, r.installation_id, func.max(r.created_at).label("at"))
        .where(
            view.tenant.scope.condition(r),
            r.created_at >= since,
            r.created_at < view.time.end,
            targets.narrow(r),
        )
        .group_by(r.client_id, r.installation_id)
        .subquery()
    )
    stmt = (
        select(r)
        .join(
            newest,
            and_(
                newest.c.client_id == r.client_id,
                newest.c.at == r.created_at,
                newest.c.installation_id == r.installation_id,
            ),
        )
        .where(view.tenant.scope.condition(r))
    )
    return {row.installation_id: row for row in view.db.scalars(stmt) if row.installation_id is not None}


def top_user_series(
    view: View,
    targets: Targets,
    values: dict[str, Any],
    *where: ColumnElement[bool],
    limit: int = MAX_SERIES,
) -> dict[str, tuple[list[Series], int]]:
    """Per-user series of several usage expressions (each summed per chart point), each for the ``limit``
    users with the highest hourly peak; returns {name: (series, users with data)}.

    Two queries whatever the number of expressions: the peaks of every user, then the points of the
    users that made any of the tops."""
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
    wanted = sorted({pair for pairs in tops.values() for pair in pairs})
    if not wanted:
        return {n: ([], 0) for n in names}
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
    return out
