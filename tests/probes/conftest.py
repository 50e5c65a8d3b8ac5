"""Fixtures of the probe tests: a simulator with two installations (licence-manager ports on) and one
online access, on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from tests.simulator.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[SimulatorThread]:
    config = SimulatorConfig(installations=2, online=1, clock=clock, session_ttl=3600.0, licman=True)
    with SimulatorThread(config) as running:
        yield running
