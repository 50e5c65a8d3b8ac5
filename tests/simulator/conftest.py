"""Fixtures that run the Kodeks simulator in-process on 127.0.0.1 with OS-assigned ports.

``sim`` is a ``SimulatorThread`` (its own event loop in a background thread), so tests stay synchronous
and talk to it over real loopback HTTP with httpx or curl. ``clock`` drives session expiry and billing
months without sleeping. ``control`` is the HTTP client of the control API.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kodeks_smart.simulator import SimulatorClient, SimulatorConfig, SimulatorThread
from tests.simulator.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[SimulatorThread]:
    """Two installations and one online access; sessions last one hour of ``clock`` time."""
    config = SimulatorConfig(installations=2, online=1, clock=clock, session_ttl=3600.0)
    with SimulatorThread(config) as running:
        yield running


@pytest.fixture
def control(sim: SimulatorThread) -> Iterator[SimulatorClient]:
    assert sim.control_url is not None
    with SimulatorClient(sim.control_url) as client:
        yield client


@pytest.fixture
def kodeks(sim: SimulatorThread) -> Iterator[httpx.Client]:
    """An HTTP client (with a cookie jar) for installation 0."""
    with httpx.Client(base_url=sim.url(0), timeout=10.0) as client:
        yield client
