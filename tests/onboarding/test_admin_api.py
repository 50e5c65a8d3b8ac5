"""The admin API imports lists and hands out templates and kits, each admin within his own dealer only."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from kodeks_smart.app import create_app
from kodeks_smart.lib.secrets import PasswordHashing
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Installation
from tests.conftest import Tenants
from tests.onboarding.conftest import Dealer
from tests.onboarding.helpers import DATA, count, snapshot

DANA = ("dana", "dana-password")  # dealer admin of 0700SMARTTEST
CHARLIE = ("charlie", "charlie-password")  # dealer admin of rogaikopita599
ALICE = ("alice", "alice-password")  # cabinet user of 0599ROGAIKOPITA
ROOT = ("root", "root-password")  # operator


@pytest.fixture
def api(
    services: Services, tenants: Tenants, dealer: Dealer, hashing: PasswordHashing
) -> Iterator[TestClient]:
    with services.db.write() as s:
        admin.add_account(s, hashing, *ROOT, "operator")
    with TestClient(create_app(services)) as client:
        yield client


def files(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("file", (name, (DATA / name).read_bytes(), "text/csv")) for name in names]


def test_a_dealer_admin_imports_his_lists(api: TestClient, db: Database) -> None:
    response = api.post(
        "/api/v1/import", auth=DANA, files=files("managers_example.csv", "online_example.csv")
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] and body["applied"] and body["dealer"] == "0700SMARTTEST"
    assert body["counts"]["add"] == 26
    assert {t["form"] for t in body["tables"]} == {"managers.csv (9 полей)", "online.csv"}
    with db.session() as s:
        assert s.scalars(select(Client).where(Client.short_name == "short_client_name_01")).one()


def test_a_dry_run_through_the_api_changes_nothing(api: TestClient, db: Database) -> None:
    before = snapshot(db)

    response = api.post(
        "/api/v1/import", auth=DANA, files=files("managers_example.csv"), data={"dry_run": "true"}
    )

    assert response.status_code == 200
    assert response.json()["applied"] is False and response.json()["counts"]["add"] == 15
    assert snapshot(db) == before


def test_a_rejected_import_answers_422_with_every_problem(api: TestClient, db: Database) -> None:
    bad = "Ромашка,Иванов,iv@x.ru,smartupload,download,upload,process,donotping,2\n"
    before = snapshot(db)

    response = api.post("/api/v1/import", auth=DANA, files=[("file", ("m.csv", bad.encode(), "text/csv"))])

    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert (problem["file"], problem["line"], problem["column"], problem["code"]) == (
        "m.csv",
        1,
        1,
        "client-cyrillic",
    )
    assert problem["where"] == "m.csv, строка 1, столбец 1 «адрес:порт / имяклиента»"
    assert snapshot(db) == before


def test_the_shared_email_check_and_its_override_work_through_the_api(api: TestClient) -> None:
    lists = "Кабинет;Менеджер;E-mail\nСевер;Петров;boss@x.ru\nЮг;Сидоров;boss@x.ru\n"
    upload = [("file", ("cab.csv", lists.encode(), "text/csv"))]

    refused = api.post("/api/v1/import", auth=DANA, files=upload)
    allowed = api.post("/api/v1/import", auth=DANA, files=upload, data={"allow_shared_email": ["boss@x.ru"]})

    assert refused.status_code == 422 and refused.json()["problems"][0]["code"] == "shared-email"
    assert allowed.status_code == 200, allowed.text


def test_a_dealer_admin_cannot_import_into_another_dealer(api: TestClient, db: Database) -> None:
    before = snapshot(db)

    response = api.post(
        "/api/v1/import", auth=CHARLIE, files=files("managers_example.csv"), data={"dealer": "0700SMARTTEST"}
    )

    assert response.status_code == 404
    assert response.json()["detail"] == "Дистрибьютор не найден"
    assert snapshot(db) == before
    own = api.post("/api/v1/import", auth=CHARLIE, files=files("online_example.csv"))
    assert own.status_code == 200 and own.json()["dealer"] == "rogaikopita599"


def test_cabinet_users_and_strangers_cannot_import(api: TestClient, db: Database) -> None:
    assert api.post("/api/v1/import", auth=ALICE, files=files("online_example.csv")).status_code == 403
    assert api.post("/api/v1/import", files=files("online_example.csv")).status_code == 401
    assert (
        api.post("/api/v1/import", auth=("dana", "wrong"), files=files("online_example.csv")).status_code
        == 401
    )
    assert count(db, Installation) == 3  # the tenants' only


def test_the_operator_names_the_dealer(api: TestClient) -> None:
    missing = api.post("/api/v1/import", auth=ROOT, files=files("online_example.csv"))
    named = api.post(
        "/api/v1/import", auth=ROOT, files=files("online_example.csv"), data={"dealer": "0700SMARTTEST"}
    )
    unknown = api.post(
        "/api/v1/import", auth=ROOT, files=files("online_example.csv"), data={"dealer": "NOPE_DEALER"}
    )

    assert missing.status_code == 422
    assert named.status_code == 200
    assert unknown.status_code == 404


def test_templates_download_as_csv_and_xlsx(api: TestClient) -> None:
    csv_response = api.get("/api/v1/templates/installations?format=csv", auth=DANA)
    xlsx_response = api.get("/api/v1/templates/all", auth=DANA)
    original = api.get("/api/v1/templates/original-managers", auth=DANA)

    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert 'filename="smart-installations.csv"' in csv_response.headers["content-disposition"]
    assert csv_response.content.decode("utf-8-sig").startswith("Адрес;Клиент;Наименование;Менеджер")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = load_workbook(io.BytesIO(xlsx_response.content))
    assert "Онлайн-доступы" in book.sheetnames
    assert original.content.decode().startswith("адрес:порт,менеджер,email@email.com,протокол")
    assert api.get("/api/v1/templates/whatever", auth=DANA).status_code == 404
    assert api.get("/api/v1/templates/installations", auth=ALICE).status_code == 403


def test_a_kit_downloads_as_a_zip_for_the_own_dealers_client(api: TestClient) -> None:
    api.post("/api/v1/import", auth=DANA, files=files("managers_example.csv"))

    linux = api.get(
        "/api/v1/kits/short_client_name_01", params={"os": "linux", "proxy": "10.0.0.1:3128"}, auth=DANA
    )
    windows = api.get("/api/v1/kits/short_client_name_01", params={"os": "windows"}, auth=DANA)

    assert linux.status_code == 200 and linux.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(linux.content))
    names = {i.filename: i for i in archive.infolist()}
    folder = "smart-short_client_name_01-linux/"
    assert folder + "smartupload.sh" in names and folder + "smartstatus.timer" in names
    assert names[folder + "smartupload.sh"].external_attr >> 16 & 0o777 == 0o755
    script = archive.read(folder + "smartupload.sh").decode()
    assert "DEALER=0700SMARTTEST" in script and "PROXY=10.0.0.1:3128" in script
    assert "TOKEN='ТОКЕНБЕЗОПАСНОСТИ'" in script
    bat = zipfile.ZipFile(io.BytesIO(windows.content)).read(
        "smart-short_client_name_01-windows/smartupload.bat"
    )
    assert b"\r\n" in bat and b"\n" not in bat.replace(b"\r\n", b"")


def test_a_kit_of_another_dealers_client_is_not_found(api: TestClient) -> None:
    api.post("/api/v1/import", auth=DANA, files=files("managers_example.csv"))

    as_charlie = api.get("/api/v1/kits/short_client_name_01", params={"os": "linux"}, auth=CHARLIE)
    naming_the_dealer = api.get(
        "/api/v1/kits/short_client_name_01", params={"os": "linux", "dealer": "0700SMARTTEST"}, auth=CHARLIE
    )
    unknown_client = api.get("/api/v1/kits/nobody", params={"os": "linux"}, auth=DANA)
    bad_os = api.get("/api/v1/kits/short_client_name_01", params={"os": "macos"}, auth=DANA)

    assert as_charlie.status_code == 404
    assert (
        naming_the_dealer.status_code == 404
        and naming_the_dealer.json()["detail"] == "Дистрибьютор не найден"
    )
    assert unknown_client.status_code == 404 and "не найден" in unknown_client.json()["detail"]
    assert bad_os.status_code == 422
    assert api.get("/api/v1/kits/alpha_client", params={"os": "linux"}, auth=ALICE).status_code == 403
