"""«Дисковое пространство» (spec §3.9, §3.1 #2): free space of the partitions of the client's server.

The original needs telegraf on the client's server; here any metrics file (``.status`` or a pulled
``/sysmon/metrics``) that carries one of the usual free-space gauges feeds the dashboard:
telegraf ``disk_free`` (label ``path``), node_exporter ``node_filesystem_avail_bytes`` (``mountpoint``),
windows_exporter ``windows_logical_disk_free_bytes`` (``volume``); the matching size gauges give the
total. The newest sysinfo report adds the size of the Kodeks database volumes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from kodeks_smart.ingest.metric_daily import day_of
from kodeks_smart.store.dashboard_rollup_models import DailyRollup
from kodeks_smart.store.ingest_models import HourlyRollup, MetricSeries, Sample, SysinfoVolume
from kodeks_smart.web.dashboards.framework import (
    Chart,
    Panel,
    Table,
    View,
    bucket,
    dashboard,
    epoch,
    points_by,
)
from kodeks_smart.web.dashboards.newest import newest_reports
from kodeks_smart.web.dashboards.usage import REPORT_LOOKBACK
from kodeks_smart.web.tables import Column

GB = 1024**3
LOW_FREE_GB = 10.0
#: free-space gauge → (label with the partition, matching size gauge).
FREE_METRICS = {
    "disk_free": ("path", "disk_total"),
    "node_filesystem_avail_bytes": ("mountpoint", "node_filesystem_size_bytes"),
    "windows_logical_disk_free_bytes": ("volume", "windows_logical_disk_size_bytes"),
}
SIZE_METRICS = {size: free for free, (_, size) in FREE_METRICS.items()}


def _gb(v: float) -> str:
    return f"{v:.1f}"


LOW_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
    Column("partition", "Раздел"),
    Column("free", "Свободно, ГБ", fmt=_gb, align="right"),
    Column("total", "Всего, ГБ", fmt=_gb, align="right"),
    Column("at", "Время"),
]
VOLUME_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("volumes", "Томов БД", align="right"),
    Column("size", "Размер томов, ГБ", fmt=_gb, align="right"),
    Column("report_at", "Отчёт sysinfo"),
]


#: Read the daily rollups for the whole days of a range whose chart point is whole days (False: only
#: hourly rollups, the reference the tests compare the daily path with).
USE_DAILY = True
DAY = 86400


def minimum_free(view: View, ids: list[int]) -> dict[tuple[int, int], float]:
    """The smallest value of each series per chart point: {(series id, point epoch s): bytes}.

    Short ranges read the raw samples, longer ones the hourly rollups. When a chart point is a whole
    number of days (13 months: 7 days) the whole days inside the range come from the daily rollups
    (24× fewer rows: 950,000 hourly rows of 100 series were 0.6 s to read on SQLite) and only the partial
    days at the range's ends from the hourly ones; a day lies wholly in one point, and the minimum of
    the days' minimums is the minimum of the hours', so the values are the same.
    """
    if not ids:
        return {}
    scope = view.tenant.scope.condition
    if not view.time.rollups:
        point = bucket(Sample.ts, view)
        stmt = (
            select(Sample.series_id, point, func.min(Sample.value))
            .where(scope(Sample), Sample.series_id.in_(ids), view.in_range(Sample.ts))
            .group_by(Sample.series_id, point)
        )
        return {(sid, int(ts)): float(v) for sid, ts, v in view.db.execute(stmt)}
    start, end, step = view.time.start, view.time.end, view.time.step
    hourly_spans = [(start, end)]
    out: dict[tuple[int, int], float] = {}
    if USE_DAILY and step % DAY == 0:
        first = day_of(start)
        if first < start:
            first += timedelta(days=1)
        last = day_of(end)
        if first < last:
            hourly_spans = [(start, first), (last, end)]
            d = DailyRollup
            for sid, day, low in view.db.execute(
                select(d.series_id, d.day, d.min).where(
                    scope(d), d.series_id.in_(ids), d.day >= first, d.day < last
                )
            ):
                key = (sid, epoch(day) // step * step)
                value = float(low)
                if key not in out or value < out[key]:
                    out[key] = value
    h = HourlyRollup
    point = bucket(h.hour, view)
    for a, b in hourly_spans:
        if a >= b:
            continue
        stmt = (
            select(h.series_id, point, func.min(h.min))
            .where(scope(h), h.series_id.in_(ids), h.hour >= a, h.hour < b)
            .group_by(h.series_id, point)
        )
        for sid, ts, low in view.db.execute(stmt):
            key = (sid, int(ts))
            value = float(low)
            if key not in out or value < out[key]:
                out[key] = value
    return out


@dashboard(
    "disk-space",
    "Дисковое пространство",
    default_range="7d",
    description="Свободное место на разделах сервера ПК (нужен сбор метрик диска на сервере клиента) и размер"
    " томов баз данных по последнему отчёту sysinfo.",
)
def disk_space(view: View) -> list[Panel]:
    targets = view.targets()
    by_inst = targets.by_id
    by_client = targets.by_client
    ms = MetricSeries
    series_rows = list(
        view.db.scalars(
            view.tenant.select(
                ms, ms.name.in_([*FREE_METRICS, *SIZE_METRICS]), targets.where_client(ms.client_id)
            )
        )
    )

    def owner(s: MetricSeries) -> Any:
        if s.installation_id in by_inst:
            return by_inst[s.installation_id]
        members = by_client.get(s.client_id)
        return members[0] if members else None

    def partition(s: MetricSeries) -> str:
        free = s.name if s.name in FREE_METRICS else SIZE_METRICS[s.name]
        return str((s.labels or {}).get(FREE_METRICS[free][0], "?"))

    free_series = {s.id: s for s in series_rows if s.name in FREE_METRICS and owner(s) is not None}
    size_series = {
        (s.client_id, s.installation_id, partition(s)): s.id
        for s in series_rows
        if s.name in SIZE_METRICS and owner(s) is not None
    }
    ids = list(free_series)
    chart_rows = [(sid, ts, v / GB) for (sid, ts), v in sorted(minimum_free(view, ids).items())]

    def name(sid: int) -> str:
        s = free_series[sid]
        return f"{owner(s).host}: {partition(s)}"

    chart = points_by(chart_rows, name)

    # The newest value of every free and size series (up to the end of the range).
    wanted = ids + list(size_series.values())
    latest: dict[int, tuple[Any, float]] = {}
    if wanted:
        newest = (
            select(Sample.series_id, func.max(Sample.ts).label("ts"))
            .where(
                view.tenant.scope.condition(Sample), Sample.series_id.in_(wanted), Sample.ts < view.time.end
            )
            .group_by(Sample.series_id)
            .subquery()
        )
        for sid, ts, value in view.db.execute(
            select(Sample.series_id, Sample.ts, Sample.value).join(
                newest, (newest.c.series_id == Sample.series_id) & (newest.c.ts == Sample.ts)
            )
        ):
            latest[sid] = (ts, value)
    low_rows = []
    for sid, s in free_series.items():
        if sid not in latest:
            continue
        at, free = latest[sid]
        if free / GB >= LOW_FREE_GB:
            continue
        t = owner(s)
        size_id = size_series.get((s.client_id, s.installation_id, partition(s)))
        size_value = latest.get(size_id) if size_id is not None else None
        total = size_value[1] / GB if size_value else None
        low_rows.append(
            {
                "host": t.host,
                "client": t.client,
                "manager": t.manager,
                "partition": partition(s),
                "free": free / GB,
                "total": total,
                "at": at,
            }
        )

    reports = newest_reports(view, targets, REPORT_LOOKBACK)
    v = SysinfoVolume
    volume_rows = []
    if reports:
        sizes = view.db.execute(
            select(v.installation_id, func.count(), func.sum(v.size))
            .where(view.tenant.scope.condition(v), v.upload_id.in_([r.upload_id for r in reports.values()]))
            .group_by(v.installation_id)
        )
        for inst, count, size in sizes:
            if inst in by_inst:
                t = by_inst[inst]
                volume_rows.append(
                    {
                        "host": t.host,
                        "client": t.client,
                        "volumes": count,
                        "size": float(size or 0) / GB,
                        "report_at": reports[inst].created_at,
                    }
                )
    return [
        Chart(
            "free",
            "Свободное место на разделах, ГБ",
            series=chart,
            unit="ГБ",
            legend=("min", "last"),
            rank_by="min",
            rank_low=True,
            y_min=0,
            bands=[(0, LOW_FREE_GB, "crit")],
        ),
        Table(
            "low",
            "Разделы с менее чем 10 ГБ свободного места",
            columns=LOW_COLUMNS,
            rows=low_rows,
            sort="free",
        ),
        Table("volumes", "Размер томов БД", columns=VOLUME_COLUMNS, rows=volume_rows, sort="size", desc=True),
    ]
