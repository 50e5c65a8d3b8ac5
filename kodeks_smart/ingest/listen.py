"""Wake the queue consumers of every process when an upload is queued (PostgreSQL LISTEN / NOTIFY).

An upload wakes the consumer of its own process directly (`consumer.wakeup_for`). With several processes
(`smart serve --role api` in front, `--role worker` behind, docs/deployment.md) the worker would otherwise
find a new upload only when it polls, up to about a second later. On PostgreSQL the transaction that
queues uploads also sends a notification on `queue.CHANNEL` (`queue.notify_queued`; delivered at commit,
so never for a row another process cannot see yet), and every process that runs a consumer keeps one
connection listening (`QueueListener`) that wakes it. The notification carries nothing: the queue table
stays the only source of work, so a lost notification (listener reconnecting, server restart) only costs
the poll's delay. SQLite serves one process and needs none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from prometheus_client import Gauge

from kodeks_smart.ingest.consumer import Wakeup
from kodeks_smart.ingest.queue import CHANNEL
from kodeks_smart.store.db import Database

log = logging.getLogger(__name__)

RETRY_FIRST = 1.0
RETRY_MAX = 30.0


class QueueListener:
    """One LISTEN connection per process, as an asyncio task: each notification wakes ``wakeup``.

    The connection uses the parameters of the store's engine but not its pool (it is held for the life of
    the process). When it fails the listener logs a warning and reconnects after 1, 2, 4 … 30 seconds;
    after every (re)connection it wakes the consumer once, for whatever was queued while nobody listened.
    """

    def __init__(self, db: Database, wakeup: Wakeup, listening: Gauge | None = None) -> None:
        if db.is_sqlite:
            raise ValueError("LISTEN/NOTIFY needs PostgreSQL")
        self.db = db
        self.wakeup = wakeup
        self.connected = asyncio.Event()
        #: 1 while listening, else 0 (``smart_ingest_notifications_listening``)
        self.listening = listening
        self._task: asyncio.Task[None] | None = None

    def _connect_args(self) -> dict[str, Any]:
        args, params = self.db.engine.dialect.create_connect_args(self.db.engine.url)
        if args:  # pragma: no cover - the psycopg dialect passes keywords only
            raise ValueError("unexpected positional connection arguments")
        return dict(params)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest-listen")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        import psycopg

        delay = RETRY_FIRST
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(**self._connect_args(), autocommit=True)
                try:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if self.listening is not None:
                        self.listening.set(1)
                    delay = RETRY_FIRST
                    self.wakeup.notify()
                    async for _ in conn.notifies():
                        self.wakeup.notify()
                finally:
                    self.connected.clear()
                    if self.listening is not None:
                        self.listening.set(0)
                    await conn.close()
            except (psycopg.Error, OSError) as exc:
                log.warning("ingest queue notifications unavailable, retrying in %.0f s: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
