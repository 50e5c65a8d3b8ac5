"""Addresses as distributors write them, and which installations are probed."""

from __future__ import annotations

import pytest

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.address import AddressError, parse_address, split_host_port
from kodeks_smart.probes.model import Endpoint
from kodeks_smart.probes.targets import SecretCache, load_targets
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet
from tests.conftest import Tenants


@pytest.mark.parametrize(
    ("address", "protocol", "endpoint"),
    [
        ("alpha.example.ru:8080", "http", Endpoint("http", "alpha.example.ru", 8080, "/")),
        ("alpha.example.ru", "https", Endpoint("https", "alpha.example.ru", 443, "/")),
        ("https://123456.te-cloud.ru/docs", "http", Endpoint("https", "123456.te-cloud.ru", 443, "/docs/")),
        ("[::1]:7070", "http", Endpoint("http", "::1", 7070, "/")),
        (" 10.0.0.5:1210 ", "http", Endpoint("http", "10.0.0.5", 1210, "/")),
    ],
)
def test_addresses_are_parsed_into_endpoints(address: str, protocol: str, endpoint: Endpoint) -> None:
    assert parse_address(address, protocol) == endpoint


def test_the_catalog_of_the_test_user_comes_from_the_address() -> None:
    assert parse_address("https://123456.te-cloud.ru/kodeks/").catalog == "/kodeks"
    assert parse_address("host:80").catalog == "/docs"
    assert parse_address("host:80").base_url == "http://host"
    assert parse_address("host:8080").hostport == "host:8080"


@pytest.mark.parametrize("bad", ["", "ftp://host", "host:port", "http://:80"])
def test_unusable_addresses_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(AddressError):
        parse_address(bad)


def test_licence_manager_addresses_take_the_default_port() -> None:
    assert split_host_port("lm.example.ru", 8888) == ("lm.example.ru", 8888)
    assert split_host_port("lm.example.ru:9999", 8888) == ("lm.example.ru", 9999)


def test_closed_contours_are_not_probed_and_bad_addresses_are_reported(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        client = admin.add_client(s, cabinet, "closed_client", "ООО «Контур»", None)
        admin.add_installation(s, box, client, "closed", None)
        bad = admin.add_installation(s, box, client, "cloud", "ftp://nowhere", test_login="smartlogin")
        bad_id = bad.id
    with db.session() as s:
        found = load_targets(s, SecretCache(box))
        probed = {t.client for t in found.installations.values()}
    assert probed == {"alpha_client", "beta_client", "gamma_client"}
    assert set(found.skipped) == {bad_id}
    alpha = next(t for t in found.installations.values() if t.client == "alpha_client")
    assert (alpha.test_login, alpha.test_password) == ("smartlogin", "alpha-secret")
    assert len(found.online) == 3
