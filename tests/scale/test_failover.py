"""Multi-process fail-over on real PostgreSQL: 3 `smart serve --role worker` + 1 `--role api` against 30
simulated installations probed every 2 s.

Checked: every installation is probed each cycle by exactly one worker (the simulator's request counter of
every installation grows by one per cycle — never by two, never by zero — and the workers' target
counts add up to 30); after one worker is killed with SIGKILL the two others take over its installations
within the fail-over time (TTL 3 s + heartbeat 1 s) and again every installation is probed each cycle;
the api process probes nothing; the singleton alert evaluation (advisory lock) runs in a worker, and goes
on in a surviving worker after the one that ran it is killed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert, select

from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Installation, JobState
from tests.conftest import _truncate_all

N = 30
INTERVAL = 2.0
WINDOW = 8.0  # seconds of counting: 4 cycles per installation
HEARTBEAT = 1.0
TTL = 3.0

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def register(url: str, sim: SimulatorThread, home: Path) -> None:
    db = Database(url)
    SecretBox.from_file(home / "secret.key", create=True)
    try:
        with db.write() as s:
            dealer, _ = admin.add_dealer(s, "0599SCALE", "Масштаб")
            cabinet = admin.add_cabinet(s, dealer.code, "Все")
            # An operator exists, so the four processes starting together do not each create the first one.
            hashing = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
            admin.add_account(s, hashing, "operator", "operator-password-1", "operator")
            s.execute(
                insert(Client),
                [
                    {
                        "dealer_id": dealer.id,
                        "cabinet_id": cabinet.id,
                        "short_name": f"client{i:05d}",
                        "display_name": f"Клиент {i}",
                    }
                    for i in range(N)
                ],
            )
            clients = {name: ident for name, ident in s.execute(select(Client.short_name, Client.id))}
            s.execute(
                insert(Installation),
                [
                    {
                        "dealer_id": dealer.id,
                        "cabinet_id": cabinet.id,
                        "client_id": clients[f"client{i:05d}"],
                        "kind": "internet",
                        "address": sim.url(i),
                        "protocol": "http",
                        "ping": False,
                        "tz_offset_minutes": 180,
                        "pull": False,
                    }
                    for i in range(N)
                ],
            )
    finally:
        db.dispose()


class Proc:
    def __init__(self, name: str, role: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        env = {**env, "SMART_PORT": str(self.port), "SMART_WORKER_NAME": name}
        with log.open("wb") as out:
            self.handle = subprocess.Popen(
                [sys.executable, "-m", "kodeks_smart", "serve", "--role", role],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def metrics(self) -> dict[str, float]:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        found: dict[str, float] = {}
        for line in text.splitlines():
            match = re.match(
                r"^(smart_probe_targets\{[^}]*\}|smart_probe_cycles_total\{[^}]*\}) (\S+)$", line
            )
            if match:
                found[match.group(1)] = float(match.group(2))
        return found

    def targets(self) -> int:
        return int(self.metrics().get('smart_probe_targets{kind="installation"}', 0))

    def stop(self) -> None:
        if self.handle.poll() is None:
            self.handle.send_signal(signal.SIGTERM)
            try:
                self.handle.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.handle.kill()
                self.handle.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[tuple[SimulatorThread, list[Proc], Proc]]:
    config = SimulatorConfig(installations=N, licman=False)
    procs: list[Proc] = []
    with SimulatorThread(config) as sim:
        register(pg_url, sim, tmp_path)
        env = {
            **os.environ,
            "SMART_DATABASE_URL": pg_url,
            "SMART_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
            "SMART_AUTO_MIGRATE": "false",
            "SMART_PROBE_INTERVAL": str(INTERVAL),
            "SMART_PROBE_TIMEOUT": "2",
            "SMART_PROBE_PULL": "false",
            "SMART_WORKER_HEARTBEAT": str(HEARTBEAT),
            "SMART_WORKER_TTL": str(TTL),
            "SMART_DB_POOL_SIZE": "2",
            "SMART_DB_MAX_OVERFLOW": "4",
            "SMART_LOG_LEVEL": "WARNING",
            "SMART_LOG_FORMAT": "text",
            "SMART_SHUTDOWN_TIMEOUT": "5",
            "SMART_ALERT_INTERVAL": "1",  # the singleton job watched here
        }
        try:
            for i in range(3):
                data = tmp_path / f"w{i}"
                procs.append(
                    Proc(f"w{i}", "worker", {**env, "SMART_DATA_DIR": str(data)}, tmp_path / f"w{i}.log")
                )
            api = Proc("api", "api", {**env, "SMART_DATA_DIR": str(tmp_path / "api")}, tmp_path / "api.log")
            procs.append(api)
            yield sim, procs[:3], api
        finally:
            for proc in procs:
                proc.stop()
            _truncate_all(pg_url)


def last_run(url: str, job: str) -> tuple[int, datetime] | None:
    """(pid, start) of the last run of a job, from ``job_states`` (owner is host:pid:scheduler)."""
    db = Database(url)
    try:
        with db.session() as s:
            state = s.get(JobState, job)
            if state is None or state.last_started_at is None or state.owner is None:
                return None
            return int(state.owner.split(":")[1]), state.last_started_at
    finally:
        db.dispose()


def requests(sim: SimulatorThread) -> list[int]:
    return [site.requests_total for site in sim.simulator.installations]


def probed_each_cycle(sim: SimulatorThread) -> list[int]:
    """Main-page requests per installation over WINDOW seconds (one per probe cycle)."""
    before = requests(sim)
    time.sleep(WINDOW)
    return [after - b for after, b in zip(requests(sim), before, strict=True)]


def assert_once_per_cycle(counts: list[int]) -> None:
    cycles = WINDOW / INTERVAL
    never = [i for i, c in enumerate(counts) if c < cycles - 1]
    twice = [i for i, c in enumerate(counts) if c > cycles + 1]
    assert not never, f"installations missed cycles: {never} ({counts})"
    assert not twice, f"installations probed by two workers: {twice} ({counts})"


def test_three_workers_share_the_targets_and_take_over_a_killed_one(
    cluster: tuple[SimulatorThread, list[Proc], Proc], pg_url: str
) -> None:
    sim, workers, api = cluster
    for proc in (*workers, api):
        wait_for(
            lambda p=proc: httpx.get(f"http://127.0.0.1:{p.port}/healthz", timeout=2).status_code == 200,
            40,
            "start",
        )
    # All three have joined and see each other: their shares add up to all installations.
    wait_for(
        lambda: all(w.targets() > 0 for w in workers) and sum(w.targets() for w in workers) == N,
        20,
        "three workers sharing the installations",
    )
    shares = [w.targets() for w in workers]
    assert sum(shares) == N and min(shares) > 0, shares
    assert api.targets() == 0  # the api role never probes
    time.sleep(INTERVAL)  # hand-over done: every installation has had its first cycle at its new owner
    assert_once_per_cycle(probed_each_cycle(sim))

    # The singleton alert evaluation runs in a worker (never in the api process); kill the worker that
    # ran it last, so that both its installations and the singleton job must move.
    wait_for(lambda: last_run(pg_url, "alerts-evaluate") is not None, 10, "a run of alerts-evaluate")
    run = last_run(pg_url, "alerts-evaluate")
    assert run is not None
    pids = [w.handle.pid for w in workers]
    assert run[0] in pids and run[0] != api.handle.pid
    victim = workers[pids.index(run[0])]
    survivors = [w for w in workers if w is not victim]
    kept = {w.name: w.targets() for w in survivors}
    victim.handle.send_signal(signal.SIGKILL)
    victim.handle.wait()
    killed_at = datetime.now(UTC)
    took = wait_for(lambda: sum(w.targets() for w in survivors) == N, TTL + HEARTBEAT + 10, "fail-over")
    assert took <= TTL + HEARTBEAT + 3
    # Only the dead worker's installations moved: the survivors kept theirs.
    assert all(w.targets() >= kept[w.name] for w in survivors)
    time.sleep(INTERVAL)
    assert_once_per_cycle(probed_each_cycle(sim))
    # The singleton job goes on, in a surviving worker.
    after = last_run(pg_url, "alerts-evaluate")
    assert after is not None and after[1] > killed_at
    assert after[0] in [w.handle.pid for w in survivors]
