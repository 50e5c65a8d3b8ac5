"""The test user's session: it never keeps a seat, not even when the cycle is cut off after the login."""

from __future__ import annotations

import asyncio
import time

from kodeks_smart.probes.icmp import Pinger
from kodeks_smart.probes.installation import ProbeContext, probe_installation
from kodeks_smart.probes.model import Check, Status
from kodeks_smart.simulator import SimulatorThread
from tests.probes.helpers import run_probe, sim_target


def wait_for(condition: object, deadline: float = 10.0) -> bool:
    assert callable(condition)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_repeated_cycles_never_accumulate_sessions(sim: SimulatorThread) -> None:
    for _ in range(3):
        report = run_probe(sim_target(sim))
        assert report.status(Check.AUTH) is Status.OK
    described = sim.describe(0)
    assert described["counters"]["logins"] == 3
    assert described["sessions"] == 0
    assert described["free_seats"] == described["seats"]


def test_the_last_free_seat_is_given_back_after_the_check(sim: SimulatorThread) -> None:
    seats = sim.describe(0)["seats"]
    sim.set_state(0, busy_seats=seats - 1)
    assert run_probe(sim_target(sim)).status(Check.LIMIT) is Status.OK
    assert sim.describe(0)["free_seats"] == 1


def test_a_cycle_cancelled_after_the_login_still_logs_out(sim: SimulatorThread) -> None:
    sim.set_state(0, delay=0.3)
    target = sim_target(sim, ping=False, licman=False)

    async def go() -> None:
        pinger = Pinger()
        task = asyncio.create_task(probe_installation(target, ProbeContext(pinger, timeout=5.0)))
        try:
            while sim.describe(0)["sessions"] == 0:
                assert not task.done(), "the cycle ended before the test user logged in"
                await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # The shielded logout goes on after the cancellation; give it the loop.
            for _ in range(200):
                if sim.describe(0)["sessions"] == 0:
                    break
                await asyncio.sleep(0.02)
        finally:
            pinger.close()

    asyncio.run(go())
    assert sim.describe(0)["sessions"] == 0
    assert sim.describe(0)["counters"]["logins"] == 1
