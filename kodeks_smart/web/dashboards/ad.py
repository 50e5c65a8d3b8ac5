"""«Статистика в разрезе MS Active Directory» (spec §3.21): usage by AD group (the user's domain in sysinfo).

The dashboard shows ONE client (the «Клиент» filter is single-value, as the original's variable; the
first client by name by default). Hourly usage rows (``sysinfo_usage``) are joined with the user
accounts (``sysinfo_users``: the domain) and summed per domain and chart point in SQL; the curves are
month-to-date like the originals (they restart on the 1st), opened with what the month had before the
range. Users without a domain are «НеОпределён». Techexpert.Cloud installations report no domains, so they
show only that one group.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from kodeks_smart.store.ingest_models import SysinfoUsageHour, SysinfoUser
from kodeks_smart.web.dashboards.formulas import activity, month_to_date
from kodeks_smart.web.dashboards.framework import Chart, Panel, Series, Table, View, bucket, dashboard
from kodeks_smart.web.dashboards.usage import UNDEFINED_DOMAIN, USAGE_FIELDS
from kodeks_smart.web.tables import Column

#: (panel name, title, how a usage row's sums give the value).
PANELS: tuple[tuple[str, str], ...] = (
    ("docs", "Запрошенных документов покрытых лицензией"),
    ("free_docs", "Запрошенных бесплатных документов"),
    ("printed", "Распечатанных документов"),
    ("saved", "Сохранённых документов"),
    ("activity", "Активность пользователей в текущем месяце по доменам"),
)
COLUMNS = [
    Column("domain", "Домен"),
    Column("users", "Пользователей", align="right"),
    Column("docs", "Документов по лицензии", align="right"),
    Column("free_docs", "Бесплатных документов", align="right"),
    Column("printed", "Распечатано", align="right"),
    Column("saved", "Сохранено", align="right"),
    Column("db_requests", "Запросов к БД", align="right"),
    Column("activity", "Активность", align="right"),
]


def _domain_clause(selected: list[str]) -> ColumnElement[bool]:
    """The chosen domains on the outer-joined user row (no row or no domain = «НеОпределён»)."""
    if not selected:
        return true()
    named = [d for d in selected if d != UNDEFINED_DOMAIN]
    cond: ColumnElement[bool] = SysinfoUser.domain.in_(named) if named else false()
    if UNDEFINED_DOMAIN in selected:
        cond = or_(cond, SysinfoUser.domain.is_(None), SysinfoUser.domain == "")
    return cond


def _values(sums: dict[str, float]) -> dict[str, float]:
    out = {name: sums.get(name, 0.0) for name, _ in PANELS if name != "activity"}
    out["activity"] = float(activity(**{f: int(sums.get(f, 0)) for f in USAGE_FIELDS if f != "searches"}))
    return out


@dashboard(
    "ad",
    "Статистика в разрезе MS Active Directory",
    default_range="30d",
    description="Использование по группам MS Active Directory (отделам). 1. В фильтре «Клиент» выберите"
    " ОДНОГО клиента; 2. в фильтре «Домен» — группы. Видно, какие отделы пользуются системой больше,"
    " тенденции активности и отделы, которым нужно обучение. Значения — с начала месяца.",
)
def ad(view: View) -> list[Panel]:
    # One client at a time, as in the original (its «клиент» variable is single-value): AD groups of
    # different clients mean nothing together, and one client's rows make any range fast.
    targets = view.targets(host=False, single_client=True)
    su = SysinfoUser
    domains = view.db.scalars(
        select(su.domain)
        .where(view.tenant.scope.condition(su), targets.where_client(su.client_id))
        .distinct()
    )
    domain = view.multi("domain", "Домен", {d or UNDEFINED_DOMAIN for d in domains})
    u = SysinfoUsageHour
    name = func.coalesce(su.domain, "")
    joined = and_(su.client_id == u.client_id, su.login == u.login, view.tenant.scope.condition(su))
    where: list[ColumnElement[bool]] = [
        view.tenant.scope.condition(u),
        # By client id: the (client_id, hour, login) key then serves the range.
        targets.narrow(u),
        _domain_clause(domain.selected),
    ]
    sums = [func.sum(getattr(u, f)) for f in USAGE_FIELDS]
    point = bucket(u.hour, view)
    stmt = (
        select(name, point, *sums)
        .select_from(u)
        .outerjoin(su, joined)
        .where(*where, view.in_range(u.hour))
        .group_by(name, point)
        .order_by(point)
    )
    per_domain: dict[str, list[tuple[int, dict[str, float]]]] = defaultdict(list)
    for dom, ts, *values in view.db.execute(stmt):
        per_domain[dom or UNDEFINED_DOMAIN].append(
            (int(ts), {f: float(v or 0) for f, v in zip(USAGE_FIELDS, values, strict=True)})
        )
    opening: dict[str, dict[str, float]] = {}
    month_start = view.time.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if month_start < view.time.start:
        before = (
            select(name, *sums)
            .select_from(u)
            .outerjoin(su, joined)
            .where(*where, u.hour >= month_start, u.hour < view.time.start)
            .group_by(name)
        )
        for dom, *values in view.db.execute(before):
            opening[dom or UNDEFINED_DOMAIN] = {
                f: float(v or 0) for f, v in zip(USAGE_FIELDS, values, strict=True)
            }
    users = dict(
        view.db.execute(
            select(name, func.count(func.distinct(u.login)))
            .select_from(u)
            .outerjoin(su, joined)
            .where(*where, view.in_range(u.hour))
            .group_by(name)
        ).all()
    )
    charts: dict[str, list[Series]] = {key: [] for key, _ in PANELS}
    rows: list[dict[str, Any]] = []
    for dom in sorted(per_domain, key=str.casefold):
        points = per_domain[dom]
        start = _values(opening.get(dom, {}))
        for key, _ in PANELS:
            increments = [(ts, _values(sums_)[key]) for ts, sums_ in points]
            charts[key].append(Series(dom, month_to_date(increments, start[key])))
        total = {f: sum(s[f] for _, s in points) for f in USAGE_FIELDS}
        rows.append(
            {
                "domain": dom,
                "users": int(users.get(dom if dom != UNDEFINED_DOMAIN else "", 0) or 0),
                **{k: int(v) for k, v in _values(total).items()},
                "db_requests": int(total["db_requests"]),
            }
        )
    panels: list[Panel] = [
        Chart(key, title, series=charts[key], legend=("last", "max"), width=1 if key != "activity" else 2)
        for key, title in PANELS
    ]
    panels.append(
        Table(
            "domains",
            "Итоги за период по доменам",
            columns=COLUMNS,
            rows=rows,
            sort="activity",
            desc=True,
        )
    )
    return panels
