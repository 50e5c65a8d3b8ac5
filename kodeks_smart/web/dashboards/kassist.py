"""«kAssist. Аналитика» (spec §3.4): how much kAssist is used per client, from the daily link statistics
of sysinfo (``sysinfo_kassist_days``; reports have them since May 2024).

Four per-day bar charts (one series per client; on ranges longer than ~6 months a bar sums a week) and two
tables of sums over the range.

Speed (1,000 clients, 13 months): the clients are ranked first in SQL (each client's largest bar and the
range's sums, one row per client); only the points of the series a chart shows (`MAX_SERIES` largest)
are read. Building 4,000 series in Python to show 200 of them took most of the 0.7 s this page took.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from kodeks_smart.store.ingest_models import SysinfoKassistDay
from kodeks_smart.web.dashboards.framework import (
    MAX_SERIES,
    Panel,
    Table,
    Targets,
    View,
    bucket,
    dashboard,
    points_by,
)
from kodeks_smart.web.dashboards.usage import TopChart
from kodeks_smart.web.tables import Column

#: (field, chart title, interval-table title or "").
FIELDS = (
    (
        "unique_links",
        "Количество уникальных ссылок при добавлении за сутки",
        "Количество уникальных ссылок при добавлении за интервал",
    ),
    ("not_matched", "Количество ссылок по которым не было найдено совпадений за сутки", ""),
    ("links_added", "Количество всех ссылок добавленных за сутки", ""),
    (
        "active_checked",
        "Количество проверенных активных ссылок за сутки",
        "Кол-во проверенных активных ссылок за интервал",
    ),
)
DAY = 86400
SUM_COLUMNS = [Column("client", "Клиент"), Column("sum", "Сумма", align="right")]


@dashboard(
    "kassist",
    "kAssist. Аналитика",
    default_range="30d",
    description="Как часто и насколько результативно клиенты пользуются kAssist: ссылки, добавленные и"
    " проверенные за сутки. Данные есть в отчётах sysinfo с мая 2024 года.",
)
def kassist(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    clients = {t.client_id: t.client for t in targets.chosen}
    peaks, sums = _ranking(view, targets)
    shown = {field: _top(peaks[field], clients) for field, _, _ in FIELDS}
    wanted = sorted({c for chosen in shown.values() for c in chosen})
    rows = _points(view, wanted) if wanted else {f: {} for f, _, _ in FIELDS}
    panels: list[Panel] = []
    for field, title, _ in FIELDS:
        series = points_by(((c, ts, v) for c in shown[field] for ts, v in rows[field].get(c, ())), clients)
        order = {name: n for n, name in enumerate(clients[c] for c in shown[field])}
        series.sort(key=lambda s: order[s.name])
        panels.append(
            TopChart(
                field,
                title,
                series=series,
                kind="bar",
                log=True,
                legend=("max", "last"),
                width=1,
                total=len(peaks[field]),
            )
        )
    for field, _, table_title in FIELDS:
        if not table_title:
            continue
        table_rows: list[dict[str, Any]] = [
            {"client": clients[c], "sum": n} for c, n in sorted(sums[field].items())
        ]
        panels.append(
            Table(
                f"sum_{field}",
                table_title,
                columns=SUM_COLUMNS,
                rows=table_rows,
                sort="sum",
                desc=True,
                width=1,
            )
        )
    return panels


def _where(view: View, clients: list[int]) -> tuple[ColumnElement[bool], ...]:
    """The range of the given clients' rows."""
    k = SysinfoKassistDay
    return (
        view.tenant.scope.condition(k),
        k.day >= view.time.start.date(),
        k.day <= view.time.end.date(),
        # Always by client id (not only when filtered): the (client_id, day) key then serves the range
        # instead of a scan of the cabinet's 13 months.
        k.client_id.in_(clients),
    )


def _point(view: View) -> ColumnElement[Any]:
    """A chart point: a day, or a week on long ranges."""
    return bucket(SysinfoKassistDay.day, view, max(DAY, view.time.step))


def _ranking(view: View, targets: Targets) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, int]]]:
    """Per field, each client's largest point (the stat a chart ranks its series by; only clients with a
    value) and the range's sum (the tables: the sum of the points' sums, as the points show)."""
    k = SysinfoKassistDay
    point = _point(view)
    per_point = (
        select(k.client_id.label("client"), *(func.sum(getattr(k, f)).label(f) for f, _, _ in FIELDS))
        .where(*_where(view, sorted({t.client_id for t in targets.chosen})))
        .group_by(k.client_id, point)
        .subquery()
    )
    stmt = select(
        per_point.c.client,
        *(func.max(per_point.c[f]) for f, _, _ in FIELDS),
        *(func.sum(per_point.c[f]) for f, _, _ in FIELDS),
    ).group_by(per_point.c.client)
    peaks: dict[str, dict[int, float]] = {f: {} for f, _, _ in FIELDS}
    sums: dict[str, dict[int, int]] = {f: {} for f, _, _ in FIELDS}
    width = len(FIELDS)
    for row in view.db.execute(stmt):
        for n, (field, _, _) in enumerate(FIELDS):
            if row[1 + n] is not None:
                peaks[field][row[0]] = float(row[1 + n])
                sums[field][row[0]] = int(row[1 + width + n])
    return peaks, sums


def _top(peaks: dict[int, float], clients: dict[int, str]) -> list[int]:
    """The clients a chart shows, in its order: all of them by name, or with more than `MAX_SERIES`
    the largest peaks (ties by name), as `Chart.payload` ranks series given in name order."""
    by_name = sorted(peaks, key=lambda c: clients[c].casefold())
    if len(by_name) <= MAX_SERIES:
        return by_name
    return sorted(by_name, key=lambda c: -peaks[c])[:MAX_SERIES]


def _points(view: View, wanted: list[int]) -> dict[str, dict[int, list[tuple[int, float]]]]:
    """The chart points of the ``wanted`` clients: {field: {client: [(epoch s, sum)…]}} (non-null sums)."""
    k = SysinfoKassistDay
    point = _point(view)
    stmt = (
        select(k.client_id, point, *(func.sum(getattr(k, f)) for f, _, _ in FIELDS))
        .where(*_where(view, wanted))
        .group_by(k.client_id, point)
        .order_by(point)
    )
    out: dict[str, dict[int, list[tuple[int, float]]]] = {f: {} for f, _, _ in FIELDS}
    for client_id, ts, *values in view.db.execute(stmt):
        for (field, _, _), value in zip(FIELDS, values, strict=True):
            if value is not None:
                out[field].setdefault(client_id, []).append((int(ts), float(value)))
    return out
