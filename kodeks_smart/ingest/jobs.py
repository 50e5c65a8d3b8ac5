"""The ingest pipeline's periodic jobs, added to the scheduler by `kodeks_smart.jobs.default_jobs`."""

from __future__ import annotations

import asyncio

from kodeks_smart.ingest.consumer import Consumer, wakeup_for
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.retention import run_retention
from kodeks_smart.ingest.service import release_quarantine
from kodeks_smart.ingest.telemetry import metrics_for
from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Job


def ingest_jobs(services: Services) -> list[Job]:
    ctx = IngestContext.from_services(services)
    consumer = Consumer(ctx, metrics_for(services.registry, services.db))

    async def ingest_queue() -> None:
        """Process queued uploads; woken at once by an upload in this process."""
        await consumer.run()

    async def ingest_quarantine() -> None:
        """Queue quarantined files whose client has been registered since."""
        released = await asyncio.to_thread(release_quarantine, ctx.db)
        if released:
            wakeup_for(ctx.db).notify()

    async def ingest_retention() -> None:
        """Remove samples, facts and raw files past their retention, in small batches."""
        await asyncio.to_thread(run_retention, ctx)

    return [
        Job("ingest-queue", ingest_queue, interval=1.0, timeout=600, run_at_start=True),
        Job("ingest-quarantine", ingest_quarantine, interval=30, timeout=300),
        Job("ingest-retention", ingest_retention, interval=3600, timeout=3300),
    ]
