"""The weekly usage and seats rollups (issue #8) hold exactly the week sums / folds of the facts, and the
long ranges of «Kodeks аналитика» and «Для менеджеров» (13M, 1y: points of 7 days) give the raw numbers
from them.

The weekly rows are compared with a re-sum written here in Python from the facts (``sysinfo_usage``) and
from the per-report seat rows (which `test_seats_rollup` checks against the facts), not with the SQL the
writers run, after every kind of write: a first report, steady reports (the short way), reprocessing, ORM
writes, retention, a backfill and migration 0018.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, func, select, update

from kodeks_smart.ingest import seats_rollup, service, usage_rollup
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.ingest.retention import run_retention
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.simulator.sysinfo_sim import is_working_day
from kodeks_smart.store.ingest_models import SysinfoSession, SysinfoUsageHour
from kodeks_smart.store.seats_rollup_models import SeatsWeekRollup
from kodeks_smart.store.usage_rollup_models import COUNTERS, WEEK, ReportSeats, UsageWeekRollup
from kodeks_smart.web.dashboards import usage
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
CHART_JSON = r'<script type="application/json" class="chart-data" data-for="([^"]+)">(.*?)</script>'
KEYS = ("dealer_id", "cabinet_id", "client_id", "installation_id")


@pytest.fixture
def resums(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the writer's calls of the general re-sum (`usage_rollup.refresh_report`)."""
    calls: list[int] = []
    general = usage_rollup.refresh_report

    def counted(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        general(*args, **kwargs)

    monkeypatch.setattr(usage_rollup, "refresh_report", counted)
    return calls


def _upload(ctx: IngestContext, at: datetime, days: int = 70, users: int = 12, **kw: Any) -> None:
    profile = SysinfoProfile("alpha_client", users=users, days=days, now=at, **kw)
    service.ingest_file(ctx, "0599ROGAIKOPITA", "alpha_client", data=generate_zip(profile), fmt="zip")
    drain(ctx)


def _stored(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    """The weekly rows of both tables, without ids, sorted."""
    out = {}
    with ctx.db.session() as s:
        for model, values in (
            (UsageWeekRollup, COUNTERS),
            (SeatsWeekRollup, ("used_max", "used_min", "seats_max")),
        ):
            columns = [getattr(model, n) for n in (*KEYS, "at", *values)]
            out[model.__tablename__] = sorted(tuple(r) for r in s.execute(select(*columns)))
    return out


def _expected(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    """The weekly rows re-summed in Python: usage from the facts, seats folded from the per-report rows."""
    usage_weeks: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    seat_weeks: dict[tuple[Any, ...], list[int | None]] = {}
    u, rs = SysinfoUsageHour, ReportSeats
    with ctx.db.session() as s:
        for row in s.execute(select(*(getattr(u, n) for n in (*KEYS, "hour", *COUNTERS)))):
            at = int(row.hour.timestamp())
            sums = usage_weeks[(*row[:4], at - at % WEEK)]
            for i, name in enumerate(COUNTERS):
                sums[i] += getattr(row, name) or 0
        for row in s.execute(select(*(getattr(rs, n) for n in (*KEYS, "at", "used", "seats")))):
            key = (*row[:4], row.at - row.at % WEEK)
            folded = seat_weeks.setdefault(key, [None, None, None])
            if row.used > 0:
                folded[0] = row.used if folded[0] is None else max(folded[0], row.used)
                folded[1] = row.used if folded[1] is None else min(folded[1], row.used)
            if row.seats is not None:
                folded[2] = row.seats if folded[2] is None else max(folded[2], row.seats)
    return {
        UsageWeekRollup.__tablename__: sorted((*k, *v) for k, v in usage_weeks.items()),
        SeatsWeekRollup.__tablename__: sorted((*k, *v) for k, v in seat_weeks.items()),
    }


def _exact(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    """The stored weekly rows equal the re-sum (and there are rows of several weeks)."""
    stored = _stored(ctx)
    assert stored == _expected(ctx)
    assert len({row[4] for row in stored[UsageWeekRollup.__tablename__]}) > 2
    assert stored[SeatsWeekRollup.__tablename__]
    return stored


def test_weekly_rows_equal_a_resum_after_every_kind_of_write(ctx: IngestContext, resums: list[int]) -> None:
    _upload(ctx, NOW - timedelta(days=15, minutes=40))  # the first report: ten weeks of new rows
    _exact(ctx)
    # Steady reports: new days and weeks, the hour in progress re-reported, new hours (the short way);
    # on one day a report with many sessions, then one with few (the week keeps the day's largest).
    for at, users in (
        (NOW - timedelta(days=8), 12),
        (NOW - timedelta(days=1, hours=2), 40),
        (NOW - timedelta(days=1), 3),
        (NOW - timedelta(hours=23, minutes=10), 12),
        (NOW, 12),
    ):
        _upload(ctx, at, days=9, users=users, seed=7)
        _exact(ctx)
    assert resums == []
    assert len({row[4] for row in _stored(ctx)[SeatsWeekRollup.__tablename__]}) >= 2

    # Reprocessing after a bulk fix past the ORM: the general way.
    with ctx.db.write() as s:
        s.execute(update(SysinfoUsageHour).values(docs=SysinfoUsageHour.docs + 500))
        s.execute(delete(SysinfoSession).where(SysinfoSession.report_at < NOW - timedelta(days=1)))
    assert enqueue_reprocess(ctx, dealer_code="0599ROGAIKOPITA") >= 1
    drain(ctx)
    assert resums
    _exact(ctx)

    # ORM writes: a counter changed, an hour's DB requests gone, a session deleted.
    with ctx.db.write() as s:
        row = s.scalars(select(SysinfoUsageHour).order_by(SysinfoUsageHour.hour)).first()
        assert row is not None
        row.docs = (row.docs or 0) + 9
        row.db_requests = 0
        session = s.scalars(select(SysinfoSession).order_by(SysinfoSession.report_at)).first()
        assert session is not None
        s.delete(session)
    _exact(ctx)

    # Retention with the cutoff in the middle of a week (a Monday, inside the data).
    cutoff = NOW.replace(hour=10, minute=30) - timedelta(days=30)
    cutoff -= timedelta(days=(cutoff.weekday() - 0) % 7)
    assert (int(cutoff.timestamp()) % WEEK) // 86400 == 4  # Thursday-aligned weeks: Monday is day 4
    run_retention(ctx, now=cutoff + timedelta(days=ctx.retention_days))
    stored = _exact(ctx)
    oldest = min(row[4] for row in stored[UsageWeekRollup.__tablename__])
    assert oldest == int(cutoff.timestamp()) - int(cutoff.timestamp()) % WEEK

    # A backfill rebuilds the same rows.
    with ctx.db.write() as s:
        usage_rollup.backfill(s)
        seats_rollup.backfill(s)
    assert _stored(ctx) == stored


@pytest.mark.parametrize("lost", [UsageWeekRollup, SeatsWeekRollup])
def test_a_missing_week_row_is_repaired_by_the_general_way(
    ctx: IngestContext, resums: list[int], lost: type[UsageWeekRollup] | type[SeatsWeekRollup]
) -> None:
    """The short way declines when the week has daily rows but no weekly row (derived data lost), for
    the usage sums and for the seats alike.

    The second report must bring new usage hours into that week: a report's hours that closed before
    the stored report are skipped, so both reports are made at working hours (a Wednesday 09:00 and
    12:00 UTC, the last day of a Thursday-aligned week whose other days have rows), not at the clock's
    time, which may lie after the working day."""
    noon = NOW.replace(hour=12, minute=0) - timedelta(days=7)
    while noon.weekday() != 2 or not is_working_day(noon.date()):
        noon -= timedelta(days=1)
    _upload(ctx, noon - timedelta(hours=3), days=20)
    week = int(noon.timestamp()) - int(noon.timestamp()) % WEEK
    with ctx.db.write() as s:
        assert s.execute(delete(lost).where(lost.at == week)).rowcount
    _upload(ctx, noon, days=2, seed=4)
    assert resums
    _exact(ctx)


def test_migration_0018_fills_the_weekly_rollups(ctx: IngestContext) -> None:
    """Upgrading a store that has daily rollups but no weekly ones (0017 → 0018) fills them from the
    daily rows; downgrading drops them."""
    from sqlalchemy import inspect

    from kodeks_smart.store import migrate
    from tests.grafana.test_migration import _downgrade

    _upload(ctx, NOW, days=30)
    kept = _exact(ctx)
    _downgrade(ctx.db, "0017")
    assert "sysinfo_usage_weekly" not in inspect(ctx.db.engine).get_table_names()
    assert "sysinfo_seats_weekly" not in inspect(ctx.db.engine).get_table_names()
    migrate.upgrade(ctx.db)
    assert _stored(ctx) == kept


# -- the pages -------------------------------------------------------------------------------------------


def _panels(page: str) -> dict[str, Any]:
    """Every chart's JSON (without its x range: a preset range moves with the clock between the two
    pages, the data long before its edges does not) and every table's body."""
    charts = {name: json.loads(body) for name, body in re.findall(CHART_JSON, page, re.S)}
    for data in charts.values():
        data.pop("x_from", None)
        data.pop("x_to", None)
    tables = dict(re.findall(r'<section [^>]*data-panel="([^"]+)">.*?<tbody>(.*?)</tbody>', page, re.S))
    return {"charts": charts, "tables": tables}


def test_long_ranges_give_the_raw_numbers_from_the_weekly_rollups(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Reports two weeks apart (seats in several weeks) covering 100 days of usage.
    _upload(ctx, NOW - timedelta(days=60), days=40)
    for days in (45, 30, 15, 0):
        _upload(ctx, NOW - timedelta(days=days, minutes=days), days=16, seed=days)
    statements: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    fmt = "%Y-%m-%dT%H:%M"
    edge = NOW.replace(hour=10, minute=13)
    queries = ["range=13M", "range=1y"] + [
        f"from={(edge - timedelta(days=d)):{fmt}}&to={(NOW - timedelta(days=e, hours=5)):{fmt}}"
        for d, e in ((380, 0), (200, 11), (75, 0))
    ]
    event.listen(ctx.db.engine, "before_cursor_execute", keep)
    try:
        checked = 0
        for slug in ("analytics", "managers"):
            for query in queries:
                monkeypatch.setattr(usage, "ROLLUPS", True)
                statements.clear()
                rolled = _panels(open_dashboard(web, tenants.cabinet_a, slug, query))
                weekly = [s for s in statements if "sysinfo_usage_weekly" in s or "sysinfo_seats_weekly" in s]
                if query != queries[-1]:  # 75 days has points of a day: no weekly rows
                    assert weekly, f"{slug}?{query}"
                monkeypatch.setattr(usage, "ROLLUPS", False)
                raw = _panels(open_dashboard(web, tenants.cabinet_a, slug, query))
                assert rolled == raw, f"{slug}?{query}"
                checked += sum(len(c["series"]) for c in raw["charts"].values())
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", keep)
        monkeypatch.setattr(usage, "ROLLUPS", True)
    assert checked > 20
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SeatsWeekRollup)) >= 5
