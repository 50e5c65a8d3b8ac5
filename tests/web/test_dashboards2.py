"""The second set of cabinet dashboards (issue #8): online billing, searches, search time, versions,
MS AD statistics, user cards and kAssist — numbers, filters, export and cabinet isolation, on SQLite and
PostgreSQL, with facts written through the store models or the real ingest pipeline."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from kodeks_smart.app import create_app
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import (
    SysinfoComponent,
    SysinfoKassistDay,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.store.models import Client, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.dashboards.billing import level_docs_left, level_manager_average
from kodeks_smart.web.dashboards.search_time import threshold_of
from kodeks_smart.web.nav import NAV
from tests.conftest import Tenants
from tests.web.dashboard_helpers import HTML, chart, hour, open_dashboard, series, site_of, stat, table_rows
from tests.web.test_cabinet import login

SLUGS = (
    "billing",
    "billing-analytics",
    "searches",
    "searches-online",
    "search-time",
    "versions",
    "ad",
    "user-cards",
    "kassist",
)


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def _export(web: TestClient, path: str) -> tuple[list[str], int]:
    """CSV lines and the XLSX row count of one table's export."""
    csv = web.get(path + "&export=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").strip().split("\r\n")
    xlsx = web.get(path + "&export=xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    return lines, len(list(sheet.iter_rows(values_only=True)))


# -- pure rules ------------------------------------------------------------------------------------


def test_colour_rules_of_the_billing_dashboards() -> None:
    assert [level_docs_left(v) for v in (0, 49, 50, 149, 150, None)] == [
        "crit",
        "crit",
        "warn",
        "warn",
        "ok",
        "",
    ]
    assert level_manager_average(14.9, False) == "crit" and level_manager_average(95, False) == "ok"
    assert [level_manager_average(v, True) for v in (10, 15, 74.9, 75, 89.9, 90)] == [
        "crit",
        "ok",
        "ok",
        "warn",
        "warn",
        "crit",
    ]


def test_search_threshold_takes_the_smallest_choice() -> None:
    assert threshold_of([]) == ("1s", 1.0)
    assert threshold_of(["10s", "3s"]) == ("3s", 3.0)


def test_the_dashboards_are_in_the_analytics_menu() -> None:
    paths = {e.path: e for e in NAV}
    for slug in SLUGS:
        entry = paths[f"d/{slug}"]
        assert entry.dashboard and entry.section == "Аналитика"


# -- searches ----------------------------------------------------------------------------------------


def _searches(db: Database, tenants: Tenants) -> datetime:
    now = utcnow().replace(microsecond=0)
    with db.write() as s:
        for cabinet, prefix in ((tenants.cabinet_a, "alpha"), (tenants.cabinet_b, "beta")):
            site = site_of(s, cabinet)
            plan = [
                # login, minutes ago, result, duration, catalog, type, source, query
                ("ivanov", 10, "empty", 14.5, "/docs", "intelligent", "ksrv", "ГОСТ Р 99999-2099"),
                ("ivanov", 20, "empty", 11.0, "/docs", "intelligent", "ksrv", "ПНД Ф 14.1:2:3:4..112-2023"),
                ("sidorov", 30, "empty", 0.4, "/kodeks02", "attribute", "ksrv", "СП 999.1325800"),
                ("petrov", 40, "found", 2.5, "/docs", "intelligent", "ksrv", "трудовой кодекс"),
                ("petrov", 50, "found", 0.2, "/docs", "intelligent", "kassist", "налоговый кодекс"),
                (f"{prefix}_online", 60, "found", 12.0, "/kodeks02", "intelligent", "ksrv", "охрана труда"),
            ]
            for n, (user, ago, result, duration, catalog, kind, source, query) in enumerate(plan):
                s.add(
                    SysinfoSearch(
                        **site.fact(),
                        occurred_at=now - timedelta(minutes=ago),
                        login=user if prefix == "alpha" else f"{prefix}_{user}",
                        query_key=f"k{n}",
                        catalog=catalog,
                        type=kind,
                        result=result,
                        found=0 if result == "empty" else 5,
                        source=source,
                        duration=duration,
                        query=query if prefix == "alpha" else f"бета {query}",
                    )
                )
            # outside the default 30 days
            s.add(
                SysinfoSearch(
                    **site.fact(),
                    occurred_at=now - timedelta(days=40),
                    login="old",
                    query_key="old",
                    result="empty",
                    duration=30.0,
                    query="давно",
                )
            )
    return now


def test_searches_put_empty_searches_first_and_filter_by_status_and_user(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _searches(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "searches")
    assert (stat(page, "n_total"), stat(page, "n_empty"), stat(page, "empty_share")) == ("6", "3", "50.0")
    assert page.index('data-panel="empty"') < page.index('data-panel="searches"')
    empty = table_rows(page, "empty")
    assert [r[3] for r in empty] == ["ivanov", "ivanov", "sidorov"]
    assert {r[4] for r in empty} == {"Пустой"} and empty[0][5] == "ГОСТ Р 99999-2099"
    assert empty[0][7] == "Интеллектуальный поиск" and empty[2][6] == "kodeks02"
    rows = table_rows(page, "searches")
    assert len(rows) == 6 and rows[0][1] == "ООО «alpha»" and rows[0][8] == "alpha_client"
    assert "beta" not in page and "давно" not in page
    by_status = series(page, "by_status")
    assert by_status["Пустой"]["stats"]["sum"] == 3 and by_status["Успех"]["stats"]["sum"] == 3
    assert 'value="Пустой"' in page and 'value="kassist"' in page and 'value="Атрибутный"' in page

    only_found = open_dashboard(web, tenants.cabinet_a, "searches", "status=Успех")
    assert stat(only_found, "n_total") == "3" and table_rows(only_found, "empty") == []
    petrov = open_dashboard(web, tenants.cabinet_a, "searches", "user=petrov&user=sidorov")
    assert stat(petrov, "n_total") == "3" and stat(petrov, "n_empty") == "1"
    kassist = open_dashboard(web, tenants.cabinet_a, "searches", "source=kassist")
    assert [r[3] for r in table_rows(kassist, "searches")] == ["налоговый кодекс"]
    attribute = open_dashboard(web, tenants.cabinet_a, "searches", "type=Атрибутный&catalog=/kodeks02")
    assert stat(attribute, "n_total") == "1"
    nobody = open_dashboard(web, tenants.cabinet_a, "searches", "client=beta_client")
    assert stat(nobody, "n_total") == "0"
    longer = open_dashboard(web, tenants.cabinet_a, "searches", "range=90d")
    assert stat(longer, "n_total") == "7"


def test_searches_export_csv_and_xlsx(web: TestClient, db: Database, tenants: Tenants) -> None:
    _searches(db, tenants)
    login(web, "alice", "alice-password")
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/searches?table=empty")
    assert lines[0].startswith("Время;host;Менеджер;Пользователь;Статус;Запрос") and len(lines) == 4
    assert xlsx_rows == 4
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/searches?table=searches&status=Пустой")
    assert len(lines) == 4 and xlsx_rows == 4 and all("beta" not in line for line in lines)


def test_online_searches_keep_the_logins_of_online_accesses(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _searches(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "searches-online")
    assert stat(page, "n_total") == "1"
    (row,) = table_rows(page, "searches")
    assert row[2] == "alpha_online" and row[3] == "охрана труда" and row[7] == "Успех"
    assert row[9] == "Менеджер alpha" and "beta" not in page
    assert stat(open_dashboard(web, tenants.cabinet_a, "searches-online", "status=Пустой"), "n_total") == "0"


def test_search_time_lists_searches_slower_than_the_threshold(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _searches(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "search-time")
    assert stat(page, "count") == "4"
    assert [r[1] for r in table_rows(page, "queries")] == ["14.500", "12.000", "11.000", "2.500"]
    slow = series(page, "slow")
    assert set(slow) == {"alpha.example.ru:80/docs", "alpha.example.ru:80/kodeks02"}
    assert slow["alpha.example.ru:80/docs"]["stats"]["max"] == 14.5
    assert slow["alpha.example.ru:80/docs"]["stats"]["count"] == 3
    assert chart(page, "slow")["kind"] == "points" and "beta" not in page
    ten = open_dashboard(web, tenants.cabinet_a, "search-time", "threshold=10s")
    assert stat(ten, "count") == "3" and "более 10s" in ten
    found = open_dashboard(web, tenants.cabinet_a, "search-time", "threshold=10s&status=Успешный")
    assert [r[4] for r in table_rows(found, "queries")] == ["alpha_online"]
    catalog = open_dashboard(web, tenants.cabinet_a, "search-time", "catalog=/docs")
    assert stat(catalog, "count") == "3"
    bad = web.get(f"/c/{tenants.cabinet_a}/d/search-time?threshold=1h", headers=HTML)
    assert bad.status_code == 400 and "Неизвестный порог" in bad.text
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/search-time?table=queries&threshold=10s")
    assert lines[0].startswith("Time;Длительность, с;Каталог;Клиент;Логин") and len(lines) == xlsx_rows == 4


# -- online billing ----------------------------------------------------------------------------------


def _billing(db: Database, tenants: Tenants) -> datetime:
    now = utcnow().replace(microsecond=0)
    with db.write() as s:
        for cabinet, docs_used in ((tenants.cabinet_a, (300, 333)), (tenants.cabinet_b, (10, 20))):
            access = s.scalars(select(OnlineAccess).where(OnlineAccess.cabinet_id == cabinet)).one()
            for ago, used in zip((5, 2), docs_used, strict=True):
                s.add(
                    OnlineBillingReading(
                        dealer_id=access.dealer_id,
                        cabinet_id=cabinet,
                        online_access_id=access.id,
                        read_at=now - timedelta(hours=ago),
                        docs_max=400,
                        docs_used=used,
                        search_max=4000,
                        search_used=482,
                        print_max=100,
                        print_used=10,
                        upload_max=50,
                        upload_used=5,
                    )
                )
            s.add(
                ProbeCheck(
                    dealer_id=access.dealer_id,
                    cabinet_id=cabinet,
                    online_access_id=access.id,
                    check_name="online",
                    status="fail",
                    value="LoginPasswordError",
                    detail="неверный логин или пароль",
                )
            )
    return now


def test_billing_statistics_show_remaining_units_and_percent_used(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _billing(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "billing")
    (row,) = table_rows(page, "billing")
    # client, login, docs left, level, % docs, search left, % search, print, upload, manager
    assert row[:10] == [
        "alpha_client",
        "alpha_online",
        "67",
        "жёлтый",
        "83.2",
        "3518",
        "12.1",
        "90",
        "45",
        "Менеджер alpha",
    ]
    assert stat(page, "mean_docs_pct") == "83.2" and stat(page, "mean_search_pct") == "12.1"
    docs = series(page, "docs_left")["alpha_client: alpha_online"]
    assert docs["stats"]["last"] == 67 and docs["stats"]["max"] == 100
    assert chart(page, "docs_left")["log"] and chart(page, "docs_left")["bands"][0] == [0.0, 50.0, "crit"]
    assert series(page, "avg_all")["Процент"]["stats"]["last"] == pytest.approx(83.25)
    assert series(page, "avg_manager")["Менеджер alpha"]["stats"]["min"] == pytest.approx(75.0)
    (problem,) = table_rows(page, "problems")
    assert problem[:5] == ["alpha_client", "nps2.cntd.ru", "kodeks02", "alpha_online", "LoginPasswordError"]
    assert "beta" not in page
    none = open_dashboard(web, tenants.cabinet_a, "billing", "login=somebody")
    assert table_rows(none, "billing") == [] and stat(none, "mean_docs_pct") == "нет данных"
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/billing?table=billing")
    assert lines[0].startswith("Клиент;Логин;Документы;Остаток док.;% исп. док") and len(lines) == 2
    assert xlsx_rows == 2 and "67" in lines[1]


def test_billing_analytics_average_by_manager_and_count_accesses(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _billing(db, tenants)
    login(web, "boss", "boss-password")
    page = open_dashboard(web, tenants.cabinet_b, "billing-analytics")
    manager = series(page, "avg_manager")["Менеджер beta"]
    assert manager["stats"]["last"] == pytest.approx(5.0)
    assert series(page, "monitored")["Всего клиентов"]["stats"]["max"] == 1
    (row,) = table_rows(page, "managers")
    assert row[0] == "Менеджер beta" and row[4] == "красный"
    assert len(chart(page, "avg_manager")["bands"]) == 2 and "alpha" not in page
    chosen = open_dashboard(web, tenants.cabinet_b, "billing-analytics", "client=beta_client")
    assert len(chart(chosen, "avg_manager")["bands"]) == 4
    lines, _ = _export(web, f"/c/{tenants.cabinet_b}/d/billing-analytics?table=managers")
    assert len(lines) == 2


# -- versions --------------------------------------------------------------------------------------


def test_versions_show_components_and_the_newest_report(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    now = utcnow().replace(microsecond=0)
    with db.write() as s:
        for cabinet, version in ((tenants.cabinet_a, "6.4.5.46 (x64)"), (tenants.cabinet_b, "7.0.0.1 beta")):
            for ago, module, server in ((48, "2.0.6.12", "6.4.4.194 (x64)"), (1, "2.0.6.15", version)):
                site = site_of(s, cabinet)  # a new upload per report
                at = now - timedelta(hours=ago)
                s.add(
                    SysinfoReportRow(
                        **site.fact(), created_at=at, utc_offset_minutes=180, module_version=module
                    )
                )
                s.add(
                    SysinfoComponent(**site.fact(), report_at=at, type="ksrv", name="Сервер", version=server)
                )
            s.add(
                SysinfoComponent(**site.fact(), report_at=at, type="kassist", name="kAssist", version="1.2.3")
            )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "versions")
    (row,) = table_rows(page, "stats")
    assert row[:3] == ["alpha_client", "6.4.5.46 (x64)", "2.0.6.15"] and row[5] == "Менеджер alpha"
    used = table_rows(page, "used")
    assert sorted((r[1], r[3]) for r in used) == [
        ("kassist", "1.2.3"),
        ("ksrv", "6.4.4.194 (x64)"),
        ("ksrv", "6.4.5.46 (x64)"),
    ]
    assert stat(page, "server_versions") == "1" and "beta" not in page
    ksrv = open_dashboard(web, tenants.cabinet_a, "versions", "type=kassist")
    assert [r[3] for r in table_rows(ksrv, "used")] == ["1.2.3"]
    recent = open_dashboard(web, tenants.cabinet_a, "versions", "range=24h")
    assert len(table_rows(recent, "used")) == 2
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/versions?table=stats")
    assert lines[0] == "Клиент;Версия ПК;Вер. SysInfo;ОС;адрес;Менеджер;Отчёт sysinfo" and xlsx_rows == 2


# -- MS Active Directory and user cards --------------------------------------------------------------


def _users(db: Database, tenants: Tenants, hours: list[tuple[datetime, str, dict[str, int]]]) -> None:
    now = utcnow()
    with db.write() as s:
        for cabinet, prefix in ((tenants.cabinet_a, ""), (tenants.cabinet_b, "beta_")):
            site = site_of(s, cabinet)
            cards = {
                "ivanov": ("Иванов Иван", "ivanov@example.ru", None, "юрист", "BUH"),
                "petrov": (None, None, "+7 900", None, None),
                "sidorov": ("Сидоров", None, "+7 901", "бухгалтер", "IT"),
            }
            for login_, (full, email, phone, position, domain) in cards.items():
                s.add(
                    SysinfoUser(
                        **site.base(),
                        upload_id=site.upload_id,
                        login=prefix + login_,
                        first_seen_at=now - timedelta(days=100),
                        last_seen_at=now - timedelta(hours=1),
                        last_login_at=now - timedelta(hours=2) if login_ != "sidorov" else None,
                        full_name=full,
                        email=email,
                        phone=phone,
                        position=position,
                        domain=domain,
                    )
                )
            for at, login_, counts in hours:
                s.add(SysinfoUsageHour(**site.fact(), hour=at, login=prefix + login_, report_at=at, **counts))


def test_ad_statistics_sum_usage_by_domain_month_to_date(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    day = datetime(2026, 10, 11, 10, tzinfo=UTC)
    _users(
        db,
        tenants,
        [
            (datetime(2026, 10, 5, 9, tzinfo=UTC), "ivanov", {"docs": 10}),  # before the range, same month
            (datetime(2026, 9, 30, 9, tzinfo=UTC), "ivanov", {"docs": 1000}),  # the previous month
            (day, "ivanov", {"docs": 5, "db_requests": 7}),
            (day + timedelta(hours=1), "ivanov", {"docs": 3, "saved": 1}),
            (day, "petrov", {"docs": 4, "printed": 2, "free_docs": 6}),
            (day, "nobody", {"docs": 1}),  # no user row: «НеОпределён»
        ],
    )
    login(web, "alice", "alice-password")
    query = "from=2026-10-10&to=2026-10-12"
    page = open_dashboard(web, tenants.cabinet_a, "ad", query)
    docs = series(page, "docs")
    assert set(docs) == {"BUH", "НеОпределён"}
    assert docs["BUH"]["stats"]["last"] == 18 and docs["BUH"]["stats"]["min"] == 15
    assert docs["НеОпределён"]["stats"]["last"] == 5
    assert series(page, "printed")["НеОпределён"]["stats"]["last"] == 2
    assert series(page, "free_docs")["НеОпределён"]["stats"]["last"] == 6
    assert series(page, "activity")["BUH"]["stats"]["last"] == 10 + 5 + 7 + 3 + 1
    rows = {r[0]: r for r in table_rows(page, "domains")}
    assert rows["BUH"][1:3] == ["1", "8"] and rows["НеОпределён"][1:3] == ["2", "5"]
    assert 'value="IT"' in page and "beta" not in page
    buh = open_dashboard(web, tenants.cabinet_a, "ad", query + "&domain=BUH")
    assert set(series(buh, "docs")) == {"BUH"}
    undefined = open_dashboard(web, tenants.cabinet_a, "ad", query + "&domain=НеОпределён")
    assert set(series(undefined, "docs")) == {"НеОпределён"}
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/ad?{query}&table=domains")
    assert lines[0].startswith("Домен;Пользователей") and len(lines) == xlsx_rows == 3


def test_user_cards_completeness_and_top_users(web: TestClient, db: Database, tenants: Tenants) -> None:
    now = hour()
    _users(
        db,
        tenants,
        [
            (now - timedelta(hours=3), "petrov", {"docs": 40, "db_requests": 60}),
            (now - timedelta(hours=2), "ivanov", {"docs": 5, "printed": 1}),
            (now - timedelta(hours=1), "ivanov", {"saved": 2}),
            (now - timedelta(days=3), "sidorov", {"docs": 500}),  # outside the 24 hours
        ],
    )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "user-cards")
    assert stat(page, "users") == "3"
    assert stat(page, "filled") == "50.0"  # ivanov filled, petrov not; sidorov never logged in
    cards = {r[1]: r for r in table_rows(page, "cards")}
    assert cards["ivanov"][8] == "заполнена" and cards["petrov"][8] == "не заполнена"
    assert cards["ivanov"][7] == "Менеджер alpha"
    top = table_rows(page, "top")
    assert [(r[4], r[5]) for r in top] == [("petrov", "100"), ("ivanov", "8")]
    assert top[0][0] == "0599ROGAIKOPITA" and top[1][1] == "BUH" and top[0][1] == "НеОпределён"
    assert "beta" not in page
    week = open_dashboard(web, tenants.cabinet_a, "user-cards", "range=7d")
    assert table_rows(week, "top")[0][4] == "sidorov"
    other = open_dashboard(web, tenants.cabinet_a, "user-cards", "host=beta.example.ru:80")
    assert table_rows(other, "cards") == [] and table_rows(other, "top") == []
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/user-cards?table=cards")
    assert lines[0].startswith("host;name;fullname;phone;email") and len(lines) == xlsx_rows == 4


# -- kAssist ---------------------------------------------------------------------------------------


def test_kassist_charts_per_day_and_interval_sums(web: TestClient, db: Database, tenants: Tenants) -> None:
    today = utcnow().date()
    with db.write() as s:
        for cabinet, scale in ((tenants.cabinet_a, 1), (tenants.cabinet_b, 100)):
            site = site_of(s, cabinet)
            for ago, unique, active in ((1, 5, 10), (2, 7, 20), (60, 1000, 1000)):
                s.add(
                    SysinfoKassistDay(
                        **site.fact(),
                        day=today - timedelta(days=ago),
                        report_at=utcnow(),
                        links_added=unique * 2 * scale,
                        unique_links=unique * scale,
                        not_matched=1,
                        active_checked=active * scale,
                    )
                )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "kassist")
    unique = series(page, "unique_links")["alpha_client"]
    assert unique["stats"]["max"] == 7 and unique["stats"]["last"] == 5 and len(unique["points"]) == 2
    first_day = today - timedelta(days=2)
    assert unique["points"][0][0] == int(
        datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC).timestamp()
    )
    assert chart(page, "links_added")["kind"] == "bar" and chart(page, "links_added")["log"]
    assert table_rows(page, "sum_unique_links") == [["alpha_client", "12"]]
    assert table_rows(page, "sum_active_checked") == [["alpha_client", "30"]]
    assert "beta" not in page
    lines, xlsx_rows = _export(web, f"/c/{tenants.cabinet_a}/d/kassist?table=sum_active_checked")
    assert lines == ["Клиент;Сумма", "alpha_client;30"] and xlsx_rows == 2
    nobody = open_dashboard(web, tenants.cabinet_a, "kassist", "manager=nobody")
    assert chart(nobody, "unique_links")["series"] == []


# -- isolation and the real pipeline -----------------------------------------------------------------


def test_a_cabinet_never_sees_another_cabinets_dashboards(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _searches(db, tenants)
    _billing(db, tenants)
    login(web, "alice", "alice-password")
    for slug in SLUGS:
        for foreign in (tenants.cabinet_b, tenants.cabinet_c):
            response = web.get(f"/c/{foreign}/d/{slug}", headers=HTML)
            assert response.status_code == 404 and "beta" not in response.text, slug
        page = open_dashboard(web, tenants.cabinet_a, slug, "range=90d")
        assert "beta_" not in page and "бета" not in page and "beta.example" not in page, slug
        exported = web.get(f"/c/{tenants.cabinet_b}/d/{slug}?table=searches&export=csv")
        assert exported.status_code == 404


def test_dashboards_over_reports_from_the_ingest_pipeline(
    web: TestClient, services: Services, db: Database, tenants: Tenants
) -> None:
    now = utcnow().replace(microsecond=0)
    for name in ("alpha_client", "beta_client"):
        body = generate_xml(SysinfoProfile(name, users=8, days=2, now=now))
        response = web.post(
            "/upload",
            params={"token": tenants.token},
            headers={"upload": "yes", "dealer": "0599ROGAIKOPITA"},
            files={"file": (f"{name}.xml", body)},
        )
        assert response.status_code == 200, response.text
    drain(IngestContext.from_services(services))
    with db.write() as s:
        client_id = s.scalars(select(Client.id).where(Client.cabinet_id == tenants.cabinet_a)).one()
        searches = s.scalar(
            select(func.count()).select_from(SysinfoSearch).where(SysinfoSearch.client_id == client_id)
        )
        empty = s.scalar(
            select(func.count())
            .select_from(SysinfoSearch)
            .where(SysinfoSearch.client_id == client_id, SysinfoSearch.result == "empty")
        )
    assert searches
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "searches", "range=7d")
    assert stat(page, "n_total") == str(searches) and stat(page, "n_empty") == str(empty)
    versions = open_dashboard(web, tenants.cabinet_a, "versions", "range=7d")
    assert table_rows(versions, "stats")[0][0] == "alpha_client" and table_rows(versions, "stats")[0][1]
    for slug in SLUGS:
        assert "beta" not in open_dashboard(web, tenants.cabinet_a, slug, "range=7d"), slug


def test_no_data_pages_render(web: TestClient, tenants: Tenants) -> None:
    login(web, "alice", "alice-password")
    for slug in SLUGS:
        page = open_dashboard(web, tenants.cabinet_a, slug)
        assert "Все" in page and ("<table" in page or "chart-data" in page)
