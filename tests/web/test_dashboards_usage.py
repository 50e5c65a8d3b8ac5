"""Usage dashboards «Kodeks аналитика» and «Для менеджеров»: the numbers from facts written to the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from kodeks_smart.app import create_app
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import (
    SysinfoDatabase,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.store.types import utcnow
from tests.conftest import Tenants
from tests.web.dashboard_helpers import hour, open_dashboard, series, site_of, table_rows
from tests.web.test_cabinet import login


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def _usage(db: Database, tenants: Tenants) -> None:
    """Per cabinet: two reports (4 then 6 sessions, 10 seats), three users, usage, searches, refusals."""
    now = utcnow()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    h0 = max(hour(now) - timedelta(hours=3), month_start)
    with db.write() as s:
        for cabinet in (tenants.cabinet_a, tenants.cabinet_b):
            first, second = site_of(s, cabinet), site_of(s, cabinet)
            for site, at, sessions in (
                (first, now - timedelta(hours=2), 4),
                (second, now - timedelta(hours=1), 6),
            ):
                s.add(
                    SysinfoReportRow(
                        **site.fact(), created_at=at, utc_offset_minutes=180, seats=10, regnum="0599_111111"
                    )
                )
                for n in range(sessions):
                    s.add(SysinfoSession(**site.fact(), report_at=at, login=f"u{n + 1}", ip="10.0.0.1"))
            s.add(
                SysinfoDatabase(
                    **second.fact(),
                    report_at=now - timedelta(hours=1),
                    code="KOD",
                    license_to=(now + timedelta(days=30)).date(),
                )
            )
            s.add(
                SysinfoOperUpFile(
                    **second.fact(),
                    report_at=now - timedelta(hours=1),
                    path="C:\\Kodeks\\OperUp\\2330nvd.ud6",
                    modified_at=now - timedelta(hours=1) - timedelta(days=4),
                )
            )
            usage = {
                "u1": {
                    "db_requests": 10,
                    "docs": 3,
                    "saved": 2,
                    "printed": 1,
                    "kassist": 4,
                    "services": 1,
                    "searches": 5,
                },
                "u3": {"db_requests": 5},
            }
            for login_name, counters in usage.items():
                s.add(
                    SysinfoUsageHour(
                        **first.fact(),
                        hour=h0,
                        login=login_name,
                        report_at=now - timedelta(hours=1),
                        **counters,
                    )
                )
            users = {
                "u1": {
                    "domain": "BUH",
                    "last_login_at": now - timedelta(hours=1),
                    "full_name": "Иванова Мария",
                    "email": "m@example.ru",
                    "position": "бухгалтер",
                    "month_db_requests": 10,
                    "month_docs": 3,
                    "month_saved": 2,
                    "month_printed": 1,
                    "month_kassist": 4,
                    "month_services": 1,
                },
                "u2": {"last_login_at": now - timedelta(days=90)},
                "u3": {"month_db_requests": 5},
            }
            for login_name, fields in users.items():
                s.add(
                    SysinfoUser(
                        **second.base(),
                        upload_id=second.upload_id,
                        login=login_name,
                        first_seen_at=now - timedelta(days=100),
                        last_seen_at=now - timedelta(hours=1),
                        month_from=month_start.date(),
                        **fields,
                    )
                )
            s.add(
                SysinfoSearch(
                    **first.fact(),
                    occurred_at=now - timedelta(hours=2),
                    login="u1",
                    query_key="a" * 32,
                    query="договор аренды",
                    type="i",
                    result="empty",
                )
            )
            s.add(
                SysinfoSearch(
                    **first.fact(),
                    occurred_at=now - timedelta(hours=2),
                    login="u3",
                    query_key="b" * 32,
                    result="found",
                )
            )
            for minute, login_name, reason, code in (
                (0, "u2", "no-seats", 2008),
                (1, "u2", "no-seats", 2008),
                (2, "u3", "bad-password", None),
            ):
                s.add(
                    SysinfoRefusal(
                        **first.fact(),
                        occurred_at=hour(now - timedelta(hours=2)) + timedelta(minutes=minute),
                        login=login_name,
                        reason=reason,
                        code=code,
                    )
                )


def test_analytics_shows_licences_searches_and_month_to_date_counters(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _usage(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "analytics", "range=7d")
    host = "alpha.example.ru:80"

    def last(panel: str) -> float:
        value: float = series(page, panel)[host]["stats"]["last"]
        return value

    used = series(page, "used")[host]["stats"]
    assert (used["min"], used["max"], used["last"]) == (4, 6, 6)
    assert last("seats") == 10
    assert series(page, "delta")[host]["stats"]["max"] == 6 and last("delta") == 4
    assert series(page, "empty-searches")[host]["stats"]["sum"] == 1
    assert series(page, "kassist")[host]["stats"]["sum"] == 4
    assert last("db-requests") == 15
    assert last("docs") == 3 and last("saved") == 2 and last("printed") == 1
    assert last("doc-or-service") == 5 + 3 + 1
    assert table_rows(page, "not-using") == [[host, "alpha_client", "Менеджер alpha", "3", "2", "67"]]
    assert "beta" not in page

    buh = open_dashboard(web, tenants.cabinet_a, "analytics", "range=7d&domain=BUH")
    assert series(buh, "used")[host]["stats"]["max"] == 1
    assert series(buh, "db-requests")[host]["stats"]["last"] == 10
    assert table_rows(buh, "not-using")[0][3:5] == ["1", "0"]
    nobody = open_dashboard(web, tenants.cabinet_a, "analytics", "range=7d&host=other.example.ru")
    assert series(nobody, "used") == {}


def test_managers_dashboard_shows_involvement_activity_and_problem_lists(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _usage(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "managers")
    host = "alpha.example.ru:80"
    (client_row,) = table_rows(page, "clients")
    assert client_row[0] == "alpha_client" and client_row[1].endswith("нед.")
    assert client_row[2:] == ["20", "26", "10", "0599_111111", "Менеджер alpha", host]
    assert 'class="st-crit' in page  # 20 % involvement is red
    (empty,) = table_rows(page, "empty")
    assert empty[1:6] == [host, "Менеджер alpha", "u1", "договор аренды", "i"]
    assert series(page, "operup")[f"{host}: C:\\Kodeks\\OperUp\\2330nvd.ud6"]["stats"][
        "last"
    ] == pytest.approx(4.0)
    assert series(page, "activity")[host]["stats"]["last"] == 26
    assert series(page, "involvement")[host]["stats"]["last"] == 20
    assert series(page, "max-used")[host]["stats"]["max"] == 6
    assert series(page, "billing-docs")[f"{host}: u1"]["stats"]["max"] == 4
    assert series(page, "requests")[f"{host}: u3"]["stats"]["max"] == 5
    assert [r[1:] for r in table_rows(page, "refusals")] == [["alpha_client", "u2", "2"]]
    assert series(page, "refused")[host]["stats"]["sum"] == 2
    assert table_rows(page, "not-using") == [[host, "alpha_client", "1", "3", "33"]]
    assert [r[2] for r in table_rows(page, "zero-60")] == ["u2"]
    assert table_rows(page, "cards") == [[host, "alpha_client", "1", "1", "100"]]
    assert "beta" not in page

    only_u3 = open_dashboard(web, tenants.cabinet_a, "managers", "login=u3")
    assert table_rows(only_u3, "empty") == []
    assert series(only_u3, "activity")[host]["stats"]["last"] == 5
    assert table_rows(only_u3, "clients")[0][2:4] == ["10", "5"]


def test_managers_dashboard_cuts_long_ranges_to_93_days_and_says_so(
    web: TestClient, tenants: Tenants
) -> None:
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "managers", "range=13M")
    assert "период сокращён до последних 93 дней" in page
    assert 'name="from"' in page and "Последние 13 месяцев</option>" in page
    assert "период сокращён" not in open_dashboard(web, tenants.cabinet_a, "managers", "range=90d")
