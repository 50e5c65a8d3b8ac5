"""Hand-over between two probe runners with dynamic membership (in one process, on both backends).

A runner alone probes every installation. When a second one joins, the installations split between them
without a check state being deleted or restarted: the one that gives an installation up keeps its stored
states, the one that takes it over continues from them (``since`` of every check unchanged). When the
second one leaves, the first takes everything back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from kodeks_smart.cluster import Membership
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.runner import ProbeRunner, RunnerConfig
from kodeks_smart.runtime import Services
from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.probe_models import ProbeCheck
from tests.probes.helpers import register_installation

N = 6
CONFIG = RunnerConfig(
    interval=0.5, timeout=2.0, pull=False, reload_seconds=0.3, flush_seconds=0.2, heartbeat=0.2
)


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(installations=N, licman=False, session_ttl=3600.0)) as running:
        yield running


def states(db: Database) -> dict[tuple[int, str], datetime]:
    with db.session() as s:
        return {
            (row.installation_id, row.check_name): row.since
            for row in s.scalars(select(ProbeCheck))
            if row.installation_id is not None
        }


async def eventually(condition: Callable[[], bool], deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def runner(services: Services, name: str) -> ProbeRunner:
    membership = Membership(services.db, name, ttl=1.0)
    return ProbeRunner(services, CONFIG, registry=CollectorRegistry(), membership=membership)


def test_installations_split_and_return_without_losing_their_states(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread
) -> None:
    with db.write() as s:
        dealer, _token = admin.add_dealer(s, "0599ROGAIKOPITA", "Рога и копыта")
        cabinet_id = admin.add_cabinet(s, dealer.code, "Филиал А").id
    ids = {register_installation(db, box, sim, cabinet_id, i) for i in range(N)}

    async def scenario() -> None:
        a = runner(services, "worker-a")
        await a.start()
        b = runner(services, "worker-b")
        try:
            assert set(a.targets.installations) == ids
            await eventually(lambda: {inst for inst, _check in states(db)} == ids)
            before = states(db)

            await b.start()
            await eventually(
                lambda: (
                    set(a.targets.installations) | set(b.targets.installations) == ids
                    and not set(a.targets.installations) & set(b.targets.installations)
                    and bool(b.targets.installations)
                )
            )
            taken = set(b.targets.installations)
            await eventually(lambda: all(b.stats.completed[("inst", i)] >= 2 for i in taken))
            await a.flush()
            await b.flush()
            after = states(db)
            assert set(after) >= set(before)  # nothing deleted
            assert {k: after[k] for k in before} == before  # every check continues: same ``since``
            for inst in taken:  # the new owner started from the stored states
                assert b.writer.current[("inst", inst, "tcp")].since == before[(inst, "tcp")]

            await b.stop(grace=5)  # leaves: a takes everything back at its next heartbeat
            await eventually(lambda: set(a.targets.installations) == ids)
            await eventually(lambda: all(a.stats.completed[("inst", i)] >= 1 for i in taken))
            await a.flush()
            final = states(db)
            assert {k: final[k] for k in before} == before
        finally:
            await b.stop(grace=5)
            await a.stop(grace=5)

    asyncio.run(scenario())
