"""«Kodeks server metrics» (spec §3.1): abnormal server states and the probes' check statuses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_

from kodeks_smart.store.probe_models import ABNORMAL_STATES, ProbeCheck, ProbeStateInterval
from kodeks_smart.web.dashboards.framework import (
    Chart,
    Panel,
    Series,
    Table,
    View,
    dashboard,
    epoch,
    fmt_duration,
)
from kodeks_smart.web.tables import Column

#: Russian names of the abnormal states, as the original chart's legend shows them.
STATE_TITLES = {
    "maintenance": "Режим обслуживания",
    "need_support": "Требуется обслуживание",
    "server_down": "Сервер не работает",
    "key_not_found": "Ключ не найден",
    "not_started": "Сервер не стартовал",
    "server_errors": "Ошибки на сервере",
    "licences_exhausted": "Кончились лицензии",
}
assert set(STATE_TITLES) == set(ABNORMAL_STATES)
STATUS_TITLES = {
    "ok": "норма",
    "fail": "авария",
    "expected": "ожидаемо (зависимость)",
    "unknown": "не проверено",
}

INTERVAL_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
    Column("state", "Состояние"),
    Column("http_code", "HTTP-код"),
    Column("started_at", "Начало"),
    Column("ended_at", "Конец"),
    Column("duration", "Длительность", fmt=fmt_duration, align="right"),
    Column("detail", "Подробности"),
]
CHECK_COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("check", "Проверка"),
    Column("status", "Статус", fmt=lambda s: STATUS_TITLES.get(s, s)),
    Column("since", "С"),
    Column("checked_at", "Проверено"),
    Column("value", "Значение"),
    Column("detail", "Подробности"),
]


def state_points(
    intervals: list[tuple[datetime, datetime | None, int]], start: datetime, end: datetime
) -> list[tuple[int, float | None]]:
    """A step series: the HTTP code (or 1 without an answer) while a state lasts, 0 otherwise."""
    points: list[tuple[int, float | None]] = []
    value_at_start = 0.0
    for a, b, code in sorted(intervals, key=lambda i: i[0]):
        if a <= start and (b is None or b > start):
            value_at_start = float(code)
    points.append((epoch(start), value_at_start))
    for a, b, code in sorted(intervals, key=lambda i: i[0]):
        if start < a < end:
            points.append((epoch(a), float(code)))
        if b is not None and start < b < end:
            points.append((epoch(b), 0.0))
    last = points[-1][1]
    points.append((epoch(end), last))
    return sorted(points, key=lambda p: p[0])


@dashboard(
    "server-metrics",
    "Kodeks server metrics",
    default_range="24h",
    description="Технический контроль инсталляций глазами СМАРТ: нештатные состояния серверов"
    " и результаты проверок.",
)
def server_metrics(view: View) -> list[Panel]:
    targets = view.targets()
    names = targets.by_id
    checks = list(
        view.db.scalars(
            view.tenant.select(
                ProbeCheck,
                ProbeCheck.installation_id.is_not(None),
                targets.where(ProbeCheck.installation_id),
            )
        )
    )
    checktype = view.multi("checktype", "checktype", {c.check_name for c in checks})
    start, end = view.time.start, view.time.end
    intervals = list(
        view.db.scalars(
            view.tenant.select(
                ProbeStateInterval,
                ProbeStateInterval.started_at < end,
                or_(ProbeStateInterval.ended_at.is_(None), ProbeStateInterval.ended_at > start),
                targets.where(ProbeStateInterval.installation_id),
            )
        )
    )
    grouped: dict[tuple[str, int], list[tuple[datetime, datetime | None, int]]] = {}
    rows = []
    for i in intervals:
        t = names.get(i.installation_id)
        if t is None:
            continue
        grouped.setdefault((i.state, i.installation_id), []).append(
            (i.started_at, i.ended_at, i.http_code or 1)
        )
        until = i.ended_at or view.now
        rows.append(
            {
                "host": t.host,
                "client": t.client,
                "manager": t.manager,
                "state": STATE_TITLES.get(i.state, i.state),
                "http_code": i.http_code,
                "started_at": i.started_at,
                "ended_at": i.ended_at,
                "duration": (until - i.started_at).total_seconds(),
                "detail": i.detail,
            }
        )
    states = [
        Series(f"{STATE_TITLES.get(state, state)} {names[inst].host}", state_points(spans, start, end))
        for (state, inst), spans in sorted(grouped.items(), key=lambda kv: (names[kv[0][1]].host, kv[0][0]))
    ]
    statuses: list[Series] = []
    check_rows = []
    for c in sorted(
        checks, key=lambda c: names[c.installation_id or 0].host if c.installation_id in names else ""
    ):
        t = names.get(c.installation_id or 0)
        if t is None or not checktype.allows(c.check_name):
            continue
        value = 1.0 if c.status == "ok" else 0.0
        if c.since < end:
            begin = max(c.since, start)
            statuses.append(Series(f"{c.check_name} {t.host}", [(epoch(begin), value), (epoch(end), value)]))
        check_rows.append(
            {
                "host": t.host,
                "client": t.client,
                "check": c.check_name,
                "status": c.status,
                "since": c.since,
                "checked_at": c.checked_at,
                "value": c.value,
                "detail": c.detail,
            }
        )
    return [
        Chart(
            "states",
            "Время нештатного состояния сервера",
            series=states,
            kind="step",
            legend=("last", "max"),
            y_min=0,
            rank_by="max",
            description="0 — штатно; иначе HTTP-код, с которым сервер ответил в нештатном состоянии"
            " (1 — сервер не ответил).",
        ),
        Chart(
            "checks",
            "Статусы on-line проверок",
            series=statuses,
            kind="step",
            legend=("last",),
            y_min=0,
            y_max=1,
            rank_by="last",
            description="1 — проверка пройдена, 0 — нет. Линия начинается с момента последней смены статуса.",
        ),
        Table(
            "intervals",
            "Нештатные состояния за период",
            columns=INTERVAL_COLUMNS,
            rows=rows,
            sort="started_at",
            desc=True,
        ),
        Table(
            "check-list", "Текущие результаты проверок", columns=CHECK_COLUMNS, rows=check_rows, sort="host"
        ),
    ]
