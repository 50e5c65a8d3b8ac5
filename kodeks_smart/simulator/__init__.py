"""Simulated Kodeks / Techexpert servers and online accesses, for tests and demos (``smart simulate``).

Public API::

    from kodeks_smart.simulator import Simulator, SimulatorConfig, SimulatorThread, SimulatorClient

See docs/simulator.md. The sysinfo report generator lives in ``kodeks_smart.simulator.sysinfo``.
"""

from __future__ import annotations

from kodeks_smart.simulator.control import SimulatorClient, SimulatorClientError
from kodeks_smart.simulator.core import Simulator, SimulatorConfig, SimulatorError, SimulatorThread
from kodeks_smart.simulator.state import Credentials, Mode, SearchMode, StateError

__all__ = [
    "Credentials",
    "Mode",
    "SearchMode",
    "Simulator",
    "SimulatorClient",
    "SimulatorClientError",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorThread",
    "StateError",
]
