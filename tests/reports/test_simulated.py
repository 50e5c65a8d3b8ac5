"""A year of simulator-generated sysinfo reports through the real ingest pipeline, then the renewal report:
its numbers match direct queries of the ingested facts and the prolongation dashboard."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kodeks_smart.app import create_app
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.reports import data, render
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store.scope import Scope, Tenant
from tests.conftest import Tenants
from tests.ingest.conftest import DEALER, Agent
from tests.web.test_cabinet import HTML, login

FIRST, LAST = date(2025, 12, 1), date(2026, 11, 1)
USAGE = "FROM sysinfo_usage WHERE client_id = :c AND hour >= :a AND hour < :b"
SEARCHES = "FROM sysinfo_searches WHERE client_id = :c AND occurred_at >= :a AND occurred_at < :b"
#: The month's numbers straight from the ingested facts (client :c, local month [:a, :b)).
QUERIES = {
    "docs": "SELECT SUM(docs) " + USAGE,
    "users": "SELECT COUNT(DISTINCT login) " + USAGE + " AND db_requests > 0",
    "intelligent": "SELECT COUNT(*) " + SEARCHES + " AND type = 'intelligent'",
    "empty": "SELECT COUNT(*) " + SEARCHES + " AND result = 'empty'",
    "refusals": "SELECT COUNT(*) FROM sysinfo_refusals WHERE client_id = :c AND occurred_at >= :a"
    " AND occurred_at < :b AND reason = 'no-seats'",
    "seats": "SELECT MAX(seats) FROM sysinfo_reports WHERE client_id = :c AND created_at >= :a"
    " AND created_at < :b",
}


@pytest.fixture
def http(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as client:
        yield client


@pytest.fixture
def ingested(services: Services, tenants: Tenants, http: TestClient) -> int:
    """One report a month (the last day, 23:00 Moscow time, 31 days of history) for alpha_client."""
    agent = Agent(http, DEALER, tenants.token)
    months = [data.add_months(FIRST, i) for i in range(-1, 12)]
    for n, month in enumerate(months):
        end = data.add_months(month, 1)
        at = datetime(end.year, end.month, 1, tzinfo=UTC) - timedelta(hours=1, minutes=3)
        scenarios = frozenset({"seats-exhausted"}) if n % 4 == 1 else frozenset()
        profile = SysinfoProfile("alpha_client", users=9, days=31, seed=n, now=at, scenarios=scenarios)
        response = agent.upload("alpha_client.zip", generate_zip(profile))
        assert response.status_code == 200, response.text
    assert drain(IngestContext.from_services(services)) == len(months)
    with services.db.session() as s:
        return int(s.execute(text("SELECT id FROM clients WHERE short_name = 'alpha_client'")).scalar_one())


def test_renewal_report_from_ingested_simulator_reports(
    services: Services, tenants: Tenants, http: TestClient, ingested: int, tmp_path: Path
) -> None:
    db = services.db
    started = time.monotonic()
    with db.session() as s:
        report = data.renewal_report(Tenant(s, Scope.operator()), ingested, FIRST, LAST)
    content = render.pdf(report)
    elapsed = time.monotonic() - started
    print(f"renewal report of 12 simulated months: {elapsed:.1f} s, {len(content) // 1024} KiB")
    assert content.startswith(b"%PDF")
    (tmp_path / "renewal.pdf").write_bytes(content)  # kept by pytest for a look: pdftoppm -png renewal.pdf
    assert report.months_with_data == 12
    shift = timedelta(hours=3)
    for m in report.months:
        nxt = data.add_months(m.month, 1)
        p = {
            "c": ingested,
            "a": datetime(m.month.year, m.month.month, 1, tzinfo=UTC) - shift,
            "b": datetime(nxt.year, nxt.month, 1, tzinfo=UTC) - shift,
        }
        with db.session() as s:
            got = {key: int(s.execute(text(sql), p).scalar() or 0) for key, sql in QUERIES.items()}
        assert m.docs == got["docs"] > 0
        assert m.users == got["users"]
        assert m.intelligent_searches == got["intelligent"] > 0
        assert m.empty_searches == got["empty"]
        assert m.refusals == got["refusals"]
        assert m.seats and m.seats == got["seats"]
    assert report.total("refusals") > 0  # the seats-exhausted months
    assert report.empty_queries

    # The dashboard shows the same numbers for the calendar year 2026.
    login(http, "alice", "alice-password")
    page = http.get(f"/c/{tenants.cabinet_a}/d/prolongation?client={ingested}&year=2026", headers=HTML)
    assert page.status_code == 200
    row = re.search(r"<td>Количество запрошенных из БД документов</td>(.*?)</tr>", page.text, re.S)
    assert row is not None
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))]
    assert cells[:11] == [data.fmt_number(m.docs) for m in report.months[1:]]
