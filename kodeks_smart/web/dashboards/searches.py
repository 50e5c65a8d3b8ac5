"""«Поисковые запросы» (spec §3.19) and «Поисковые запросы. Онлайн.» (§3.20).

Both read the search log of the sysinfo reports (``sysinfo_searches``). «Онлайн» keeps the searches
made under the logins of the cabinet's online accesses (accesses hosted on a server whose sysinfo
reaches SMART, e.g. the distributor's DC). Empty searches come first: they are what the manager sells
from. Tables are capped at `ROW_LIMIT` newest rows; the counters above them count everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, String, cast, func, select, true

from kodeks_smart.store.ingest_models import SysinfoSearch
from kodeks_smart.store.models import Client, OnlineAccess
from kodeks_smart.web.dashboards.formulas import percent
from kodeks_smart.web.dashboards.framework import (
    Chart,
    Filter,
    Panel,
    Series,
    Stat,
    Table,
    Targets,
    View,
    bucket,
    dashboard,
)
from kodeks_smart.web.tables import Column

ROW_LIMIT = 5000
#: Search result as stored → the Russian status of the «Статус поиска» filter.
STATUS = {"found": "Успех", "empty": "Пустой", "error": "Ошибка"}
#: Search type as stored → the «ТипПоиска» value.
SEARCH_TYPE = {"intelligent": "Инт", "attribute": "Атрибутный"}
TYPE_LONG = {"intelligent": "Интеллектуальный поиск", "attribute": "Атрибутный поиск"}


def _reverse(mapping: dict[str, str], chosen: list[str]) -> list[str]:
    back = {v: k for k, v in mapping.items()}
    return [back.get(v, v) for v in chosen]


def in_filter(f: Filter, column: Any, mapping: dict[str, str] | None = None) -> ColumnElement[bool]:
    """WHERE clause of a multi-select filter over ``column`` (values translated back through ``mapping``)."""
    if not f.active:
        return true()
    values = _reverse(mapping, f.selected) if mapping else list(f.selected)
    return column.in_(values)  # type: ignore[no-any-return]


def distinct(view: View, column: Any, *where: ColumnElement[bool]) -> list[Any]:
    """The distinct non-empty values of a search column in the cabinet's range (filter options)."""
    s = SysinfoSearch
    stmt = (
        select(column).where(view.tenant.scope.condition(s), view.in_range(s.occurred_at), *where).distinct()
    )
    return [v for v in view.db.scalars(stmt) if v not in (None, "")]


def distinct_each(view: View, columns: list[Any], *where: ColumnElement[bool]) -> list[list[Any]]:
    """`distinct` of several columns. On PostgreSQL in one scan (``GROUPING SETS``: a row of one set has
    the other columns NULL, and NULLs are dropped anyway): five scans of the range's searches were a
    third of «Поисковые запросы» at 13 months. SQLite has no grouping sets: one query per column."""
    if view.db.get_bind().dialect.name != "postgresql":
        return [distinct(view, column, *where) for column in columns]
    s = SysinfoSearch
    stmt = (
        select(*columns)
        .where(view.tenant.scope.condition(s), view.in_range(s.occurred_at), *where)
        .group_by(func.grouping_sets(*columns))
    )
    out: list[set[Any]] = [set() for _ in columns]
    for row in view.db.execute(stmt):
        for values, v in zip(out, row, strict=True):
            if v not in (None, ""):
                values.add(v)
    return [list(values) for values in out]


def catalog_name(path: str | None) -> str:
    return (path or "").strip("/") or "docs"


def search_filters(
    view: View, targets: Targets, *extra: ColumnElement[bool]
) -> tuple[list[ColumnElement[bool]], Filter]:
    """Declare «Пользователь», «Источник запросов», «Каталог», «Статус поиска», «ТипПоиска»; returns the
    WHERE clauses of all filters (targets included) and the status filter."""
    s = SysinfoSearch
    base = [targets.where(s.installation_id), *extra]
    logins, sources, catalogs, results, types = distinct_each(
        view, [s.login, s.source, s.catalog, s.result, s.type], *base
    )
    user = view.multi("user", "Пользователь", logins)
    source = view.multi("source", "Источник запросов", sources)
    catalog = view.multi("catalog", "Каталог", catalogs)
    status = view.multi("status", "Статус поиска", (STATUS.get(v, v) for v in results))
    kind = view.multi("type", "ТипПоиска", (SEARCH_TYPE.get(v, v) for v in types))
    where = [
        view.tenant.scope.condition(s),
        view.in_range(s.occurred_at),
        *base,
        in_filter(user, s.login),
        in_filter(source, s.source),
        in_filter(catalog, s.catalog),
        in_filter(status, s.result, STATUS),
        in_filter(kind, s.type, SEARCH_TYPE),
    ]
    return where, status


def counts(view: View, where: list[ColumnElement[bool]]) -> tuple[dict[str, int], list[Series]]:
    """Searches per status in the range, and per status and chart point."""
    s = SysinfoSearch
    point = bucket(s.occurred_at, view)
    totals: dict[str, int] = {}
    per_point: dict[str, list[tuple[int, float | None]]] = {}
    stmt = select(s.result, point, func.count()).where(*where).group_by(s.result, point).order_by(point)
    for result, ts, n in view.db.execute(stmt):
        name = STATUS.get(result or "", result or "—")
        totals[name] = totals.get(name, 0) + int(n)
        per_point.setdefault(name, []).append((int(ts), float(n)))
    order = {name: k for k, name in enumerate(STATUS.values())}
    series = [Series(name, pts) for name, pts in sorted(per_point.items(), key=lambda i: order.get(i[0], 9))]
    return totals, series


def newest(view: View, where: list[ColumnElement[bool]]) -> list[Row[Any]]:
    """The newest `ROW_LIMIT` searches as plain rows of the columns the tables show: loading them as ORM
    objects (and decoding each row's JSON ``extra``) took half of the page's time for 10,000 rows."""
    s = SysinfoSearch
    stmt = (
        select(
            s.occurred_at,
            s.installation_id,
            s.client_id,
            s.login,
            s.result,
            s.query,
            s.catalog,
            s.type,
            s.source,
            s.duration,
        )
        .where(*where)
        .order_by(s.occurred_at.desc(), s.id.desc())
        .limit(ROW_LIMIT)
    )
    return list(view.db.execute(stmt))


def legal_names(view: View) -> dict[int, str]:
    """Client id → the client's full name («ЮрЛицо»)."""
    return {c.id: c.display_name for c in view.tenant.list(Client)}


def stats_panels(totals: dict[str, int]) -> list[Panel]:
    total = sum(totals.values())
    empty = totals.get(STATUS["empty"], 0)
    return [
        Stat("n_total", "Всего запросов", value=total),
        Stat("n_empty", "Пустых запросов", value=empty),
        Stat("empty_share", "Доля пустых", value=percent(empty, total), unit="%"),
    ]


EMPTY_COLUMNS = [
    Column("time", "Время"),
    Column("host", "host"),
    Column("manager", "Менеджер"),
    Column("user", "Пользователь"),
    Column("status", "Статус"),
    Column("query", "Запрос"),
    Column("catalog", "Каталог"),
    Column("type", "Тип поиска"),
    Column("client", "Клиент"),
]
ALL_COLUMNS = [
    Column("time", "Время"),
    Column("legal", "ЮрЛицо"),
    Column("user", "Пользователь"),
    Column("query", "Запрос"),
    Column("catalog", "Каталог"),
    Column("type", "Тип поиска"),
    Column("source", "ПК\\КА"),
    Column("status", "Статус"),
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
]


def _row(q: Row[Any], targets: Targets, legal: dict[int, str]) -> dict[str, Any] | None:
    t = targets.by_id.get(q.installation_id or 0)
    if t is None:
        return None
    return {
        "time": q.occurred_at,
        "host": t.host,
        "client": t.client,
        "manager": t.manager,
        "legal": legal.get(q.client_id, ""),
        "user": q.login,
        "status": STATUS.get(q.result or "", q.result),
        "query": q.query,
        "catalog": catalog_name(q.catalog),
        "type": SEARCH_TYPE.get(q.type or "", q.type),
        "type_long": TYPE_LONG.get(q.type or "", q.type),
        "source": q.source,
        "duration": q.duration,
    }


def newest_empty(view: View, where: list[ColumnElement[bool]], latest: list[Row[Any]]) -> list[Row[Any]]:
    """The newest `ROW_LIMIT` empty searches. ``latest`` (`newest` of the same ``where``) already holds
    them when it is the whole range (fewer rows than the limit) or when all its rows are empty ones
    (then they are the newest empty ones): the same rows without a second query."""
    empty = [q for q in latest if q.result == "empty"]
    if len(latest) < ROW_LIMIT or len(empty) == ROW_LIMIT:
        return empty
    return newest(view, [*where, SysinfoSearch.result == "empty"])


def _panels(view: View, targets: Targets, where: list[ColumnElement[bool]]) -> list[Panel]:
    totals, per_point = counts(view, where)
    legal = legal_names(view)
    latest = newest(view, where)
    rows = [r for q in latest if (r := _row(q, targets, legal)) is not None]
    empty_rows = [
        dict(r, type=r["type_long"])
        for q in newest_empty(view, where, latest)
        if (r := _row(q, targets, legal)) is not None
    ]
    return [
        *stats_panels(totals),
        Table(
            "empty",
            "Пустой поиск",
            columns=EMPTY_COLUMNS,
            rows=empty_rows,
            sort="time",
            desc=True,
            description="Запросы, по которым поиск ничего не нашёл: по ним видно, каких документов клиенту"
            " не хватает (допродажа комплектов).",
        ),
        Chart("by_status", "Запросы по статусу", series=per_point, kind="stacked", legend=("sum", "max")),
        Table(
            "searches",
            "Поисковые запросы",
            columns=ALL_COLUMNS,
            rows=rows,
            sort="time",
            desc=True,
            description=f"Показаны последние {ROW_LIMIT} запросов периода; уточните фильтры, чтобы увидеть"
            " остальные.",
        ),
    ]


@dashboard(
    "searches",
    "Поисковые запросы",
    default_range="30d",
    description="Все поисковые запросы пользователей установок (успешные и пустые). Пустые запросы —"
    " первыми: «ЮрЛицо» + «Статус поиска → Пустой» показывает, каких документов не хватает клиенту.",
)
def searches(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    where, _ = search_filters(view, targets)
    return _panels(view, targets, where)


def online_logins(view: View, targets: Targets) -> dict[int, set[str]]:
    """Client id → logins of its online accesses (within the chosen targets' clients)."""
    out: dict[int, set[str]] = {}
    for a in view.tenant.list(OnlineAccess, targets.where_client(OnlineAccess.client_id)):
        out.setdefault(a.client_id, set()).add(a.login)
    return out


@dashboard(
    "searches-online",
    "Поисковые запросы. Онлайн.",
    default_range="30d",
    description="Поисковые запросы, сделанные под логинами простых онлайн-доступов, по данным sysinfo"
    " сервера, на котором размещены доступы. Пустой — поиск не нашёл НИЧЕГО; успех — нашёл хоть что-то;"
    " учитываются интеллектуальный и атрибутный поиск.",
)
def searches_online(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    logins = online_logins(view, targets)
    s = SysinfoSearch
    pairs = sorted(f"{client_id}:{name}" for client_id, names in logins.items() for name in names)
    # One IN list of "client:login" keys, not an OR of a condition per client: PostgreSQL evaluated the
    # 1,000-branch OR on every row (0.5 s for 30 days of 1,000 clients); the plain client and login lists
    # in front let the indexes narrow the rows first.
    only_online: ColumnElement[bool] = (
        s.client_id.in_(sorted(logins))
        & s.login.in_(sorted({name for names in logins.values() for name in names}))
        & (cast(s.client_id, String) + ":" + s.login).in_(pairs)
        if pairs
        else s.id.is_(None)
    )
    where, _ = search_filters(view, targets, only_online)
    return _panels(view, targets, where)
