"""The dashboards' fast paths give the values of the plain ones (issue #8, «every dashboard < 500 ms»).

* daily metric rollups: migration 0014 fills them from the hourly ones, the metrics writer keeps them equal
  to the fold of the hourly rows, and «Дисковое пространство» draws the same points from them;
* the newest report / sessions in two steps (last days first) find what the plain max() over the range finds;
* rolling availability on integer microseconds equals the plain overlap computation;
* «Kodeks server metrics» builds the 50 state series `Chart` would keep of all of them;
* «Поисковые запросы» reads its filter options in one scan on PostgreSQL and takes the empty searches
  from the newest ones when those prove them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kodeks_smart.app import create_app
from kodeks_smart.ingest.writers import Point, Target, store_points
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.dashboard_rollup_models import DailyRollup
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import HourlyRollup, SysinfoReportRow, SysinfoSearch, SysinfoSession
from kodeks_smart.store.models import Cabinet, Client
from kodeks_smart.store.probe_models import ProbeStateInterval
from kodeks_smart.store.schema import metadata
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.dashboards import disk_space, searches, server_metrics
from kodeks_smart.web.dashboards import formulas as f
from kodeks_smart.web.dashboards.framework import MAX_SERIES, Chart, Series
from tests.asrp.test_migration import _downgrade, _objects
from tests.conftest import Tenants
from tests.web.dashboard_helpers import Site, chart, open_dashboard, site_of, table_rows
from tests.web.test_cabinet import login

GB = 1024**3


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def _target(site: Site) -> Target:
    return Target(
        site.upload_id, site.dealer_id, site.cabinet_id, site.client_id, site.installation_id, utcnow()
    )


def _fold_hourly(db: Database) -> dict[tuple[int, datetime], tuple[int, float, float, float]]:
    """(series, day) → (count, sum, min, max) folded in Python from the hourly rollups."""
    out: dict[tuple[int, datetime], list[Any]] = {}
    with db.session() as s:
        for r in s.scalars(select(HourlyRollup)):
            key = (r.series_id, r.hour.replace(hour=0))
            cur = out.setdefault(key, [0, 0.0, r.min, r.max])
            cur[0] += r.count
            cur[1] += r.sum
            cur[2] = min(cur[2], r.min)
            cur[3] = max(cur[3], r.max)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def _daily(db: Database) -> dict[tuple[int, datetime], tuple[int, float, float, float]]:
    with db.session() as s:
        return {(r.series_id, r.day): (r.count, r.sum, r.min, r.max) for r in s.scalars(select(DailyRollup))}


def _assert_daily_is_the_fold(db: Database) -> None:
    expected, got = _fold_hourly(db), _daily(db)
    assert expected and set(got) == set(expected)
    for key, (count, total, low, high) in expected.items():
        assert got[key][0] == count and got[key][2:] == (low, high), key
        assert got[key][1] == pytest.approx(total)


def _points(now: datetime, days: int, seed: int) -> list[Point]:
    """Free-space samples every 20 minutes over ``days`` days (hours cross midnight), random values."""
    rnd = random.Random(seed)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    return [
        Point(
            "disk_free", (("path", "/"),), start + timedelta(minutes=20 * k), float(rnd.randint(1, 90) * GB)
        )
        for k in range(days * 72)
    ]


def test_the_metrics_writer_keeps_daily_rollups_equal_to_the_hourly_ones(
    db: Database, tenants: Tenants
) -> None:
    now = utcnow()
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        points = _points(now, 3, seed=1)
        store_points(s, _target(site), points[::2], "metrics")  # new samples: folded into the days
    with db.write() as s:
        store_points(s, _target(site), points[1::2], "metrics")
    _assert_daily_is_the_fold(db)
    with db.write() as s:
        # Stored samples replaced by a newer upload: their hours and days are recomputed.
        upload = site_of(s, tenants.cabinet_a)
        changed = [Point(p.name, p.labels, p.ts, p.value + 7 * GB) for p in points[10:200]]
        changed[5] = Point(changed[5].name, changed[5].labels, changed[5].ts, 0.5 * GB)
        store_points(s, _target(upload), changed, "metrics")
    _assert_daily_is_the_fold(db)
    assert min(v[2] for v in _daily(db).values()) == 0.5 * GB


def test_migration_0014_fills_the_daily_rollups_from_the_hourly_ones(db: Database, tenants: Tenants) -> None:
    now = utcnow()
    with db.write() as s:
        store_points(s, _target(site_of(s, tenants.cabinet_a)), _points(now, 4, seed=2), "metrics")
        store_points(s, _target(site_of(s, tenants.cabinet_b)), _points(now, 2, seed=3), "metrics")
    expected = _fold_hourly(db)
    _downgrade(db, "0013")
    migrate.upgrade(db)
    _assert_daily_is_the_fold(db)
    assert set(_daily(db)) == set(expected)
    with db.session() as s:
        tenants_of = {(r.series_id, r.cabinet_id) for r in s.scalars(select(DailyRollup))}
        assert {c for _, c in tenants_of} == {tenants.cabinet_a, tenants.cabinet_b}
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    names = {"metric_rollups_daily", "ix_metric_rollups_daily_day"}
    assert [d for d in diff if names & {getattr(x, "name", x) for x in _objects(d)}] == []


def test_disk_space_draws_the_same_points_from_daily_rollups(
    web: TestClient, db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    with db.write() as s:
        store_points(s, _target(site_of(s, tenants.cabinet_a)), _points(now, 40, seed=4), "metrics")
    login(web, "alice", "alice-password")
    pages = {}
    # Absolute ranges: a preset moves with the clock between the two renders (x_from/x_to 1 s apart).
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)

    def span(days: int) -> str:
        return f"from={end - timedelta(days=days):%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}"

    queries = {"range=13M": span(395), "range=90d": span(90), "range=6M": span(183)}
    for query in ("range=13M", "range=90d", "range=6M", "from=2000-01-01&to=2000-03-01"):
        absolute = queries.get(query, query)
        monkeypatch.setattr(disk_space, "USE_DAILY", True)
        fast = chart(open_dashboard(web, tenants.cabinet_a, "disk-space", absolute), "free")
        monkeypatch.setattr(disk_space, "USE_DAILY", False)
        plain = chart(open_dashboard(web, tenants.cabinet_a, "disk-space", absolute), "free")
        assert fast == plain, query
        pages[query] = fast
    assert len(pages["range=90d"]["series"][0]["points"]) >= 40
    # The fast path does read the daily rows: a changed daily minimum shows on the chart.
    with db.write() as s:
        day = s.scalars(select(DailyRollup.day).order_by(DailyRollup.day)).all()[5]
        s.execute(update(DailyRollup).where(DailyRollup.day == day).values(min=0.25 * GB))
    monkeypatch.setattr(disk_space, "USE_DAILY", True)
    fast = chart(open_dashboard(web, tenants.cabinet_a, "disk-space", "range=90d"), "free")
    assert fast["series"][0]["stats"]["min"] == 0.25


def _second_site(db: Database, box: SecretBox, tenants: Tenants) -> None:
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        client = admin.add_client(s, cabinet, "delta_client", "ООО «delta»", None)
        admin.add_installation(s, box, client, "internet", "delta.example.ru:80")


def test_newest_reports_and_sessions_are_found_however_old_within_the_range(
    web: TestClient, db: Database, tenants: Tenants, box: SecretBox
) -> None:
    """alpha reported 2 hours and 10 days ago, delta only 10 days ago (outside the first look-up's days):
    both show their newest report, as the plain query over the whole range would — as objects
    («Контроль версий») and as rows of a few fields («Для менеджеров»: seats and regnum)."""
    now = utcnow()
    _second_site(db, box, tenants)
    with db.write() as s:
        for short, age, login_, version, seats in (
            ("alpha_client", timedelta(days=10), "alpha_old", "1.0", 4),
            ("alpha_client", timedelta(hours=2), "alpha_new", "2.0", 5),
            ("delta_client", timedelta(days=10), "delta_old", "3.0", 7),
        ):
            site = site_of(s, tenants.cabinet_a, short)  # a new upload row for each report
            at = now - age
            s.add(
                SysinfoReportRow(
                    **site.fact(),
                    created_at=at,
                    utc_offset_minutes=180,
                    seats=seats,
                    regnum=f"R-{version}",
                    module_version=version,
                )
            )
            s.add(SysinfoSession(**site.fact(), report_at=at, login=login_, domain="corp"))
    login(web, "alice", "alice-password")
    for query, logins in (("range=30d", ["alpha_new", "delta_old"]), ("range=24h", ["alpha_new"])):
        page = open_dashboard(web, tenants.cabinet_a, "connected-users", query)
        assert sorted(r[2] for r in table_rows(page, "sessions")) == logins, query
    for query in ("range=30d", "range=13M"):
        page = open_dashboard(web, tenants.cabinet_a, "versions", query)
        modules = sorted((r[0], r[2]) for r in table_rows(page, "stats"))
        assert modules == [("alpha_client", "2.0"), ("delta_client", "3.0")], query
    page = open_dashboard(web, tenants.cabinet_a, "versions", "range=7d")
    assert sorted((r[0], r[2]) for r in table_rows(page, "stats")) == [("alpha_client", "2.0")]
    page = open_dashboard(web, tenants.cabinet_a, "managers", "range=30d")
    clients = sorted((r[0], r[4], r[5]) for r in table_rows(page, "clients"))
    assert clients == [("alpha_client", "5", "R-2.0"), ("delta_client", "7", "R-3.0")]


def test_rolling_availability_on_microseconds_equals_the_plain_overlap_exactly() -> None:
    rnd = random.Random(11)
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    window = timedelta(days=30)
    for _ in range(200):
        spans: list[tuple[datetime, datetime | None]] = []
        for _ in range(rnd.randint(0, 12)):
            a = t0 - timedelta(seconds=rnd.randint(0, 90 * 86400))
            b = None if rnd.random() < 0.1 else a + timedelta(seconds=rnd.randint(0, 5 * 86400))
            spans.append((a, b))
        points = sorted({t0 - timedelta(hours=rnd.randint(0, 1500)) for _ in range(rnd.randint(1, 40))})
        since = None if rnd.random() < 0.3 else t0 - timedelta(seconds=rnd.randint(0, 100 * 86400))
        got = f.rolling_availability(spans, points, window, since)
        closed = [(a, b or points[-1]) for a, b in spans]
        for t, value in got:
            start = t - window if since is None else max(t - window, since)
            if t <= start:
                assert value is None
                continue
            down = f.overlap_seconds(closed, start, t)
            assert value == f.availability(down, (t - start).total_seconds()), (t, spans, since)


def test_online_searches_match_a_login_only_together_with_its_client(
    web: TestClient, db: Database, tenants: Tenants, box: SecretBox
) -> None:
    """«Поисковые запросы. Онлайн» keeps (client, login) pairs of the online accesses: delta's online login
    used under alpha's client is not an online search of either."""
    _second_site(db, box, tenants)
    now = utcnow().replace(microsecond=0)
    with db.write() as s:
        delta = s.scalars(
            select(Client).where(Client.cabinet_id == tenants.cabinet_a, Client.short_name == "delta_client")
        ).one()
        admin.add_online_access(
            s, box, delta, host="nps2.cntd.ru", catalog="kodeks02", login="delta_online", password="x"
        )
    with db.write() as s:
        for n, (short, login_) in enumerate(
            (
                ("alpha_client", "alpha_online"),
                ("alpha_client", "delta_online"),
                ("delta_client", "delta_online"),
                ("delta_client", "alpha_online"),
                ("delta_client", "ivanov"),
            )
        ):
            s.add(
                SysinfoSearch(
                    **site_of(s, tenants.cabinet_a, short).fact(),
                    occurred_at=now - timedelta(minutes=10 + n),
                    login=login_,
                    query_key=f"k{n}",
                    catalog="/docs",
                    type="intelligent",
                    result="found",
                    found=1,
                    source="ksrv",
                    duration=0.5,
                    query=f"запрос {n}",
                )
            )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "searches-online")
    assert sorted((r[1], r[2]) for r in table_rows(page, "searches")) == [
        ("ООО «alpha»", "alpha_online"),
        ("ООО «delta»", "delta_online"),
    ]


def test_a_long_table_links_the_first_last_and_nearby_pages_only(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    """27,000 intervals at 13 months were 1,080 page links on «Kodeks server metrics»."""
    now = utcnow()
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        for n in range(30 * 25):
            s.add(
                ProbeStateInterval(
                    dealer_id=site.dealer_id,
                    cabinet_id=site.cabinet_id,
                    installation_id=site.installation_id,
                    state="server_down",
                    started_at=now - timedelta(minutes=2 * n + 1),
                    ended_at=now - timedelta(minutes=2 * n),
                    detail="",
                )
            )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "server-metrics", "range=2d&table=intervals&p=15")
    section = page.split('data-panel="intervals"', 1)[1].split("</section>", 1)[0]
    pager = section.split('<nav class="pager">', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r"<b>(\d+)</b>|&p=(\d+)\"", pager) == [
        ("", str(n)) if n != 15 else ("15", "") for n in (1, 2, 11, 12, 13, 14, 15, 16, 17, 18, 19, 29, 30)
    ]
    assert pager.count("…") == 2


# -- «Kodeks server metrics»: the shown state series from their peaks ------------------------------


def test_the_peak_of_a_state_series_is_the_largest_of_its_points() -> None:
    rnd = random.Random(5)
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 8, tzinfo=UTC)
    for _ in range(500):
        spans: list[tuple[datetime, datetime | None, int]] = []
        for _ in range(rnd.randint(1, 6)):
            # Whole days: starts and ends coincide with each other and with the range's ends.
            a = start + timedelta(days=rnd.randint(-3, 8))
            b = None if rnd.random() < 0.2 else a + timedelta(days=rnd.randint(0, 4))
            spans.append((a, b, rnd.choice([1, 1, 200, 404, 500, 503])))
        plain = max(v for _, v in server_metrics.state_points(spans, start, end) if v is not None)
        assert server_metrics.state_peak(spans, start, end) == plain, spans


def test_server_metrics_shows_the_state_series_the_plain_chart_keeps(
    web: TestClient, db: Database, tenants: Tenants, box: SecretBox
) -> None:
    """60 servers × 2 states (> MAX_SERIES): the 50 series built are those `Chart` keeps of all 120."""
    rnd = random.Random(8)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC)
    spans: dict[tuple[str, int], list[tuple[datetime, datetime | None, int]]] = {}
    hosts: dict[int, str] = {}
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        client = s.scalars(select(Client).where(Client.cabinet_id == cabinet.id)).first()
        assert client is not None
        for n in range(60):
            inst = admin.add_installation(s, box, client, "internet", f"srv{n:02d}.example.ru:80")
            hosts[inst.id] = inst.address or ""
            for state in ("server_down", "maintenance"):
                for _ in range(rnd.randint(1, 3)):
                    a = start + timedelta(hours=rnd.randint(-30, 160))
                    b = None if rnd.random() < 0.2 else a + timedelta(hours=rnd.randint(1, 40))
                    code = rnd.choice([None, 404, 500, 503])
                    s.add(
                        ProbeStateInterval(
                            dealer_id=cabinet.dealer_id,
                            cabinet_id=cabinet.id,
                            installation_id=inst.id,
                            state=state,
                            http_code=code,
                            started_at=a,
                            ended_at=b,
                            detail="",
                        )
                    )
                    if a < end and (b is None or b > start):
                        spans.setdefault((state, inst.id), []).append((a, b, code or 1))
    keys = sorted(spans, key=lambda k: (hosts[k[1]], k[0]))
    plain = Chart(
        "states",
        "",
        series=[
            Series(
                f"{server_metrics.STATE_TITLES[state]} {hosts[inst]}",
                server_metrics.state_points(spans[state, inst], start, end),
            )
            for state, inst in keys
        ],
        rank_by="max",
    ).payload()
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "server-metrics", "from=2026-01-01&to=2026-01-07")
    shown = chart(page, "states")
    assert len(keys) > MAX_SERIES and shown["hidden"] == plain["hidden"] == len(keys) - MAX_SERIES
    assert shown["series"] == plain["series"]


# -- «Поисковые запросы»: filter options in one scan, the empty searches from the newest ones ---------


def test_search_filter_options_and_empty_rows_equal_the_plain_queries(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    """More searches than `ROW_LIMIT`: the «Пустой поиск» table is the newest empty ones whether it is
    read again (mixed results), taken from the newest searches (all empty: the status filter) or from
    the whole range (a user with fewer); the filter options are every column's values in the range."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    facts: list[dict[str, Any]] = []
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        for n in range(searches.ROW_LIMIT + 1000):
            fact = {
                "occurred_at": t0 + timedelta(minutes=n),
                "login": f"user{n % 7}",
                "query_key": f"k{n}",
                "catalog": None if n % 5 == 0 else f"/cat{n % 3}",
                "type": ("intelligent", "attribute", None)[n % 3],
                "result": "found" if n % 10 == 1 else "empty",
                "source": ("ksrv", "kassist", "")[n % 3],
                "duration": 0.5,
                "query": f"запрос {n}",
            }
            s.add(SysinfoSearch(**site.fact(), found=0, **fact))
            facts.append(fact)
        s.add(SysinfoSearch(**site.fact(), **dict(facts[0], occurred_at=t0 - timedelta(days=3), login="old")))
    login(web, "alice", "alice-password")
    query = "from=2026-01-01&to=2026-01-10"
    page = open_dashboard(web, tenants.cabinet_a, "searches", query)
    for key, column, names in (
        ("user", "login", {}),
        ("source", "source", {}),
        ("catalog", "catalog", {}),
        ("status", "result", searches.STATUS),
        ("type", "type", searches.SEARCH_TYPE),
    ):
        select_ = re.search(rf'<select name="{key}".*?</select>', page, re.S)
        assert select_, key
        options = set(re.findall(r'<option value="([^"]*)"', select_.group(0))) - {"__all__"}
        values = {names.get(f[column], f[column]) for f in facts if f[column] not in (None, "")}
        assert options == values and len(values) >= 2, key

    def empty_queries(extra: str) -> list[str]:
        csv = web.get(f"/c/{tenants.cabinet_a}/d/searches?{query}{extra}&table=empty&export=csv")
        return [line.split(";")[5] for line in csv.content.decode("utf-8-sig").strip().split("\r\n")[1:]]

    def plain(keep: Any) -> list[str]:
        rows = [f for f in reversed(facts) if f["result"] == "empty" and keep(f)]
        return [f["query"] for f in rows[: searches.ROW_LIMIT]]

    newest_empty = plain(lambda f: True)  # 5,400 empty searches: the newest 5,000
    assert len(newest_empty) == searches.ROW_LIMIT
    assert empty_queries("") == newest_empty  # read again: the newest 5,000 hold 4,500 empty ones
    assert empty_queries("&status=Пустой") == newest_empty  # the newest 5,000 are all empty
    assert empty_queries("&user=user3") == plain(lambda f: f["login"] == "user3")
    assert empty_queries("&status=Успех") == []
