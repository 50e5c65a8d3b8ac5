"""The per-user usage rollups give «Для менеджеров» and «Карточки пользователей» exactly the raw numbers.

Reports go through the real pipeline (simulator → upload → consumer → sysinfo writer); each page is
rendered from the rollups and from the raw facts (`usage.ROLLUPS` off) and every chart and table must be
equal, also with the «domain» and «Логин пользователя» filters (per-user, so the rollups serve them). The
rollup tables must equal a rebuild from scratch (`user_rollup.backfill`) after every kind of write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from kodeks_smart.ingest import service, usage_rollup, user_rollup
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.ingest.retention import run_retention
from kodeks_smart.ingest.usage_rollup import table_of
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store.ingest_models import SysinfoUsageHour, SysinfoUser
from kodeks_smart.store.user_rollup_models import UserUsageDay, UserUsageMonth
from kodeks_smart.web.dashboards import usage
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard
from tests.web.test_usage_rollup import NOW, _panels, _profile, _ranges, _upload

MODELS = (UserUsageDay, UserUsageMonth)


def _queries(ctx: IngestContext) -> list[str]:
    """Absolute ranges cutting hours, days and months; the presets; and the user filters."""
    with ctx.db.session() as s:
        logins = sorted(set(s.scalars(select(SysinfoUser.login))))[:2]
    users = "&".join(f"login={quote(x)}" for x in logins)
    return [
        *_ranges(),  # (not the presets: they move with the clock between the two requests)
        f"{_ranges()[3]}&{users}",
        f"{_ranges()[6]}&domain=sales",
        f"{_ranges()[2]}&domain={quote(usage.UNDEFINED_DOMAIN)}&{users}",
    ]


def _assert_same(rolled: dict[str, Any], raw: dict[str, Any], label: str) -> None:
    """Every chart and table equal (one assertion per panel, so a failure names it)."""
    for kind in ("charts", "tables"):
        assert rolled[kind].keys() == raw[kind].keys(), label
        for name, panel in raw[kind].items():
            assert rolled[kind][name] == panel, f"{label}: {name}"


def _same_from_rollups_and_raw(
    ctx: IngestContext, web: TestClient, cabinet_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = 0
    for slug in ("managers", "user-cards"):
        for query in _queries(ctx):
            monkeypatch.setattr(usage, "ROLLUPS", True)
            rolled = _panels(open_dashboard(web, cabinet_id, slug, query))
            monkeypatch.setattr(usage, "ROLLUPS", False)
            raw = _panels(open_dashboard(web, cabinet_id, slug, query))
            _assert_same(rolled, raw, f"{slug}?{query}")
            checked += sum(len(c["series"]) for c in raw["charts"].values())
            checked += raw["tables"].get("top", "").count("<tr")
    monkeypatch.setattr(usage, "ROLLUPS", True)
    assert checked > 100  # the pages had data to compare


def _snapshot(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with ctx.db.session() as s:
        for model in MODELS:
            table = table_of(model)
            cols = [c for c in table.c if c.name != "id"]
            out[table.name] = sorted(tuple(r) for r in s.execute(select(*cols)))
    return out


def _same_as_rebuilt(ctx: IngestContext) -> None:
    kept = _snapshot(ctx)
    with ctx.db.write() as s:
        user_rollup.backfill(s)
    assert _snapshot(ctx) == kept
    assert all(kept.values())


def _name_domains(ctx: IngestContext) -> None:
    """Put some users in the AD group «sales» (the simulator leaves domains empty)."""
    with ctx.db.write() as s:
        logins = sorted(set(s.scalars(select(SysinfoUser.login))))[::3]
        s.execute(update(SysinfoUser).where(SysinfoUser.login.in_(logins)).values(domain="sales"))


def test_user_rollups_give_the_raw_numbers_as_reports_overlap_and_arrive_late(
    ctx: IngestContext, web: TestClient, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upload(ctx, _profile(NOW - timedelta(days=1, minutes=40), days=100))
    drain(ctx)
    _same_as_rebuilt(ctx)
    _name_domains(ctx)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)
    # A newer report repeats the last days and rewrites the hour in progress; an older one arrives late.
    _upload(ctx, _profile(NOW, seed=3))
    _upload(ctx, _profile(NOW - timedelta(minutes=40), seed=5))
    drain(ctx)
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)
    with ctx.db.session() as s:  # several months, so the monthly rows are read
        assert (s.scalar(select(func.count(func.distinct(UserUsageMonth.month)))) or 0) >= 3


def test_user_rollups_follow_reprocessing_retention_and_orm_writes(
    ctx: IngestContext, web: TestClient, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    _upload(ctx, _profile(NOW - timedelta(hours=2), days=80))
    drain(ctx)
    with ctx.db.write() as s:  # a parser bug wrote wrong counters (bulk, past the ORM)
        s.execute(update(SysinfoUsageHour).values(printed=SysinfoUsageHour.printed + 1000))
    assert enqueue_reprocess(ctx, dealer_code="0599ROGAIKOPITA") == 1
    assert drain(ctx) == 1
    with ctx.db.session() as s:
        assert (s.scalar(select(func.max(UserUsageDay.peak_printed))) or 0) < 1000
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)

    # Retention with the cutoff inside the data: in the working hours of a day, in the middle of a month.
    cutoff = NOW.replace(hour=10, minute=30) - timedelta(days=40)
    run_retention(ctx, now=cutoff + timedelta(days=ctx.retention_days))
    with ctx.db.session() as s:
        oldest = s.scalar(select(func.min(UserUsageDay.at)))
        first_hour = s.scalar(select(func.min(SysinfoUsageHour.hour)))
    assert first_hour is not None and first_hour >= cutoff
    assert oldest is not None and oldest >= cutoff.timestamp() - 86400
    _same_as_rebuilt(ctx)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)

    # ORM edits: a changed counter, a moved hour, a deleted row.
    with ctx.db.write() as s:
        rows = s.scalars(select(SysinfoUsageHour).order_by(SysinfoUsageHour.hour.desc()).limit(3)).all()
        rows[0].docs = (rows[0].docs or 0) + 5000
        rows[1].hour = rows[1].hour - timedelta(days=33)
        s.delete(rows[2])  # (no query after the edits: the commit makes the first flush)
    _same_as_rebuilt(ctx)
    with ctx.db.write() as s:  # `usage_rollup`'s hook misses changes first flushed by the commit
        usage_rollup.backfill(s)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)


def test_user_rollups_with_several_installations_and_an_offset_of_5_30(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Installations at UTC+5:30 (hours start at :30) and UTC+3; with fewer series shown than users."""
    from kodeks_smart.store import admin
    from kodeks_smart.store.models import Cabinet
    from kodeks_smart.web.dashboards import framework, managers

    with ctx.db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        for n in range(3):
            client = admin.add_client(s, cabinet, f"site{n}")
            admin.add_installation(
                s,
                services.box,
                client,
                "internet",
                f"site{n}.example.ru:80",
                tz_offset_minutes=330 if n == 0 else 180,
            )
    for n in range(3):
        profile = SysinfoProfile(
            f"site{n}", users=4 + 3 * n, days=70, now=NOW, seed=n, tz_offset_minutes=330 if n == 0 else 180
        )
        service.ingest_file(ctx, "0599ROGAIKOPITA", f"site{n}", data=generate_zip(profile), fmt="zip")
    drain(ctx)
    _same_as_rebuilt(ctx)
    _name_domains(ctx)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)
    for module in (framework, usage, managers):
        monkeypatch.setattr(module, "MAX_SERIES", 3)
    _same_from_rollups_and_raw(ctx, web, tenants.cabinet_a, monkeypatch)
    with ctx.db.write() as s:  # no rollups at all: the pages still equal the raw ones (nothing shown)
        s.execute(delete(SysinfoUsageHour))
        user_rollup.backfill(s)
        usage_rollup.backfill(s)
    for query in (_ranges()[3], _ranges()[4]):
        monkeypatch.setattr(usage, "ROLLUPS", True)
        rolled = _panels(open_dashboard(web, tenants.cabinet_a, "managers", query))
        monkeypatch.setattr(usage, "ROLLUPS", False)
        _assert_same(rolled, _panels(open_dashboard(web, tenants.cabinet_a, "managers", query)), query)


def test_migration_0016_fills_the_user_rollups_from_the_stored_facts(ctx: IngestContext) -> None:
    """Upgrading a store with facts but no per-user rollups (0015 → 0016) backfills them with the
    numbers the writer keeps; downgrading drops them."""
    from sqlalchemy import inspect

    from kodeks_smart.store import migrate
    from tests.grafana.test_migration import _downgrade

    _upload(ctx, _profile(NOW, days=40))
    drain(ctx)
    kept = _snapshot(ctx)
    assert all(kept.values())
    _downgrade(ctx.db, "0015")
    names = inspect(ctx.db.engine).get_table_names()
    assert "sysinfo_user_usage_daily" not in names and "sysinfo_user_usage_monthly" not in names
    migrate.upgrade(ctx.db)
    assert _snapshot(ctx) == kept
