"""The cabinet pages «Загрузка sysinfo в АСРП»: the log is confined to the cabinet, filters and exports; the
settings page is for administrators, protected by CSRF, and never shows the stored secret."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from kodeks_smart.app import create_app
from kodeks_smart.asrp import configure
from kodeks_smart.store import admin
from kodeks_smart.web.nav import NAV
from tests.asrp.conftest import OTHER_DEALER, Harness, http_input
from tests.asrp.server import NUMBER, FakeAsrp
from tests.web.test_cabinet import HTML, csrf_of, login


@pytest.fixture
def web(h: Harness, fake_asrp: FakeAsrp) -> Iterator[TestClient]:
    services = h.services
    with services.db.write() as s:
        admin.add_account(s, services.hashing, "dadmin", "dadmin-password", "dealer-admin", "0599ROGAIKOPITA")
    h.configure(http_input(fake_asrp.url))
    h.configure(http_input(fake_asrp.url), dealer=OTHER_DEALER)
    h.feed("alpha_client")
    h.feed("beta_client")
    h.feed("gamma_client", dealer=OTHER_DEALER)
    h.forward()
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def test_the_page_is_a_monitoring_dashboard_in_the_menu() -> None:
    [entry] = [e for e in NAV if e.path == "asrp"]
    assert entry.dashboard and entry.section == "Мониторинг" and entry.title == "Загрузка sysinfo в АСРП"


def test_a_cabinet_user_sees_only_his_cabinets_forwards(web: TestClient, h: Harness) -> None:
    login(web, "alice", "alice-password")
    page = web.get(f"/c/{h.tenants.cabinet_a}/asrp", headers=HTML)
    assert page.status_code == 200
    assert "alpha_client" in page.text and NUMBER in page.text and "Принят" in page.text
    assert "beta_client" not in page.text and "gamma_client" not in page.text
    assert "asrp-token-42" not in page.text
    assert web.get(f"/c/{h.tenants.cabinet_b}/asrp", headers=HTML).status_code == 404
    assert web.get(f"/c/{h.tenants.cabinet_c}/asrp", headers=HTML).status_code == 404
    csv = web.get(f"/c/{h.tenants.cabinet_a}/asrp?format=csv")
    assert csv.status_code == 200 and "alpha_client" in csv.text and "beta_client" not in csv.text
    assert csv.text.lstrip("\ufeff").startswith("Время;Клиент;Состояние;Ответ сервера")
    xlsx = web.get(f"/c/{h.tenants.cabinet_a}/asrp?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 2 and sheet["B2"].value == "alpha_client"


def test_filters_by_state_and_response(web: TestClient, h: Harness) -> None:
    login(web, "boss", "boss-password")
    page = web.get(f"/c/{h.tenants.cabinet_a}/asrp?state=failed", headers=HTML)
    assert page.status_code == 200 and "alpha_client</td>" not in page.text
    page = web.get(f"/c/{h.tenants.cabinet_a}/asrp?response=ok&client=alpha_client", headers=HTML)
    assert "alpha_client</td>" in page.text


def test_only_administrators_open_the_settings(web: TestClient, h: Harness) -> None:
    login(web, "alice", "alice-password")
    assert web.get(f"/c/{h.tenants.cabinet_a}/asrp/settings", headers=HTML).status_code == 403
    token = csrf_of(web, f"/c/{h.tenants.cabinet_a}/asrp")
    response = web.post(
        f"/c/{h.tenants.cabinet_a}/asrp/settings",
        data={"url": "https://evil.example/", "csrf_token": token},
    )
    assert response.status_code == 403


def test_an_administrator_changes_the_settings_with_csrf_and_never_sees_the_secret(
    web: TestClient, h: Harness
) -> None:
    login(web, "dadmin", "dadmin-password")
    path = f"/c/{h.tenants.cabinet_a}/asrp/settings"
    page = web.get(path, headers=HTML)
    assert page.status_code == 200 and "asrp-token-42" not in page.text and "задан" in page.text
    form = {
        "enabled": "true",
        "kind": "http",
        "url": "https://asrp.example.ru/api/upload",
        "method": "POST",
        "file_field": "file",
        "fields": "dealer={dealer}\nreg={regnum}",
        "auth": "bearer",
        "secret": "",
        "success_statuses": "200, 201",
        "success_regex": "OK",
        "timeout": "30",
    }
    assert web.post(path, data={**form, "csrf_token": "forged"}).status_code == 403
    token = csrf_of(web, path)
    response = web.post(path, data={**form, "csrf_token": token})
    assert response.status_code == 303, response.text
    with h.services.db.session() as s:
        row = configure.forwarder_of(s, h.tenants.dealer_id)
        assert row is not None and row.url == "https://asrp.example.ru/api/upload"
        assert row.fields == {"dealer": "{dealer}", "reg": "{regnum}"} and row.success_statuses == [200, 201]
        assert row.secret_enc is not None and h.services.box.decrypt(row.secret_enc) == "asrp-token-42"
    bad = web.post(path, data={**form, "fields": "x={password}", "csrf_token": token})
    assert bad.status_code == 422 and "неизвестная подстановка" in bad.text
    assert "asrp-token-42" not in bad.text


def test_retry_from_the_page_requires_csrf(web: TestClient, h: Harness) -> None:
    login(web, "alice", "alice-password")
    assert web.post(f"/c/{h.tenants.cabinet_a}/asrp/retry", data={"csrf_token": "x"}).status_code == 403
    token = csrf_of(web, f"/c/{h.tenants.cabinet_a}/asrp")
    response = web.post(f"/c/{h.tenants.cabinet_a}/asrp/retry", data={"csrf_token": token})
    assert response.status_code == 303
