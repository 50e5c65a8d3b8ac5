"""Dashboards: the framework (time range, filters, tables, export, isolation) and the first dashboards,
on SQLite and PostgreSQL, with facts written through the store models or the real ingest pipeline."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from kodeks_smart.app import create_app
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoDbError, SysinfoSession
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.dashboards import REGISTRY
from kodeks_smart.web.dashboards.framework import BadInput, TimeRange, parse_time_range
from kodeks_smart.web.nav import NAV
from tests.conftest import Tenants
from tests.web.dashboard_helpers import HTML, chart, open_dashboard, series, site_of, stat, table_rows
from tests.web.test_cabinet import login

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


# -- time range ------------------------------------------------------------------------------------


def test_presets_reach_back_from_now() -> None:
    r = parse_time_range("5m", None, None, "30d", NOW)
    assert r.start == NOW - timedelta(minutes=5) and r.end == NOW and r.preset == "5m"
    assert not r.rollups and r.step == 60
    year = parse_time_range("13M", None, None, "30d", NOW)
    assert year.rollups and year.length == timedelta(days=396) and year.step == 7 * 86400
    assert parse_time_range(None, None, None, "30d", NOW).preset == "30d"


def test_an_absolute_range_takes_dates_times_and_epoch_milliseconds() -> None:
    r = parse_time_range("30d", "2026-11-01", "2026-11-02", "30d", NOW)
    assert r == TimeRange(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), None)
    r = parse_time_range(None, "2026-11-01T10:30", "2026-11-01 11:00", "30d", NOW)
    assert r.length == timedelta(minutes=30)
    ms = int(datetime(2026, 11, 5, tzinfo=UTC).timestamp() * 1000)
    r = parse_time_range(None, str(ms), str(ms + 3_600_000), "30d", NOW)
    assert r.start == datetime(2026, 11, 5, tzinfo=UTC) and r.length == timedelta(hours=1)


@pytest.mark.parametrize(
    ("preset", "start", "end", "message"),
    [
        ("2w", None, None, "Неизвестный период"),
        (None, "2026-11-01", None, "укажите и начало"),
        (None, "вчера", "2026-11-02", "Неверное значение «from»"),
        (None, "2026-11-05", "2026-11-01", "раньше конца"),
        (None, "2020-01-01", "2026-11-01", "слишком длинный"),
        (None, "2026-13-01", "2026-11-01", "Неверное значение"),
    ],
)
def test_bad_time_input_is_refused_in_russian(
    preset: str | None, start: str | None, end: str | None, message: str
) -> None:
    with pytest.raises(BadInput) as err:
        parse_time_range(preset, start, end, "30d", NOW)
    assert err.value.status_code == 400 and message in str(err.value.detail)


def test_a_bad_range_in_the_address_is_a_400_page(web: TestClient, tenants: Tenants) -> None:
    login(web, "alice", "alice-password")
    for query in (
        "range=forever",
        "from=x&to=y",
        "refresh=1s",
        "p=abc&table=latest",
        "export=pdf&table=latest",
    ):
        response = web.get(f"/c/{tenants.cabinet_a}/d/db-errors?{query}", headers=HTML)
        assert response.status_code == 400, query
        assert "<html" in response.text
    response = web.get(f"/c/{tenants.cabinet_a}/d/db-errors?client=" + "x" * 400, headers=HTML)
    assert response.status_code == 400 and "Слишком длинное" in response.text


# -- registry, navigation, isolation ---------------------------------------------------------------


def test_every_dashboard_is_in_the_menu_and_renders_empty(web: TestClient, tenants: Tenants) -> None:
    login(web, "alice", "alice-password")
    paths = {e.path for e in NAV if e.dashboard}
    for slug, spec in REGISTRY.items():
        assert f"d/{slug}" in paths
        page = open_dashboard(web, tenants.cabinet_a, slug)
        assert spec.title in page and "/static/charts.js" in page
        assert 'value="__all__" selected' in page or "filters" in page


def test_a_user_gets_404_for_another_cabinets_dashboards(web: TestClient, tenants: Tenants) -> None:
    login(web, "alice", "alice-password")
    for slug in REGISTRY:
        for foreign in (tenants.cabinet_b, tenants.cabinet_c, 999999):
            response = web.get(f"/c/{foreign}/d/{slug}", headers=HTML)
            assert response.status_code == 404, (slug, foreign)
            assert "beta" not in response.text and "gamma" not in response.text


def test_the_static_chart_script_is_served_locally(web: TestClient) -> None:
    js = web.get("/static/charts.js")
    assert (
        js.status_code == 200
        and "drag" in js.text.lower()
        and "http://" not in js.text.replace("http://www.w3.org/2000/svg", "")
    )
    assert web.get("/static/dashboards.css").status_code == 200


# -- «Ошибки БД» -----------------------------------------------------------------------------------


def _db_errors(db: Database, tenants: Tenants) -> None:
    now = utcnow()
    with db.write() as s:
        for cabinet, volumes in ((tenants.cabinet_a, 3), (tenants.cabinet_b, 5)):
            site = site_of(s, cabinet)
            for hours_ago, n in ((30, volumes - 1), (2, volumes)):
                at = now - timedelta(hours=hours_ago)
                for v in range(n):
                    s.add(
                        SysinfoDbError(
                            **site.fact(),
                            report_at=at,
                            database="KOD",
                            volume=f"C:\\Kodeks\\Db\\vol{v}.ud6",
                            code=603,
                            text="Invalid protect string",
                            occurred_at=at - timedelta(minutes=5),
                        )
                    )


def test_db_errors_count_volumes_per_installation_and_error(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _db_errors(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "db-errors", "range=7d")
    got = series(page, "errors")
    assert list(got) == ["alpha.example.ru:80: 603: Invalid protect string"]
    (only,) = got.values()
    assert only["stats"]["last"] == 3 and only["stats"]["min"] == 2
    rows = table_rows(page, "latest")
    assert len(rows) == 3 and all(r[0] == "alpha.example.ru:80" for r in rows)
    assert "beta" not in page
    short = open_dashboard(web, tenants.cabinet_a, "db-errors", "range=24h")
    assert [s["stats"]["max"] for s in chart(short, "errors")["series"]] == [3]


def test_db_errors_export_the_whole_table_as_csv_and_xlsx(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _db_errors(db, tenants)
    login(web, "alice", "alice-password")
    base = f"/c/{tenants.cabinet_a}/d/db-errors?range=7d&table=latest"
    csv = web.get(base + "&export=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").strip().split("\r\n")
    assert lines[0].startswith("host;Клиент;Менеджер;Ошибка") and len(lines) == 4
    xlsx = web.get(base + "&export=xlsx&per_page=25&p=1")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and len(list(sheet.iter_rows(values_only=True))) == 4
    assert web.get(base.replace("table=latest", "table=nope") + "&export=csv").status_code == 400


def test_tables_sort_and_paginate(web: TestClient, db: Database, tenants: Tenants) -> None:
    _db_errors(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "db-errors", "range=7d&table=latest&sort=volume&desc=true")
    assert [r[6] for r in table_rows(page, "latest")] == [
        "C:\\Kodeks\\Db\\vol2.ud6",
        "C:\\Kodeks\\Db\\vol1.ud6",
        "C:\\Kodeks\\Db\\vol0.ud6",
    ]


def test_filters_narrow_the_panels_and_offer_only_the_cabinets_values(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _db_errors(db, tenants)
    login(web, "boss", "boss-password")
    page = open_dashboard(web, tenants.cabinet_b, "db-errors", "range=7d")
    assert 'value="beta_client"' in page and 'value="alpha_client"' not in page
    narrowed = open_dashboard(web, tenants.cabinet_b, "db-errors", "range=7d&client=nobody")
    assert chart(narrowed, "errors")["series"] == [] and table_rows(narrowed, "latest") == []
    chosen = open_dashboard(
        web, tenants.cabinet_b, "db-errors", "range=7d&client=beta_client&manager=__all__"
    )
    assert len(table_rows(chosen, "latest")) == 5


# -- «Подключённые пользователи» ---------------------------------------------------------------------


def test_connected_users_show_the_newest_report_and_filter_by_domain(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    now = utcnow()
    with db.write() as s:
        for cabinet, prefix in ((tenants.cabinet_a, "a"), (tenants.cabinet_b, "b")):
            site = site_of(s, cabinet)
            for at, logins in ((now - timedelta(hours=3), 5), (now - timedelta(hours=1), 3)):
                for n in range(logins):
                    s.add(
                        SysinfoSession(
                            **site.fact(),
                            report_at=at,
                            login=f"{prefix}user{n}",
                            ip="10.0.0.1",
                            domain="BUH" if n == 0 else None,
                            login_at=at - timedelta(minutes=30),
                        )
                    )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "connected-users")
    assert stat(page, "seats") == "3"
    assert sorted(r[2] for r in table_rows(page, "sessions")) == ["auser0", "auser1", "auser2"]
    assert "buser" not in page
    buh = open_dashboard(web, tenants.cabinet_a, "connected-users", "domain=BUH")
    assert [r[2] for r in table_rows(buh, "sessions")] == ["auser0"]
    undefined = open_dashboard(web, tenants.cabinet_a, "connected-users", "domain=НеОпределён")
    assert stat(undefined, "seats") == "2"


# -- the real pipeline -----------------------------------------------------------------------------


def test_dashboards_render_reports_that_went_through_the_ingest_pipeline(
    web: TestClient, services: Services, tenants: Tenants
) -> None:
    now = utcnow().replace(microsecond=0)
    for name in ("alpha_client", "beta_client"):
        body = generate_xml(SysinfoProfile(name, users=12, days=3, now=now))
        response = web.post(
            "/upload",
            params={"token": tenants.token},
            headers={"upload": "yes", "dealer": "0599ROGAIKOPITA"},
            files={"file": (f"{name}.xml", body)},
        )
        assert response.status_code == 200, response.text
    drain(IngestContext.from_services(services))
    login(web, "alice", "alice-password")
    for slug in REGISTRY:
        page = open_dashboard(web, tenants.cabinet_a, slug, "range=7d")
        assert "beta" not in page, slug
    users = open_dashboard(web, tenants.cabinet_a, "connected-users", "range=7d")
    assert int(stat(users, "seats")) == len(table_rows(users, "sessions")) > 0


def test_hostile_filter_values_are_never_echoed_as_markup(web: TestClient, tenants: Tenants) -> None:
    login(web, "alice", "alice-password")
    evil = "<script>alert(1)</script>"
    for slug in ("db-errors", "analytics", "managers"):
        response = web.get(
            f"/c/{tenants.cabinet_a}/d/{slug}", params={"client": evil, "domain": evil}, headers=HTML
        )
        assert response.status_code == 200
        assert evil not in response.text
