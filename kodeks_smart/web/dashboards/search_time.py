"""«Время выполнения поисковых запросов» (spec §3.23): searches slower than a threshold.

Every search of the sysinfo search log with a duration above the «Порог времени поиска» is one point of
the chart (per installation and catalogue) and one row of the table, the slowest first. Users perceive
more than 7–10 s as slow; empty searches are always slower, so analyse the successful ones.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kodeks_smart.store.ingest_models import SysinfoSearch
from kodeks_smart.web.dashboards.framework import (
    BadInput,
    Chart,
    Panel,
    Stat,
    Table,
    View,
    dashboard,
    epoch,
    points_by,
)
from kodeks_smart.web.dashboards.searches import STATUS, catalog_name, distinct, in_filter
from kodeks_smart.web.tables import Column

#: Threshold choices of «Порог времени поиска» (label → seconds); nothing chosen = `DEFAULT_THRESHOLD`.
THRESHOLDS = {"1s": 1.0, "3s": 3.0, "5s": 5.0, "7s": 7.0, "10s": 10.0, "30s": 30.0, "60s": 60.0}
DEFAULT_THRESHOLD = "1s"
ROW_LIMIT = 5000
#: Status names of this dashboard (the original says «Успешный» here).
STATUS_HERE = {**STATUS, "found": "Успешный"}

COLUMNS = [
    Column("time", "Time"),
    Column("duration", "Длительность, с", fmt=lambda v: f"{v:.3f}", align="right"),
    Column("catalog", "Каталог"),
    Column("client", "Клиент"),
    Column("login", "Логин"),
    Column("status", "Статус"),
    Column("query", "Запрос"),
]


def threshold_of(chosen: list[str]) -> tuple[str, float]:
    """The smallest chosen threshold (several chosen = the most inclusive), default 1 s."""
    if not chosen:
        return DEFAULT_THRESHOLD, THRESHOLDS[DEFAULT_THRESHOLD]
    bad = [c for c in chosen if c not in THRESHOLDS]
    if bad:
        raise BadInput(f"Неизвестный порог времени «{bad[0][:20]}». Допустимо: {', '.join(THRESHOLDS)}.")
    label = min(chosen, key=lambda c: THRESHOLDS[c])
    return label, THRESHOLDS[label]


@dashboard(
    "search-time",
    "Время выполнения поисковых запросов",
    default_range="30d",
    description="Поисковые запросы дольше порога (по умолчанию 1 с). Пользователи воспринимают 7–10 с как"
    " «дикую медлительность»; пустые поиски всегда дольше, поэтому смотрите успешные с порогом 10 с:"
    " какие пользователи, какие запросы (длина, разделители).",
)
def search_time(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    s = SysinfoSearch
    base = [targets.where(s.installation_id)]
    status = view.multi(
        "status", "Статус поиска", (STATUS_HERE.get(v, v) for v in distinct(view, s.result, *base))
    )
    threshold_filter = view.multi("threshold", "Порог времени поиска", THRESHOLDS)
    threshold_filter.options = list(THRESHOLDS)
    label, seconds = threshold_of(threshold_filter.selected)
    catalog = view.multi("catalog", "Каталог", distinct(view, s.catalog, *base))
    stmt = (
        select(s)
        .where(
            view.tenant.scope.condition(s),
            view.in_range(s.occurred_at),
            *base,
            s.duration > seconds,
            in_filter(status, s.result, STATUS_HERE),
            in_filter(catalog, s.catalog),
        )
        .order_by(s.duration.desc(), s.id)
        .limit(ROW_LIMIT)
    )
    by_id = targets.by_id
    rows: list[dict[str, Any]] = []
    points: list[tuple[str, int, float]] = []
    for q in view.db.scalars(stmt):
        t = by_id.get(q.installation_id or 0)
        if t is None or q.duration is None:
            continue
        cat = catalog_name(q.catalog)
        rows.append(
            {
                "time": q.occurred_at,
                "duration": q.duration,
                "catalog": cat,
                "client": t.client,
                "login": q.login,
                "status": STATUS_HERE.get(q.result or "", q.result),
                "query": q.query,
            }
        )
        points.append((f"{t.host}/{cat}", epoch(q.occurred_at), q.duration))
    return [
        Stat("count", f"Запросов дольше {label}", value=len(rows)),
        Chart(
            "slow",
            f"Поисковые запросы длительностью более {label}",
            series=points_by(points, str),
            kind="points",
            unit="с",
            log=True,
            legend=("min", "max", "count"),
        ),
        Table("queries", "Запросы", columns=COLUMNS, rows=rows, sort="duration", desc=True),
    ]
