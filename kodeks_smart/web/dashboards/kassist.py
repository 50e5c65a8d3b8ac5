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
        # Always by client id (not only when filtered): the (client_id, day) key then serves the range
        # instead of a scan of the cabinet's 13 months.
        k.client_id.in_(sorted({t.client_id for t in targets.chosen})),
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
    # The range's sums are the sums of the chart points' (integer) sums: a second pass over the rows took
    # as long as the first (396,000 rows at 13 months for 1,000 installations).
    sums: dict[str, dict[int, int]] = {}
    for field, _, _ in FIELDS:
        per_client: dict[int, int] = {}
        for client_id, _, value in rows[field]:
            per_client[client_id] = per_client.get(client_id, 0) + int(value or 0)
        sums[field] = dict(sorted(per_client.items()))
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
