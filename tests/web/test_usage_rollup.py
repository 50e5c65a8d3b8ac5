"""The usage rollups give «Kodeks аналитика» and «Для менеджеров» exactly the numbers of the raw facts.

Reports go through the real pipeline (simulator → upload → consumer → sysinfo writer); each page is then
rendered twice, from the rollups and from the raw facts (`usage.ROLLUPS` off), and every chart and table
must be equal. The rollup tables must also equal a rebuild from scratch (`usage_rollup.backfill`): the
keys refreshed by each write are the whole story.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from kodeks_smart.ingest import service, usage_rollup
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.ingest.retention import run_retention
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store.ingest_models import SysinfoSession, SysinfoUsageHour
from kodeks_smart.store.usage_rollup_models import (
    ReportSeats,
    UsageDayRollup,
    UsageFirstRequest,
    UsageHourRollup,
    UsageWeekRollup,
)
from kodeks_smart.web.dashboards import usage
from tests.conftest import Tenants
from tests.web.dashboard_helpers import chart, open_dashboard, series

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
CHART_JSON = r'<script type="application/json" class="chart-data" data-for="([^"]+)">(.*?)</script>'
ROLLUP_MODELS = (UsageHourRollup, UsageDayRollup, UsageWeekRollup, UsageFirstRequest, ReportSeats)


def _upload(ctx: IngestContext, profile: SysinfoProfile) -> None:
    """A report handed over by hand (the same processing as an agent's upload)."""
    service.ingest_file(ctx, "0599ROGAIKOPITA", "alpha_client", data=generate_zip(profile), fmt="zip")


def _profile(at: datetime, **kw: Any) -> SysinfoProfile:
    values: dict[str, Any] = {"users": 12, "days": 70, "now": at}
    values.update(kw)
    return SysinfoProfile("alpha_client", **values)


def _panels(page: str) -> dict[str, Any]:
    """Every chart's JSON and every table's body of a dashboard page."""
    charts = {name: json.loads(body) for name, body in re.findall(CHART_JSON, page, re.S)}
    tables = dict(re.findall(r'<section [^>]*data-panel="([^"]+)">.*?<tbody>(.*?)</tbody>', page, re.S))
    return {"charts": charts, "tables": tables}


#: Absolute ranges that start at 10:13 UTC, in the working hours of the data (UTC+3), so that the range edges
#: cut hours and days (presets move with the clock).
def _ranges() -> list[str]:
    fmt = "%Y-%m-%dT%H:%M"
    end = NOW + timedelta(hours=2, minutes=17)
    day = NOW.replace(hour=10, minute=13)
    days = (1, 5, 12, 33, 55, 64, 90, 400)  # points of 1 h, 3 h, 6 h, 6 h, 1 day, 1 day, 1 day, 7 days
    return [f"from={(day - timedelta(days=d)):{fmt}}&to={end:{fmt}}" for d in days]


def _same_from_rollups_and_raw(web: TestClient, cabinet_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = 0
    for slug in ("analytics", "managers"):
        for query in _ranges():
            monkeypatch.setattr(usage, "ROLLUPS", True)
            rolled = _panels(open_dashboard(web, cabinet_id, slug, query))
            monkeypatch.setattr(usage, "ROLLUPS", False)
            raw = _panels(open_dashboard(web, cabinet_id, slug, query))
            assert rolled == raw, f"{slug}?{query}"
            checked += sum(len(c["series"]) for c in raw["charts"].values())
    monkeypatch.setattr(usage, "ROLLUPS", True)
    assert checked > 100  # the pages had data to compare


def _snapshot(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with ctx.db.session() as s:
        for model in ROLLUP_MODELS:
            table = usage_rollup.table_of(model)
            cols = [c for c in table.c if c.name != "id"]
            out[table.name] = sorted(tuple(r) for r in s.execute(select(*cols)))
    return out


def _same_as_rebuilt(ctx: IngestContext) -> None:
    """The incrementally kept rollups equal a rebuild of all of them from the facts."""
    kept = _snapshot(ctx)
    with ctx.db.write() as s:
        usage_rollup.backfill(s)
    assert _snapshot(ctx) == kept
    assert all(kept.values())


def test_rollups_give_the_raw_numbers_as_reports_overlap_and_rewrite_hours(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _upload(ctx, _profile(NOW - timedelta(days=1, minutes=40)))
    drain(ctx)
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(web, tenants.cabinet_a, monkeypatch)
    # A newer report repeats the last days and rewrites the hour in progress; an older one arrives late.
    _upload(ctx, _profile(NOW, seed=3))
    _upload(ctx, _profile(NOW - timedelta(minutes=40), seed=5))
    drain(ctx)
    with ctx.db.session() as s:
        rewritten = s.scalar(
            select(func.count()).select_from(SysinfoUsageHour).where(SysinfoUsageHour.upload_id > 1)
        )
    assert rewritten
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(web, tenants.cabinet_a, monkeypatch)
    host = next(iter(series(open_dashboard(web, tenants.cabinet_a, "analytics"), "used")))
    assert "alpha" in host


def test_rollups_follow_reprocessing_and_retention(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _upload(ctx, _profile(NOW - timedelta(hours=2)))
    drain(ctx)
    with ctx.db.write() as s:  # a parser bug wrote wrong counters and sessions (bulk, past the ORM)
        s.execute(update(SysinfoUsageHour).values(db_requests=SysinfoUsageHour.db_requests + 1000))
        s.execute(delete(SysinfoSession))
    assert enqueue_reprocess(ctx, dealer_code="0599ROGAIKOPITA") == 1
    assert drain(ctx) == 1
    with ctx.db.session() as s:
        assert (s.scalar(select(func.max(UsageHourRollup.db_requests))) or 0) < 1000
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(web, tenants.cabinet_a, monkeypatch)

    # Retention with the cutoff inside the data: in the working hours of a day.
    cutoff = NOW.replace(hour=10, minute=30) - timedelta(days=17)
    with ctx.db.session() as s:
        before = s.scalar(select(func.min(UsageHourRollup.at)))
    run_retention(ctx, now=cutoff + timedelta(days=ctx.retention_days))
    with ctx.db.session() as s:
        oldest = s.scalar(select(func.min(UsageHourRollup.at)))
        first_hour = s.scalar(select(func.min(SysinfoUsageHour.hour)))
    assert first_hour is not None and first_hour >= cutoff
    assert before is not None and oldest is not None and before < cutoff.timestamp() <= oldest
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(web, tenants.cabinet_a, monkeypatch)


def test_orm_writes_are_rolled_up_when_the_session_commits(
    ctx: IngestContext,
) -> None:
    _upload(ctx, _profile(NOW, days=2))
    drain(ctx)
    with ctx.db.write() as s:
        # A user's last hour with DB requests loses them: the month of that user is read again.
        row = s.scalars(
            select(SysinfoUsageHour)
            .where(SysinfoUsageHour.db_requests > 0)
            .order_by(SysinfoUsageHour.hour.desc())
        ).first()
        assert row is not None
        row.docs = (row.docs or 0) + 7
        row.db_requests = 0
        moved = s.scalars(select(SysinfoSession)).first()
        assert moved is not None
        s.delete(moved)
    _same_as_rebuilt(ctx)


def test_ranked_charts_show_the_same_top_series_as_the_raw_path(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With more installations than a chart shows, the rollup path ranks them before reading points:
    the same series, in the same order, with the same «hidden» count as the raw path that builds all."""
    from kodeks_smart.store import admin
    from kodeks_smart.store.models import Cabinet
    from kodeks_smart.web.dashboards import analytics, framework, managers

    with ctx.db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        for n in range(4):
            client = admin.add_client(s, cabinet, f"site{n}")
            # site0 is at UTC+5:30: its hours start at :30 UTC, and the 1-day range has 15-minute points.
            offset = 330 if n == 0 else 180
            admin.add_installation(
                s, services.box, client, "internet", f"site{n}.example.ru:80", tz_offset_minutes=offset
            )
    _upload(ctx, _profile(NOW, days=50))
    for n in range(4):
        offset = 330 if n == 0 else 180
        profile = SysinfoProfile(
            f"site{n}", users=4 + 3 * n, days=50, now=NOW, seed=n, tz_offset_minutes=offset
        )
        service.ingest_file(ctx, "0599ROGAIKOPITA", f"site{n}", data=generate_zip(profile), fmt="zip")
    drain(ctx)
    _same_from_rollups_and_raw(web, tenants.cabinet_a, monkeypatch)  # every series shown
    for module in (framework, usage, analytics, managers):
        monkeypatch.setattr(module, "MAX_SERIES", 2)
    _same_from_rollups_and_raw(web, tenants.cabinet_a, monkeypatch)
    page = open_dashboard(web, tenants.cabinet_a, "analytics", _ranges()[-1])
    assert len(series(page, "docs")) == 2 and '"hidden": 3' in page
    operup = chart(open_dashboard(web, tenants.cabinet_a, "managers", _ranges()[2]), "operup")
    assert len(operup["series"]) == 2 and operup["hidden"] > 0


def test_migration_0013_fills_the_rollups_from_the_stored_facts(ctx: IngestContext) -> None:
    """Upgrading a store that has facts but no rollups (0012 → 0013) backfills them with the numbers
    the writers keep; downgrading drops them."""
    from sqlalchemy import inspect

    from kodeks_smart.store import migrate
    from tests.grafana.test_migration import _downgrade

    _upload(ctx, _profile(NOW, days=20))
    drain(ctx)
    kept = _snapshot(ctx)
    assert all(kept.values())
    _downgrade(ctx.db, "0012")
    assert "sysinfo_usage_daily" not in inspect(ctx.db.engine).get_table_names()
    migrate.upgrade(ctx.db)
    assert _snapshot(ctx) == kept
