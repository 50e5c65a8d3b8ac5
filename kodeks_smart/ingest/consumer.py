"""The queue consumer: a scheduled job that drains the queue and is woken right after an upload.

The job runs every second. One run:
1. frees rows claimed by exited processes of this host (once a minute);
2. processes queued uploads one after the other (claim, parse, write, in `process`) until none is left;
3. waits up to a second for an upload in this process to wake it, and goes back to 2 if one did;
4. returns after about five seconds, so that the scheduler records the run and a graceful stop waits
   at most for the upload in progress.
Several consumers (processes, or threads of one) may run at once: claims are exclusive.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable

from kodeks_smart.ingest import queue
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.process import claim_and_load, process_claim
from kodeks_smart.ingest.telemetry import IngestMetrics
from kodeks_smart.lib.aio import set_event_threadsafe
from kodeks_smart.store.db import Database

log = logging.getLogger(__name__)

RUN_BUDGET = 5.0
IDLE_WAIT = 1.0
DEAD_CLAIM_CHECK = 60.0


class Wakeup:
    """An asyncio event that can be set from any thread and survives being used from several loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._pending = False

    def _current(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is not loop or self._event is None:
                self._loop = loop
                self._event = asyncio.Event()
                if self._pending:
                    self._event.set()
            return self._event

    def notify(self) -> None:
        """Wake the waiting consumer (if any); safe from any thread."""
        with self._lock:
            self._pending = True
            loop, event = self._loop, self._event
        set_event_threadsafe(loop, event)

    def clear(self) -> None:
        event = self._current()
        with self._lock:
            self._pending = False
        event.clear()

    async def wait(self, timeout: float) -> bool:
        """True if woken, False on timeout."""
        event = self._current()
        try:
            await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))
        except TimeoutError:
            return False
        return True


_WAKEUPS: weakref.WeakKeyDictionary[Database, Wakeup] = weakref.WeakKeyDictionary()
_WAKEUPS_LOCK = threading.Lock()


def wakeup_for(db: Database) -> Wakeup:
    """The wakeup shared by the upload route and the consumer of the process that owns ``db``."""
    with _WAKEUPS_LOCK:
        wakeup = _WAKEUPS.get(db)
        if wakeup is None:
            wakeup = _WAKEUPS[db] = Wakeup()
        return wakeup


def process_available(
    ctx: IngestContext,
    owner: str,
    max_items: int = 100,
    observe: Callable[[str, float], None] | None = None,
) -> int:
    """Claim and process queued uploads until none is available or ``max_items`` are done. ``observe``
    gets each one's outcome and seconds from its claim to its end (the process's metrics)."""
    done = 0
    while done < max_items:
        started = time.perf_counter()
        claimed = claim_and_load(ctx, owner)
        if claimed is None:
            break
        outcome = process_claim(ctx, *claimed)
        if observe is not None:
            observe(outcome, time.perf_counter() - started)
        done += 1
    return done


def drain(ctx: IngestContext, owner: str | None = None) -> int:
    """Process everything queued now, synchronously (the CLI and tests); returns how many were processed."""
    owner = owner or queue.consumer_identity()
    total = 0
    while True:
        n = process_available(ctx, owner)
        total += n
        if n == 0:
            return total


class Consumer:
    """State of one process's consumer job."""

    def __init__(self, ctx: IngestContext, metrics: IngestMetrics | None = None) -> None:
        self.ctx = ctx
        self.observe = metrics.observe if metrics is not None else None
        self.owner = queue.consumer_identity()
        self.wakeup = wakeup_for(ctx.db)
        self._last_dead_check = float("-inf")

    async def run(self, budget: float = RUN_BUDGET) -> None:
        end = time.monotonic() + budget
        if time.monotonic() - self._last_dead_check > DEAD_CLAIM_CHECK:
            self._last_dead_check = time.monotonic()
            await asyncio.to_thread(queue.release_dead_claims, self.ctx.db)
        while True:
            self.wakeup.clear()
            processed = await asyncio.to_thread(process_available, self.ctx, self.owner, 20, self.observe)
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if processed:
                continue
            if not await self.wakeup.wait(min(IDLE_WAIT, remaining)):
                return
