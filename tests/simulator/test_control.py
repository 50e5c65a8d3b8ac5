"""The control API over HTTP and its Python client."""

from __future__ import annotations

import socket

import httpx
import pytest

from kodeks_smart.simulator import SimulatorClient, SimulatorClientError, SimulatorConfig, SimulatorThread


def test_health_and_listing(sim: SimulatorThread, control: SimulatorClient) -> None:
    health = control.health()
    assert health["ok"] is True
    assert health["installations"] == 2
    assert health["online"] == 1

    rows = control.installations()
    assert [r["client"] for r in rows] == ["client00000", "client00001"]
    assert rows[0]["url"] == sim.url(0)
    assert control.online()[0]["name"] == "online00000"


def test_installations_are_found_by_index_or_client_name(control: SimulatorClient) -> None:
    assert control.installation("client00001")["id"] == 1
    assert control.installation(1)["client"] == "client00001"

    with pytest.raises(SimulatorClientError) as missing:
        control.installation("client99999")
    assert missing.value.status == 404


def test_the_state_catalogue_lists_every_switch(control: SimulatorClient) -> None:
    states = control.states()

    switched = {key for entry in states["installation"] for key in entry["switch"]}
    assert set(states["installation_fields"]) <= switched
    modes = {entry["switch"]["mode"] for entry in states["installation"] if "mode" in entry["switch"]}
    assert modes == {"normal", "down", "not-started", "maintenance", "server-error", "proxy-only"}


def test_bulk_state_switches_many_installations(control: SimulatorClient, sim: SimulatorThread) -> None:
    assert control.set_states(None, mode="maintenance") == 2
    assert httpx.get(sim.url(1) + "/docs/").status_code == 503

    assert control.set_states([0], mode="normal") == 1
    assert httpx.get(sim.url(0) + "/docs/").status_code == 200
    assert httpx.get(sim.url(1) + "/docs/").status_code == 503


def test_bulk_state_is_all_or_nothing(control: SimulatorClient) -> None:
    with pytest.raises(SimulatorClientError):
        control.set_states([0, 1], busy_seats=10_000)

    assert [r["mode"] for r in control.installations()] == ["normal", "normal"]


def test_raw_http_examples_from_the_docs(sim: SimulatorThread) -> None:
    base = sim.control_url
    with httpx.Client(base_url=str(base)) as http:
        changed = http.post(
            "/api/installations/client00000/state", json={"mode": "maintenance", "delay": 0.1}
        )
        assert changed.status_code == 200
        assert changed.json()["state"]["mode"] == "maintenance"
        assert http.post("/api/state", json={"all": True, "set": {"need_support": True}}).json() == {
            "changed": 2
        }
        assert http.post("/api/installations/0/state", content=b"not json").status_code == 400
        assert http.get("/api/nothing").status_code == 404
        assert http.post("/api/installations/0/reset").json()["state"]["mode"] == "normal"


def test_the_control_port_can_be_switched_off() -> None:
    with SimulatorThread(SimulatorConfig(installations=1, control_port=None)) as sim:
        assert sim.control_url is None
        assert sim.set_state(0, need_support=True)["need_support"] is True


def test_a_port_taken_while_the_server_was_down_is_reported(
    sim: SimulatorThread, control: SimulatorClient
) -> None:
    port = int(sim.url(0).rsplit(":", 1)[1])
    control.set_state(0, mode="down")

    with socket.socket() as thief:
        thief.bind(("127.0.0.1", port))
        thief.listen()
        with pytest.raises(SimulatorClientError) as refused:
            control.set_state(0, mode="normal")
        assert refused.value.status == 409

    control.set_state(0, mode="normal")
    assert httpx.get(sim.url(0) + "/docs/").status_code == 200
