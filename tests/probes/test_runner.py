"""The runner: registered installations and online accesses are probed on their schedule against the
simulator, changes reach the store at once, a slow target delays no other, limits hold, targets come and
go with the store."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.runner import ProbeRunner, RunnerConfig, spread
from kodeks_smart.probes.targets import SecretCache, Shard, load_targets
from kodeks_smart.runtime import Services
from kodeks_smart.simulator import SimulatorThread
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Installation
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeStateInterval
from tests.probes.helpers import register_installation, register_online

FAST = RunnerConfig(
    interval=0.5, timeout=2.0, pull=False, online_interval=0.5, reload_seconds=0.3, flush_seconds=0.2
)


@pytest.fixture
def cabinet_id(db: Database) -> int:
    with db.write() as s:
        dealer, _token = admin.add_dealer(s, "0599ROGAIKOPITA", "Рога и копыта")
        return admin.add_cabinet(s, dealer.code, "Филиал А").id


def statuses(db: Database, installation_id: int) -> dict[str, str]:
    with db.session() as s:
        return {
            r.check_name: r.status
            for r in s.scalars(select(ProbeCheck).where(ProbeCheck.installation_id == installation_id))
        }


async def eventually(condition: Callable[[], bool], deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def run_runner(
    services: Services, config: RunnerConfig, scenario: Callable[[ProbeRunner], object]
) -> ProbeRunner:
    async def go() -> ProbeRunner:
        runner = ProbeRunner(services, config)
        await runner.start()
        try:
            await scenario(runner)  # type: ignore[misc]
        finally:
            await runner.stop(grace=10)
        return runner

    return asyncio.run(go())


def test_a_state_change_reaches_the_store_and_opens_and_closes_an_interval(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    inst = register_installation(db, box, sim, cabinet_id)

    async def scenario(runner: ProbeRunner) -> None:
        await eventually(lambda: statuses(db, inst).get("http200") == "ok")
        sim.set_state(0, mode="maintenance")
        await eventually(lambda: statuses(db, inst).get("maintenance") == "fail")
        sim.set_state(0, mode="normal")
        await eventually(lambda: statuses(db, inst).get("maintenance") == "ok")

    run_runner(services, FAST, scenario)
    final = statuses(db, inst)
    assert set(final.values()) == {"ok"}
    assert len(final) == 13
    with db.session() as s:
        intervals = [
            (i.state, i.http_code, i.ended_at is not None) for i in s.scalars(select(ProbeStateInterval))
        ]
    assert intervals == [("maintenance", 503, True)]
    assert sim.describe(0)["sessions"] == 0


def test_a_slow_installation_delays_no_other_and_skips_its_overlapping_cycles(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    slow = register_installation(db, box, sim, cabinet_id, 0, credentials=False)
    fast = register_installation(db, box, sim, cabinet_id, 1)
    sim.set_state(0, delay=1.5)

    async def scenario(runner: ProbeRunner) -> None:
        await eventually(lambda: runner.stats.completed[("inst", fast)] >= 4)
        assert runner.stats.completed[("inst", slow)] == 0
        await eventually(lambda: runner.stats.missed["inst"] >= 1)

    config = RunnerConfig(interval=0.2, timeout=5.0, pull=False, reload_seconds=60, flush_seconds=0.2)
    run_runner(services, config, scenario)


def test_no_more_checks_run_against_one_host_than_its_limit(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    ids = [register_installation(db, box, sim, cabinet_id, i % 2, client_name=f"c{i}") for i in range(6)]
    sim.set_states(None, delay=0.05)

    async def scenario(runner: ProbeRunner) -> None:
        await eventually(lambda: all(runner.stats.completed[("inst", i)] >= 1 for i in ids))

    config = RunnerConfig(interval=0.1, timeout=5.0, pull=False, host_concurrency=2, flush_seconds=0.2)
    runner = run_runner(services, config, scenario)
    assert runner.stats.peak_inflight == 2


def test_online_accesses_are_checked_and_their_billing_read(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    access = register_online(db, box, sim, cabinet_id)
    before = sim.describe_online(0)["state"]["billing"]

    async def scenario(runner: ProbeRunner) -> None:
        def read() -> bool:
            with db.session() as s:
                return s.scalars(select(OnlineBillingReading)).first() is not None

        await eventually(read)

    run_runner(services, FAST, scenario)
    with db.session() as s:
        check = s.scalars(select(ProbeCheck).where(ProbeCheck.online_access_id == access)).one()
        reading = s.scalars(select(OnlineBillingReading)).first()
    assert (check.check_name, check.status) == ("online", "ok")
    assert reading is not None
    assert reading.counter("docs") == (before["docs"]["max"], before["docs"]["cnt"])
    assert sim.describe_online(0)["state"]["billing"] == before


def test_an_installation_moved_to_a_closed_contour_stops_being_probed_and_loses_its_states(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    inst = register_installation(db, box, sim, cabinet_id)

    async def scenario(runner: ProbeRunner) -> None:
        await eventually(lambda: bool(statuses(db, inst)))
        with db.write() as s:
            s.execute(update(Installation).where(Installation.id == inst).values(kind="closed"))
        await eventually(lambda: not statuses(db, inst))
        assert inst not in runner.targets.installations

    run_runner(services, FAST, scenario)


def test_pulled_sysinfo_and_sysmon_go_into_ingest(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int, tmp_path: Path
) -> None:
    from kodeks_smart.store.ingest_models import Upload

    Path(services.settings.data_dir).mkdir(parents=True, exist_ok=True)
    inst = register_installation(db, box, sim, cabinet_id, client_name="client00000")
    sim.set_state(0, cookie_redirect=True)

    def uploads() -> list[tuple[str, str, str]]:
        with db.session() as s:
            return sorted((u.filename, u.source, u.status) for u in s.scalars(select(Upload)))

    wanted = {"client00000.status", "client00000.zip"}

    async def scenario(runner: ProbeRunner) -> None:
        # Either pull may land more than once before the other lands first (a loaded machine).
        await eventually(lambda: wanted <= {name for name, _, _ in uploads()})

    config = RunnerConfig(
        interval=30, timeout=5.0, pull=True, sysinfo_interval=0.5, sysmon_interval=0.5, window_minutes=0
    )
    run_runner(services, config, scenario)
    assert {name for name, _, _ in uploads()} == wanted
    assert {(source, status) for _, source, status in uploads()} == {("pull", "queued")}
    assert {k: v for k, v in statuses(db, inst).items() if k.endswith("_pull")} == {
        "sysinfo_pull": "ok",
        "sysmon_pull": "ok",
    }


def test_targets_spread_evenly_over_the_interval_and_keep_their_offsets() -> None:
    offsets = [spread("inst", ident) for ident in range(1, 2001)]
    deciles = Counter(int(offset * 10) for offset in offsets)
    assert sorted(deciles) == list(range(10))
    assert all(150 <= count <= 250 for count in deciles.values())
    assert offsets == [spread("inst", ident) for ident in range(1, 2001)]


def test_shards_split_the_targets_between_workers(
    db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    ids = [register_installation(db, box, sim, cabinet_id, 0, client_name=f"c{i}") for i in range(5)]
    with db.session() as s:
        halves = [set(load_targets(s, SecretCache(box), shard=Shard(i, 2)).installations) for i in (0, 1)]
    assert halves[0] | halves[1] == set(ids)
    assert not halves[0] & halves[1]
    assert Shard.parse("1/3") == Shard(1, 3)
    with pytest.raises(ValueError, match="SMART_PROBE_SHARD"):
        Shard.parse("3/3")


def test_states_of_an_installation_closed_while_smart_was_down_are_removed_at_start(
    services: Services, db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int
) -> None:
    inst = register_installation(db, box, sim, cabinet_id)
    sim.set_state(0, mode="down")

    async def first(runner: ProbeRunner) -> None:
        await eventually(lambda: statuses(db, inst).get("tcp") == "fail")

    run_runner(services, FAST, first)
    with db.write() as s:
        s.execute(update(Installation).where(Installation.id == inst).values(kind="closed"))

    async def second(runner: ProbeRunner) -> None:
        await eventually(lambda: not statuses(db, inst))

    run_runner(services, FAST, second)
    with db.session() as s:
        assert [i.ended_at is not None for i in s.scalars(select(ProbeStateInterval))] == [True]
