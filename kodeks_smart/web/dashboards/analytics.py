"""«Kodeks аналитика» (spec §3.2): how the installations are used — licences, searches, documents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from kodeks_smart.store.ingest_models import SysinfoSearch, SysinfoSession, SysinfoUsageHour, SysinfoUser
from kodeks_smart.web.dashboards import formulas
from kodeks_smart.web.dashboards.framework import (
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
    domain_clause,
    domain_filter,
    seats,
    total,
    usage_before,
    usage_points,
    used_licences,
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

    used = used_licences(view, targets, domain_clause(domain, SysinfoSession))
    reg = seats(view, targets)
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
        "db-requests": total("db_requests"),
        "docs": total("docs"),
        "saved": total("saved"),
        "doc-or-service": total("searches", "docs", "services"),
        "printed": total("printed"),
        "kassist": total("kassist"),
    }
    usage = usage_points(view, targets, sums, domain_clause(domain, SysinfoUsageHour))
    opening = usage_before(view, targets, sums, domain_clause(domain, SysinfoUsageHour))

    def mtd(name: str) -> list[Series]:
        before = opening[name]
        return [
            Series(host_of(inst), formulas.month_to_date(pts, before.get(inst, 0.0)))
            for inst, pts in usage[name].items()
            if inst in names
        ]

    kassist = [Series(host_of(i), list(pts)) for i, pts in usage["kassist"].items() if i in names]

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

    def chart(name: str, title: str, series: list[Series], **kw: object) -> Chart:
        return Chart(name, title, series=sorted(series, key=lambda x: x.name.casefold()), **kw)  # type: ignore[arg-type]

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
        chart(
            "kassist",
            "Запросы kAssist",
            kassist,
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
        chart("db-requests", "Запросы к БД", mtd("db-requests"), legend=("max", "last"), description=MTD),
        chart("docs", "Учитываемые документы", mtd("docs"), legend=("max", "last"), description=MTD),
        chart("saved", "Сохранение документов", mtd("saved"), legend=("max", "last"), description=MTD),
        chart(
            "doc-or-service",
            "Doc or Service",
            mtd("doc-or-service"),
            legend=("max", "last"),
            description="Поиски + открытые документы + обращения к сервисам. " + MTD,
        ),
        chart("printed", "Печать документов", mtd("printed"), legend=("max", "last"), description=MTD),
        chart("seats", "Количество лицензий на инсталляции", reg_series, kind="step", legend=("max", "last")),
    ]
