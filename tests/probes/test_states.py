"""For every state of the simulator: exactly which checks fail, which are expected to fail, which are
unknown (dependency rules) and which pass, the abnormal states recorded — and that the test user holds no
seat afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from kodeks_smart.probes.model import INSTALLATION_CHECKS, SESSION_CHECKS, AbnormalState, Check, Status
from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from tests.probes.helpers import by_status, run_probe, sim_target

C = Check
S = AbnormalState
ABOVE_TCP = {C.HTTP200, C.PROXY, C.MAINTENANCE, C.NEEDSUPPORT, *SESSION_CHECKS}
AFTER_LOGIN = {C.KEY, C.WARNING, C.SEARCH}


class Case:
    def __init__(
        self,
        patch: dict[str, Any],
        *,
        fail: set[Check] | None = None,
        expected: set[Check] | None = None,
        unknown: set[Check] | None = None,
        states: dict[AbnormalState, int | None] | None = None,
    ) -> None:
        self.patch = patch
        self.fail = fail or set()
        self.expected = expected or set()
        self.unknown = unknown or set()
        self.states = states or {}

    @property
    def ok(self) -> set[Check]:
        return set(INSTALLATION_CHECKS) - self.fail - self.expected - self.unknown


CASES = {
    "normal": Case({}),
    "down": Case({"mode": "down"}, fail={C.TCP}, unknown=ABOVE_TCP, states={S.SERVER_DOWN: None}),
    "not-started": Case(
        {"mode": "not-started"},
        fail={C.HTTP200, C.AUTH},
        unknown={C.NEEDSUPPORT, C.LIMIT, *AFTER_LOGIN},
        states={S.NOT_STARTED: 503},
    ),
    "maintenance": Case(
        {"mode": "maintenance"},
        fail={C.MAINTENANCE},
        expected={C.HTTP200, C.AUTH},
        unknown={C.NEEDSUPPORT, C.LIMIT, *AFTER_LOGIN},
        states={S.MAINTENANCE: 503},
    ),
    "server-error": Case(
        {"mode": "server-error"},
        fail={C.HTTP200, C.AUTH},
        unknown={C.NEEDSUPPORT, C.LIMIT, *AFTER_LOGIN},
        states={S.SERVER_ERRORS: 500},
    ),
    "proxy-only": Case(
        {"mode": "proxy-only"},
        fail={C.PROXY, C.HTTP200},
        unknown={C.MAINTENANCE, C.NEEDSUPPORT, *SESSION_CHECKS},
        states={S.SERVER_DOWN: 502},
    ),
    "need-support": Case({"need_support": True}, fail={C.NEEDSUPPORT}, states={S.NEED_SUPPORT: 200}),
    "key-not-connected": Case({"key_error": 4111}, fail={C.KEY, C.WARNING}, states={S.KEY_NOT_FOUND: 200}),
    "key-on-licman-not-found": Case(
        {"key_error": 4113}, fail={C.KEY, C.WARNING}, states={S.KEY_NOT_FOUND: 200}
    ),
    "wrong-licence": Case({"key_error": 5}, fail={C.KEY, C.WARNING}, states={S.KEY_NOT_FOUND: 200}),
    "seats-taken": Case(
        {"seats_taken": True},
        fail={C.LIMIT},
        unknown={C.AUTH, *AFTER_LOGIN},
        states={S.LICENCES_EXHAUSTED: 200},
    ),
    "one-seat-left": Case({"busy_seats": "all-but-one"}),
    "licman-down": Case({"licman_down": True}, fail={C.LICMAN_TCP}),
    "login-refused": Case({"login_refused": True}, fail={C.AUTH}, unknown={C.LIMIT, *AFTER_LOGIN}),
    "search-error": Case({"search": "error"}, fail={C.SEARCH}),
    "search-empty": Case({"search": "empty"}),
    "stale-operup": Case({"stale_operup": True}),
    "cookie-redirect": Case({"cookie_redirect": True}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_simulator_state_gives_exactly_these_results(sim: SimulatorThread, name: str) -> None:
    case = CASES[name]
    patch = dict(case.patch)
    if patch.get("busy_seats") == "all-but-one":
        patch["busy_seats"] = sim.describe(0)["seats"] - 1
    if patch:
        sim.set_state(0, **patch)
    logins_before = sim.describe(0)["counters"]["logins"]

    report = run_probe(sim_target(sim))

    found = by_status(report)
    assert found[Status.FAIL] == case.fail
    assert found[Status.EXPECTED] == case.expected
    assert found[Status.UNKNOWN] == case.unknown
    assert found[Status.OK] == case.ok
    assert report.states == case.states
    after = sim.describe(0)
    assert after["sessions"] == 0, "the test user must not keep a seat"
    logged_in = report.status(C.AUTH) is Status.OK
    assert after["counters"]["logins"] == logins_before + (1 if logged_in else 0)


def test_a_server_slower_than_the_timeout_fails_the_main_page_and_leaves_the_rest_unknown(
    sim: SimulatorThread,
) -> None:
    sim.set_state(0, delay=1.5)
    report = run_probe(sim_target(sim), timeout=0.5)
    found = by_status(report)
    assert found[Status.FAIL] == {C.HTTP200}
    assert report.results[C.HTTP200].value == "timeout"
    assert found[Status.UNKNOWN] == ABOVE_TCP - {C.HTTP200}
    assert report.states == {S.SERVER_DOWN: None}


def test_without_test_user_credentials_the_session_checks_are_unknown(sim: SimulatorThread) -> None:
    report = run_probe(sim_target(sim, credentials=False))
    found = by_status(report)
    assert found[Status.UNKNOWN] == set(SESSION_CHECKS)
    assert {r.detail for c, r in report.results.items() if c in SESSION_CHECKS} == {
        "учётные данные тестового пользователя не заданы"
    }
    assert found[Status.FAIL] == set()
    assert sim.describe(0)["counters"]["logins"] == 0


def test_donotping_and_no_licence_manager_leave_those_checks_out(sim: SimulatorThread) -> None:
    report = run_probe(sim_target(sim, ping=False, licman=False))
    assert C.ICMP not in report.results
    assert C.LICMAN_ICMP not in report.results
    assert C.LICMAN_TCP not in report.results
    assert report.status(C.HTTP200) is Status.OK


def test_the_failure_details_name_what_was_seen(sim: SimulatorThread) -> None:
    sim.set_state(0, key_error=4111, need_support=True)
    report = run_probe(sim_target(sim))
    assert report.results[C.KEY].detail == "Привязка: SenseLock ключ - Ошибка защиты 4111 Not connected"
    assert report.results[C.KEY].value == "4111"
    assert "необходимо проверить состав БД" in report.results[C.WARNING].detail
    assert report.results[C.NEEDSUPPORT].detail == "на главной странице сообщение «Требуется обслуживание»"


def test_a_closed_port_behind_a_shared_virtual_host_port_is_a_server_that_does_not_answer() -> None:
    with SimulatorThread(SimulatorConfig(installations=2, vhosts=True, licman=False)) as sim:
        sim.set_state(1, mode="down")
        report = run_probe(sim_target(sim, 1, licman=False))
    found = by_status(report)
    assert report.status(C.TCP) is Status.OK
    assert found[Status.FAIL] == {C.HTTP200}
    assert report.results[C.HTTP200].value in ("reset", "empty")
    assert report.states == {S.SERVER_DOWN: None}
