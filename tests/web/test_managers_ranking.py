"""«Для менеджеров» ranks the per-installation charts before reading their points.

With the rollups, «Активность…», «Процент реальной вовлечённости…» and «Максимальное число занятых
лицензий…» rank the installations from cheap per-installation figures and read and build only the shown
series (`TopChart`); the raw path (`usage.ROLLUPS` off) builds every series and lets `Chart` rank and cut
them. With more installations than a chart shows, both must give the same series, in the same order, with
the same «hidden» count; and the last month's sums and last points the ranking uses must be those of the
points themselves, also for installations silent in the range end's month.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store import admin
from kodeks_smart.store.models import Cabinet
from kodeks_smart.web.dashboards import analytics, framework, managers, usage
from kodeks_smart.web.dashboards.framework import Series, Targets, View
from tests.conftest import Tenants
from tests.web.dashboard_helpers import chart, open_dashboard
from tests.web.test_usage_rollup import _panels

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
SITES = 6
RANKED = ("activity", "involvement", "max-used")


def _sites(ctx: IngestContext, services: Services, tenants: Tenants) -> None:
    """`SITES` installations with reports of different sizes, the later ones silent for the last days
    (their last points are in older days, some in the month before); site0 at UTC+5:30 (hours start at
    :30)."""
    with ctx.db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        for n in range(SITES):
            client = admin.add_client(s, cabinet, f"site{n}")
            offset = 330 if n == 0 else 180
            admin.add_installation(
                s, services.box, client, "internet", f"site{n}.example.ru:80", tz_offset_minutes=offset
            )
    for n in range(SITES):
        offset = 330 if n == 0 else 180
        until = NOW - timedelta(days=5 * n, hours=7 * n)
        profile = SysinfoProfile(
            f"site{n}", users=3 + 2 * n, days=75, now=until, seed=10 + n, tz_offset_minutes=offset
        )
        service.ingest_file(ctx, "0599ROGAIKOPITA", f"site{n}", data=generate_zip(profile), fmt="zip")
    drain(ctx)


def _ranges() -> list[str]:
    """Absolute ranges starting at 10:13 UTC (they cut hours and days), with points of 1 h, 3 h, 6 h, 6 h
    and 1 day; the last crosses two month starts."""
    fmt = "%Y-%m-%dT%H:%M"
    end = NOW + timedelta(hours=2, minutes=17)
    day = NOW.replace(hour=10, minute=13)
    return [f"from={(day - timedelta(days=d)):{fmt}}&to={end:{fmt}}" for d in (1, 5, 12, 33, 64, 90)]


def _check_month_sums(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make `managers.month_sums_and_last` compare what it returns with the points `usage_points` reads
    for every installation: the sum of the last month's points, whether there are points in an earlier
    month, and the start of the last point. Returns a list that counts the installations compared."""
    compared: list[int] = []
    real = usage.month_sums_and_last

    def checked(
        view: View, targets: Targets, fields: usage.Sums
    ) -> tuple[dict[str, dict[int, float]], set[int], dict[int, int]]:
        last_month, earlier, last = real(view, targets, fields)
        points = usage.usage_points(view, targets, fields, rollups=True)
        for name in fields:
            assert set(last_month[name]) == set(points[name]) == set(last)
            for inst, pts in points[name].items():
                by_month: dict[tuple[int, int], float] = {}
                for ts, value in pts:
                    moment = datetime.fromtimestamp(ts, UTC)
                    key = (moment.year, moment.month)
                    by_month[key] = by_month.get(key, 0.0) + value
                assert last_month[name][inst] == list(by_month.values())[-1], (name, inst)
                assert (inst in earlier) == (len(by_month) > 1), (name, inst)
                assert last[inst] == pts[-1][0], (name, inst)
                compared.append(inst)
        return last_month, earlier, last

    monkeypatch.setattr(managers, "month_sums_and_last", checked)
    return compared


def _check_ranks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make `managers._usage_ranks` compare its figures with the «last» stat of the series built from all
    points (what `Chart` ranks them by). Returns a list that counts the installations compared."""
    compared: list[int] = []
    real = managers._usage_ranks

    def checked(
        view: View,
        targets: Targets,
        sums: dict[str, tuple[str, ...]],
        opening: dict[int, float],
        seats_of: Callable[[int], int | None],
        involvement: Callable[[int, list[int], int], Series],
    ) -> tuple[dict[int, float], dict[int, float]]:
        act, inv = real(view, targets, sums, opening, seats_of, involvement)
        points = usage.usage_points(view, targets, sums, rollups=True)["activity"]
        names = targets.by_id
        assert set(act) == {i for i in points if i in names}
        assert set(inv) == {i for i in points if i in names and seats_of(i)}
        for inst in act:
            built = Series("", usage.month_to_date(points[inst], opening.get(inst, 0.0)))
            assert act[inst] == built.stats()["last"], inst
            compared.append(inst)
        for inst in inv:
            seats = seats_of(inst)
            assert seats is not None
            built = involvement(inst, [ts for ts, _ in points[inst]], seats)
            assert inv[inst] == (built.stats()["last"] or 0.0), inst
            compared.append(inst)
        return act, inv

    monkeypatch.setattr(managers, "_usage_ranks", checked)
    return compared


def _same_ranked_and_raw(
    web: TestClient, cabinet_id: int, monkeypatch: pytest.MonkeyPatch, ranges: list[str] | None = None
) -> int:
    """Every range's managers page from the rollups (ranked) equals the raw one (all series built);
    returns the number of series compared."""
    checked = 0
    for query in ranges or _ranges():
        monkeypatch.setattr(usage, "ROLLUPS", True)
        rolled = _panels(open_dashboard(web, cabinet_id, "managers", query))
        monkeypatch.setattr(usage, "ROLLUPS", False)
        raw = _panels(open_dashboard(web, cabinet_id, "managers", query))
        assert rolled == raw, query
        checked += sum(len(raw["charts"][name]["series"]) for name in RANKED)
    monkeypatch.setattr(usage, "ROLLUPS", True)
    return checked


def test_ranked_managers_charts_equal_all_series_built_then_cut(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More installations than a chart shows: the ranked charts show the same top series, in the same
    order and with the same «hidden» count as building every series and cutting them."""
    _sites(ctx, services, tenants)
    compared = _check_month_sums(monkeypatch)
    ranks = _check_ranks(monkeypatch)
    assert _same_ranked_and_raw(web, tenants.cabinet_a, monkeypatch) > 3 * SITES  # every series shown
    for module in (framework, usage, analytics, managers):
        monkeypatch.setattr(module, "MAX_SERIES", 2)
    assert _same_ranked_and_raw(web, tenants.cabinet_a, monkeypatch) > 0
    assert len(set(compared)) == SITES and len(compared) >= 4 * SITES
    assert len(set(ranks)) == SITES and len(ranks) >= 4 * SITES
    refused_cut = 0
    for query in _ranges()[-2:]:  # every site has data in these
        page = open_dashboard(web, tenants.cabinet_a, "managers", query)
        for name in RANKED:
            shown: dict[str, Any] = chart(page, name)
            assert len(shown["series"]) == 2 and shown["hidden"] > 0, (query, name)
        refused_cut += chart(page, "refused")["hidden"]
    assert refused_cut > 0  # «refused» (ranked by its largest point) was cut too


def test_installations_silent_in_the_end_month_rank_by_their_own_last_month(
    ctx: IngestContext,
    web: TestClient,
    tenants: Tenants,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ranges ending a few days into a month: one site reports into it, one stopped two days before it
    (its last month is the one before, with months before that), one has a single week of data before it
    (its only month: the opening counts). The short way sums only the end month's rows, so the silent
    ones take the per-month way; both must rank as the points do."""
    month = (NOW.replace(day=1, hour=0, minute=0) - timedelta(days=1)).replace(day=1)  # the previous month
    with ctx.db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        for n in range(3):
            client = admin.add_client(s, cabinet, f"site{n}")
            admin.add_installation(s, services.box, client, "internet", f"site{n}.example.ru:80")
    for n, (until, days) in enumerate(
        [
            (month + timedelta(days=3, hours=5), 75),
            (month - timedelta(days=2), 75),
            (month - timedelta(days=1), 7),
        ]
    ):
        profile = SysinfoProfile(f"site{n}", users=4 + n, days=days, now=until, seed=20 + n)
        service.ingest_file(ctx, "0599ROGAIKOPITA", f"site{n}", data=generate_zip(profile), fmt="zip")
    drain(ctx)
    compared = _check_month_sums(monkeypatch)
    ranks = _check_ranks(monkeypatch)
    fmt = "%Y-%m-%dT%H:%M"
    end = month + timedelta(days=4, hours=12)
    ranges = [
        f"from={(month - timedelta(days=d, hours=-10, minutes=-13)):{fmt}}&to={end:{fmt}}" for d in (20, 80)
    ]
    assert _same_ranked_and_raw(web, tenants.cabinet_a, monkeypatch, ranges) > 0
    for module in (framework, usage, analytics, managers):
        monkeypatch.setattr(module, "MAX_SERIES", 1)
    assert _same_ranked_and_raw(web, tenants.cabinet_a, monkeypatch, ranges) > 0
    assert len(set(compared)) == 3 and len(set(ranks)) == 3
