"""«Биллинг Онлайн. Статистика» (spec §3.5) and «Биллинг Онлайн. Аналитика» (§3.6).

Both read the billing counters of the cabinet's simple online accesses (``online_billing_readings``,
written by the ``online`` probe from ``GetBillingStatus``): per counter the monthly limit and the units
used. Remaining = limit − used; «% исп.» = (limit − remaining) / limit × 100
(`formulas.billing_used_percent`).
Counters restart on the 1st of each month, so the curves are month-to-date saw-teeth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean
from typing import Any

from sqlalchemy import Float, and_, cast, func, select

from kodeks_smart.store.models import Client, Manager, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck
from kodeks_smart.web.dashboards.formulas import billing_used_percent
from kodeks_smart.web.dashboards.framework import (
    Chart,
    Filter,
    Panel,
    Series,
    Stat,
    Table,
    View,
    bucket,
    dashboard,
    points_by,
)
from kodeks_smart.web.tables import Column

KINDS = ("docs", "search", "print", "upload")
#: Colour bands of the «Осталось …» charts (alerts OnlineBilling*150 / 50): red < 50, yellow 50–150.
LEFT_BANDS = [(0.0, 50.0, "crit"), (50.0, 150.0, "warn")]
#: The maintenance Standard: a manager's average «% исп. док» should reach 15 % a month.
MANAGER_GOAL = 15.0
HIGH_USE = 75.0
VERY_HIGH_USE = 90.0
#: Table cell colours of the original (spec §3.5 #1, read off its screenshots): «% исп. док» is red below
#: about 10 % (5.3 red, 10.3 not), «% исп. поиска» below about 1 % (0.8 red, 1.1 not).
LOW_DOCS_USE = 10.0
LOW_SEARCH_USE = 1.0
#: Explanations of the «ТекстОшибки» values (spec §3.5 #9), shown as the table's description.
ERROR_VARIANTS = (
    "LoginPasswordError — неверное сочетание логина, пароля, адреса и каталога; "
    "ConnectionTimeout — не удалось подключиться к серверу ДЦ; ReadTimeOut — сервер ДЦ не прислал данные; "
    "OtherErrorCode400+, HTTPError, RequestException, ConnectionError — что-то необычное, "
    "сообщите разработчику. Пустая таблица — норма."
)


@dataclass(frozen=True)
class Access:
    """One online access of the cabinet with the names the filters, legends and tables use."""

    id: int
    client: str
    login: str
    host: str
    catalog: str
    manager: str

    @property
    def name(self) -> str:
        return f"{self.client}: {self.login}"


def level_docs_left(left: int | None) -> str:
    """Colour of «Документы» (remaining): ``crit`` < 50, ``warn`` < 150, else ``ok``."""
    if left is None:
        return ""
    if left < 50:
        return "crit"
    if left < 150:
        return "warn"
    return "ok"


def tone_docs_left(left: int) -> str | None:
    """Cell colour of «Документы» in the table: red < 50, yellow < 150, no colour above (as the original)."""
    level = level_docs_left(left)
    return None if level == "ok" else level


def tone_low(threshold: float) -> Callable[[float], str | None]:
    """Cell colour of a «% исп.» column: red below ``threshold`` (low use: the access is hardly used)."""
    return lambda value: "crit" if value < threshold else None


def level_manager_average(value: float | None, clients_chosen: bool) -> str:
    """Colour of a manager's average «% исп. док» (spec §3.6 #1): below 15 % red; with clients chosen
    also 75–90 % yellow and ≥ 90 % red (likely several people share one access)."""
    if value is None or value < MANAGER_GOAL:
        return "crit"
    if clients_chosen and value >= VERY_HIGH_USE:
        return "crit"
    if clients_chosen and value >= HIGH_USE:
        return "warn"
    return "ok"


LEVEL_TEXT = {"crit": "красный", "warn": "жёлтый", "ok": "норма", "": ""}


def online_accesses(view: View) -> tuple[list[Access], Filter]:
    """The cabinet's online accesses after the filters «Клиент», «Менеджер» and «Логин»."""
    managers = {m.id: m.name for m in view.tenant.list(Manager)}
    clients = {c.id: c for c in view.tenant.list(Client)}
    every: list[Access] = []
    for a in view.tenant.list(OnlineAccess):
        c = clients.get(a.client_id)
        if c is None:
            continue
        manager = managers.get(c.manager_id, "") if c.manager_id else ""
        every.append(Access(a.id, c.short_name, a.login, a.host, a.catalog, manager))
    by_client = view.multi("client", "Клиент", (a.client for a in every))
    by_manager = view.multi("manager", "Менеджер", (a.manager for a in every))
    by_login = view.multi("login", "Логин", (a.login for a in every))
    chosen = [
        a
        for a in every
        if by_client.allows(a.client) and by_manager.allows(a.manager) and by_login.allows(a.login)
    ]
    return chosen, by_client


def _latest(view: View, ids: list[int]) -> dict[int, OnlineBillingReading]:
    """The newest reading of each access within the range."""
    if not ids:
        return {}
    r = OnlineBillingReading
    newest = (
        select(r.online_access_id, func.max(r.read_at).label("at"))
        .where(view.tenant.scope.condition(r), view.in_range(r.read_at), r.online_access_id.in_(ids))
        .group_by(r.online_access_id)
        .subquery()
    )
    stmt = (
        select(r)
        .join(newest, and_(newest.c.online_access_id == r.online_access_id, newest.c.at == r.read_at))
        # The join implies the range; it lets the planner read the range's rows by the index.
        .where(view.tenant.scope.condition(r), view.in_range(r.read_at), r.online_access_id.in_(ids))
    )
    return {row.online_access_id: row for row in view.db.scalars(stmt)}


def _points(view: View, ids: list[int]) -> dict[str, list[tuple[int, int, float | None]]]:
    """Per counter: (access, chart point, lowest remaining) and (access, point, highest % used) rows."""
    out: dict[str, list[tuple[int, int, float | None]]] = defaultdict(list)
    if not ids:
        return out
    r = OnlineBillingReading
    point = bucket(r.read_at, view)
    exprs: list[Any] = []
    for kind in KINDS:
        top, used = getattr(r, f"{kind}_max"), getattr(r, f"{kind}_used")
        # In floating point, as SQLite computes it (PostgreSQL's numeric division per row was slower).
        exprs += [func.min(top - used), func.max(cast(used, Float) * 100.0 / func.nullif(top, 0))]
    stmt = (
        select(r.online_access_id, point, *exprs)
        .where(view.tenant.scope.condition(r), view.in_range(r.read_at), r.online_access_id.in_(ids))
        .group_by(r.online_access_id, point)
    )
    for access_id, ts, *values in view.db.execute(stmt):
        for k, kind in enumerate(KINDS):
            left, pct = values[2 * k], values[2 * k + 1]
            if left is not None:
                out[f"{kind}_left"].append((access_id, int(ts), float(left)))
            if pct is not None:
                out[f"{kind}_pct"].append((access_id, int(ts), float(pct)))
    return out


def _average(rows: list[tuple[int, int, float | None]], group: dict[int, str]) -> list[Series]:
    """Mean over accesses of each point's value, one series per group name of the access."""
    acc: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for access_id, ts, value in rows:
        if value is not None and access_id in group:
            acc[group[access_id]][ts].append(value)
    out = [
        Series(name, [(ts, mean(vals)) for ts, vals in sorted(by_ts.items())]) for name, by_ts in acc.items()
    ]
    out.sort(key=lambda s: s.name.casefold())
    return out


BILLING_COLUMNS = [
    Column("client", "Клиент"),
    Column("login", "Логин"),
    Column("docs_left", "Документы", align="right", tone=tone_docs_left),
    Column("docs_level", "Остаток док."),
    Column("docs_pct", "% исп. док", align="right", tone=tone_low(LOW_DOCS_USE)),
    Column("search_left", "Поиск", align="right"),
    Column("search_pct", "% исп. поиска", align="right", tone=tone_low(LOW_SEARCH_USE)),
    Column("print_left", "Печать", align="right"),
    Column("upload_left", "Выгрузка", align="right"),
    Column("manager", "Менеджер"),
    Column("read_at", "Данные на"),
]
PROBLEM_COLUMNS = [
    Column("client", "Клиент"),
    Column("host", "Адрес"),
    Column("catalog", "Каталог"),
    Column("login", "Логин"),
    Column("error", "ТекстОшибки"),
    Column("detail", "Подробности"),
    Column("since", "С"),
    Column("manager", "Менеджер"),
]


def billing_rows(view: View, accesses: list[Access]) -> list[dict[str, Any]]:
    """One row per access: remaining units and % used by its newest reading in the range."""
    latest = _latest(view, [a.id for a in accesses])
    rows: list[dict[str, Any]] = []
    for a in accesses:
        reading = latest.get(a.id)
        if reading is None:
            continue
        row: dict[str, Any] = {"client": a.client, "login": a.login, "manager": a.manager}
        row["read_at"] = reading.read_at
        for kind in KINDS:
            counter = reading.counter(kind)
            row[f"{kind}_left"] = counter[0] - counter[1] if counter else None
            row[f"{kind}_pct"] = (
                billing_used_percent(counter[0], counter[0] - counter[1]) if counter else None
            )
        row["docs_level"] = LEVEL_TEXT[level_docs_left(row["docs_left"])]
        rows.append(row)
    return rows


def _mean_of(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return mean(values) if values else None


@dashboard(
    "billing",
    "Биллинг Онлайн. Статистика",
    default_range="24h",
    description="Остатки лимитов простых онлайн-доступов в текущем месяце (документы, поиск, печать,"
    " выгрузка) и процент использования лимитов. Таблицу смотрите на периоде не больше суток; графики —"
    " на целых календарных месяцах.",
)
def billing(view: View) -> list[Panel]:
    accesses, _ = online_accesses(view)
    ids = [a.id for a in accesses]
    by_id = {a.id: a for a in accesses}
    rows = billing_rows(view, accesses)
    points = _points(view, ids)
    names = {a.id: a.name for a in accesses}

    def left_chart(kind: str, title: str, bands: bool) -> Chart:
        return Chart(
            f"{kind}_left",
            title,
            series=points_by(points[f"{kind}_left"], names),
            log=True,
            legend=("last", "min"),
            bands=LEFT_BANDS if bands else [],
            rank_by="min",
            rank_low=True,
            width=1 if kind in ("print", "upload") else 2,
        )

    problems = []
    if ids:
        for check in view.db.scalars(
            view.tenant.select(
                ProbeCheck,
                ProbeCheck.online_access_id.in_(ids),
                ProbeCheck.check_name == "online",
                ProbeCheck.status == "fail",
            )
        ):
            a = by_id[check.online_access_id or 0]
            problems.append(
                {
                    "client": a.client,
                    "host": a.host,
                    "catalog": a.catalog,
                    "login": a.login,
                    "error": check.value,
                    "detail": check.detail,
                    "since": check.since,
                    "manager": a.manager,
                }
            )
    return [
        Table(
            "billing",
            "Биллинг Онлайн",
            columns=BILLING_COLUMNS,
            rows=rows,
            sort="client",
            description="Остаток единиц в текущем месяце по последнему за период опросу. «Документы»:"
            " красный — меньше 50, жёлтый — меньше 150; «% исп. док» красный — меньше 10 %;"
            " «% исп. поиска» красный — меньше 1 % (доступом почти не пользуются).",
        ),
        Stat("mean_docs_pct", "Среднее: % исп. док", value=_mean_of(rows, "docs_pct"), unit="%"),
        Stat("mean_search_pct", "Среднее: % исп. поиска", value=_mean_of(rows, "search_pct"), unit="%"),
        left_chart("docs", "Осталось «Документов»", True),
        left_chart("search", "Осталось «Поиск»", True),
        left_chart("print", "Осталось «Печать»", True),
        left_chart("upload", "Осталось «Выгрузка»", True),
        Chart(
            "avg_all",
            "Средний процент использования лимита документов по всем клиентам",
            series=[
                Series("Процент", s.points)
                for s in _average(points["docs_pct"], dict.fromkeys(ids, "Процент"))
            ],
            unit="%",
            legend=("last", "max"),
        ),
        Chart(
            "avg_manager",
            "Средний процент использования лимита документов по всем клиентам менеджера",
            series=_average(points["docs_pct"], {a.id: a.manager or "без менеджера" for a in accesses}),
            unit="%",
            legend=("last", "max"),
            bands=[(0.0, MANAGER_GOAL, "crit"), (MANAGER_GOAL, 100.0, "ok")],
        ),
        Table(
            "problems",
            "Проблемы с получением статистики",
            columns=PROBLEM_COLUMNS,
            rows=problems,
            sort="client",
            description=ERROR_VARIANTS,
        ),
    ]


@dashboard(
    "billing-analytics",
    "Биллинг Онлайн. Аналитика",
    default_range="6M",
    description="Востребованность онлайн-доступов: средний процент использования лимита документов"
    " (по менеджерам и по всем клиентам) и число онлайн-доступов на мониторинге. Без выбора клиента"
    " средние считаются по всем онлайн-клиентам кабинета, с выбранными клиентами — только по ним."
    " Смотрите периоды от месяца.",
)
def billing_analytics(view: View) -> list[Panel]:
    accesses, client = online_accesses(view)
    ids = [a.id for a in accesses]
    points = _points(view, ids)
    if client.active:
        bands = [
            (0.0, MANAGER_GOAL, "crit"),
            (MANAGER_GOAL, HIGH_USE, "ok"),
            (HIGH_USE, VERY_HIGH_USE, "warn"),
            (VERY_HIGH_USE, 100.0, "crit"),
        ]
    else:
        bands = [(0.0, MANAGER_GOAL, "crit"), (MANAGER_GOAL, 100.0, "ok")]
    per_manager = _average(points["docs_pct"], {a.id: a.manager or "без менеджера" for a in accesses})
    overall = _average(points["docs_pct"], dict.fromkeys(ids, "Процент"))
    monitored: dict[int, set[int]] = defaultdict(set)
    for access_id, ts, _ in points["docs_left"] + points["search_left"]:
        monitored[ts].add(access_id)
    count = Series("Всего клиентов", [(ts, float(len(monitored[ts]))) for ts in sorted(monitored)])
    rows = []
    for s in per_manager:
        stats = s.stats()
        rows.append(
            {
                "manager": s.name,
                "last": stats["last"],
                "max": stats["max"],
                "level": LEVEL_TEXT[level_manager_average(stats["last"], client.active)],
                "accesses": sum(1 for a in accesses if (a.manager or "без менеджера") == s.name),
            }
        )
    return [
        Chart(
            "avg_manager",
            "Средний процент использования лимита документов по всем клиентам менеджера",
            series=per_manager,
            unit="%",
            legend=("last", "max"),
            bands=bands,
            description="Норма Стандарта сопровождения — 15 % в месяц. С выбранными клиентами: 75–90 % —"
            " высокая загрузка, от 90 % — доступом, скорее всего, пользуются несколько человек.",
        ),
        Chart(
            "avg_all",
            "Средний процент использования лимита документов по всем клиентам",
            series=overall,
            unit="%",
            legend=("last", "max"),
        ),
        Chart(
            "monitored",
            "Общее количество клиентов с онлайн-доступами на мониторинге",
            series=[count] if count.points else [],
            legend=("min", "max", "last"),
        ),
        Table(
            "managers",
            "Менеджеры: средний % исп. док",
            columns=[
                Column("manager", "Менеджер"),
                Column("accesses", "Онлайн-доступов", align="right"),
                Column("last", "Текущее, %", align="right"),
                Column("max", "Максимум, %", align="right"),
                Column("level", "Оценка"),
            ],
            rows=rows,
            sort="manager",
        ),
    ]
