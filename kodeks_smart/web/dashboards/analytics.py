"""«Kodeks аналитика» (spec §3.2): how the installations are used — licences, searches, documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from kodeks_smart.store.ingest_models import SysinfoSearch, SysinfoSession, SysinfoUsageHour, SysinfoUser
from kodeks_smart.web.dashboards import formulas
from kodeks_smart.web.dashboards.framework import (
    MAX_SERIES,
    Chart,
    Panel,
    Series,
    Table,
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
    point_months,
    ranked,
    rollups_for,
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
    used, reg = used_and_seats(view, targets, domain_clause(domain, SysinfoSession), rollups=rollups)
    used_series = [Series(host_of(i), pts) for i, pts in used.items() if i in names]
    reg_series = [Series(host_of(i), pts) for i, pts in reg.items() if i in names]
    delta_series = []
    for inst, pts in used.items():
        if inst not in names or inst not in reg:
            continue
        seats_at = dict(reg[inst])
        last_seats: float | None = None
        delta: list[tuple[int, float | None]] = []
        for ts, n in pts:
            last_seats = seats_at.get(ts, last_seats)
            delta.append((ts, None if last_seats is None else last_seats - n))
        delta_series.append(Series(host_of(inst), delta))

    s = SysinfoSearch
    point = bucket(s.occurred_at, view)
    empty_rows = view.db.execute(
        select(s.installation_id, point, func.count())
        .where(
            view.tenant.scope.condition(s),
            view.in_range(s.occurred_at),
            targets.narrow(s),
            s.result == "empty",
            domain_clause(domain, s),
        )
        .group_by(s.installation_id, point)
    )
    empty = points_by(((i, ts, n) for i, ts, n in empty_rows if i in names), host_of)

    sums = {
        "db-requests": ("db_requests",),
        "docs": ("docs",),
        "saved": ("saved",),
        "doc-or-service": ("searches", "docs", "services"),
        "printed": ("printed",),
        "kassist": ("kassist",),
    }
    by_domain = domain_clause(domain, SysinfoUsageHour)
    opening = usage_before(view, targets, sums, by_domain, rollups=rollups)
    # With the rollups, rank the series from per-month sums first and read the points of the shown ones
    # only (a chart shows MAX_SERIES of 1,000 installations); filtered views read every series.
    ranks: dict[str, dict[int, float]] | None = None
    if rollups:
        ranks = {}
        for name, inst_months in point_months(view, targets, sums).items():
            stat: dict[int, float] = {}
            for inst, months in inst_months.items():
                if inst not in names:
                    continue
                if name == "kassist":
                    value: float | None = sum(total for total, _ in months)
                else:
                    value = month_to_date_stat(months, opening[name].get(inst, 0.0), "max")
                if value is None:
                    ranks = None
                    break
                stat[inst] = value
            if ranks is None:
                break
            ranks[name] = stat
    shown = (
        None if ranks is None else {i for stat in ranks.values() for i in ranked(stat, host_of)[:MAX_SERIES]}
    )
    usage = usage_points(view, targets, sums, by_domain, rollups=rollups, only=shown)

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
    not_using_rows = []
    for inst, logins in per_inst.items():
        t = names[inst]
        n = formulas.not_using_count(logins, view.now)
        not_using_rows.append(
            {
                "host": t.host,
                "client": t.client,
                "manager": t.manager,
                "users": len(logins),
                "not_using": n,
                "share": formulas.not_using_share(n, len(logins)),
            }
        )

    return [
        chart("used", "Используемые лицензии", used_series, kind="area", legend=("min", "max", "last")),
        chart(
            "delta",
            "Разница между используемыми лицензиями и регом",
            delta_series,
            legend=("min", "max", "last"),
            description="Число мест в рег-файле минус занятые места.",
        ),
        chart(
            "empty-searches",
            "Количество неудачных поисков",
            empty,
            kind="bar",
            legend=("mean", "last", "max", "sum"),
            description="Сумма по всем пользователям поисков, которые ничего не нашли,"
            " за каждую точку графика.",
        ),
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
        chart("seats", "Количество лицензий на инсталляции", reg_series, kind="step", legend=("max", "last")),
    ]
