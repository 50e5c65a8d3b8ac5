"""Every panel's SQL, with Grafana's macros expanded, runs as a cabinet's role and returns its rows."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, text

from kodeks_smart.grafana.builder import Dashboard, Panel, Variable
from kodeks_smart.grafana.dashboards import (
    ANALYTICS,
    AVAILABILITY,
    BILLING,
    CURRENT_ALERTS,
    DASHBOARDS,
    SEARCHES,
)
from kodeks_smart.grafana.macros import TimeRange, expand, variable_names
from tests.grafana.conftest import Grafana, as_role

pytestmark = pytest.mark.postgres


def variable_values(conn: Connection, variable: Variable) -> list[str]:
    """What Grafana would offer (and send for All): the ``__value`` column, or the only column."""
    result = conn.execute(text(variable.sql))
    keys = list(result.keys())
    column = keys.index("__value") if "__value" in keys else 0
    return [str(row[column]) for row in result]


def all_values(conn: Connection, dashboard: Dashboard) -> dict[str, list[str]]:
    return {v.name: variable_values(conn, v) for v in dashboard.variables}


def run(conn: Connection, panel: Panel, time_range: TimeRange, values: dict[str, Sequence[str]]) -> list[Any]:
    return list(conn.execute(text(expand(panel.sql, time_range, values))).all())


def panel(dashboard: Dashboard, title: str) -> Panel:
    return next(p for p in dashboard.panels if p.title == title)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_every_panel_runs_for_cabinet_a_and_shows_only_its_rows(
    grafana: Grafana, dashboard: Dashboard
) -> None:
    with as_role(grafana.db, grafana.role_a) as conn:
        values = all_values(conn, dashboard)
        for name, chosen in values.items():
            assert chosen, f"variable ${name} offers nothing to cabinet A"
        for p in dashboard.panels:
            assert variable_names(p.sql) <= set(values), f"{p.title}: undeclared variable"
            rows = run(conn, p, grafana.range, values)
            assert rows, f"{p.title}: no rows for cabinet A"
            shown = repr(rows)
            assert "beta" not in shown and "gamma" not in shown, f"{p.title} leaks: {shown}"


def test_the_client_variable_offers_a_cabinet_only_its_own_clients(grafana: Grafana) -> None:
    client = ANALYTICS.variables[0]
    with grafana.db.engine.connect() as owner:
        everyone = variable_values(owner, client)
    with as_role(grafana.db, grafana.role_a) as conn:
        mine = variable_values(conn, client)
    assert len(everyone) == 3
    assert len(mine) == 1 and mine[0] in everyone


def test_analytics_panels_count_cabinet_a_sessions_seats_and_empty_searches(grafana: Grafana) -> None:
    with as_role(grafana.db, grafana.role_a) as conn:
        values = all_values(conn, ANALYTICS)
        used = run(conn, panel(ANALYTICS, "Используемые лицензии"), grafana.range, values)
        spare = run(
            conn, panel(ANALYTICS, "Разница между используемыми лицензиями и регом"), grafana.range, values
        )
        empty = run(conn, panel(ANALYTICS, "Количество неудачных поисков за сутки"), grafana.range, values)
    assert [(r.metric, r.value) for r in used] == [("alpha.example.ru:80", 3)]
    assert [(r.metric, r.value) for r in spare] == [("alpha.example.ru:80", 7)]
    assert sum(r.value for r in empty) == 2


def test_a_cabinet_sees_its_own_number_of_active_alerts(grafana: Grafana) -> None:
    stat = panel(CURRENT_ALERTS, "Активные аварии")
    counts = {}
    for role in (grafana.role_a, grafana.role_b):
        with as_role(grafana.db, role) as conn:
            counts[role] = run(conn, stat, grafana.range, all_values(conn, CURRENT_ALERTS))[0][0]
    assert counts == {grafana.role_a: 1, grafana.role_b: 2}


def test_availability_over_the_interval_subtracts_the_downtime(grafana: Grafana) -> None:
    table = panel(AVAILABILITY, "Доступность интерфейса ПК в % за выбранный интервал")
    with as_role(grafana.db, grafana.role_a) as conn:
        a = run(conn, table, grafana.range, all_values(conn, AVAILABILITY))
    with as_role(grafana.db, grafana.role_b) as conn:
        b = run(conn, table, grafana.range, all_values(conn, AVAILABILITY))
    # 3 hours down in 30 days: 100 × (1 − 10800 / 2592000).
    assert [tuple(r) for r in a] == [("alpha.example.ru:80", Decimal("99.58"))]
    assert [tuple(r) for r in b] == [("beta.example.ru:80", Decimal("100.00"))]


def test_the_search_status_filter_narrows_the_search_table(grafana: Grafana) -> None:
    searches = panel(SEARCHES, "Поисковые запросы")
    with as_role(grafana.db, grafana.role_a) as conn:
        values = all_values(conn, SEARCHES)
        everything = run(conn, searches, grafana.range, values)
        found = run(conn, searches, grafana.range, {**values, "status": ["found"]})
    assert len(everything) == 3
    assert [r.Статус for r in found] == ["Успешный"]


def test_naming_another_cabinets_client_in_a_variable_returns_nothing(grafana: Grafana) -> None:
    with grafana.db.engine.connect() as owner:
        b_client = owner.execute(
            text("SELECT id FROM clients WHERE cabinet_id = :b"), {"b": grafana.tenants.cabinet_b}
        ).scalar_one()
    used = panel(ANALYTICS, "Используемые лицензии")
    with as_role(grafana.db, grafana.role_a) as conn:
        values = {**all_values(conn, ANALYTICS), "client": [str(b_client)]}
        assert run(conn, used, grafana.range, values) == []


def test_panels_see_nothing_outside_the_time_range(grafana: Grafana) -> None:
    from datetime import timedelta

    past = TimeRange(grafana.now - timedelta(days=400), grafana.now - timedelta(days=370))
    used = panel(ANALYTICS, "Используемые лицензии")
    with as_role(grafana.db, grafana.role_a) as conn:
        assert run(conn, used, past, all_values(conn, ANALYTICS)) == []


def test_online_billing_shows_the_last_reading_in_the_interval(grafana: Grafana) -> None:
    with as_role(grafana.db, grafana.role_a) as conn:
        rows = run(conn, panel(BILLING, "Биллинг Онлайн"), grafana.range, all_values(conn, BILLING))
    assert [(r.Логин, r.Документы, float(r[3])) for r in rows] == [("alpha_online", 160, 46.7)]
