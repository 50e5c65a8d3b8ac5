"""`SMART_DB_DASHBOARD_PARALLEL_WORKERS`: on PostgreSQL a dashboard page sets the parallel workers of its
statements (`max_parallel_workers_per_gather`) for its own transaction, and the connection goes back to
the pool with the server's setting."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.runtime import Services
from kodeks_smart.web.dashboards import framework
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard


def _seen_by_pages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each dashboard page's session reports for the setting once its panels are built."""
    seen: list[str] = []
    respond = framework.View.respond

    def recording(view: framework.View, panels: list[framework.Panel]) -> Any:
        seen.append(view.db.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one())
        return respond(view, panels)

    monkeypatch.setattr(framework.View, "respond", recording)
    return seen


def test_a_dashboard_runs_without_parallel_workers_by_default_and_leaves_the_connection_as_it_was(
    web: TestClient, services: Services, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    if services.db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting: SQLite has no parallel workers")
    with services.db.engine.connect() as conn:
        server = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
    assert server != "0"  # else the test could not tell the page's value from the server's
    seen = _seen_by_pages(monkeypatch)
    open_dashboard(web, tenants.cabinet_a, "ad", "range=30d")
    monkeypatch.setattr(
        services, "settings", dataclasses.replace(services.settings, db_dashboard_parallel_workers=3)
    )
    open_dashboard(web, tenants.cabinet_a, "ad", "range=30d")
    assert seen == ["0", "3"]
    # SET LOCAL: every pooled connection is back at the server's value
    conns = [services.db.engine.connect() for _ in range(3)]
    try:
        values = {c.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one() for c in conns}
        assert values == {server}
    finally:
        for c in conns:
            c.close()


def test_the_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="SMART_DB_DASHBOARD_PARALLEL_WORKERS"):
        Settings.from_values({"db_dashboard_parallel_workers": -1})
    assert Settings.from_values({"db_dashboard_parallel_workers": "4"}).db_dashboard_parallel_workers == 4
