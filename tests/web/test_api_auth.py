"""The JSON API authenticates accounts and shows each only its own cabinets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kodeks_smart.app import create_app
from kodeks_smart.runtime import Services
from tests.conftest import Tenants


@pytest.fixture
def client(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


def test_no_credentials_get_401_with_a_russian_reason(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert "логин" in response.json()["detail"]


def test_a_wrong_password_gets_401(client: TestClient) -> None:
    assert client.get("/api/v1/me", auth=("alice", "nope")).status_code == 401
    assert client.get("/api/v1/me", auth=("nobody", "nope")).status_code == 401


def test_alice_sees_only_her_cabinet(client: TestClient, tenants: Tenants) -> None:
    me = client.get("/api/v1/me", auth=("alice", "alice-password")).json()
    assert me == {
        "login": "alice",
        "role": "cabinet",
        "scope": "cabinets",
        "cabinet_ids": [tenants.cabinet_a],
    }
    cabinets = client.get("/api/v1/cabinets", auth=("alice", "alice-password")).json()
    assert [c["id"] for c in cabinets] == [tenants.cabinet_a]
    own = client.get(f"/api/v1/cabinets/{tenants.cabinet_a}/installations", auth=("alice", "alice-password"))
    assert [i["client"] for i in own.json()] == ["alpha_client"]


def test_alice_gets_404_for_bobs_cabinet_and_another_dealers(client: TestClient, tenants: Tenants) -> None:
    for cabinet in (tenants.cabinet_b, tenants.cabinet_c):
        response = client.get(f"/api/v1/cabinets/{cabinet}/installations", auth=("alice", "alice-password"))
        assert response.status_code == 404


def test_a_dealer_admin_sees_every_cabinet_of_his_dealer_only(client: TestClient, tenants: Tenants) -> None:
    cabinets = client.get("/api/v1/cabinets", auth=("charlie", "charlie-password")).json()
    assert [(c["id"], c["dealer"]) for c in cabinets] == [(tenants.cabinet_c, "rogaikopita599")]
    response = client.get(
        f"/api/v1/cabinets/{tenants.cabinet_a}/installations", auth=("charlie", "charlie-password")
    )
    assert response.status_code == 404


def test_repeated_failures_from_one_address_are_slowed_down(client: TestClient) -> None:
    codes = [client.get("/api/v1/me", auth=("alice", f"guess{i}")).status_code for i in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[-1] == 429
    # the right password is refused too while the address is throttled
    assert client.get("/api/v1/me", auth=("alice", "alice-password")).status_code == 429
