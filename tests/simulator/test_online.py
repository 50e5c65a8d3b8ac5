"""Online accesses: login, SOAP GetBillingStatus with monthly counters, billing switches (spec §3.1, §8)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from kodeks_smart.simulator import SimulatorClient, SimulatorClientError, SimulatorThread
from tests.simulator.helpers import FakeClock

GET_BILLING = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="http://kodekssoap.org/">'
    "<soap:Body><tns:GetBillingStatus/></soap:Body></soap:Envelope>"
)


@pytest.fixture
def access(sim: SimulatorThread) -> dict[str, object]:
    return sim.describe_online(0)


@pytest.fixture
def online(sim: SimulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.online_url(0), timeout=10.0) as client:
        yield client


def billing(client: httpx.Client, access: dict[str, object]) -> dict[str, tuple[int, int]]:
    """GetBillingStatus as {billing: (max, cnt)}."""
    response = client.post(
        f"/{access['catalog']}/api",
        content=GET_BILLING.encode(),
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"http://kodekssoap.org/GetBillingStatus"',
        },
        auth=(str(access["login"]), str(access["password"])),
    )
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    items = root.findall(".//item_BillingStatus")
    return {
        str(item.findtext("billing")): (int(item.findtext("max") or -1), int(item.findtext("cnt") or -1))
        for item in items
    }


def log_in(client: httpx.Client, access: dict[str, object]) -> httpx.Response:
    data = {"user": str(access["login"]), "pass": str(access["password"]), "path": f"/{access['catalog']}"}
    return client.post("/users/login.asp", data=data)


def test_get_billing_status_returns_the_four_monthly_counters(
    online: httpx.Client, access: dict[str, object]
) -> None:
    counters = billing(online, access)

    assert set(counters) == {"Документы", "Поиск", "Печать", "Выгрузка"}
    for top, used in counters.values():
        assert 0 <= used <= top


def test_a_billing_check_does_not_change_the_counters(
    online: httpx.Client, access: dict[str, object]
) -> None:
    first = billing(online, access)

    assert billing(online, access) == first
    assert billing(online, access) == first


def test_opening_a_document_and_searching_use_units(online: httpx.Client, access: dict[str, object]) -> None:
    before = billing(online, access)
    assert log_in(online, access).status_code == 302

    assert online.get(f"/{access['catalog']}/text", params={"nd": "1200012345"}).status_code == 200
    online.post(f"/{access['catalog']}/ifind_result", data={"query": "НДС"})

    after = billing(online, access)
    assert after["Документы"][1] == before["Документы"][1] + 1
    assert after["Поиск"][1] == before["Поиск"][1] + 1
    assert after["Печать"] == before["Печать"]


def test_soap_needs_the_access_credentials(online: httpx.Client, access: dict[str, object]) -> None:
    response = online.post(
        f"/{access['catalog']}/api", content=GET_BILLING.encode(), auth=("someone", "else")
    )

    assert response.status_code == 401


def test_billing_nearly_exhausted_leaves_40_documents(
    control: SimulatorClient, online: httpx.Client, access: dict[str, object]
) -> None:
    state = control.set_online_state(0, billing_nearly_exhausted=True)

    top, used = billing(online, access)["Документы"]
    assert top - used == 40
    assert state["billing"]["docs"]["left"] == 40


def test_billing_left_and_exhaustion_refuse_documents(
    control: SimulatorClient, online: httpx.Client, access: dict[str, object]
) -> None:
    control.set_online_state(0, billing_left={"docs": 0, "print": 149})
    counters = billing(online, access)
    assert counters["Документы"][0] == counters["Документы"][1]
    assert counters["Печать"][0] - counters["Печать"][1] == 149

    log_in(online, access)
    page = online.get(f"/{access['catalog']}/text", params={"nd": "1"})
    assert "Лимит на текущий месяц исчерпан" in page.text
    assert billing(online, access) == counters


def test_counters_start_again_in_a_new_month(
    clock: FakeClock, control: SimulatorClient, online: httpx.Client, access: dict[str, object]
) -> None:
    control.set_online_state(0, billing={"docs": {"max": 400, "cnt": 380}})

    clock.advance(40 * 86400)

    assert billing(online, access)["Документы"] == (400, 0)


def test_login_refused_on_an_online_access(
    control: SimulatorClient, online: httpx.Client, access: dict[str, object]
) -> None:
    control.set_online_state(0, login_refused=True)

    page = log_in(online, access)
    assert "Ошибка авторизации" in page.text
    soap = online.post(
        f"/{access['catalog']}/api",
        content=GET_BILLING.encode(),
        auth=(str(access["login"]), str(access["password"])),
    )
    assert soap.status_code == 401


def test_a_new_login_replaces_the_old_session_of_the_online_login(
    sim: SimulatorThread, access: dict[str, object]
) -> None:
    with (
        httpx.Client(base_url=sim.online_url(0)) as first,
        httpx.Client(base_url=sim.online_url(0)) as second,
    ):
        assert log_in(first, access).status_code == 302
        assert log_in(second, access).status_code == 302

    assert sim.describe_online(0)["sessions"] == 1


def test_online_down_closes_its_port(sim: SimulatorThread, control: SimulatorClient) -> None:
    control.set_online_state(0, mode="down")

    with pytest.raises(httpx.ConnectError):
        httpx.get(sim.online_url(0) + "/")

    control.reset_online(0)
    assert httpx.get(sim.online_url(0) + "/").status_code == 200


@pytest.mark.parametrize(
    "patch",
    [{"billing": {"coins": {"max": 1}}}, {"billing_left": {"docs": -1}}, {"mode": "asleep"}, {"seats": 3}],
)
def test_invalid_online_patches_are_refused(control: SimulatorClient, patch: dict[str, object]) -> None:
    before = control.online_access(0)["state"]

    with pytest.raises(SimulatorClientError) as refused:
        control.set_online_state(0, **patch)

    assert refused.value.status == 400
    assert control.online_access(0)["state"] == before
