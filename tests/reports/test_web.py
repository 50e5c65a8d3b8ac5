"""The cabinet pages: the prolongation dashboards, the reports form, downloads, and cabinet isolation."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from kodeks_smart.app import create_app
from kodeks_smart.reports import data, render
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Manager
from kodeks_smart.store.scope import Scope, Tenant
from tests.conftest import Tenants
from tests.reports.helpers import Built
from tests.web.test_cabinet import HTML, login


@pytest.fixture
def app_client(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def table_rows(page: str) -> dict[str, list[str]]:
    """Label → cell texts of the report table(s) of a page."""
    rows = {}
    for tr in re.findall(r"<tr class=\"(?:count|change|pct)\"[^>]*>(.*?)</tr>", page, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


def test_prolongation_dashboard_matches_the_renewal_report(
    app_client: TestClient, db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    login(app_client, "alice", "alice-password")
    page = app_client.get(
        f"/c/{tenants.cabinet_a}/d/prolongation?client={alpha.client_id}&year=2026", headers=HTML
    )
    assert page.status_code == 200, page.text
    assert "ООО «alpha» | Менеджер alpha" in page.text
    shown = table_rows(page.text)
    with db.session() as s:
        t = Tenant(s, Scope.operator())
        report = data.renewal_report(t, alpha.client_id, date(2026, 1, 1), date(2026, 12, 1))
    expected = {row.label: row.cells() for row in render.prolongation_rows(report.months, report.previous)}
    assert shown == expected
    docs = shown["Количество запрошенных из БД документов"]
    assert docs[3] == data.fmt_number(report.months[3].docs) != "0"
    assert docs[2] == docs[11] == "Нет данных"  # March 2026: not collected; December: not yet
    # The PDF of the same months, downloaded from the dashboard, carries the same table.
    xlsx = app_client.get(
        f"/c/{tenants.cabinet_a}/reports/renewal?client={alpha.client_id}&from=2026-01&to=2026-12&format=xlsx"
    )
    assert xlsx.status_code == 200
    ws = load_workbook(io.BytesIO(xlsx.content))["Пролонгация"]
    assert [c.value for c in ws[2]][1:] == [m.docs if m.has_data else "Нет данных" for m in report.months]


def test_online_prolongation_dashboard_shows_the_remaining_limits(
    app_client: TestClient, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    login(app_client, "alice", "alice-password")
    page = app_client.get(
        f"/c/{tenants.cabinet_a}/d/prolongation-online?client={alpha.client_id}&year=2026", headers=HTML
    )
    assert page.status_code == 200
    cells = re.search(r"<td>Остаток биллинга документов</td>(.*?)</tr>", page.text, re.S)
    assert cells is not None
    values = [c.strip() for c in re.findall(r"<td>(.*?)</td>", cells.group(1))]
    # December 2025 is reading 0; January 2026 is reading 1: 400 - (50 + 10).
    assert values[0] == "340" and values[10] == "240" and values[11] == "Нет данных"


def test_reports_form_and_downloads(
    app_client: TestClient, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    login(app_client, "alice", "alice-password")
    form = app_client.get(f"/c/{tenants.cabinet_a}/reports", headers=HTML)
    assert form.status_code == 200
    assert "alpha_client" in form.text and "beta_client" not in form.text
    assert 'data-dashboard="d-prolongation"' in form.text
    base = f"/c/{tenants.cabinet_a}/reports"
    pdf = app_client.get(f"{base}/renewal?client={alpha.client_id}&from=2025-12&to=2026-11&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "prolongaciya-alpha_client-2025-12-2026-11.pdf" in pdf.headers["content-disposition"]
    trial = app_client.get(
        f"{base}/trial?installation={alpha.installation_id}&from=2026-03-01&to=2026-03-31&format=xlsx"
    )
    assert trial.status_code == 200 and trial.content.startswith(b"PK")
    quarterly = app_client.get(f"{base}/quarterly?quarter=2026Q3&format=html", headers=HTML)
    assert quarterly.status_code == 200 and "Квартальная аналитика: 3 квартал 2026" in quarterly.text
    bad = app_client.get(
        f"{base}/renewal?client={alpha.client_id}&from=2026-13&to=2026-11&format=pdf", headers=HTML
    )
    assert bad.status_code == 400 and "ГГГГ-ММ" in bad.text
    bad = app_client.get(f"{base}/quarterly?quarter=2026Q3&format=docx", headers=HTML)
    assert bad.status_code == 400


def test_a_cabinet_user_gets_404_for_another_cabinets_objects(
    app_client: TestClient, db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, beta = year
    with db.session() as s:
        beta_manager = s.scalars(select(Manager.id).where(Manager.cabinet_id == tenants.cabinet_b)).one()
    login(app_client, "alice", "alice-password")
    a = f"/c/{tenants.cabinet_a}"
    for path in (
        f"{a}/d/prolongation?client={beta.client_id}",
        f"{a}/d/prolongation-online?client={beta.client_id}",
        f"{a}/reports/renewal?client={beta.client_id}&from=2025-12&to=2026-11&format=pdf",
        f"{a}/reports/trial?installation={beta.installation_id}&from=2026-03-01&to=2026-03-31&format=pdf",
        f"{a}/reports/quarterly?quarter=2026Q3&manager={beta_manager}&format=html",
        f"/c/{tenants.cabinet_b}/reports",
        f"/c/{tenants.cabinet_b}/d/prolongation",
    ):
        response = app_client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert "beta" not in response.text
    # bob sees his own client and not alice's
    app_client.cookies.clear()
    login(app_client, "bob", "bob-password")
    b = f"/c/{tenants.cabinet_b}"
    assert app_client.get(f"{b}/d/prolongation?client={beta.client_id}", headers=HTML).status_code == 200
    assert app_client.get(f"{b}/d/prolongation?client={alpha.client_id}", headers=HTML).status_code == 404


def test_dashboards_work_for_a_cabinet_without_data(app_client: TestClient, tenants: Tenants) -> None:
    login(app_client, "alice", "alice-password")
    for path in ("d/prolongation", "d/prolongation-online", "reports"):
        page = app_client.get(f"/c/{tenants.cabinet_a}/{path}", headers=HTML)
        assert page.status_code == 200, path
    page = app_client.get(f"/c/{tenants.cabinet_a}/d/prolongation?year=1999", headers=HTML)
    assert page.status_code == 400
