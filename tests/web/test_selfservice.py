"""Self-service pages: clients and agent kits, the upload log with a manual upload, the list import."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kodeks_smart.app import create_app
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store import admin
from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Client
from tests.conftest import Tenants
from tests.web.test_cabinet import HTML, csrf_of, login

ONLINE_CSV = Path(__file__).parents[1] / "onboarding" / "data" / "EXAMPLE_online_042026.csv"


@pytest.fixture
def app_client(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with services.db.write() as s:
        admin.add_account(s, services.hashing, "dadmin", "dadmin-password", "dealer-admin", "0599ROGAIKOPITA")
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def test_a_cabinet_user_sees_his_clients_but_cannot_take_kits(
    app_client: TestClient, tenants: Tenants
) -> None:
    login(app_client, "alice", "alice-password")
    page = app_client.get(f"/c/{tenants.cabinet_a}/clients", headers=HTML)
    assert page.status_code == 200 and "alpha_client" in page.text and "beta_client" not in page.text
    assert "/kits/" not in page.text
    assert app_client.get(f"/c/{tenants.cabinet_a}/kits/alpha_client?os=linux").status_code == 403
    assert app_client.get(f"/c/{tenants.cabinet_a}/import", headers=HTML).status_code == 403


def test_a_dealer_admin_downloads_a_kit_of_a_client_of_that_cabinet_only(
    app_client: TestClient, tenants: Tenants
) -> None:
    login(app_client, "dadmin", "dadmin-password")
    kit = app_client.get(f"/c/{tenants.cabinet_a}/kits/alpha_client?os=windows")
    assert kit.status_code == 200 and kit.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(kit.content)).namelist()
    assert any(n.endswith("smartupload.bat") for n in names)
    assert app_client.get(f"/c/{tenants.cabinet_a}/kits/beta_client?os=windows").status_code == 404
    assert app_client.get(f"/c/{tenants.cabinet_c}/kits/gamma_client?os=windows").status_code == 404


def test_a_report_uploaded_by_hand_lands_in_the_log_of_its_cabinet(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "alice", "alice-password")
    token = csrf_of(app_client, f"/c/{tenants.cabinet_a}/uploads")
    report = generate_zip(SysinfoProfile(client="alpha_client", users=3, days=1))
    response = app_client.post(
        f"/c/{tenants.cabinet_a}/uploads",
        data={"client": "alpha_client", "csrf_token": token},
        files={"file": ("alpha_client.zip", report, "application/zip")},
    )
    assert response.status_code == 303 and "message=" in response.headers["location"]
    with services.db.session() as s:
        upload = s.scalars(select(Upload)).one()
        client = s.get(Client, upload.client_id)
        assert client is not None and client.short_name == "alpha_client" and upload.source == "manual"
    page = app_client.get(f"/c/{tenants.cabinet_a}/uploads", headers=HTML)
    assert "alpha_client" in page.text
    foreign = app_client.post(
        f"/c/{tenants.cabinet_a}/uploads",
        data={"client": "beta_client", "csrf_token": token},
        files={"file": ("beta_client.zip", report, "application/zip")},
    )
    assert foreign.status_code == 404
    forged = app_client.post(
        f"/c/{tenants.cabinet_a}/uploads",
        data={"client": "alpha_client", "csrf_token": "forged"},
        files={"file": ("alpha_client.zip", report, "application/zip")},
    )
    assert forged.status_code == 403


def test_the_import_page_checks_a_list_without_changing_anything_in_a_dry_run(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "dadmin", "dadmin-password")
    token = csrf_of(app_client, f"/c/{tenants.cabinet_a}/import")
    with services.db.session() as s:
        before = len(s.scalars(select(Client)).all())
    response = app_client.post(
        f"/c/{tenants.cabinet_a}/import",
        data={"csrf_token": token, "dry_run": "true", "kind": "auto"},
        files={"file": ("EXAMPLE_online_042026.csv", ONLINE_CSV.read_bytes(), "text/csv")},
        headers=HTML,
    )
    assert response.status_code == 200, response.text
    assert "romashka01" in response.text and "Pa55-word1" not in response.text
    with services.db.session() as s:
        assert len(s.scalars(select(Client)).all()) == before
    template = app_client.get(f"/c/{tenants.cabinet_a}/templates/original-online")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")


def test_a_manager_silences_his_clients_alerts_and_ends_it_early(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    from kodeks_smart.store.alert_models import Silence

    login(app_client, "alice", "alice-password")
    token = csrf_of(app_client, f"/c/{tenants.cabinet_a}/silences")
    response = app_client.post(
        f"/c/{tenants.cabinet_a}/silences",
        data={
            "client": "alpha_client",
            "rule": "KodeksIcmp",
            "duration": "4h",
            "comment": "переезд сервера",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    with services.db.session() as s:
        silence = s.scalars(select(Silence)).one()
        assert silence.matchers == {"client": "alpha_client", "rule": "KodeksIcmp"}
        assert (silence.dealer_id, silence.cabinet_id, silence.author) == (
            tenants.dealer_id,
            tenants.cabinet_a,
            "alice",
        )
    page = app_client.get(f"/c/{tenants.cabinet_a}/silences", headers=HTML)
    assert "переезд сервера" in page.text
    assert (
        app_client.post(
            f"/c/{tenants.cabinet_a}/silences",
            data={"client": "beta_client", "duration": "1h", "comment": "x", "csrf_token": token},
        ).status_code
        == 404
    )
    expired = app_client.post(
        f"/c/{tenants.cabinet_a}/silences/{silence.id}/expire", data={"csrf_token": token}
    )
    assert expired.status_code == 303
    with services.db.session() as s:
        ended = s.get(Silence, silence.id)
        assert ended is not None and ended.ends_at <= ended.created_at + timedelta(minutes=1)


def test_bob_cannot_see_or_end_alices_silence(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "alice", "alice-password")
    token = csrf_of(app_client, f"/c/{tenants.cabinet_a}/silences")
    app_client.post(
        f"/c/{tenants.cabinet_a}/silences",
        data={
            "client": "alpha_client",
            "duration": "1h",
            "comment": "секретная причина",
            "csrf_token": token,
        },
    )
    app_client.cookies.clear()
    login(app_client, "bob", "bob-password")
    page = app_client.get(f"/c/{tenants.cabinet_b}/silences", headers=HTML)
    assert "секретная причина" not in page.text
    token_b = csrf_of(app_client, f"/c/{tenants.cabinet_b}/silences")
    assert (
        app_client.post(f"/c/{tenants.cabinet_b}/silences/1/expire", data={"csrf_token": token_b}).status_code
        == 404
    )
