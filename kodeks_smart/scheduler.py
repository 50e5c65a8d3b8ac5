"""The in-process asyncio scheduler for periodic jobs.

Each job runs in its own loop task:
1. wait until it is due (interval from the last start, plus random jitter so jobs of many
   processes do not fire together);
2. run it under a timeout; a failure or timeout is logged, counted and stored, never propagated,
   so one bad job cannot stop the others;
3. record the run in ``job_states`` (read by ``smart jobs`` from another process) and in the
   Prometheus counters.
On restart the next due time is computed from the stored last start, so a restart resumes the
schedule instead of running every job at once.
`stop()` lets running jobs finish (up to a grace period) before cancelling them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Connection, text

from kodeks_smart.store.db import Database
from kodeks_smart.store.models import JobState
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[None]]


@dataclass
class Job:
    """A periodic job. ``interval`` and ``timeout`` are in seconds; ``jitter`` is a share of the interval."""

    name: str
    func: JobFunc
    interval: float
    timeout: float
    jitter: float = 0.1
    run_at_start: bool = False
    #: At most one process of a deployment runs it at a time (PostgreSQL advisory lock; on SQLite,
    #: which serves one process, always true).
    singleton: bool = False
    running: bool = field(default=False, init=False)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    digest = hashlib.sha256(f"smart-job:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter("smart_job_runs", "Completed runs of a scheduled job", ["job"], registry=registry)
        self.failures = Counter(
            "smart_job_failures", "Failed or timed-out runs of a scheduled job", ["job"], registry=registry
        )
        self.duration = Histogram(
            "smart_job_duration_seconds", "Duration of scheduled job runs", ["job"], registry=registry
        )
        self.skipped = Counter(
            "smart_job_skipped",
            "Runs of a singleton job skipped because another process held it",
            ["job"],
            registry=registry,
        )
        self.last_success = Gauge(
            "smart_job_last_success_timestamp_seconds",
            "Unix time of the last successful run",
            ["job"],
            registry=registry,
        )


class Scheduler:
    def __init__(
        self,
        db: Database,
        registry: CollectorRegistry,
        *,
        rng: random.Random | None = None,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.jobs: dict[str, Job] = {}
        self.metrics = SchedulerMetrics(registry)
        self._rng = rng or random.Random()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[bool]] = set()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def add(self, job: Job) -> None:
        if job.name in self.jobs:
            raise ValueError(f"job {job.name!r} is already scheduled")
        self.jobs[job.name] = job

    async def start(self) -> None:
        last_starts = await asyncio.to_thread(self._load_last_starts)
        self._stopping.clear()
        for job in self.jobs.values():
            first_delay = self._first_delay(job, last_starts.get(job.name))
            self._tasks.append(asyncio.create_task(self._loop(job, first_delay), name=f"job:{job.name}"))
        log.info("scheduler started", extra={"jobs": sorted(self.jobs)})

    def _first_delay(self, job: Job, last_start: datetime | None) -> float:
        if job.run_at_start:
            return 0.0
        jitter = self._rng.uniform(0, job.interval * job.jitter)
        if last_start is None:
            return jitter
        elapsed = (utcnow() - last_start).total_seconds()
        return max(0.0, job.interval - elapsed) + jitter

    def _load_last_starts(self) -> dict[str, datetime]:
        with self.db.session() as s:
            return {
                js.name: js.last_started_at
                for js in s.query(JobState).filter(JobState.name.in_(list(self.jobs)))
                if js.last_started_at is not None
            }

    async def _loop(self, job: Job, delay: float) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                return  # stop requested while waiting
            except TimeoutError:
                pass
            started = time.monotonic()
            run = asyncio.create_task(self.run_once(job), name=f"run:{job.name}")
            self._inflight.add(run)
            try:
                # Shielded so that stop() can let the run finish instead of cancelling it mid-way.
                await asyncio.shield(run)
            except asyncio.CancelledError:
                if not run.done():
                    run.cancel()
                raise
            finally:
                self._inflight.discard(run)
            spent = time.monotonic() - started
            delay = max(0.0, job.interval - spent) + self._rng.uniform(0, job.interval * job.jitter)

    async def run_once(self, job: Job) -> bool:
        """Run a job now under its timeout and record the outcome; returns True on success.

        A singleton job whose lock another process holds is skipped (counted, not recorded as run).
        """
        if job.singleton and not self.db.is_sqlite:
            lock = await asyncio.to_thread(self._try_lock, job.name)
            if lock is None:
                self.metrics.skipped.labels(job.name).inc()
                return True
            try:
                return await self._run_unlocked(job)
            finally:
                await asyncio.shield(asyncio.to_thread(self._unlock, lock, job.name))
        return await self._run_unlocked(job)

    def _try_lock(self, name: str) -> Connection | None:
        conn = self.db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)}).scalar()
        conn.commit()
        if got:
            return conn
        conn.close()
        return None

    def _unlock(self, conn: Connection, name: str) -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
            conn.commit()
        finally:
            conn.close()

    async def _run_unlocked(self, job: Job) -> bool:
        job.running = True
        started_at = utcnow()
        t0 = time.monotonic()
        error: str | None = None
        await asyncio.to_thread(self._record_start, job.name, started_at)
        try:
            await asyncio.wait_for(job.func(), timeout=job.timeout)
        except TimeoutError:
            error = f"timed out after {job.timeout:g} s"
        except asyncio.CancelledError:
            error = "cancelled at shutdown"
            raise
        except Exception as exc:  # one failing job must never stop the others
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s failed", job.name)
        finally:
            job.running = False
            duration = time.monotonic() - t0
            self.metrics.duration.labels(job.name).observe(duration)
            if error is None:
                self.metrics.runs.labels(job.name).inc()
                self.metrics.last_success.labels(job.name).set(time.time())
            else:
                self.metrics.failures.labels(job.name).inc()
                if error != "cancelled at shutdown":
                    log.warning("job %s: %s", job.name, error)
            await asyncio.shield(asyncio.to_thread(self._record_finish, job.name, duration, error))
        return error is None

    def _record_start(self, name: str, at: datetime) -> None:
        with self.db.write() as s:
            state = s.get(JobState, name)
            if state is None:
                state = JobState(name=name, runs=0, failures=0)
                s.add(state)
            state.last_started_at = at
            state.owner = self.owner

    def _record_finish(self, name: str, duration: float, error: str | None) -> None:
        with self.db.write() as s:
            state = s.get(JobState, name)
            if state is None:  # pragma: no cover - _record_start always ran first
                return
            state.last_finished_at = utcnow()
            state.last_duration = duration
            state.runs = (state.runs or 0) + 1
            if error is not None:
                state.failures = (state.failures or 0) + 1
                state.last_error = error
                state.last_error_at = utcnow()

    async def stop(self, grace: float = 30.0) -> None:
        """Stop scheduling; let running jobs finish for up to ``grace`` seconds, then cancel them."""
        self._stopping.set()
        if self._inflight:
            log.info("waiting for %d running job(s)", len(self._inflight))
            _done, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for run in pending:
                run.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._inflight, return_exceptions=True)
        self._tasks.clear()
        log.info("scheduler stopped")
