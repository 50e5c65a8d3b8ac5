"""Cross-process wake-up of the queue consumers: PostgreSQL LISTEN / NOTIFY (`kodeks_smart.ingest.listen`).

A "process" here is a separate `Database` (its own engine and connections) with its own `Wakeup`, so the
only path from an upload to it is the notification sent through the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import event, select, text

from kodeks_smart.app import create_app
from kodeks_smart.config import Settings
from kodeks_smart.ingest import consumer as consumer_module
from kodeks_smart.ingest import listen, queue
from kodeks_smart.ingest.consumer import Consumer, Wakeup, drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.listen import QueueListener
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.ingest.service import release_quarantine
from kodeks_smart.ingest.telemetry import IngestMetrics
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Cabinet
from tests.conftest import Tenants, _truncate_all
from tests.ingest.conftest import DEALER, Agent, status_body

WAIT = 20.0  # seconds; only a bound for "never happened", the wake-ups themselves take milliseconds


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    """These tests are PostgreSQL's only: the shared fixtures (services, tenants, agent) run on it."""
    database = Database(pg_url)
    yield database
    database.dispose()
    _truncate_all(pg_url)


async def _connected(listener: QueueListener, wakeup: Wakeup) -> None:
    await listener.start()
    await asyncio.wait_for(listener.connected.wait(), WAIT)
    assert await wakeup.wait(WAIT), "a (re)connected listener wakes its consumer once"
    wakeup.clear()


T = TypeVar("T")


def _listening(
    url: str,
    body: Callable[[QueueListener, Wakeup], Awaitable[T]],
    gauge: Gauge | None = None,
    wakeup: Callable[[Database], Wakeup] = lambda db: Wakeup(),
) -> T:
    """Run ``body`` while "another process" (a `Database` of its own on ``url``) listens, connected and
    its first wake-up consumed; the listener is stopped and that process's connections closed after."""
    other = Database(url)

    async def scenario() -> T:
        woken = wakeup(other)
        listener = QueueListener(other, woken, gauge)
        await _connected(listener, woken)
        try:
            return await body(listener, woken)
        finally:
            await listener.stop()

    try:
        return asyncio.run(scenario())
    finally:
        other.dispose()


@pytest.mark.postgres
def test_an_upload_in_another_process_wakes_the_listening_consumer(agent: Agent, pg_url: str) -> None:
    async def body(listener: QueueListener, wakeup: Wakeup) -> tuple[bool, bool]:
        idle = await wakeup.wait(0.3)
        response = await asyncio.to_thread(agent.upload, "alpha_client.status", status_body())
        assert response.status_code == 200, response.text
        return idle, await wakeup.wait(WAIT)

    assert _listening(pg_url, body) == (False, True)


@pytest.mark.postgres
def test_only_a_committed_transaction_wakes_the_consumers(db: Database, pg_url: str) -> None:
    async def body(listener: QueueListener, wakeup: Wakeup) -> tuple[bool, bool]:
        with db.session() as s:
            queue.notify_queued(s)
            s.rollback()
        after_rollback = await wakeup.wait(0.5)
        with db.write() as s:
            queue.notify_queued(s)
        return after_rollback, await wakeup.wait(WAIT)

    assert _listening(pg_url, body) == (False, True)


def _listening_pids(db: Database) -> list[int]:
    with db.session() as s:
        return list(
            s.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = :q"),
                {"q": f"LISTEN {queue.CHANNEL}"},
            )
        )


@pytest.mark.postgres
def test_the_listener_reconnects_when_its_connection_is_killed(
    db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(listen, "RETRY_FIRST", 0.05)
    registry = CollectorRegistry()
    gauge = IngestMetrics(registry).listening

    def listening() -> float | None:
        return registry.get_sample_value("smart_ingest_notifications_listening")

    async def body(listener: QueueListener, wakeup: Wakeup) -> bool:
        assert listening() == 1
        (first,) = await asyncio.to_thread(_listening_pids, db)
        with db.session() as s:
            s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # Reconnected: a new backend listens and the consumer was woken for what it may have missed.
        assert await wakeup.wait(WAIT)
        await asyncio.wait_for(listener.connected.wait(), WAIT)
        second = await asyncio.to_thread(_listening_pids, db)
        assert len(second) == 1 and second[0] != first
        wakeup.clear()
        with db.write() as s:
            queue.notify_queued(s)
        return await wakeup.wait(WAIT)

    caplog.set_level(logging.WARNING, logger="kodeks_smart.ingest.listen")
    assert listening() == 0
    assert _listening(pg_url, body, gauge)
    assert listening() == 0
    assert "ingest queue notifications unavailable" in caplog.text
    assert _listening_pids(db) == [], "a stopped listener closes its connection"


@pytest.mark.postgres
def test_a_waiting_consumer_of_another_process_processes_the_upload_at_once(
    agent: Agent, services: Services, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer would sleep for two minutes between polls: only the notification can wake it."""
    monkeypatch.setattr(consumer_module, "IDLE_WAIT", 120.0)
    dbs: list[Database] = []

    def worker_wakeup(db: Database) -> Wakeup:
        dbs.append(db)
        return consumer_module.wakeup_for(db)  # the wakeup that db's consumer waits on

    async def body(listener: QueueListener, wakeup: Wakeup) -> str | None:
        (worker_db,) = dbs
        worker = Services(
            settings=services.settings, db=worker_db, box=services.box, hashing=services.hashing
        )
        running = asyncio.create_task(Consumer(IngestContext.from_services(worker)).run(budget=300))
        try:
            await asyncio.sleep(0.5)  # the consumer found nothing and waits
            response = await asyncio.to_thread(agent.upload, "alpha_client.status", status_body())
            assert response.status_code == 200, response.text
            deadline = asyncio.get_running_loop().time() + WAIT
            while asyncio.get_running_loop().time() < deadline:
                with worker_db.session() as s:
                    status = s.scalar(select(Upload.status).where(Upload.client_name == "alpha_client"))
                if status == "done":
                    break
                await asyncio.sleep(0.05)
            return status
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    assert _listening(pg_url, body, wakeup=worker_wakeup) == "done"


@pytest.mark.postgres
def test_processes_that_run_a_consumer_listen(services: Services, tmp_path: Path) -> None:
    with_scheduler = Settings.from_values(
        {
            "database_url": services.db.url,
            "data_dir": str(tmp_path / "data"),
            "secret_key_file": str(tmp_path / "secret.key"),
            "probes": False,
        }
    )

    def listener(role: Literal["all", "api", "worker"]) -> QueueListener | None:
        # A Services of its own per app: each app's scheduler registers its metrics in the registry.
        running = Services(
            settings=with_scheduler, db=services.db, box=services.box, hashing=services.hashing
        )
        found: QueueListener | None = create_app(running, role=role).state.queue_listener
        return found

    assert isinstance(listener("worker"), QueueListener)
    assert isinstance(listener("all"), QueueListener)
    assert listener("api") is None
    assert create_app(services, role="all").state.queue_listener is None  # the scheduler is off


def test_sqlite_needs_no_notifications(tmp_path: Path) -> None:
    sqlite = Database(f"sqlite:///{tmp_path / 'one.db'}")
    statements: list[str] = []
    event.listen(sqlite.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with pytest.raises(ValueError):
            QueueListener(sqlite, Wakeup())
        with sqlite.session() as s:
            queue.notify_queued(s)
            s.execute(text("SELECT 1"))
        assert [sql for sql in statements if sql != "BEGIN"] == ["SELECT 1"]
    finally:
        sqlite.dispose()


@pytest.mark.postgres
def test_reprocessing_and_a_released_quarantine_wake_the_consumers_too(
    agent: Agent, ctx: IngestContext, tenants: Tenants, pg_url: str
) -> None:
    agent.upload("alpha_client.status", status_body())
    drain(ctx)
    agent.upload("newcomer.status", status_body())  # unknown client: quarantined

    async def body(listener: QueueListener, wakeup: Wakeup) -> list[bool]:
        assert await asyncio.to_thread(enqueue_reprocess, ctx, dealer_code=DEALER) == 1
        woken = [await wakeup.wait(WAIT)]
        wakeup.clear()
        with ctx.db.write() as s:
            cabinet = s.get(Cabinet, tenants.cabinet_b)
            assert cabinet is not None
            admin.add_client(s, cabinet, "newcomer")
        assert len(await asyncio.to_thread(release_quarantine, ctx.db)) == 1
        return [*woken, await wakeup.wait(WAIT)]

    assert _listening(pg_url, body) == [True, True]
