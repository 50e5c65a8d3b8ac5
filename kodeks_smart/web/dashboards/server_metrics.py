"""«Kodeks server metrics» (spec §3.1): abnormal server states and the probes' check statuses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from kodeks_smart.store.probe_models import ABNORMAL_STATES, ProbeCheck, ProbeStateInterval
from kodeks_smart.web.dashboards.framework import (
    MAX_SERIES,
    Chart,
    Panel,
    Series,
    Table,
    View,
    dashboard,
    epoch,
    fmt_duration,
)
from kodeks_smart.web.dashboards.usage import TopChart
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
    value_at_start = 0.0
    inside: list[tuple[int, float | None]] = []
    for a, b, code in sorted(intervals, key=lambda i: i[0]):
        if a <= start and (b is None or b > start):
            value_at_start = float(code)
        if start < a < end:
            inside.append((epoch(a), float(code)))
        if b is not None and start < b < end:
            inside.append((epoch(b), 0.0))
    points: list[tuple[int, float | None]] = [(epoch(start), value_at_start), *inside]
    points.append((epoch(end), points[-1][1]))
    return sorted(points, key=lambda p: p[0])


def state_peak(
    intervals: list[tuple[datetime, datetime | None, int]], start: datetime, end: datetime
) -> float:
    """The largest value of `state_points` (what the chart ranks its series by), without building them:
    the value at the start (the state covering it that sorts last by start), the codes of the states
    starting inside the range, and 0 where one ends inside."""
    at_start: tuple[datetime, int] | None = None
    peak: float | None = None
    for a, b, code in intervals:
        if a <= start and (b is None or b > start) and (at_start is None or a >= at_start[0]):
            at_start = (a, code)
        if start < a < end:
            peak = float(code) if peak is None else max(peak, float(code))
        if b is not None and start < b < end:
            peak = 0.0 if peak is None else max(peak, 0.0)
    value = float(at_start[1]) if at_start is not None else 0.0
    return value if peak is None else max(value, peak)


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
    # Plain rows of the needed columns, not ORM objects: building 30,000 objects for 13 months of
    # intervals was half of the page's time.
    pc = ProbeCheck
    checks = list(
        view.db.execute(
            select(
                pc.id,
                pc.installation_id,
                pc.check_name,
                pc.status,
                pc.since,
                pc.checked_at,
                pc.value,
                pc.detail,
            )
            .where(
                view.tenant.scope.condition(pc),
                pc.installation_id.is_not(None),
                targets.where(pc.installation_id),
            )
            .order_by(pc.id)
        )
    )
    checktype = view.multi("checktype", "checktype", {c.check_name for c in checks})
    start, end = view.time.start, view.time.end
    psi = ProbeStateInterval
    intervals = list(
        view.db.execute(
            select(
                psi.id,
                psi.installation_id,
                psi.state,
                psi.http_code,
                psi.started_at,
                psi.ended_at,
                psi.detail,
            )
            .where(
                view.tenant.scope.condition(psi),
                psi.started_at < end,
                or_(psi.ended_at.is_(None), psi.ended_at > start),
                targets.where(psi.installation_id),
            )
            .order_by(psi.id)
        )
    )
    grouped: dict[tuple[str, int], list[tuple[datetime, datetime | None, int]]] = {}
    rows = []
    now = view.now
    for _, inst, state, http_code, started, ended, detail in intervals:
        t = names.get(inst)
        if t is None:
            continue
        grouped.setdefault((state, inst), []).append((started, ended, http_code or 1))
        rows.append(
            {
                "host": t.host,
                "client": t.client,
                "manager": t.manager,
                "state": STATE_TITLES.get(state, state),
                "http_code": http_code,
                "started_at": started,
                "ended_at": ended,
                "duration": ((ended or now) - started).total_seconds(),
                "detail": detail,
            }
        )
    # 27,000 intervals of 2,000 (state, server) pairs at 13 months: rank the pairs by their peak and build
    # the points of the `MAX_SERIES` shown only, in the order `Chart` would keep them.
    keys = sorted(grouped, key=lambda k: (names[k[1]].host, k[0]))
    if len(keys) > MAX_SERIES:
        peaks = {k: state_peak(grouped[k], start, end) for k in keys}
        keys = sorted(keys, key=lambda k: -peaks[k])[:MAX_SERIES]
    states = [
        Series(
            f"{STATE_TITLES.get(state, state)} {names[inst].host}",
            state_points(grouped[state, inst], start, end),
        )
        for state, inst in keys
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
        TopChart(
            "states",
            "Время нештатного состояния сервера",
            series=states,
            total=len(grouped),
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
