"""The probe runner: a long-running asyncio service that checks every target on its own schedule.

Scheduling:

1. every target has its interval (installations: ``Installation.probe_interval`` or SMART_PROBE_INTERVAL;
   online accesses SMART_PROBE_ONLINE_INTERVAL; pulls SMART_PROBE_SYSINFO_INTERVAL and
   SMART_PROBE_SYSMON_INTERVAL) and a fixed offset within it derived from its id, so 10,000 targets are
   spread evenly over the minute instead of firing together, and the spread survives a restart;
2. one dispatcher pops due jobs from a heap and starts each as its own task — it never waits for a
   check, so a slow target never delays another; the next run is due one interval after the previous
   due time (fixed rate, no drift); a target whose previous run is still going skips the cycle (counted
   as missed) instead of piling up;
3. a task waits for its host's slot (SMART_PROBE_HOST_CONCURRENCY: many installations behind one cloud
   host are not hammered), then for a global slot (SMART_PROBE_CONCURRENCY), and records the lag between
   due time and start;
4. results go to the `ResultWriter`; a status change wakes the flush loop at once, everything else is
   written in batches (see `kodeks_smart.probes.writer`);
5. targets are re-read from the store every `RELOAD_SECONDS`: new ones are scheduled, removed ones
   forgotten (their current states deleted).

`stop()` lets running checks finish (a logout of the test user always completes), then writes what is left.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import logging
import math
import resource
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.exc import SQLAlchemyError

from kodeks_smart.cluster import Membership, stale_states, still_targets
from kodeks_smart.config import Settings
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.errors import IngestError
from kodeks_smart.probes import pull
from kodeks_smart.probes.http import ssl_context
from kodeks_smart.probes.icmp import Pinger, Resolver
from kodeks_smart.probes.installation import ProbeContext, probe_installation
from kodeks_smart.probes.model import InstallationTarget, OnlineTarget, fail
from kodeks_smart.probes.online import check_online
from kodeks_smart.probes.targets import Owner, SecretCache, Shard, Targets, load_targets
from kodeks_smart.probes.writer import ResultWriter
from kodeks_smart.runtime import Services
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

RELOAD_SECONDS = 60.0
FLUSH_SECONDS = 2.0
TICK = 0.25
TOUCH_SCAN_SECONDS = 30.0
PREF_MAX_AGE = 86_400.0
LAG_SAMPLES = 200_000
KINDS = ("inst", "online", "sysinfo", "sysmon")
_SALT = {"inst": 0, "online": 0x5BD1E995, "sysinfo": 0x27D4EB2F, "sysmon": 0x165667B1}


@dataclass(frozen=True)
class RunnerConfig:
    interval: float = 60.0
    timeout: float = 10.0
    icmp_timeout: float = 2.0
    concurrency: int = 500
    host_concurrency: int = 50
    shard: Shard = field(default_factory=Shard)
    tls_verify: bool = False
    online_interval: float = 3600.0
    pull: bool = True
    sysinfo_interval: float = 3600.0
    sysmon_interval: float = 900.0
    pull_concurrency: int = 4
    window_minutes: int = 60
    latency_window: float = 900.0
    reload_seconds: float = RELOAD_SECONDS
    #: Seconds between two heartbeats of this worker (dynamic sharding, see `kodeks_smart.cluster`).
    heartbeat: float = 10.0
    flush_seconds: float = FLUSH_SECONDS
    #: Due times lie on a grid of this step: targets due together start in one burst (see `_grid`).
    tick: float = TICK

    @classmethod
    def from_settings(cls, settings: Settings) -> RunnerConfig:
        return cls(
            interval=settings.probe_interval,
            timeout=settings.probe_timeout,
            concurrency=settings.probe_concurrency,
            host_concurrency=settings.probe_host_concurrency,
            shard=Shard.parse(settings.probe_shard),
            tls_verify=settings.probe_tls_verify,
            online_interval=settings.probe_online_interval,
            pull=settings.probe_pull,
            sysinfo_interval=settings.probe_sysinfo_interval,
            sysmon_interval=settings.probe_sysmon_interval,
            window_minutes=settings.probe_pull_window_minutes,
            latency_window=settings.probe_latency_window,
            heartbeat=settings.worker_heartbeat,
        )


class ProbeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.targets = Gauge(
            "smart_probe_targets", "Targets this process probes", ["kind"], registry=registry
        )
        self.cycles = Counter("smart_probe_cycles", "Completed probe cycles", ["kind"], registry=registry)
        self.missed = Counter(
            "smart_probe_missed_cycles",
            "Cycles skipped because the target's previous cycle was still running or the runner fell behind",
            ["kind"],
            registry=registry,
        )
        self.timeouts = Counter(
            "smart_probe_cycle_timeouts", "Cycles cut off by the cycle timeout", ["kind"], registry=registry
        )
        self.lag = Histogram(
            "smart_probe_lag_seconds",
            "Delay between a probe's due time and its start",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.results = Counter(
            "smart_probe_results", "Check results by check and status", ["check", "status"], registry=registry
        )
        self.inflight = Gauge("smart_probe_inflight", "Probe cycles running now", registry=registry)
        self.writes = Counter("smart_probe_writes", "Batches written to the store", registry=registry)
        self.write_failures = Counter(
            "smart_probe_write_failures", "Batches that could not be written (retried)", registry=registry
        )
        self._result_children: dict[tuple[str, str], Any] = {}

    @classmethod
    def of(cls, registry: CollectorRegistry) -> ProbeMetrics:
        """The probe metrics of ``registry``, created once (a restarted runner keeps counting in them)."""
        metrics = _METRICS.get(registry)
        if metrics is None:
            metrics = _METRICS[registry] = cls(registry)
        return metrics

    def result(self, check: str, status: str) -> None:
        child = self._result_children.get((check, status))
        if child is None:
            child = self._result_children[(check, status)] = self.results.labels(check, status)
        child.inc()


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, ProbeMetrics] = weakref.WeakKeyDictionary()


@dataclass
class RunnerStats:
    """Counters for the benchmark and `smart probe` (exact lags, unlike the histogram)."""

    cycles: collections.Counter[str] = field(default_factory=collections.Counter)
    missed: collections.Counter[str] = field(default_factory=collections.Counter)
    timeouts: collections.Counter[str] = field(default_factory=collections.Counter)
    checks: int = 0
    lags: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=LAG_SAMPLES))
    #: Completed cycles per (kind, target id).
    completed: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    inflight: int = 0
    peak_inflight: int = 0


def spread(kind: str, ident: int) -> float:
    """A stable fraction in [0, 1) for a target: its offset within the interval."""
    return (((ident * 0x9E3779B1) ^ _SALT[kind]) & 0xFFFFFFFF) / 2**32


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class ProbeRunner:
    def __init__(
        self,
        services: Services,
        config: RunnerConfig | None = None,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] = utcnow,
        membership: Membership | None = None,
    ) -> None:
        self.services = services
        #: Dynamic sharding: the live workers decide which targets are ours (else the static shard).
        self.membership = membership
        self._reloading = asyncio.Lock()
        self.config = config or RunnerConfig.from_settings(services.settings)
        self.metrics = ProbeMetrics.of(registry if registry is not None else services.registry)
        self.clock = clock
        self.writer = ResultWriter(services.db, latency_window=self.config.latency_window)
        self.stats = RunnerStats()
        self.targets = Targets()
        self._secrets = SecretCache(services.box)
        self._heap: list[tuple[float, int, str, int]] = []
        self._next_due: dict[tuple[str, int], float] = {}
        self._seq = 0
        self._running: set[tuple[str, int]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._host_users: collections.Counter[str] = collections.Counter()
        self._prefs_read: dict[int, float] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._flush_wake = asyncio.Event()
        self._global: asyncio.Semaphore | None = None
        self._pulls: asyncio.Semaphore | None = None
        self._ctx: ProbeContext | None = None
        self._http: httpx.AsyncClient | None = None
        self._last_touch_scan = 0.0
        self.started = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the targets and stored states, then start the dispatcher, reload and flush loops."""
        c = self.config
        raise_fd_limit(max(4096, 4 * c.concurrency + 512))
        tls = ssl_context(c.tls_verify)
        self._ctx = ProbeContext(Pinger(), Resolver(), c.timeout, c.icmp_timeout, tls)
        self._http = httpx.AsyncClient(verify=tls, trust_env=False, timeout=c.timeout)
        self._global = asyncio.Semaphore(c.concurrency)
        self._pulls = asyncio.Semaphore(c.pull_concurrency)
        self._stopping.clear()
        if self.membership is not None:
            await asyncio.to_thread(self.membership.join)
        targets = await asyncio.to_thread(self._load)
        if self.membership is None:
            stale = await asyncio.to_thread(
                self.writer.load, targets.installations, targets.online, c.shard.owns
            )
        else:
            await asyncio.to_thread(
                self.writer.load, targets.installations, targets.online, lambda _ident: False
            )
            stale = await asyncio.to_thread(self._stale_states)
        self._apply_targets(targets)
        self.writer.forget(*stale)
        self._loops = [
            asyncio.create_task(self._dispatch(), name="probes:dispatch"),
            asyncio.create_task(self._reload_loop(), name="probes:reload"),
            asyncio.create_task(self._flush_loop(), name="probes:flush"),
        ]
        if self.membership is not None:
            self._loops.append(asyncio.create_task(self._membership_loop(), name="probes:membership"))
        self.started = True
        log.info(
            "probes started",
            extra={"installations": len(targets.installations), "online": len(targets.online)},
        )

    async def stop(self, grace: float = 30.0) -> None:
        """Stop scheduling, let running checks finish for up to ``grace`` seconds, write the rest."""
        if not self.started:
            return
        self._stopping.set()
        self._wake.set()
        self._flush_wake.set()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for loop_task in self._loops:
            if loop_task.get_name() != "probes:flush":
                loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.flush()
        if self.membership is not None:
            try:
                await asyncio.to_thread(self.membership.leave)
            except Exception:  # the others take over after the TTL instead
                log.exception("could not leave the workers")
        if self._ctx is not None:
            self._ctx.pinger.close()
        if self._http is not None:
            await self._http.aclose()
        self.started = False
        log.info("probes stopped")

    # -- targets ---------------------------------------------------------------------------------

    def _load(self) -> Targets:
        c = self.config
        owner: Owner = self.membership.view if self.membership is not None else c.shard
        with self.services.db.session() as s:
            return load_targets(
                s, self._secrets, shard=owner, interval=c.interval, online_interval=c.online_interval
            )

    def _stale_states(self) -> tuple[set[int], set[int]]:
        assert self.membership is not None
        with self.services.db.session() as s:
            return stale_states(s, self.membership.view)

    def _handover(self, new: Targets) -> tuple[tuple[set[int], set[int]], ResultWriter]:
        """Dynamic sharding (worker thread): which lost targets moved to another worker (their stored
        states stay), and the stored states of the targets taken over."""
        old = self.targets
        with self.services.db.session() as s:
            moved = still_targets(
                s, set(old.installations) - set(new.installations), set(old.online) - set(new.online)
            )
        adopted = ResultWriter(self.services.db, latency_window=self.config.latency_window)
        gained_inst = set(new.installations) - set(old.installations)
        gained_online = set(new.online) - set(old.online)
        if gained_inst or gained_online:
            adopted.load(gained_inst, gained_online, lambda _ident: False)
        return moved, adopted

    async def _refresh_targets(self) -> None:
        """Re-read the targets; with dynamic sharding hand over the states of targets that moved."""
        async with self._reloading:
            new = await asyncio.to_thread(self._load)
            if self.membership is None:
                self._apply_targets(new)
                return
            moved, adopted = await asyncio.to_thread(self._handover, new)
            for key, entry in adopted.current.items():
                self.writer.current.setdefault(key, entry)
            for ident, states in adopted.open_states.items():
                self.writer.open_states.setdefault(ident, states)
            self._apply_targets(new, moved)

    async def _membership_loop(self) -> None:
        """Heartbeat; when the set of live workers changes, re-read the targets at once."""
        assert self.membership is not None
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self.config.heartbeat)
                return
            except TimeoutError:
                pass
            try:
                before = self.membership.view.members
                view = await asyncio.to_thread(self.membership.beat)
                if view.members != before:
                    await self._refresh_targets()
            except Exception:  # the store is unavailable: keep the current share and try again
                log.exception("worker heartbeat failed")

    def _jobs(self, inst: InstallationTarget) -> set[str]:
        """The kinds of job an installation has: its cycle, and its pulls where they apply."""
        kinds = {"inst"}
        if self.config.pull and inst.pull:
            kinds.add("sysinfo")
            if inst.has_credentials:
                kinds.add("sysmon")
        return kinds

    def _apply_targets(self, new: Targets, moved: tuple[set[int], set[int]] = (set(), set())) -> None:
        """Schedule new targets, drop removed ones; ``moved`` (dynamic sharding): installations and online
        accesses now probed by another worker, whose stored states must stay."""
        old = self.targets
        removed_inst = old.installations.keys() - new.installations.keys()
        removed_online = old.online.keys() - new.online.keys()
        for ident, target in new.installations.items():
            previous = old.installations.get(ident)
            if previous is not None and ident in self._prefs_read:
                # Times read from /admin/pref win over the stored ones until the next reading.
                target.backup_time, target.restart_time = previous.backup_time, previous.restart_time
        self.targets = new
        loop_now = asyncio.get_running_loop().time()
        for ident, inst in new.installations.items():
            for kind in self._jobs(inst):
                interval = self._interval(kind, ident)
                if (kind, ident) not in self._next_due and interval is not None:
                    self._schedule(kind, ident, loop_now + spread(kind, ident) * interval)
        for ident, online in new.online.items():
            if ("online", ident) not in self._next_due:
                self._schedule("online", ident, loop_now + spread("online", ident) * online.interval)
        for ident in removed_inst:
            for kind in ("inst", "sysinfo", "sysmon"):
                self._next_due.pop((kind, ident), None)
            self._prefs_read.pop(ident, None)
        for ident in removed_online:
            self._next_due.pop(("online", ident), None)
        moved_inst, moved_online = moved
        for key in [
            k
            for k in self.writer.current
            if (k[0] == "inst" and k[1] in moved_inst) or (k[0] == "online" and k[1] in moved_online)
        ]:
            del self.writer.current[key]
        for ident in moved_inst:
            self.writer.open_states.pop(ident, None)
        self.writer.forget(removed_inst - moved_inst, removed_online - moved_online)
        for ident, reason in new.skipped.items():
            if ident not in old.skipped:
                log.warning("installation %s is not probed: %s", ident, reason)
        self.metrics.targets.labels("installation").set(len(new.installations))
        self.metrics.targets.labels("online").set(len(new.online))
        self._wake.set()

    async def _reload_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self.config.reload_seconds)
                return
            except TimeoutError:
                pass
            try:
                await self._refresh_targets()
            except Exception:  # a failed reload keeps the current targets
                log.exception("probe targets could not be reloaded")

    async def reload(self) -> None:
        """Re-read the targets now (tests, `smart probe`)."""
        await self._refresh_targets()

    # -- scheduling ------------------------------------------------------------------------------

    def _interval(self, kind: str, ident: int) -> float | None:
        if kind == "inst":
            inst = self.targets.installations.get(ident)
            return inst.interval if inst is not None else None
        if kind == "online":
            online = self.targets.online.get(ident)
            return online.interval if online is not None else None
        inst = self.targets.installations.get(ident)
        if inst is None or kind not in self._jobs(inst):
            return None  # gone, or no longer pulled (flag or credentials changed)
        return self.config.sysinfo_interval if kind == "sysinfo" else self.config.sysmon_interval

    def _grid(self, due: float) -> float:
        """``due`` rounded up to the tick grid.

        Starting the few targets due within one tick together costs far less CPU than waking the event
        loop for each of them (measured: 0.5 ms instead of 1.5 ms per installation at 1,000 installations
        a minute); the spread over the interval stays even, at a granularity of one tick.
        """
        tick = self.config.tick
        return math.ceil(due / tick) * tick if tick > 0 else due

    def _schedule(self, kind: str, ident: int, due: float) -> None:
        due = self._grid(due)
        self._seq += 1
        self._next_due[(kind, ident)] = due
        heapq.heappush(self._heap, (due, self._seq, kind, ident))

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            now = loop.time()
            while self._heap and self._heap[0][0] <= now and not self._stopping.is_set():
                due, _seq, kind, ident = heapq.heappop(self._heap)
                key = (kind, ident)
                if self._next_due.get(key) != due:
                    continue  # superseded or removed
                interval = self._interval(kind, ident)
                if interval is None:
                    self._next_due.pop(key, None)
                    continue
                following = due + interval
                if following <= now:  # fell behind by a whole interval: skip instead of bursting
                    skipped = int((now - due) // interval)
                    self.stats.missed[kind] += skipped
                    self.metrics.missed.labels(kind).inc(skipped)
                    following = due + (skipped + 1) * interval
                self._schedule(kind, ident, following)
                if key in self._running:
                    self.stats.missed[kind] += 1
                    self.metrics.missed.labels(kind).inc()
                    continue
                self._start(kind, ident, due)
            delay = self._heap[0][0] - now if self._heap else 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.0))

    def _start(self, kind: str, ident: int, due: float) -> None:
        key = (kind, ident)
        self._running.add(key)
        if kind == "inst":
            coro = self._run_installation(self.targets.installations[ident], due)
        elif kind == "online":
            coro = self._run_online(self.targets.online[ident], due)
        else:
            coro = self._run_pull(kind, self.targets.installations[ident], due)
        task = asyncio.create_task(coro, name=f"probe:{kind}:{ident}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._running.discard(key)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("probe %s:%s crashed", kind, ident, exc_info=finished.exception())

        task.add_done_callback(done)

    def _host(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.config.host_concurrency)
        return sem

    def _observe_lag(self, due: float) -> None:
        lag = max(asyncio.get_running_loop().time() - due, 0.0)
        self.stats.lags.append(lag)
        self.metrics.lag.observe(lag)

    # -- the jobs --------------------------------------------------------------------------------

    async def _run_installation(self, target: InstallationTarget, due: float) -> None:
        assert self._ctx is not None and self._global is not None
        host = target.endpoint.host
        self._host_users[host] += 1
        try:
            async with self._host(host), self._global:
                self._observe_lag(due)
                self.metrics.inflight.inc()
                self.stats.inflight += 1
                self.stats.peak_inflight = max(self.stats.peak_inflight, self.stats.inflight)
                try:
                    report = await asyncio.wait_for(
                        probe_installation(target, self._ctx), timeout=self.config.timeout * 8 + 5
                    )
                except TimeoutError:
                    self.stats.timeouts["inst"] += 1
                    self.metrics.timeouts.labels("inst").inc()
                    log.warning("probe cycle of installation %s timed out", target.id)
                    return
                finally:
                    self.metrics.inflight.dec()
                    self.stats.inflight -= 1
        finally:
            self._release_host(host)
        if target.id not in self.targets.installations:
            return  # removed while it was being probed: its states are gone, do not write them back
        at = self.clock()
        if self.writer.record_installation(target, report, at):
            self._flush_wake.set()
        self.stats.cycles["inst"] += 1
        self.stats.completed[("inst", target.id)] += 1
        self.stats.checks += len(report.results)
        self.metrics.cycles.labels("inst").inc()
        for result in report.results.values():
            self.metrics.result(result.check.value, result.status.value)

    def _release_host(self, host: str) -> None:
        self._host_users[host] -= 1
        if self._host_users[host] <= 0:
            del self._host_users[host]
            self._hosts.pop(host, None)

    async def _run_online(self, target: OnlineTarget, due: float) -> None:
        assert self._http is not None and self._global is not None
        host = target.host
        self._host_users[host] += 1
        try:
            async with self._host(host), self._global:
                self._observe_lag(due)
                report = await check_online(self._http, target, self.config.timeout)
        finally:
            self._release_host(host)
        if target.id not in self.targets.online:
            return
        at = self.clock()
        if self.writer.record_result("online", target, report.result, at):
            self._flush_wake.set()
        if report.read:
            self.writer.record_billing(target, report.billing, at)
            self._flush_wake.set()
        self.stats.cycles["online"] += 1
        self.stats.completed[("online", target.id)] += 1
        self.stats.checks += 1
        self.metrics.cycles.labels("online").inc()
        self.metrics.result(report.result.check.value, report.result.status.value)

    async def _run_pull(self, kind: str, target: InstallationTarget, due: float) -> None:
        assert self._pulls is not None and self._ctx is not None
        c = self.config
        tls = self._ctx.tls if self._ctx.tls is not None else False
        async with self._pulls:
            self._observe_lag(due)
            await self._refresh_prefs(target)
            ends = pull.window_end(target, self.clock(), c.window_minutes)
            if ends is not None:
                # Inside the backup/restart window: come back when it is over.
                loop_now = asyncio.get_running_loop().time()
                self._schedule(kind, target.id, loop_now + (ends - self.clock()).total_seconds())
                return
            fetch = pull.fetch_sysinfo if kind == "sysinfo" else pull.fetch_sysmon
            result, data = await fetch(target, tls, max(c.timeout, 120.0))
            if data is not None:
                fmt = "zip" if kind == "sysinfo" else "status"
                ctx = IngestContext.from_services(self.services)
                try:
                    await asyncio.to_thread(pull.hand_to_ingest, ctx, target, data, fmt)
                except IngestError as exc:
                    result = fail(result.check, exc.code, f"приём файла отклонён: {exc.message}")
                except (OSError, SQLAlchemyError) as exc:
                    log.exception("pulled %s of installation %s could not be stored", kind, target.id)
                    result = fail(result.check, type(exc).__name__, f"файл не сохранён: {exc}")
        if target.id not in self.targets.installations:
            return
        if self.writer.record_result("inst", target, result, self.clock()):
            self._flush_wake.set()
        self.stats.cycles[kind] += 1
        self.stats.completed[(kind, target.id)] += 1
        self.metrics.cycles.labels(kind).inc()

    async def _refresh_prefs(self, target: InstallationTarget) -> None:
        """Read /admin/pref once a day when the test user may; keep the configured times otherwise."""
        assert self._ctx is not None
        last = self._prefs_read.get(target.id)
        now = time.monotonic()
        if last is not None and now - last < PREF_MAX_AGE:
            return
        self._prefs_read[target.id] = now
        times = await pull.read_admin_pref(target, self._ctx.tls or False, self.config.timeout)
        if times is None:
            return
        backup, restart = times
        if (backup, restart) != (target.backup_time, target.restart_time):
            target.backup_time, target.restart_time = backup, restart
            self.writer.record_pref(target.id, backup, restart)

    # -- writing ---------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_wake.wait(), self.config.flush_seconds)
            self._flush_wake.clear()
            if self._stopping.is_set():
                return  # stop() writes the rest after the running checks
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued (and, every half minute, the rows due for a refresh)."""
        now = self.clock()
        loop_now = asyncio.get_running_loop().time()
        scan = loop_now - self._last_touch_scan >= TOUCH_SCAN_SECONDS or self._stopping.is_set()
        if scan:
            self._last_touch_scan = loop_now
        batch = self.writer.take(now, touch=scan)
        if not batch:
            return
        try:
            await asyncio.to_thread(self.writer.write, batch, now)
        except Exception:  # the store is unavailable: keep the batch and try again
            log.exception("probe results could not be written; retrying")
            self.writer.put_back(batch)
            self.metrics.write_failures.inc()
            if not self._stopping.is_set():
                await asyncio.sleep(self.config.flush_seconds)
            return
        self.metrics.writes.inc()

    # -- one-off runs ----------------------------------------------------------------------------

    def lag_quantiles(self, *qs: float) -> list[float]:
        values = sorted(self.stats.lags)
        if not values:
            return [0.0 for _ in qs]
        return [values[min(len(values) - 1, int(q * len(values)))] for q in qs]
