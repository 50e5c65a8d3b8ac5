"""Online accesses: the billing is read with the client's own login through GetBillingStatus, without a
session and without spending a unit; failures are classified as the original classifies them."""

from __future__ import annotations

import httpx
import pytest

from kodeks_smart.probes.model import Check, Status
from kodeks_smart.probes.online import billing_kind, classify_exception, parse_billing
from kodeks_smart.simulator import SimulatorThread
from tests.probes.helpers import run_online, sim_online_target


def counters(sim: SimulatorThread) -> dict[str, tuple[int, int]]:
    billing = sim.describe_online(0)["state"]["billing"]
    return {kind: (c["max"], c["cnt"]) for kind, c in billing.items()}


def test_the_billing_is_read_and_matches_the_servers_counters(sim: SimulatorThread) -> None:
    sim.set_online_state(0, billing_left={"docs": 120, "print": 0})
    report = run_online(sim_online_target(sim))
    assert report.result.check is Check.ONLINE
    assert report.result.status is Status.OK
    assert report.read
    assert report.billing == counters(sim)
    docs_max, docs_used = report.billing["docs"]
    assert docs_max - docs_used == 120
    assert report.billing["print"][0] == report.billing["print"][1]


def test_reading_the_billing_changes_no_counter_and_takes_no_session(sim: SimulatorThread) -> None:
    before = counters(sim)
    logins_before = sim.describe_online(0)["counters"]["logins"]
    for _ in range(3):
        assert run_online(sim_online_target(sim)).read
    after = sim.describe_online(0)
    assert counters(sim) == before
    assert after["sessions"] == 0
    assert after["counters"]["logins"] == logins_before


@pytest.mark.parametrize(
    ("patch", "password", "error_class"),
    [
        ({}, "wrong-password", "LoginPasswordError"),
        ({"login_refused": True}, None, "LoginPasswordError"),
        ({"mode": "down"}, None, "ConnectionError"),
        ({"mode": "server-error"}, None, "HTTPError"),
        ({"mode": "maintenance"}, None, "HTTPError"),
        ({"mode": "proxy-only"}, None, "HTTPError"),
    ],
)
def test_failures_are_classified_like_the_original(
    sim: SimulatorThread, patch: dict[str, object], password: str | None, error_class: str
) -> None:
    if patch:
        sim.set_online_state(0, **patch)
    report = run_online(sim_online_target(sim, password=password))
    assert report.result.status is Status.FAIL
    assert report.result.value == error_class
    assert not report.read


def test_a_server_slower_than_the_timeout_is_a_read_timeout(sim: SimulatorThread) -> None:
    sim.set_online_state(0, delay=1.5)
    report = run_online(sim_online_target(sim), timeout=0.5)
    assert report.result.value == "ReadTimeOut"
    assert report.result.detail.startswith("сервер ДЦ не прислал данные")


def test_transport_errors_map_to_the_original_names() -> None:
    request = httpx.Request("POST", "http://nps2.cntd.ru/kodeks02/api")
    assert classify_exception(httpx.ConnectTimeout("t", request=request)) == "ConnectionTimeout"
    assert classify_exception(httpx.ReadTimeout("t", request=request)) == "ReadTimeOut"
    assert classify_exception(httpx.ConnectError("t", request=request)) == "ConnectionError"
    assert classify_exception(httpx.RemoteProtocolError("t", request=request)) == "RequestException"


def test_billing_strings_are_matched_by_their_stem() -> None:
    assert billing_kind("Документы") == "docs"
    assert billing_kind("Поиск (ПК и kAssist)") == "search"
    assert billing_kind("Печать") == "print"
    assert billing_kind("Выгрузка") == "upload"
    assert billing_kind("Консультации") is None


def test_a_soap_fault_or_foreign_xml_is_not_a_billing_answer() -> None:
    fault = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        b"<faultstring>no</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    )
    with pytest.raises(ValueError, match="Fault"):
        parse_billing(fault)
    with pytest.raises(ValueError):
        parse_billing(b"<html>login</html>")
    with pytest.raises(ValueError):
        parse_billing(b"not xml")
