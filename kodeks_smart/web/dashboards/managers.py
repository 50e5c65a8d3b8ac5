"""«Для менеджеров» (spec §3.10): demand, involvement and problems of all installations at once."""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, or_, select

from kodeks_smart.store.ingest_models import (
    SysinfoDatabase,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.store.usage_rollup_models import UsageFirstRequest
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
    days_until,
    epoch_seconds,
    fmt_duration,
    points_by,
)
from kodeks_smart.web.dashboards.usage import (
    UNDEFINED_DOMAIN,
    TopChart,
    domain_clause,
    domain_filter,
    latest_reports,
    login_clause,
    month_to_date,
    rollups_for,
    top_user_series,
    usage_before,
    usage_points,
    used_licences,
)
from kodeks_smart.web.tables import Column

NO_SEATS_CODE, NO_SEATS_ALT, NO_SEATS_REASON = 2008, 4106, "no-seats"
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
    month_start = view.time.month_start()

    def users_where(model: Any) -> list[ColumnElement[bool]]:
        return [domain_clause(domain, model), login_clause(logins, model.login)]

    # «Параметры клиентов»: month-to-date counters of the users the newest report lists (as the alerts do).
    reports = latest_reports(view, targets)
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
            u.month_from == month_start.date(),
            *users_where(u),
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
                d.upload_id.in_([r.upload_id for r in reports.values()]),
                d.license_to.is_not(None),
            )
            .group_by(d.installation_id)
        ).all()
    )
    client_rows = []
    for t in targets.chosen:
        report = reports.get(t.id)
        act, involved = month.get(t.id, (0, 0))
        seats = report.seats if report else None
        client_rows.append(
            {
                "client": t.client,
                "expires_in": days_until(expiry.get(t.id), now),
                "involvement": formulas.involvement(involved, seats),
                "activity": act if report else None,
                "seats": seats,
                "regnum": report.regnum if report else None,
                "manager": t.manager,
                "host": t.host,
                "status": formulas.involvement_level(formulas.involvement(involved, seats)),
            }
        )

    # Empty searches (columns only: up to 5,000 rows without building ORM objects).
    s = SysinfoSearch
    empty_rows = [
        {
            "time": at,
            "host": names[inst].host,
            "manager": names[inst].manager,
            "login": login,
            "query": query,
            "type": kind,
            "catalog": catalog,
        }
        for inst, at, login, query, kind, catalog in view.db.execute(
            select(s.installation_id, s.occurred_at, s.login, s.query, s.type, s.catalog)
            .where(
                view.tenant.scope.condition(s),
                view.in_range(s.occurred_at),
                targets.narrow(s),
                s.result == "empty",
                *users_where(s),
            )
            .order_by(s.occurred_at.desc())
            .limit(5000)
        )
        if inst in names
    ]

    # OperUp age at each report: report time − file time, in days, computed in SQL.
    o = SysinfoOperUpFile
    point = bucket(o.report_at, view)
    age = (
        func.max(epoch_seconds(o.report_at, view)) - func.max(epoch_seconds(o.modified_at, view))
    ) / 86400.0
    per_point = (
        select(o.installation_id.label("inst"), o.path.label("path"), point.label("point"), age.label("age"))
        .where(
            view.tenant.scope.condition(o),
            view.in_range(o.report_at),
            targets.narrow(o),
            o.modified_at.is_not(None),
        )
        .group_by(o.installation_id, o.path, point)
    )

    def operup_name(key: tuple[int, str]) -> str:
        return f"{names[key[0]].host}: {key[1]}"

    # A file per installation and catalog: thousands of series, of which the chart shows the MAX_SERIES
    # with the largest last age. Rank them by their newest point first and build only the shown series
    # (building 2,000 series to drop 1,950 was a fifth of the page).
    rows = [(inst, path, ts, days) for inst, path, ts, days in view.db.execute(per_point) if inst in names]
    operup_total: int | None = None
    if rollups_for():
        newest: dict[tuple[int, str], tuple[int, float]] = {}
        for inst, path, ts, days in rows:
            seen = newest.get((inst, path))
            if seen is None or ts > seen[0]:
                newest[(inst, path)] = (ts, float(days or 0))
        if len(newest) > MAX_SERIES:
            order = sorted(newest, key=lambda k: (-newest[k][1], operup_name(k).casefold()))
            wanted = set(order[:MAX_SERIES])
            rows = [r for r in rows if (r[0], r[1]) in wanted]
            operup_total = len(newest)
    operup = points_by((((inst, path), ts, days) for inst, path, ts, days in rows), operup_name)
    if operup_total is not None:  # in the order the chart shows them (largest last age first)
        operup.sort(key=lambda x: -(x.stats()["last"] or 0))

    # Month-to-date activity per installation, from the hourly usage (its rollups without user filters).
    rollups = rollups_for(domain, logins)
    sums = {"activity": ACTIVITY_FIELDS}
    usage = usage_points(view, targets, sums, *users_where(SysinfoUsageHour), rollups=rollups)["activity"]
    opening = usage_before(view, targets, sums, *users_where(SysinfoUsageHour), rollups=rollups)["activity"]
    activity = [
        Series(names[inst].host, month_to_date(pts, opening.get(inst, 0.0)))
        for inst, pts in usage.items()
        if inst in names
    ]

    # Involvement over time: distinct users with DB requests since the month start, × 100 / seats.
    h = SysinfoUsageHour
    first_month = view.time.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if rollups:
        f = UsageFirstRequest
        first_rows: Any = view.db.execute(
            select(f.installation_id, f.login, f.first_at).where(
                view.tenant.scope.condition(f),
                targets.narrow(f),
                f.month >= f"{first_month:%Y-%m}",
                f.first_at < math.ceil(view.time.end.timestamp()),
            )
        )
    else:
        first_rows = (
            (inst, login, first.timestamp() if first is not None else None)
            for inst, login, first in view.db.execute(
                select(h.installation_id, h.login, func.min(h.hour))
                .where(
                    view.tenant.scope.condition(h),
                    h.hour >= first_month,
                    h.hour < view.time.end,
                    targets.narrow(h),
                    h.db_requests > 0,
                    *users_where(h),
                )
                .group_by(h.installation_id, h.login, func.substr(cast(h.hour, String), 1, 7))
            )
        )
    firsts: dict[int, list[float]] = {}
    for inst, _login, first in first_rows:
        if inst in names and first is not None:
            firsts.setdefault(inst, []).append(float(first))
    involvement = []
    step = view.time.step
    month_starts: dict[int, int] = {}
    for inst, inst_points in usage.items():
        report = reports.get(inst)
        if inst not in names or report is None or not report.seats:
            continue
        starts = sorted(firsts.get(inst, []))
        pts: list[tuple[int, float | None]] = []
        for ts, _ in inst_points:
            end = ts + step
            m_start = month_starts.get(ts) or month_starts.setdefault(ts, formulas.month_start_epoch(ts))
            n = bisect_left(starts, end) - bisect_left(starts, m_start)
            pts.append((ts, formulas.involvement(n, report.seats)))
        involvement.append(Series(names[inst].host, pts))

    used = used_licences(
        view,
        targets,
        domain_clause(domain, SysinfoSession),
        login_clause(logins, SysinfoSession.login),
        rollups=rollups,
    )
    max_used = [Series(names[i].host, pts) for i, pts in used.items() if i in names]

    per_user, active_in_range = top_user_series(
        view,
        targets,
        {
            "billing": func.coalesce(h.docs, 0) + func.coalesce(h.services, 0),
            "requests": func.coalesce(h.db_requests, 0),
            "saved": func.coalesce(h.saved, 0),
            "printed": func.coalesce(h.printed, 0),
        },
        *users_where(h),
    )
    billing, billing_total = per_user["billing"]
    requests, requests_total = per_user["requests"]
    saved, saved_total = per_user["saved"]
    printed, printed_total = per_user["printed"]

    # Refusals: per day for lack of seats (table) and distinct users refused per point (chart).
    r = SysinfoRefusal
    no_seats = or_(r.code == NO_SEATS_CODE, r.alt_code == NO_SEATS_ALT, r.reason == NO_SEATS_REASON)
    refusal_where = (
        view.tenant.scope.condition(r),
        view.in_range(r.occurred_at),
        targets.narrow(r),
        *users_where(r),
    )
    day = bucket(r.occurred_at, view, 86400)
    refusal_day_rows = view.db.execute(
        select(r.installation_id, r.login, day, func.count())
        .where(*refusal_where, no_seats)
        .group_by(r.installation_id, r.login, day)
    )
    refusal_rows = [
        {
            "day": datetime.fromtimestamp(int(ts), UTC).date(),
            "client": names[inst].client,
            "login": login,
            "count": int(n),
        }
        for inst, login, ts, n in refusal_day_rows
        if inst in names
    ]
    point_r = bucket(r.occurred_at, view)
    refused = points_by(
        (
            (inst, ts, n)
            for inst, ts, n in view.db.execute(
                select(r.installation_id, point_r, func.count(func.distinct(r.login)))
                .where(*refusal_where)
                .group_by(r.installation_id, point_r)
            )
            if inst in names
        ),
        lambda i: names[i].host,
    )

    # Users: not using in the period, no DB requests in 60 days, filled cards.
    # Columns, not ORM objects: 5,000 accounts of 1,000 installations cost 0.1 s as objects.
    users = view.db.execute(
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
        ).where(view.tenant.scope.condition(u), targets.narrow(u), *users_where(u))
    ).all()
    # Users with DB requests in the last 60 days: the last request of each month (rollup) or the raw hours.
    since_60 = now - timedelta(days=60)
    if rollups_for():  # no user filter applies to this list's query
        f = UsageFirstRequest
        queried_rows: Any = view.db.execute(
            select(f.installation_id, f.login)
            .where(
                view.tenant.scope.condition(f),
                f.month >= f"{since_60:%Y-%m}",
                targets.narrow(f),
                f.last_at >= math.ceil(since_60.timestamp()),
            )
            .distinct()
        )
    else:
        queried_rows = view.db.execute(
            select(h.installation_id, h.login)
            .where(
                view.tenant.scope.condition(h),
                h.hour >= since_60,
                targets.narrow(h),
                h.db_requests > 0,
            )
            .group_by(h.installation_id, h.login)
        )
    queried_60 = {(inst, login) for inst, login in queried_rows}
    per_inst: dict[int, list[Any]] = {}
    for user in users:
        if user.installation_id in names:
            per_inst.setdefault(user.installation_id, []).append(user)
    not_using_rows, zero_rows, card_rows = [], [], []
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
            if (inst, m.login) not in queried_60 and m.first_seen_at <= now - timedelta(days=60):
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
        logged = [
            m
            for m in members
            if m.last_login_at is not None and view.time.start <= m.last_login_at < view.time.end
        ]
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
            series=operup,
            unit="дн.",
            legend=("last", "max"),
            rank_by="last",
            bands=[(0, 3, "ok"), (3, 10_000, "crit")],
        ),
        Chart(
            "activity",
            "Активность пользователей в текущем месяце",
            series=sorted(activity, key=lambda x: x.name.casefold()),
            log=True,
            legend=("last",),
            rank_by="last",
            bands=[(0, formulas.ACTIVITY_LOW, "crit"), (formulas.ACTIVITY_LOW, 1e9, "ok")],
        ),
        Chart(
            "involvement",
            "Процент реальной вовлечённости в текущем месяце",
            series=sorted(involvement, key=lambda x: x.name.casefold()),
            unit="%",
            legend=("max", "last"),
            rank_by="last",
            bands=[(0, 60, "crit"), (60, 80, "warn"), (80, 150, "ok"), (150, 1e6, "crit")],
        ),
        Chart(
            "max-used",
            "Максимальное число занятых лицензий на инсталляции",
            series=sorted(max_used, key=lambda x: x.name.casefold()),
            legend=("min", "max", "last"),
        ),
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
        Chart(
            "refused",
            "Количество пользователей, не сумевших подключиться",
            series=refused,
            kind="bar",
            legend=("sum", "max"),
        ),
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
