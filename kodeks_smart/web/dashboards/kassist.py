"""«kAssist. Аналитика» (spec §3.4): how much kAssist is used per client, from the daily link statistics
of sysinfo (``sysinfo_kassist_days``; reports have them since May 2024).

Four per-day bar charts (one series per client; on ranges longer than ~6 months a bar sums a week) and two
tables of sums over the range.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kodeks_smart.store.ingest_models import SysinfoKassistDay
from kodeks_smart.web.dashboards.framework import Chart, Panel, Table, View, bucket, dashboard, points_by
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
    k = SysinfoKassistDay
    where = (
        view.tenant.scope.condition(k),
        k.day >= view.time.start.date(),
        k.day <= view.time.end.date(),
        targets.where_client(k.client_id),
    )
    step = max(DAY, view.time.step)
    point = bucket(k.day, view, step)
    stmt = (
        select(k.client_id, point, *(func.sum(getattr(k, f)) for f, _, _ in FIELDS))
        .where(*where)
        .group_by(k.client_id, point)
        .order_by(point)
    )
    clients = {t.client_id: t.client for t in targets.chosen}
    rows: dict[str, list[tuple[int, int, float | None]]] = {f: [] for f, _, _ in FIELDS}
    for client_id, ts, *values in view.db.execute(stmt):
        if client_id not in clients:
            continue
        for (field, _, _), value in zip(FIELDS, values, strict=True):
            if value is not None:
                rows[field].append((client_id, int(ts), float(value)))
    sums: dict[str, dict[int, int]] = {f: {} for f, _, _ in FIELDS}
    totals = (
        select(k.client_id, *(func.sum(getattr(k, f)) for f, _, _ in FIELDS))
        .where(*where)
        .group_by(k.client_id)
    )
    for client_id, *values in view.db.execute(totals):
        if client_id not in clients:
            continue
        for (field, _, _), value in zip(FIELDS, values, strict=True):
            if value is not None:
                sums[field][client_id] = int(value)
    panels: list[Panel] = []
    for field, title, _ in FIELDS:
        panels.append(
            Chart(
                field,
                title,
                series=points_by(rows[field], clients),
                kind="bar",
                log=True,
                legend=("max", "last"),
                width=1,
            )
        )
    for field, _, table_title in FIELDS:
        if not table_title:
            continue
        table_rows: list[dict[str, Any]] = [{"client": clients[c], "sum": n} for c, n in sums[field].items()]
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
