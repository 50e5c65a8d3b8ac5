"""«Доступность серверов» and «Доступность серверов. Онлайн» (spec §3.11, §3.12): availability in % over
the trailing 30 days at each point of the range.

Installations: the interface is unavailable while the probes see one of `INTERFACE_DOWN` (the main page
fails in them), the port while the server does not accept TCP connections (state ``server_down``).
Online accesses: unavailable while the login with the client's credentials fails — the history of the
alert OnlineLoginFailed plus the current state of the ``online`` check.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import mean

from sqlalchemy import or_, select

from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.models import Client, Installation, OnlineAccess
from kodeks_smart.store.probe_models import ProbeCheck, ProbeStateInterval
from kodeks_smart.web.dashboards.formulas import (
    merge_micros,
    micros,
    rolling_availability_micros,
)
from kodeks_smart.web.dashboards.framework import Chart, Panel, Series, Table, View, dashboard, epoch
from kodeks_smart.web.tables import Column

WINDOW = timedelta(days=30)
INTERFACE_DOWN = ("server_down", "not_started", "server_errors", "maintenance")
PORT_DOWN = ("server_down",)
MAX_AVAILABILITY_POINTS = 120

SUMMARY_COLUMNS = [
    Column("name", "Name"),
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
    Column("interface", "Интерфейс ПК, %", fmt=lambda v: f"{v:.2f}", align="right"),
    Column("port", "Порт ПК, %", fmt=lambda v: f"{v:.2f}", align="right"),
]
ONLINE_COLUMNS = [
    Column("name", "Name"),
    Column("client", "Клиент"),
    Column("server", "Сервер"),
    Column("availability", "Доступность, %", fmt=lambda v: f"{v:.2f}", align="right"),
]

Spans = list[tuple[datetime, datetime | None]]


def sample_times(view: View) -> list[datetime]:
    """Times at which the rolling availability is drawn: at least hourly, at most MAX points."""
    step = max(view.time.step, 3600)
    while view.time.length.total_seconds() / step > MAX_AVAILABILITY_POINTS:
        step *= 2
    t = view.time.end
    out: list[datetime] = []
    while t > view.time.start and len(out) <= MAX_AVAILABILITY_POINTS:
        out.append(t)
        t -= timedelta(seconds=step)
    return sorted(out)


def _series(name: str, points: Iterable[tuple[datetime, float | None]]) -> Series:
    return Series(name, [(epoch(t), v) for t, v in points])


@dashboard(
    "availability",
    "Доступность серверов",
    default_range="30d",
    description="Доля времени за последние 30 дней (на каждый момент графика), когда интерфейс и порт ПК"
    " были доступны. Норма — 95–99 %.",
)
def availability(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    created: dict[int, datetime] = {
        inst: at
        for inst, at in view.db.execute(
            select(Installation.id, Installation.created_at).where(
                view.tenant.scope.condition(Installation), targets.where(Installation.id)
            )
        )
    }
    earliest = view.time.start - WINDOW
    times = sample_times(view)
    until = micros(times[-1]) if times else 0
    raw: dict[tuple[int, str], list[tuple[int, int | None]]] = {}
    psi = ProbeStateInterval
    for inst, state, started, ended in view.db.execute(
        select(psi.installation_id, psi.state, psi.started_at, psi.ended_at).where(
            view.tenant.scope.condition(psi),
            psi.state.in_(INTERFACE_DOWN),
            psi.started_at < view.time.end,
            or_(psi.ended_at.is_(None), psi.ended_at > earliest),
            targets.where(psi.installation_id),
        )
    ):
        span = (micros(started), None if ended is None else micros(ended))
        raw.setdefault((inst, "interface"), []).append(span)
        if state in PORT_DOWN:
            raw.setdefault((inst, "port"), []).append(span)
    spans = {key: merge_micros(found, until) for key, found in raw.items()}
    at_us = [micros(t) for t in times]
    at_s = [epoch(t) for t in times]
    window = WINDOW // timedelta(microseconds=1)
    interface: list[Series] = []
    port: list[Series] = []
    rows = []
    for t in sorted(targets.chosen, key=lambda t: t.host.casefold()):
        since = created.get(t.id)
        since_us = None if since is None else micros(since)
        a = rolling_availability_micros(spans.get((t.id, "interface"), []), at_us, window, since_us)
        b = rolling_availability_micros(spans.get((t.id, "port"), []), at_us, window, since_us)
        interface.append(Series(t.host, list(zip(at_s, a, strict=True))))
        port.append(Series(t.host, list(zip(at_s, b, strict=True))))
        rows.append(
            {
                "name": t.host,
                "client": t.client,
                "manager": t.manager,
                "interface": a[-1] if a else None,
                "port": b[-1] if b else None,
            }
        )
    return [
        _percent_chart("interface", "Доступность интерфейса ПК в % за последние 30 дней", interface),
        _percent_chart("port", "Доступность открытого порта к ПК в % за последние 30 дней", port),
        Table(
            "summary", "Доступность сейчас (за 30 дней)", columns=SUMMARY_COLUMNS, rows=rows, sort="interface"
        ),
    ]


@dashboard(
    "availability-online",
    "Доступность серверов. Онлайн",
    default_range="24h",
    description="Доступность купленных онлайн-доступов за последние 30 дней. Норма — 100 %; любое отклонение"
    " надо разобрать. Фильтр «Клиент» действует на первую панель, «Сервер» — на вторую.",
)
def availability_online(view: View) -> list[Panel]:
    clients = {c.id: c.short_name for c in view.tenant.list(Client)}
    accesses = view.tenant.list(OnlineAccess)
    client_filter = view.multi("client", "Клиент", clients.values())
    server_filter = view.multi("server", "Сервер", {a.host for a in accesses})
    earliest = view.time.start - WINDOW
    spans: dict[int, Spans] = {}
    for alert in view.db.scalars(
        view.tenant.select(
            AlertState,
            AlertState.rule == "OnlineLoginFailed",
            AlertState.online_access_id.is_not(None),
            AlertState.started_at < view.time.end,
            or_(AlertState.resolved_at.is_(None), AlertState.resolved_at > earliest),
        )
    ):
        assert alert.online_access_id is not None
        spans.setdefault(alert.online_access_id, []).append((alert.started_at, alert.resolved_at))
    for check in view.db.scalars(
        view.tenant.select(
            ProbeCheck, ProbeCheck.online_access_id.is_not(None), ProbeCheck.check_name == "online"
        )
    ):
        if check.status == "fail" and check.online_access_id is not None:
            spans.setdefault(check.online_access_id, []).append((check.since, None))
    times = sample_times(view)
    at_us = [micros(t) for t in times]
    until = at_us[-1] if at_us else 0
    window = WINDOW // timedelta(microseconds=1)
    per_access: dict[int, list[tuple[datetime, float | None]]] = {}
    for a in accesses:
        down = merge_micros(
            ((micros(b), None if e is None else micros(e)) for b, e in spans.get(a.id, [])), until
        )
        rolled = rolling_availability_micros(down, at_us, window, micros(a.created_at))
        per_access[a.id] = list(zip(times, rolled, strict=True))
    by_client: list[Series] = []
    rows = []
    for a in sorted(accesses, key=lambda a: (clients.get(a.client_id, ""), a.login)):
        client = clients.get(a.client_id, "")
        name = f"{client} ({a.login}@{a.host})"
        points = per_access[a.id]
        if client_filter.allows(client):
            by_client.append(_series(name, points))
        if client_filter.allows(client) and server_filter.allows(a.host):
            rows.append(
                {
                    "name": name,
                    "client": client,
                    "server": a.host,
                    "availability": points[-1][1] if points else None,
                }
            )
    by_server: list[Series] = []
    for host in sorted({a.host for a in accesses}):
        if not server_filter.allows(host):
            continue
        members = [per_access[a.id] for a in accesses if a.host == host]
        merged: list[tuple[datetime, float | None]] = []
        for n, t in enumerate(times):
            values = [v for m in members if (v := m[n][1]) is not None]
            merged.append((t, mean(values) if values else None))
        by_server.append(_series(host, merged))
    return [
        Chart(
            "clients",
            "Доступность биллинга клиента за 30 дней",
            series=by_client,
            unit="%",
            y_min=0,
            y_max=100,
            legend=("last", "min"),
            rank_by="min",
            rank_low=True,
        ),
        Chart(
            "servers",
            "Доступность биллинга по серверам",
            series=by_server,
            unit="%",
            y_min=0,
            y_max=100,
            legend=("last", "min"),
            rank_by="min",
            rank_low=True,
        ),
        Table("accesses", "Онлайн-доступы", columns=ONLINE_COLUMNS, rows=rows, sort="availability"),
    ]


def _percent_chart(name: str, title: str, series: list[Series]) -> Chart:
    """A rolling-availability chart: 0–100 %, red below 95 %, the worst installations shown first."""
    return Chart(
        name,
        title,
        series=series,
        unit="%",
        legend=("last", "min"),
        y_max=100,
        rank_by="min",
        rank_low=True,
        bands=[(0, 95, "crit"), (95, 100, "ok")],
    )
