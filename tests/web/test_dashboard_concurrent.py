"""`build_concurrently`: the independent parts of a dashboard page built on the page's thread and on
helper threads, each helper reading through a session of its own in the same cabinet scope — the same
results, in the same order, as one after another (`SMART_DASHBOARD_THREADS=1`)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client
from kodeks_smart.web.dashboards import REGISTRY, concurrent, usage
from kodeks_smart.web.dashboards.framework import Panel, View
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard
from tests.web.test_managers_ranking import _ranges, _sites
from tests.web.test_usage_rollup import _panels

#: A cheap dashboard whose build function the tests replace for one request.
SLUG = "ad"


@pytest.fixture
def page_build(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[View], list[Panel]]], None]]:
    """Replace the build function of `SLUG` (restored afterwards)."""
    spec = REGISTRY[SLUG]
    original = spec.build

    def install(build: Callable[[View], list[Panel]]) -> None:
        object.__setattr__(spec, "build", build)

    yield install
    object.__setattr__(spec, "build", original)


def _threads(monkeypatch: pytest.MonkeyPatch, services: Services, n: int) -> None:
    monkeypatch.setattr(services, "settings", dataclasses.replace(services.settings, dashboard_threads=n))


def _clients(v: View) -> int:
    """The cabinet's clients, counted through the view's own session and scope."""
    stmt = select(func.count()).select_from(Client).where(v.tenant.scope.condition(Client))
    return int(v.db.execute(stmt).scalar_one())


def test_parts_run_at_the_same_time_each_with_a_session_of_its_own_in_the_page_scope(
    web: TestClient, services: Services, tenants: Tenants, page_build: Any
) -> None:
    barrier = threading.Barrier(2, timeout=30)  # passes only if both parts are running at once
    seen: list[tuple[str, int, int, object]] = []

    def part(name: str) -> Callable[[View], str]:
        def run(v: View) -> str:
            barrier.wait()
            seen.append((name, threading.get_ident(), _clients(v), v.db))
            return name

        return run

    results: list[Any] = []

    def build(view: View) -> list[Panel]:
        results.extend(concurrent.build_concurrently(view, [part("a"), part("b"), lambda v: _clients(v)]))
        seen.append(("page", threading.get_ident(), _clients(view), view.db))
        return []

    page_build(build)
    open_dashboard(web, tenants.cabinet_a, SLUG)
    page_clients = next(n for name, _, n, _ in seen if name == "page")
    assert results == ["a", "b", page_clients]  # in the order given, whoever built them
    parts = {name: (ident, n, session) for name, ident, n, session in seen}
    assert parts["a"][0] != parts["b"][0]  # two threads
    assert parts["a"][2] is not parts["b"][2]  # two sessions
    assert {parts["a"][1], parts["b"][1]} == {page_clients}  # the same cabinet's rows
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Client)) > page_clients  # other cabinets exist


def test_a_helper_session_has_the_page_settings_on_postgresql(
    web: TestClient, services: Services, tenants: Tenants, page_build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if services.db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    monkeypatch.setattr(
        services, "settings", dataclasses.replace(services.settings, db_dashboard_parallel_workers=3)
    )
    barrier = threading.Barrier(2, timeout=30)

    def setting(v: View) -> tuple[object, str]:
        barrier.wait()
        return v.db, v.db.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()

    seen: list[tuple[object, str]] = []
    page_build(lambda view: seen.extend(concurrent.build_concurrently(view, [setting, setting])) or [])
    open_dashboard(web, tenants.cabinet_a, SLUG)
    (first, a), (second, b) = seen
    assert first is not second and (a, b) == ("3", "3")


def test_one_thread_builds_the_parts_in_order_on_the_page_session(
    web: TestClient, services: Services, tenants: Tenants, page_build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _threads(monkeypatch, services, 1)
    order: list[tuple[int, object]] = []

    def build(view: View) -> list[Panel]:
        def part(k: int) -> Callable[[View], int]:
            def run(v: View) -> int:
                order.append((k, v))
                return k * k

            return run

        assert concurrent.build_concurrently(view, [part(k) for k in range(5)]) == [0, 1, 4, 9, 16]
        assert all(v is view for _, v in order)
        return []

    page_build(build)
    open_dashboard(web, tenants.cabinet_a, SLUG)
    assert [k for k, _ in order] == [0, 1, 2, 3, 4]


def test_a_failing_part_fails_the_page_and_every_connection_goes_back_to_the_pool(
    web: TestClient, services: Services, tenants: Tenants, page_build: Any
) -> None:
    started = threading.Event()

    def slow(v: View) -> int:
        started.set()
        return _clients(v)

    def broken(v: View) -> int:
        started.wait(30)
        raise ValueError("part failed")

    def build(view: View) -> list[Panel]:
        concurrent.build_concurrently(view, [slow, broken, slow, broken])
        return []

    page_build(build)
    with pytest.raises(ValueError, match="part failed"):
        web.get(f"/c/{tenants.cabinet_a}/d/{SLUG}", headers={"accept": "text/html"})
    pool = services.db.engine.pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_notice_added_by_a_helper_reaches_the_page(
    web: TestClient, tenants: Tenants, page_build: Any
) -> None:
    barrier = threading.Barrier(2, timeout=30)

    def noting(text_: str) -> Callable[[View], None]:
        def run(v: View) -> None:
            barrier.wait()  # both run at once: one of them on a helper's copy of the view
            v.add_notice(text_)

        return run

    page_build(
        lambda view: concurrent.build_concurrently(view, [noting("Первое."), noting("Второе.")]) and []
    )
    page = open_dashboard(web, tenants.cabinet_a, SLUG)
    assert "Первое." in page and "Второе." in page


def test_parts_of_a_part_on_a_helper_are_built_one_after_another(
    web: TestClient, tenants: Tenants, page_build: Any
) -> None:
    barrier = threading.Barrier(2, timeout=30)
    inner: list[int] = []

    def nested(v: View) -> list[int]:
        barrier.wait()
        return [concurrent.helpers_for(v), threading.get_ident()]

    def build(view: View) -> list[Panel]:
        inner.extend(x for pair in concurrent.build_concurrently(view, [nested, nested]) for x in pair)
        return []

    page_build(build)
    open_dashboard(web, tenants.cabinet_a, SLUG)
    page_helpers, page_thread, helper_helpers, helper_thread = inner
    assert page_thread != helper_thread
    assert (page_helpers, helper_helpers) == (1, 0)  # the page may use the helper; the helper none


def test_pages_with_any_number_of_parts_share_one_pool_of_the_configured_size(
    web: TestClient, services: Services, tenants: Tenants, page_build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _threads(monkeypatch, services, 5)
    monkeypatch.setattr(concurrent, "_POOLS", {})

    def build(view: View) -> list[Panel]:
        for n in (2, 3, 7):
            assert concurrent.build_concurrently(view, [_clients] * n) == [_clients(view)] * n
        return []

    page_build(build)
    open_dashboard(web, tenants.cabinet_a, SLUG)
    assert list(concurrent._POOLS) == [4]  # threads − 1 helpers, however many parts a page has


def test_an_in_memory_sqlite_database_is_read_by_one_thread(tmp_path: Any) -> None:
    memory = Database("sqlite://")
    try:
        assert not memory.concurrent_reads
        with memory.session() as s:
            assert s.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        memory.dispose()
    on_disk = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert on_disk.concurrent_reads
    finally:
        on_disk.dispose()


@pytest.mark.parametrize("slug", ["managers", "analytics"])
def test_a_page_is_the_same_built_by_one_thread_or_two(
    slug: str,
    ctx: IngestContext,
    web: TestClient,
    services: Services,
    tenants: Tenants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sites(ctx, services, tenants)
    wide, narrow = _ranges()[-1], _ranges()[1]  # absolute: «30d» would move with the clock between pages
    for query, rollups in ((wide, True), (narrow, True), (f"{narrow}&login=user1", True), (wide, False)):
        monkeypatch.setattr(usage, "ROLLUPS", rollups)
        pages = {}
        for n in (2, 1):
            _threads(monkeypatch, services, n)
            pages[n] = _panels(open_dashboard(web, tenants.cabinet_a, slug, query))
        assert pages[1] == pages[2], (query, rollups)
        series = sum(len(c["series"]) for c in pages[1]["charts"].values())
        assert series >= 6, (query, rollups)  # data to compare (6 installations)


def test_the_setting_is_checked() -> None:
    base = {"database_url": "sqlite:///x.db"}
    assert Settings.from_values(base).dashboard_threads == 2
    for bad in (0, 17):
        with pytest.raises(ConfigError, match="SMART_DASHBOARD_THREADS"):
            Settings.from_values({**base, "dashboard_threads": bad})
