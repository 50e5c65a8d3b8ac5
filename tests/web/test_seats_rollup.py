"""«Kodeks аналитика» ranks the seat charts and the empty-search chart before reading their points, and
shows exactly what the plain path (every installation's points, ranked by `Chart`) shows.

The facts are written through the ORM (the session hooks roll them up); every chart and table of the page
is then rendered from the rollups and from the raw facts (`usage.ROLLUPS` off) and must be equal, with all
series shown and with only 1–3 of them (`MAX_SERIES`): the delta chart's bound (largest reg seats − smallest
occupied) is loose for the installations whose seats dropped, so its points are read in a second round.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from kodeks_smart.ingest import seats_rollup, service, usage_rollup
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.ingest.retention import run_retention
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store import admin
from kodeks_smart.store.ingest_models import SysinfoReportRow, SysinfoSearch, SysinfoSession
from kodeks_smart.store.models import Cabinet
from kodeks_smart.store.seats_rollup_models import SeatsDayRollup
from kodeks_smart.store.usage_rollup_models import ReportSeats
from kodeks_smart.web.dashboards import analytics, framework, usage
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard, site_of

NOW = datetime(2026, 11, 20, 14, 7, tzinfo=UTC)
CHART_JSON = r'<script type="application/json" class="chart-data" data-for="([^"]+)">(.*?)</script>'
#: Per installation: (days before NOW, reg seats or None, occupied seats) of its reports. The delta
#: chart's largest values are 59 (s4), 45 (s2), 37 (s3), 29 (s1), 18 (s0); its bounds 99 (s1), 98 (s0),
#: 59, 45, 37: the two largest bounds are not the two largest values. s5 has no reg seats at all.
REPORTS: dict[str, list[tuple[int, int | None, int]]] = {
    "s0": [(30, 100, 90), (12, 20, 2), (3, 20, 3)],
    "s1": [(30, 100, 95), (12, 30, 1)],
    "s2": [(20, 50, 5), (5, 50, 6), (5, 40, 2)],
    "s3": [(40, 40, 3), (2, 40, 4)],
    "s4": [(9, 60, 59), (1, None, 1)],
    "s5": [(6, None, 4), (4, None, 2)],
}
#: Empty searches per installation: (days before NOW, how many).
EMPTY = {"s0": [(3, 2)], "s1": [(10, 5), (2, 1)], "s2": [(1, 3)], "s4": [(20, 4), (19, 4)]}


def _write_facts(services: Services, cabinet_id: int) -> None:
    with services.db.write() as s:
        cabinet = s.get(Cabinet, cabinet_id)
        assert cabinet is not None
        for n, name in enumerate(REPORTS):
            client = admin.add_client(s, cabinet, name)
            # s0 is at UTC+5:30 (its reports land at other UTC times than the others').
            offset = 330 if n == 0 else 180
            admin.add_installation(
                s, services.box, client, "internet", f"{name}.example.ru:80", tz_offset_minutes=offset
            )
        for name, reports in REPORTS.items():
            for days, seats, used in reports:
                site = site_of(s, cabinet_id, name)  # a new upload per report
                at = (NOW - timedelta(days=days)).replace(hour=10 if name != "s0" else 4, minute=30)
                s.add(SysinfoReportRow(**site.fact(), created_at=at, utc_offset_minutes=180, seats=seats))
                s.add_all(SysinfoSession(**site.fact(), report_at=at, login=f"u{k}") for k in range(used))
            for days, count in EMPTY.get(name, []):
                site = site_of(s, cabinet_id, name)
                for k in range(count):
                    s.add(
                        SysinfoSearch(
                            **site.fact(),
                            occurred_at=NOW - timedelta(days=days, minutes=k),
                            login="u0",
                            query_key=f"q{k}",
                            result="empty",
                        )
                    )


def _panels(page: str) -> dict[str, Any]:
    charts = {name: json.loads(body) for name, body in re.findall(CHART_JSON, page, re.S)}
    tables = dict(re.findall(r'<section [^>]*data-panel="([^"]+)">.*?<tbody>(.*?)</tbody>', page, re.S))
    return {"charts": charts, "tables": tables}


def _ranges() -> list[str]:
    """Absolute ranges ending at NOW: points of 6 hours, 1 day and 7 days, edges inside days."""
    fmt = "%Y-%m-%dT%H:%M"
    return [f"from={(NOW - timedelta(days=d, hours=3)):{fmt}}&to={NOW:{fmt}}" for d in (33, 45, 90, 400)]


def test_ranked_seat_and_search_charts_equal_the_plain_ones(
    web: TestClient, services: Services, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_facts(services, tenants.cabinet_a)
    reads: list[int] = []
    plain_used_and_seats = usage.used_and_seats

    def counted(*args: Any, **kw: Any) -> Any:
        if kw.get("only") is not None:
            reads.append(len(kw["only"]))
        return plain_used_and_seats(*args, **kw)

    monkeypatch.setattr(analytics, "used_and_seats", counted)
    shown = 0
    for limit in (framework.MAX_SERIES, 3, 2, 1):
        for module in (framework, usage, analytics):
            monkeypatch.setattr(module, "MAX_SERIES", limit)
        for query in _ranges():
            reads.clear()
            monkeypatch.setattr(usage, "ROLLUPS", True)
            ranked = _panels(open_dashboard(web, tenants.cabinet_a, "analytics", query))
            rounds = len(reads)
            monkeypatch.setattr(usage, "ROLLUPS", False)
            plain = _panels(open_dashboard(web, tenants.cabinet_a, "analytics", query))
            assert ranked == plain, f"MAX_SERIES={limit}, {query}"
            charts = plain["charts"]
            shown += sum(len(charts[n]["series"]) for n in ("used", "delta", "seats", "empty-searches"))
            if limit == 2 and query == _ranges()[2]:
                # 90 days: the two largest delta bounds (s1, s0) are read first, then the rest.
                assert rounds == 2, reads
                assert [s["name"] for s in charts["delta"]["series"]] == [
                    "s4.example.ru:80",
                    "s2.example.ru:80",
                ]
                assert charts["delta"]["hidden"] == 3 and charts["used"]["hidden"] == 4
                assert charts["seats"]["hidden"] == 3 and charts["empty-searches"]["hidden"] == 2
    assert shown > 80


# -- the daily seats rollup ------------------------------------------------------------------------------

LIVE = datetime.now(UTC).replace(second=0, microsecond=0)


def _upload(ctx: IngestContext, client: str, at: datetime, **kw: Any) -> None:
    values: dict[str, Any] = {"users": 12, "days": 3, "now": at}
    values.update(kw)
    data = generate_zip(SysinfoProfile(client, **values))
    service.ingest_file(ctx, "0599ROGAIKOPITA", client, data=data, fmt="zip")


def _days(ctx: IngestContext) -> list[tuple[Any, ...]]:
    """The day rows and the week rows (tagged with their table), without ids."""
    rows = []
    with ctx.db.session() as s:
        for table in (seats_rollup.DAILY, seats_rollup.WEEKLY):
            cols = [c for c in table.c if c.name != "id"]
            rows += [(table.name, *r) for r in s.execute(select(*cols))]
    return sorted(rows)


def _same_as_rebuilt(ctx: IngestContext) -> None:
    """The kept day and week rows equal a rebuild of the per-report rows from the facts and of the days
    (and weeks) from those."""
    kept = _days(ctx)
    assert kept
    with ctx.db.write() as s:
        usage_rollup.backfill(s)
        seats_rollup.backfill(s)
    assert _days(ctx) == kept


def _same_pages(web: TestClient, cabinet_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chart and table of «Kodeks аналитика» from the rollups equals the raw path's, over ranges whose
    edges cut days (points of 6 hours, 1 day and 7 days; presets move with the clock between two pages)."""
    fmt = "%Y-%m-%dT%H:%M"
    end = LIVE + timedelta(hours=2, minutes=17)
    start = LIVE.replace(hour=10, minute=13)
    queries = [f"from={(start - timedelta(days=d)):{fmt}}&to={end:{fmt}}" for d in (12, 33, 64, 90, 400)]
    for query in queries:
        monkeypatch.setattr(usage, "ROLLUPS", True)
        rolled = _panels(open_dashboard(web, cabinet_id, "analytics", query))
        monkeypatch.setattr(usage, "ROLLUPS", False)
        raw = _panels(open_dashboard(web, cabinet_id, "analytics", query))
        assert rolled == raw, query
        assert raw["charts"]["used"]["series"] and raw["charts"]["seats"]["series"], query
    monkeypatch.setattr(usage, "ROLLUPS", True)


def test_daily_seats_follow_overlapping_late_and_reprocessed_reports(
    ctx: IngestContext,
    web: TestClient,
    services: Services,
    tenants: Tenants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ctx.db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        client = admin.add_client(s, cabinet, "indore")  # UTC+5:30: its local midnight is 18:30 UTC
        admin.add_installation(
            s, services.box, client, "internet", "indore.example.ru:80", tz_offset_minutes=330
        )
    # Several reports a day (one at 18:40 UTC, the next UTC day in India), a newer one and a late one.
    for n, back in enumerate(
        (timedelta(days=20), timedelta(days=9, hours=5), timedelta(days=9), timedelta(0))
    ):
        _upload(ctx, "alpha_client", LIVE - back, seed=n, seats=8 + n)
    _upload(
        ctx, "indore", LIVE.replace(hour=18, minute=40) - timedelta(days=2), seed=7, tz_offset_minutes=330
    )
    _upload(ctx, "indore", LIVE - timedelta(hours=3), seed=8, seats=3, tz_offset_minutes=330)
    _upload(ctx, "alpha_client", LIVE - timedelta(days=9, hours=2), seed=9, seats=30)  # late
    drain(ctx)
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReportSeats)) > s.scalar(
            select(func.count()).select_from(SeatsDayRollup)
        )
    _same_as_rebuilt(ctx)
    _same_pages(web, tenants.cabinet_a, monkeypatch)

    # A parser bug wrote wrong sessions (bulk, past the ORM); reprocessing rewrites them.
    with ctx.db.write() as s:
        s.execute(delete(SysinfoSession))
    assert enqueue_reprocess(ctx, dealer_code="0599ROGAIKOPITA") == 7
    assert drain(ctx) == 7
    _same_as_rebuilt(ctx)
    _same_pages(web, tenants.cabinet_a, monkeypatch)


def test_daily_seats_follow_orm_edits_and_retention(
    ctx: IngestContext, web: TestClient, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        _upload(ctx, "alpha_client", LIVE - timedelta(days=6 * n, hours=n), seed=n, seats=10 + n, days=7)
    drain(ctx)
    with ctx.db.write() as s:
        report = s.scalars(select(SysinfoReportRow).order_by(SysinfoReportRow.created_at)).first()
        assert report is not None and report.created_at is not None
        report.seats = 99
        moved = s.scalars(select(SysinfoSession).order_by(SysinfoSession.report_at.desc())).first()
        assert moved is not None
        s.delete(moved)
    with ctx.db.session() as s:
        assert s.scalar(select(func.max(SeatsDayRollup.seats_max))) == 99
    _same_as_rebuilt(ctx)
    _same_pages(web, tenants.cabinet_a, monkeypatch)

    # Retention with the cutoff in the middle of a day with a report.
    cutoff = report.created_at - timedelta(hours=1)
    run_retention(ctx, now=cutoff + timedelta(days=ctx.retention_days))
    with ctx.db.session() as s:
        oldest = s.scalar(select(func.min(SeatsDayRollup.at)))
    assert oldest is not None and oldest >= int(cutoff.timestamp()) - int(cutoff.timestamp()) % 86400
    _same_as_rebuilt(ctx)
    _same_pages(web, tenants.cabinet_a, monkeypatch)


def test_migration_0017_fills_the_daily_seats_and_downgrade_drops_them(ctx: IngestContext) -> None:
    from sqlalchemy import inspect

    from kodeks_smart.store import migrate
    from tests.grafana.test_migration import _downgrade

    for n in range(2):
        _upload(ctx, "alpha_client", LIVE - timedelta(days=4 * n), seed=n)
    drain(ctx)
    kept = _days(ctx)
    assert kept
    _downgrade(ctx.db, "0016")
    assert "sysinfo_seats_daily" not in inspect(ctx.db.engine).get_table_names()
    migrate.upgrade(ctx.db)
    assert _days(ctx) == kept
