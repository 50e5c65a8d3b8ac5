"""The durable queue: exclusive claims on SQLite and PostgreSQL, leases, dead processes, poison files."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from kodeks_smart.ingest import queue
from kodeks_smart.ingest.consumer import drain, process_available
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.process import process_claim
from kodeks_smart.store.ingest_models import CatalogHealthFact, IngestTask, Upload
from kodeks_smart.store.types import utcnow
from tests.ingest.conftest import Agent, status_body


def _status(ctx: IngestContext, upload_id: int = 1) -> tuple[str, int]:
    with ctx.db.session() as s:
        upload = s.get(Upload, upload_id)
        assert upload is not None
        return upload.status, upload.processed_count


def test_a_claimed_row_is_not_handed_out_again_until_its_lease_runs_out(
    agent: Agent, ctx: IngestContext
) -> None:
    agent.upload("alpha_client.status", status_body())
    first = queue.claim_next(ctx.db, "host:1:a")
    assert first is not None and first.attempts == 1
    assert queue.claim_next(ctx.db, "host:2:b") is None
    later = utcnow() + queue.LEASE + timedelta(seconds=1)
    second = queue.claim_next(ctx.db, "host:2:b", now=later)
    assert second is not None and second.task_id == first.task_id and second.attempts == 2
    # The first consumer wakes up late: its claim is gone, so it writes nothing.
    assert process_claim(ctx, first) == "lost"
    assert _status(ctx) == ("queued", 0)
    assert process_claim(ctx, second) == "done"
    assert _status(ctx) == ("done", 1)


def test_consumers_in_parallel_process_every_upload_exactly_once(agent: Agent, ctx: IngestContext) -> None:
    for i in range(40):
        agent.upload("alpha_client.status", status_body(sessions=i))
    done: list[int] = []
    errors: list[BaseException] = []

    def consume(owner: str) -> None:
        try:
            done.append(process_available(ctx, owner, max_items=1000))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(f"test:{i}:x",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(done) == 40
    with ctx.db.session() as s:
        counts = list(s.scalars(select(Upload.processed_count)))
        assert counts == [1] * 40
        assert s.scalar(select(func.count()).select_from(IngestTask)) == 0
        assert s.scalar(select(func.count()).select_from(CatalogHealthFact)) == 80


def test_claims_of_a_process_that_died_are_released_at_once(agent: Agent, ctx: IngestContext) -> None:
    import socket

    agent.upload("alpha_client.status", status_body())
    dead_pid = 2**22 + 12345  # above the kernel's pid limit: never a live process
    claim = queue.claim_next(ctx.db, f"{socket.gethostname()}:{dead_pid}:gone")
    assert claim is not None
    assert queue.release_dead_claims(ctx.db) == 1
    assert drain(ctx) == 1
    assert _status(ctx) == ("done", 1)


def test_claims_of_live_processes_are_left_alone(agent: Agent, ctx: IngestContext) -> None:
    import os
    import socket

    agent.upload("alpha_client.status", status_body())
    assert queue.claim_next(ctx.db, f"{socket.gethostname()}:{os.getpid()}:alive") is not None
    assert queue.release_dead_claims(ctx.db) == 0
    assert drain(ctx) == 0


def test_a_file_that_keeps_killing_its_consumer_is_given_up(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.status", status_body())
    with ctx.db.write() as s:
        s.execute(update(IngestTask).values(attempts=queue.MAX_ATTEMPTS))
    assert drain(ctx) == 1
    with ctx.db.session() as s:
        upload = s.get(Upload, 1)
        assert upload is not None and (upload.status, upload.error_code) == ("failed", "crashed")
        assert upload.error is not None and "прерывалась" in upload.error


def test_a_missing_raw_file_is_a_visible_error(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.status", status_body())
    with ctx.db.session() as s:
        upload = s.get(Upload, 1)
        assert upload is not None and upload.raw_path is not None
        (ctx.data_dir / upload.raw_path).unlink()
    drain(ctx)
    with ctx.db.session() as s:
        upload = s.get(Upload, 1)
        assert upload is not None and (upload.status, upload.error_code) == ("failed", "raw-missing")
