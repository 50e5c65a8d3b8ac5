"""Every switchable state shows the documented markers (spec §6, §7; docs/simulator.md)."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import httpx
import pytest

from kodeks_smart.simulator import SimulatorClient, SimulatorClientError, SimulatorThread, report
from kodeks_smart.simulator.report import derive_scenarios
from kodeks_smart.simulator.state import KEY_ERRORS, KEY_NOT_FOUND_CODES, InstallationState, SearchMode
from tests.simulator.helpers import FakeClock, login

ADMIN = ("admin", "adminpass")
SYSMON = ("smartlogin", "smartpass")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


def sysmon(sim: SimulatorThread, name: str) -> str:
    body = httpx.get(sim.url(0) + "/sysmon/metrics", auth=SYSMON).text
    return "\n".join(line for line in body.splitlines() if line.startswith(name))


def test_down_closes_the_port_and_normal_reopens_it(sim: SimulatorThread, control: SimulatorClient) -> None:
    port = port_of(sim.url(0))
    assert connects(port)

    control.set_state(0, mode="down")
    assert not connects(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim.url(0) + "/")
    assert connects(port_of(sim.url(1)))  # the other installation is unaffected

    control.set_state(0, mode="normal")
    assert httpx.get(sim.url(0) + "/docs/").status_code == 200


def test_not_started_answers_on_the_port_with_the_not_started_page(
    sim: SimulatorThread, kodeks: httpx.Client
) -> None:
    sim.set_state(0, mode="not-started")

    for path in ("/", "/docs/", "/admin/title", "/sysmon/metrics"):
        response = kodeks.get(path, auth=ADMIN)
        assert response.status_code == 503, path
        assert "Сервер не стартовал" in response.text
        assert response.headers["server"] == "WWW-Kodeks/6.4"


def test_maintenance_answers_503_on_pages_and_login_but_admin_works(
    sim: SimulatorThread, kodeks: httpx.Client
) -> None:
    sim.set_state(0, mode="maintenance")

    page = kodeks.get("/docs/")
    assert page.status_code == 503
    assert "режиме тех.обслуживания" in page.text
    assert login(kodeks).status_code == 503
    assert kodeks.get("/admin/title", auth=ADMIN).status_code == 200
    assert sysmon(sim, "kserver_maintenance") == 'kserver_maintenance{service="kodweb"} 1'
    legacy = kodeks.get("/sysinfo/metrics").text
    assert 'kserver_main_page{service="kodweb",path="/docs",status="update DB"} 1' in legacy


def test_need_support_puts_the_banner_on_the_main_page(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    assert "Требуется обслуживание" not in kodeks.get("/docs/").text

    sim.set_state(0, need_support=True)

    page = kodeks.get("/docs/")
    assert page.status_code == 200
    assert "Требуется обслуживание" in page.text
    assert sysmon(sim, "kserver_need_support") == 'kserver_need_support{service="kodweb"} 1'


@pytest.mark.parametrize("code", sorted(KEY_ERRORS))
def test_key_errors_show_the_binding_message(sim: SimulatorThread, kodeks: httpx.Client, code: int) -> None:
    sim.set_state(0, key_error=code)

    lic = kodeks.get("/admin/lic", auth=ADMIN).text
    binding = re.search(r"Привязка: (.*?)<br>", lic)
    assert binding is not None
    assert binding[1].startswith("SenseLock ключ - Ошибка защиты")
    assert str(code if code != 665 else 1) in binding[1]
    if "{lm}" in KEY_ERRORS[code]:
        licman_port = sim.describe(0)["licman_port"]
        assert f"(license manager configured at 127.0.0.1:{licman_port})" in binding[1]
    page = kodeks.get("/docs/").text
    assert ("Ключ не найден" in page) is (code in KEY_NOT_FOUND_CODES)
    assert (
        sysmon(sim, "kserver_protection_error_code")
        == f'kserver_protection_error_code{{service="kodweb"}} {code}'
    )


def test_key_not_found_4111_reads_like_the_appendix(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    sim.set_state(0, key_error=4111)

    assert (
        "Привязка: SenseLock ключ - Ошибка защиты 4111 Not connected<br>"
        in kodeks.get("/admin/lic", auth=ADMIN).text
    )


def test_seats_taken_refuses_logins_with_toomanyusers(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    sim.set_state(0, seats_taken=True)

    response = login(kodeks)

    assert response.status_code == 200
    assert "toomanyusers" in response.text
    assert "максимальное число подключений" in response.text
    assert "нет свободных рабочих мест для входа" in response.text
    assert 'id="user"' in response.text
    assert sysmon(sim, "kserver_login_refused_total").splitlines()[0].endswith(" 1")


def test_server_error_answers_500(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    sim.set_state(0, mode="server-error")

    page = kodeks.get("/docs/")
    assert page.status_code == 500
    assert "Ошибки на сервере" in page.text
    assert login(kodeks).status_code == 500
    assert 'status="no required volume DB"} 1' in kodeks.get("/sysinfo/metrics").text


def test_proxy_only_answers_502_from_nginx_on_every_path(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    sim.set_state(0, mode="proxy-only")

    for path in ("/", "/docs/", "/admin/title", "/sysmon/metrics", "/sysinfo/si_save_request"):
        response = kodeks.get(path)
        assert response.status_code == 502, path
        assert response.headers["server"] == "nginx"
        assert "WWW-Kodeks" not in response.text


def test_slow_responses_do_not_arrive_before_the_delay(
    sim: SimulatorThread, control: SimulatorClient
) -> None:
    control.set_state(0, delay=3.0)

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.url(0) + "/docs/", timeout=httpx.Timeout(10.0, read=0.5))
    assert httpx.get(sim.url(1) + "/docs/", timeout=30).status_code == 200  # the delay is per installation

    control.set_state(0, delay=0)
    assert httpx.get(sim.url(0) + "/docs/", timeout=30).status_code == 200


def test_licence_manager_port_opens_and_closes(sim: SimulatorThread, control: SimulatorClient) -> None:
    licman_port = control.installation(0)["licman_port"]
    assert connects(licman_port)

    control.set_state(0, licman_down=True)
    assert not connects(licman_port)
    assert 'kserver_licman_up{service="kodweb",address=' in sysmon(sim, "kserver_licman_up")
    assert sysmon(sim, "kserver_licman_up").endswith(" 0")
    assert connects(port_of(sim.url(0)))  # the web server itself stays up

    control.set_state(0, licman_down=False)
    assert connects(licman_port)


def test_stale_operup_ages_the_operup_metric_and_the_report(sim: SimulatorThread) -> None:
    fresh = int(sysmon(sim, "kserver_operup_last_timestamp_seconds").rsplit(" ", 1)[1])

    sim.set_state(0, stale_operup=True)

    stale = int(sysmon(sim, "kserver_operup_last_timestamp_seconds").rsplit(" ", 1)[1])
    assert fresh - stale > 3 * 86400
    xml = httpx.post(sim.url(0) + "/sysinfo/si_save_request", timeout=60).text
    assert "stale-operup" in xml[:1000]


def test_switched_states_map_to_generator_scenarios() -> None:
    known = {"stale-operup", "seats-exhausted", "key-error-4111", "no-senselock-block", "search-errors"}
    state = InstallationState(stale_operup=True, key_error=4111, search=SearchMode.ERROR)

    assert derive_scenarios(state, seats_exhausted=True, known=known) == known - {"no-senselock-block"}
    assert derive_scenarios(InstallationState(), seats_exhausted=False, known=known) == frozenset()
    state = InstallationState(key_error=4117, scenarios=frozenset({"seats-exhausted"}))
    assert derive_scenarios(state, seats_exhausted=False, known=known) == {
        "no-senselock-block",
        "seats-exhausted",
    }


def test_login_refused_keeps_the_form_with_an_authorization_error(
    sim: SimulatorThread, kodeks: httpx.Client
) -> None:
    sim.set_state(0, login_refused=True)

    response = login(kodeks)

    assert response.status_code == 200
    assert "ошибка авторизации" in response.text.lower()
    assert 'id="user"' in response.text
    assert 'id="user"' in kodeks.get("/docs/").text  # still not logged in


def test_search_empty_and_error(sim: SimulatorThread, kodeks: httpx.Client) -> None:
    login(kodeks)

    sim.set_state(0, search="empty")
    assert kodeks.post("/docs/ifind_result", data={"query": "СП 48"}).json()["tabs"][0]["count"] == 0
    assert "data-nd" not in kodeks.post("/docs/ifind_list", data={"query": "СП 48"}).text

    sim.set_state(0, search="error")
    assert kodeks.post("/docs/check_iquery", data={"query": "СП 48"}).json()["good"] is False


def test_normal_after_reset(sim: SimulatorThread, control: SimulatorClient, kodeks: httpx.Client) -> None:
    control.set_state(
        0, mode="maintenance", need_support=True, key_error=4113, seats_taken=True, licman_down=True
    )

    described = control.reset(0)

    assert described["state"]["mode"] == "normal"
    assert described["free_seats"] == described["seats"]
    page = kodeks.get("/docs/")
    assert page.status_code == 200
    assert "Требуется обслуживание" not in page.text
    assert connects(described["licman_port"])


@pytest.mark.parametrize(
    "patch",
    [
        {"mode": "sleeping"},
        {"delay": -1},
        {"key_error": 1234},
        {"busy_seats": 10_000},
        {"need_support": "yes"},
        {"colour": "red"},
        {"scenarios": ["no-such-scenario"]},
    ],
)
def test_invalid_patches_are_refused_and_change_nothing(
    control: SimulatorClient, patch: dict[str, object]
) -> None:
    before = control.installation(0)["state"]

    with pytest.raises(SimulatorClientError) as refused:
        control.set_state(0, **{"need_support": True, **patch})

    assert refused.value.status == 400
    assert control.installation(0)["state"] == before


def test_the_served_report_is_the_generators_report_for_the_switched_state(
    sim: SimulatorThread, clock: FakeClock
) -> None:
    sim.set_state(0, seats_taken=True, key_error=4111, stale_operup=True)
    site = sim.simulator.installation(0)
    now = datetime.fromtimestamp(clock(), UTC)
    expected = report.render(site.config, site.state, seats_exhausted=True, now=now, as_zip=False)
    profile = report.build_profile(site.config, site.state, seats_exhausted=True, now=now)

    served = httpx.post(sim.url(0) + "/sysinfo/si_save_request", timeout=60)

    assert served.status_code == 200
    assert served.content == expected
    assert {"seats-exhausted", "key-error-4111", "stale-operup"} <= set(profile.scenarios)
    assert profile.client == site.config.client
    assert profile.regnum == site.config.regnum
