"""Seats are counted: a login holds a seat until logout or expiry; ``toomanyusers`` when none is free."""

from __future__ import annotations

import re

import httpx
import pytest

from kodeks_smart.simulator import SimulatorClient, SimulatorThread
from tests.simulator.helpers import FakeClock, login


def fresh_client(sim: SimulatorThread) -> httpx.Client:
    """A browser of its own: no cookies shared with other clients."""
    return httpx.Client(base_url=sim.url(0), timeout=10.0)


def connections(sim: SimulatorThread) -> int:
    page = httpx.get(sim.url(0) + "/admin/title", auth=("admin", "adminpass")).text
    found = re.search(r"Всего соединений \(сессии\):\s*(\d+)", page)
    assert found is not None
    return int(found[1])


@pytest.fixture
def one_free_seat(sim: SimulatorThread) -> int:
    """Leave exactly one free seat on installation 0; returns the licensed number."""
    seats = int(sim.describe(0)["seats"])
    sim.set_state(0, busy_seats=seats - 1)
    return seats


def test_a_login_takes_the_last_seat_and_the_next_one_is_refused(
    sim: SimulatorThread, one_free_seat: int
) -> None:
    with fresh_client(sim) as first, fresh_client(sim) as second:
        assert login(first).status_code == 302
        refused = login(second, user="ivanov", password="userpass")

    assert "toomanyusers" in refused.text
    assert sim.describe(0)["free_seats"] == 0
    assert connections(sim) == one_free_seat


def test_logout_frees_the_seat(sim: SimulatorThread, one_free_seat: int) -> None:
    with fresh_client(sim) as first, fresh_client(sim) as second:
        login(first)
        first.get("/users/logout.asp")

        assert login(second, user="ivanov", password="userpass").status_code == 302
        assert 'id="user"' in first.get("/docs/").text  # logged out


def test_an_expired_session_frees_the_seat(
    sim: SimulatorThread, clock: FakeClock, one_free_seat: int
) -> None:
    with fresh_client(sim) as first, fresh_client(sim) as second:
        login(first)
        clock.advance(3599)
        assert "toomanyusers" in login(second, user="ivanov", password="userpass").text

        clock.advance(2)  # the session lasted one hour (the fixture's session_ttl)
        assert login(second, user="ivanov", password="userpass").status_code == 302
        assert 'id="user"' in first.get("/docs/").text


def test_logging_in_again_with_the_session_cookie_keeps_one_seat(
    sim: SimulatorThread, one_free_seat: int
) -> None:
    with fresh_client(sim) as browser:
        assert login(browser).status_code == 302
        assert login(browser).status_code == 302

    assert sim.describe(0)["sessions"] == 1


def test_the_same_user_from_two_browsers_holds_two_seats(sim: SimulatorThread) -> None:
    with fresh_client(sim) as first, fresh_client(sim) as second:
        login(first)
        login(second)

    assert sim.describe(0)["sessions"] == 2
    assert connections(sim) == 2


def test_every_seat_can_be_used_then_the_n_plus_one_user_is_refused(sim: SimulatorThread) -> None:
    seats = int(sim.describe(0)["seats"])
    browsers = [fresh_client(sim) for _ in range(seats + 1)]
    try:
        answers = [login(b, user=f"user{i}", password="userpass") for i, b in enumerate(browsers)]
    finally:
        for browser in browsers:
            browser.close()

    assert [a.status_code for a in answers[:seats]] == [302] * seats
    assert "toomanyusers" in answers[seats].text
    refused = httpx.get(sim.url(0) + "/sysmon/metrics", auth=("smartlogin", "smartpass")).text
    assert 'kserver_login_refused_total{service="kodweb",reason="toomanyusers"} 1' in refused
    assert f'kserver_licenses_used{{service="kodweb"}} {seats}' in refused


def test_clearing_sessions_through_the_control_api_frees_the_seats(
    sim: SimulatorThread, control: SimulatorClient, one_free_seat: int
) -> None:
    with fresh_client(sim) as first, fresh_client(sim) as second:
        login(first)

        assert control.clear_sessions(0) == 1
        assert login(second).status_code == 302


def test_wrong_credentials_do_not_take_a_seat(sim: SimulatorThread) -> None:
    with fresh_client(sim) as browser:
        login(browser, password="wrong")

    assert sim.describe(0)["sessions"] == 0
    assert sim.describe(0)["counters"]["refused_auth"] == 1
