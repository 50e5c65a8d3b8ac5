"""«Kodeks аналитика» (spec §3.2): how the installations are used — licences, searches, documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from kodeks_smart.store.ingest_models import SysinfoSearch, SysinfoSession, SysinfoUsageHour, SysinfoUser
from kodeks_smart.web.dashboards import formulas
from kodeks_smart.web.dashboards.concurrent import build_concurrently
from kodeks_smart.web.dashboards.framework import (
    MAX_SERIES,
    Chart,
    Filter,
    Panel,
    Series,
    Table,
    Targets,
    View,
    bucket,
    dashboard,
    points_by,
)
from kodeks_smart.web.dashboards.usage import (
    TopChart,
    domain_clause,
    domain_filter,
    month_to_date,
    month_to_date_stat,
    narrow_to,
    point_months,
    ranked,
    rollups_for,
    seat_stats,
    usage_before,
    usage_points,
    used_and_seats,
)
from kodeks_smart.web.tables import Column

MTD = "С начала месяца; в 1-е число счётчик обнуляется."
NOT_USING_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
    Column("users", "Пользователей", align="right"),
    Column("not_using", "Не пользуются 60 дней", align="right"),
    Column("share", "% не пользуются", fmt=lambda v: f"{v:.0f}", align="right"),
]


#: The seat charts: name → (title, chart options). All are ranked by their series' max (`Chart.rank_by`).
SEAT_CHARTS: dict[str, tuple[str, dict[str, Any]]] = {
    "used": ("Используемые лицензии", {"kind": "area", "legend": ("min", "max", "last")}),
    "delta": (
        "Разница между используемыми лицензиями и регом",
        {"legend": ("min", "max", "last"), "description": "Число мест в рег-файле минус занятые места."},
    ),
    "seats": ("Количество лицензий на инсталляции", {"kind": "step", "legend": ("max", "last")}),
}
EMPTY_SEARCHES = (
    "Количество неудачных поисков",
    {
        "kind": "bar",
        "legend": ("mean", "last", "max", "sum"),
        "description": "Сумма по всем пользователям поисков, которые ничего не нашли,"
        " за каждую точку графика.",
    },
)
Points = list[tuple[int, float]]


def by_name(name: str, series: list[Series], spec: tuple[str, dict[str, Any]] | None = None) -> Chart:
    """A seat chart (or ``spec``) given all its series, in name order (`Chart` ranks and cuts them)."""
    title, options = spec or SEAT_CHARTS[name]
    return Chart(name, title, series=sorted(series, key=lambda x: x.name.casefold()), **options)


def licence_delta(used: Points, reg: Points) -> list[tuple[int, float | None]]:
    """«Разница…»: at each point with occupied seats, the reg seats of that point (or of the last earlier
    point with both) minus the occupied ones; None until a point has reg seats."""
    seats_at = dict(reg)
    last_seats: float | None = None
    delta: list[tuple[int, float | None]] = []
    for ts, n in used:
        last_seats = seats_at.get(ts, last_seats)
        delta.append((ts, None if last_seats is None else last_seats - n))
    return delta


def top_chart(
    name: str,
    stats: dict[int, float],
    points: Callable[[int], Any],
    host_of: Callable[[int], str],
    spec: tuple[str, dict[str, Any]],
    total: int | None = None,
) -> Chart:
    """A chart of ``total`` installations (default: those with a stat): all of them in name order, or the
    `MAX_SERIES` with the largest stat in rank order — what `Chart` keeps of all of them. With more than
    `MAX_SERIES`, ``stats`` may leave out installations known to rank below those."""
    total = len(stats) if total is None else total
    if total <= MAX_SERIES:
        return by_name(name, [Series(host_of(i), points(i)) for i in sorted(stats)], spec)
    title, options = spec
    top = [Series(host_of(i), points(i)) for i in ranked(stats, host_of)[:MAX_SERIES]]
    return TopChart(name, title, series=top, total=total, **options)


def ranked_seat_charts(view: View, targets: Targets) -> list[Chart]:
    """«Используемые лицензии», «Разница…» and «Количество лицензий» from the seats rollup, reading the
    points of the shown installations only.

    The used and reg charts rank by each installation's largest value over the range (one aggregate row per
    installation). The delta chart ranks by its largest point, which the points tell; the largest reg seats
    minus the smallest occupied ones bounds it, so the points are read for the installations with the
    largest bounds, and then for any whose bound reaches the 50th exact value, until none can displace it.
    """
    names = targets.by_id

    def host_of(inst: int) -> str:
        return names[inst].host

    stats = {i: v for i, v in seat_stats(view, targets).items() if i in names}
    used_max = {i: v[0] for i, v in stats.items() if v[0] is not None}
    reg_max = {i: v[2] for i, v in stats.items() if v[2] is not None}
    both = [i for i in used_max if i in reg_max]
    # A point's delta ≤ the largest reg seats − the smallest occupied; `Chart` ranks a series without
    # values as 0, hence the floor at 0.
    bound = {i: max(reg_max[i] - (stats[i][1] or 0.0), 0.0) for i in both}
    by_bound = sorted(both, key=lambda i: -bound[i])
    wanted = set(ranked(used_max, host_of)[:MAX_SERIES]) | set(ranked(reg_max, host_of)[:MAX_SERIES])
    candidates = by_bound[:MAX_SERIES]
    used: dict[int, Points] = {}
    reg: dict[int, Points] = {}
    read: set[int] = set()
    delta: dict[int, list[tuple[int, float | None]]] = {}
    peak: dict[int, float] = {}
    while True:
        missing = (wanted | set(candidates)) - read
        if missing:
            more_used, more_reg = used_and_seats(view, targets, rollups=True, only=missing)
            used.update(more_used)
            reg.update(more_reg)
            read |= missing
        for i in candidates:
            if i not in delta:
                delta[i] = licence_delta(used.get(i, []), reg.get(i, []))
                values = [v for _, v in delta[i] if v is not None]
                peak[i] = (max(values) if values else None) or 0.0
        if len(candidates) == len(both):
            break
        threshold = peak[ranked(peak, host_of)[MAX_SERIES - 1]]
        more = [i for i in by_bound if i not in delta and bound[i] >= threshold]
        if not more:
            break
        candidates += more
    return [
        top_chart("used", used_max, lambda i: used.get(i, []), host_of, SEAT_CHARTS["used"]),
        top_chart("delta", peak, lambda i: delta[i], host_of, SEAT_CHARTS["delta"], total=len(both)),
        top_chart("seats", reg_max, lambda i: reg.get(i, []), host_of, SEAT_CHARTS["seats"]),
    ]


def ranked_counts(
    view: View,
    targets: Targets,
    name: str,
    spec: tuple[str, dict[str, Any]],
    model: Any,
    moment: Any,
    count: Any,
    *where: ColumnElement[bool],
    ranked_first: bool,
) -> Chart:
    """A chart of ``count`` (an aggregate) per installation and point of ``model``'s rows at ``moment``,
    ranked by each series' largest point (`Chart`'s default).

    ``ranked_first``: rank the installations by their largest point in SQL (one row each) and read the
    points of the shown ones only; else read every installation's points (`Chart` ranks them)."""
    names = targets.by_id

    def host_of(inst: int) -> str:
        return names[inst].host

    point = bucket(moment, view)

    def per_point(only: list[int] | None = None) -> Any:
        return (
            select(model.installation_id.label("inst"), point.label("at"), count.label("n"))
            .where(
                view.tenant.scope.condition(model),
                view.in_range(moment),
                narrow_to(targets, model, only),
                *where,
            )
            .group_by(model.installation_id, point)
        )

    if not ranked_first:
        rows = view.db.execute(per_point())
        return by_name(name, points_by(((i, t, n) for i, t, n in rows if i in names), host_of), spec)
    counts = per_point().subquery()
    peaks = {
        inst: float(n)
        for inst, n in view.db.execute(select(counts.c.inst, func.max(counts.c.n)).group_by(counts.c.inst))
        if inst in names
    }
    shown = peaks if len(peaks) <= MAX_SERIES else ranked(peaks, host_of)[:MAX_SERIES]
    points: dict[int, list[tuple[int, float | None]]] = defaultdict(list)
    for inst, ts, n in view.db.execute(per_point(sorted(shown)).order_by(point)):
        points[inst].append((int(ts), float(n)))
    return top_chart(name, peaks, lambda i: points[i], host_of, spec)


def empty_searches(view: View, targets: Targets, *where: ColumnElement[bool], ranked_first: bool) -> Chart:
    """«Количество неудачных поисков»: searches that found nothing per installation and point."""
    s = SysinfoSearch
    return ranked_counts(
        view,
        targets,
        "empty-searches",
        EMPTY_SEARCHES,
        s,
        s.occurred_at,
        func.count(),
        s.result == "empty",
        *where,
        ranked_first=ranked_first,
    )


def _not_using_rows(view: View, targets: Targets, domain: Filter) -> list[dict[str, Any]]:
    """«Не пользуются системой в течение 60 дней»: per installation, its accounts and how many of them have
    not logged in or been active for `formulas.NOT_USING_DAYS` days."""
    names = targets.by_id
    u = SysinfoUser
    users = view.db.execute(
        select(u.installation_id, u.last_login_at, u.last_activity_at).where(
            view.tenant.scope.condition(u), targets.narrow(u), domain_clause(domain, u)
        )
    ).all()
    per_inst: dict[int, list[datetime | None]] = {}
    for user_inst, last_login, last_activity in users:
        if user_inst is not None and user_inst in names:
            seen = [x for x in (last_login, last_activity) if x is not None]
            per_inst.setdefault(user_inst, []).append(max(seen) if seen else None)
    rows = []
    for inst, logins in per_inst.items():
        t = names[inst]
        n = formulas.not_using_count(logins, view.now)
        rows.append(
            {
                "host": t.host,
                "client": t.client,
                "manager": t.manager,
                "users": len(logins),
                "not_using": n,
                "share": formulas.not_using_share(n, len(logins)),
            }
        )
    return rows


@dashboard(
    "analytics",
    "Kodeks аналитика",
    default_range="90d",
    description="Главная аналитика инсталляций: лицензии, поиски, запросы, документы. Данные sysinfo приходят"
    " раз в час, задержка до 60 минут.",
)
def analytics(view: View) -> list[Panel]:
    targets = view.targets()
    domain = domain_filter(view, targets)
    names = targets.by_id

    def host_of(inst: int) -> str:
        return names[inst].host

    rollups = rollups_for(domain)
    sums = {
        "db-requests": ("db_requests",),
        "docs": ("docs",),
        "saved": ("saved",),
        "doc-or-service": ("searches", "docs", "services"),
        "printed": ("printed",),
        "kassist": ("kassist",),
    }

    def seats(v: View) -> list[Chart]:
        if rollups:
            return ranked_seat_charts(v, targets)
        used, reg = used_and_seats(v, targets, domain_clause(domain, SysinfoSession))
        delta = {i: licence_delta(pts, reg[i]) for i, pts in used.items() if i in reg}
        return [
            by_name(name, [Series(host_of(i), p) for i, p in points.items() if i in names])
            for name, points in (("used", used), ("delta", delta), ("seats", reg))
        ]

    def empty_panel(v: View) -> Panel:
        return empty_searches(v, targets, domain_clause(domain, SysinfoSearch), ranked_first=rollups)

    def usage_part(
        v: View,
    ) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, float]] | None, dict[str, Any]]:
        by_domain = domain_clause(domain, SysinfoUsageHour)
        opening = usage_before(v, targets, sums, by_domain, rollups=rollups)
        # With the rollups, rank the series from per-month sums first and read the points of the shown
        # ones only (a chart shows MAX_SERIES of 1,000 installations); filtered views read every series.
        ranks: dict[str, dict[int, float]] | None = None
        if rollups:
            months, negative = point_months(v, targets, sums)
            if not any(i in names for i in negative):
                ranks = {}
                for name, inst_months in months.items():
                    before = opening[name]
                    ranks[name] = {
                        inst: sum(totals)
                        if name == "kassist"
                        else month_to_date_stat(totals, before.get(inst, 0.0), "max")
                        for inst, totals in inst_months.items()
                        if inst in names
                    }
        shown = (
            None
            if ranks is None
            else {name: ranked(stat, host_of)[:MAX_SERIES] for name, stat in ranks.items()}
        )
        return opening, ranks, usage_points(v, targets, sums, by_domain, rollups=rollups, pick=shown)

    def not_using(v: View) -> list[dict[str, Any]]:
        return _not_using_rows(v, targets, domain)

    # The independent parts, longest first, built at the same time (`build_concurrently`).
    (opening, ranks, usage), seat_charts, empty, not_using_rows = build_concurrently(
        view, [usage_part, seats, empty_panel, not_using]
    )

    def chart(name: str, title: str, series: list[Series], **kw: object) -> Chart:
        return Chart(name, title, series=sorted(series, key=lambda x: x.name.casefold()), **kw)  # type: ignore[arg-type]

    def series_chart(
        name: str, title: str, make: Callable[[int, list[tuple[int, float]]], Series], **kw: Any
    ) -> Chart:
        points = usage[name]
        if ranks is None or len(ranks[name]) <= MAX_SERIES:
            return chart(name, title, [make(i, pts) for i, pts in points.items() if i in names], **kw)
        order = ranked(ranks[name], host_of)
        top = [make(i, points[i]) for i in order[:MAX_SERIES]]
        return TopChart(name, title, series=top, total=len(order), **kw)

    def mtd(name: str, title: str, **kw: Any) -> Chart:
        before = opening[name]
        return series_chart(
            name,
            title,
            lambda inst, pts: Series(host_of(inst), month_to_date(pts, before.get(inst, 0.0))),
            legend=("max", "last"),
            **kw,
        )

    return [
        *seat_charts[:2],
        empty,
        series_chart(
            "kassist",
            "Запросы kAssist",
            lambda inst, pts: Series(host_of(inst), list(pts)),
            kind="bar",
            legend=("last", "sum"),
            rank_by="sum",
            description="Запросы к БД через kAssist, сумма по всем пользователям за каждую точку графика.",
        ),
        Table(
            "not-using",
            "Не пользуются системой в течение 60 дней",
            columns=NOT_USING_COLUMNS,
            rows=not_using_rows,
            sort="not_using",
            desc=True,
            description=f"Учётные записи, не входившие в систему {formulas.NOT_USING_DAYS} дней и более.",
        ),
        mtd("db-requests", "Запросы к БД", description=MTD),
        mtd("docs", "Учитываемые документы", description=MTD),
        mtd("saved", "Сохранение документов", description=MTD),
        mtd(
            "doc-or-service",
            "Doc or Service",
            description="Поиски + открытые документы + обращения к сервисам. " + MTD,
        ),
        mtd("printed", "Печать документов", description=MTD),
        seat_charts[2],
    ]
