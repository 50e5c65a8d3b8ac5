"""The web cabinet: login, sessions, CSRF, cabinet isolation, the current-alerts dashboard and exports."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from kodeks_smart.app import create_app
from kodeks_smart.runtime import Services
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Installation
from kodeks_smart.store.types import utcnow
from kodeks_smart.store.web_models import WebSession
from tests.conftest import Tenants

HTML = {"accept": "text/html"}


@pytest.fixture
def app_client(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def login(client: TestClient, user: str, password: str) -> None:
    form = client.get("/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    response = client.post("/login", data={"login": user, "password": password, "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path, headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return token.group(1)


def add_alerts(db: Database, tenants: Tenants) -> None:
    now = utcnow()
    with db.write() as s:
        for cabinet, prefix in ((tenants.cabinet_a, "alpha"), (tenants.cabinet_b, "beta")):
            client = s.scalars(select(Client).where(Client.cabinet_id == cabinet)).one()
            inst = s.scalars(select(Installation).where(Installation.client_id == client.id)).one()
            for rule, priority, severity in (
                ("KodeksTcpStatus", 1, "critical"),
                ("KodeksIcmp", 3, "warning"),
            ):
                s.add(
                    AlertState(
                        dealer_id=tenants.dealer_id,
                        cabinet_id=cabinet,
                        client_id=client.id,
                        installation_id=inst.id,
                        rule=rule,
                        key=f"inst:{inst.id}",
                        status="firing",
                        severity=severity,
                        priority=priority,
                        category="critical",
                        labels={"client": client.short_name, "regnum": "0599_123456"},
                        summary=("=SUM(1) " if rule == "KodeksIcmp" else "") + f"{prefix}: {rule}",
                        started_at=now - timedelta(minutes=5),
                        fired_at=now - timedelta(minutes=3),
                        last_seen_at=now,
                    )
                )


def test_pages_redirect_to_the_login_form_without_a_session(app_client: TestClient, tenants: Tenants) -> None:
    response = app_client.get(f"/c/{tenants.cabinet_a}/alerts", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/c/{tenants.cabinet_a}/alerts"


def test_a_login_without_the_form_token_is_refused(app_client: TestClient) -> None:
    response = app_client.post("/login", data={"login": "alice", "password": "alice-password"})
    assert response.status_code == 200 and "устарела" in response.text
    assert "smart_session" not in response.cookies


def test_a_wrong_password_shows_a_russian_error(app_client: TestClient) -> None:
    form = app_client.get("/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    response = app_client.post(
        "/login", data={"login": "alice", "password": "x", "csrf_token": token.group(1)}
    )
    assert response.status_code == 401 and "Неверный логин или пароль" in response.text


def test_alice_sees_her_cabinets_alerts_and_not_bobs(
    app_client: TestClient, db: Database, tenants: Tenants
) -> None:
    add_alerts(db, tenants)
    login(app_client, "alice", "alice-password")
    home = app_client.get("/", headers=HTML)
    assert home.headers["location"] == f"/c/{tenants.cabinet_a}/alerts"
    page = app_client.get(f"/c/{tenants.cabinet_a}/alerts", headers=HTML)
    assert page.status_code == 200
    assert "Текущие аварийные ситуации" in page.text
    assert "alpha: KodeksTcpStatus" in page.text and "beta:" not in page.text
    for foreign in (tenants.cabinet_b, tenants.cabinet_c, 999999):
        response = app_client.get(f"/c/{foreign}/alerts", headers=HTML)
        assert response.status_code == 404
        assert "beta" not in response.text


def test_filters_narrow_the_table(app_client: TestClient, db: Database, tenants: Tenants) -> None:
    add_alerts(db, tenants)
    login(app_client, "alice", "alice-password")
    page = app_client.get(f"/c/{tenants.cabinet_a}/alerts?priority=1", headers=HTML)
    assert "alpha: KodeksTcpStatus" in page.text and "alpha: KodeksIcmp" not in page.text


def test_exports_hold_exactly_the_filtered_rows_and_defuse_formulas(
    app_client: TestClient, db: Database, tenants: Tenants
) -> None:
    add_alerts(db, tenants)
    login(app_client, "boss", "boss-password")
    csv = app_client.get(f"/c/{tenants.cabinet_b}/alerts?rule=KodeksIcmp&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("Клиент;Менеджер;Пр-т")
    assert len(lines) == 2 and "beta_client" in lines[1] and "alpha" not in text
    xlsx = app_client.get(f"/c/{tenants.cabinet_b}/alerts?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3
    texts = sorted(str(r[8]) for r in rows[1:])
    assert texts == ["'=SUM(1) beta: KodeksIcmp", "beta: KodeksTcpStatus"]
    assert "'=SUM(1) beta: KodeksIcmp" in text


def test_an_operator_can_switch_between_cabinets_of_every_dealer(
    app_client: TestClient, services: Services, tenants: Tenants, hashing: object
) -> None:
    from kodeks_smart.store import admin

    with services.db.write() as s:
        admin.add_account(s, services.hashing, "root", "root-password", "operator")
    login(app_client, "root", "root-password")
    for cabinet in (tenants.cabinet_a, tenants.cabinet_b, tenants.cabinet_c):
        assert app_client.get(f"/c/{cabinet}/alerts", headers=HTML).status_code == 200


def test_logout_ends_the_session_on_the_server(
    app_client: TestClient, db: Database, tenants: Tenants
) -> None:
    login(app_client, "alice", "alice-password")
    page = app_client.get(f"/c/{tenants.cabinet_a}/alerts", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    cookie = app_client.cookies.get("smart_session")
    assert app_client.post("/logout", data={"csrf_token": token.group(1)}).status_code == 303
    with db.session() as s:
        assert s.scalars(select(WebSession)).all() == []
    app_client.cookies.set("smart_session", cookie or "")
    assert app_client.get(f"/c/{tenants.cabinet_a}/alerts", headers=HTML).status_code == 303


def test_an_open_redirect_after_login_is_refused(app_client: TestClient) -> None:
    form = app_client.get("/login?next=//evil.example/x", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token and 'name="next" value="/"' in form.text
    response = app_client.post(
        "/login",
        data={
            "login": "alice",
            "password": "alice-password",
            "csrf_token": token.group(1),
            "next": "https://evil",
        },
    )
    assert response.headers["location"] == "/"


def test_static_files_are_served_without_any_cdn(app_client: TestClient) -> None:
    css = app_client.get("/static/smart.css")
    assert css.status_code == 200 and "font" in css.text
    page = app_client.get("/login", headers=HTML)
    assert "http://" not in page.text.replace("http://testserver", "") and "https://" not in page.text
