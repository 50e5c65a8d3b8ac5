"""The in-process scheduler: isolation of failures, timeouts, recorded state, resume after restart."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from kodeks_smart.scheduler import Job, Scheduler
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import JobState
from kodeks_smart.store.types import utcnow


def _state(db: Database, name: str) -> JobState:
    with db.session() as s:
        state = s.get(JobState, name)
        assert state is not None
        return state


def test_a_failing_job_never_stops_the_others(db: Database) -> None:
    calls = {"good": 0, "bad": 0}

    async def good() -> None:
        calls["good"] += 1

    async def bad() -> None:
        calls["bad"] += 1
        raise RuntimeError("диск переполнен")

    async def scenario() -> None:
        sched = Scheduler(db, CollectorRegistry(), rng=random.Random(1))
        sched.add(Job("good", good, interval=0.05, timeout=1, run_at_start=True))
        sched.add(Job("bad", bad, interval=0.05, timeout=1, run_at_start=True))
        await sched.start()
        while calls["good"] < 3 or calls["bad"] < 3:
            await asyncio.sleep(0.02)
        await sched.stop(grace=1)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    bad_state = _state(db, "bad")
    assert bad_state.failures >= 3 and bad_state.last_error == "RuntimeError: диск переполнен"
    good_state = _state(db, "good")
    assert good_state.failures == 0 and good_state.runs >= 3 and good_state.last_error is None


def test_a_job_that_overruns_its_timeout_is_recorded_as_timed_out(db: Database) -> None:
    async def hang() -> None:
        await asyncio.sleep(60)

    async def scenario() -> bool:
        sched = Scheduler(db, CollectorRegistry())
        return await sched.run_once(Job("hang", hang, interval=60, timeout=0.1))

    assert asyncio.run(scenario()) is False
    assert _state(db, "hang").last_error == "timed out after 0.1 s"


def test_stop_lets_a_running_job_finish(db: Database) -> None:

    async def scenario() -> list[str]:
        events: list[str] = []
        started = asyncio.Event()

        async def slow() -> None:
            started.set()
            await asyncio.sleep(0.3)
            events.append("finished")

        sched = Scheduler(db, CollectorRegistry())
        sched.add(Job("slow", slow, interval=60, timeout=5, run_at_start=True))
        await sched.start()
        await started.wait()
        await sched.stop(grace=5)
        events.append("stopped")
        return events

    assert asyncio.run(scenario()) == ["finished", "stopped"]
    state = _state(db, "slow")
    assert state.runs == 1 and state.failures == 0


def test_a_restart_resumes_the_schedule_from_the_stored_last_run(db: Database) -> None:
    with db.write() as s:
        s.add(JobState(name="hourly", last_started_at=utcnow() - timedelta(minutes=50), runs=7, failures=0))
        s.add(JobState(name="overdue", last_started_at=utcnow() - timedelta(hours=3), runs=1, failures=0))

    async def noop() -> None:
        return None

    sched = Scheduler(db, CollectorRegistry(), rng=random.Random(0))
    hourly = Job("hourly", noop, interval=3600, timeout=10, jitter=0)
    overdue = Job("overdue", noop, interval=3600, timeout=10, jitter=0)
    fresh = Job("fresh", noop, interval=3600, timeout=10, jitter=0.1)
    for job in (hourly, overdue, fresh):
        sched.add(job)
    last = sched._load_last_starts()
    assert 590 <= sched._first_delay(hourly, last.get("hourly")) <= 610
    assert sched._first_delay(overdue, last.get("overdue")) == 0
    assert 0 <= sched._first_delay(fresh, last.get("fresh")) <= 360


@pytest.mark.postgres
def test_a_singleton_job_runs_in_one_process_at_a_time(pg_url: str) -> None:
    first_db, second_db = Database(pg_url), Database(pg_url)
    calls: list[str] = []

    async def scenario() -> tuple[bool, bool]:
        release = asyncio.Event()
        started = asyncio.Event()

        async def holder() -> None:
            calls.append("first")
            started.set()
            await release.wait()

        async def second() -> None:
            calls.append("second")

        one = Scheduler(first_db, CollectorRegistry())
        two = Scheduler(second_db, CollectorRegistry())
        running = asyncio.create_task(one.run_once(Job("nightly", holder, 60, 10, singleton=True)))
        await started.wait()
        skipped = await two.run_once(Job("nightly", second, 60, 10, singleton=True))
        release.set()
        await running
        after = await two.run_once(Job("nightly", second, 60, 10, singleton=True))
        return skipped, after

    try:
        assert asyncio.run(asyncio.wait_for(scenario(), 30)) == (True, True)
        assert calls == ["first", "second"]
    finally:
        first_db.dispose()
        second_db.dispose()
