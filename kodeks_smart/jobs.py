"""The periodic jobs of the embedded service. Later features (probes, evaluation, delivery,
retention) add theirs here."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import OperationalError

from kodeks_smart.alerts.sink import alert_jobs
from kodeks_smart.asrp.worker import asrp_jobs
from kodeks_smart.ingest.jobs import ingest_jobs
from kodeks_smart.notify.worker import notify_jobs
from kodeks_smart.probes.jobs import probe_jobs
from kodeks_smart.reports.schedule import report_jobs
from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Job
from kodeks_smart.store import partitions

log = logging.getLogger(__name__)


def _store_maintenance(services: Services) -> None:
    """Keep SQLite's query planner statistics fresh and its WAL file short."""
    db = services.db
    with db.engine.connect() as conn:
        if db.is_sqlite:
            try:
                conn.exec_driver_sql("PRAGMA optimize")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except OperationalError as exc:
                # A busy writer can hold a table lock; the next run (an hour later) catches up.
                log.info("store maintenance skipped: %s", exc)
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()


#: Jobs that at most one process of a deployment runs at a time (PostgreSQL advisory lock): retention of
#: several workers at once would only contend for the same rows. Delivery and the ingest queue are not
#: here: their claim queues with leases let several processes share the work and take over a dead one's.
SINGLETONS = frozenset({"ingest-retention", "probe-retention"})


def default_jobs(services: Services) -> list[Job]:
    async def store_maintenance() -> None:
        await asyncio.to_thread(_store_maintenance, services)

    async def partition_maintenance() -> None:
        await asyncio.to_thread(partitions.maintain, services.db, services.settings.retention_days)

    jobs = [
        Job("store-maintenance", store_maintenance, interval=3600, timeout=600, singleton=True),
        # PostgreSQL: monthly partitions created ahead, expired ones dropped (no-op on SQLite).
        Job(
            "partitions", partition_maintenance, interval=3600, timeout=600, singleton=True, run_at_start=True
        ),
        *ingest_jobs(services),
        *notify_jobs(services),
        *alert_jobs(services),
        *probe_jobs(services),
        *report_jobs(services),
        *asrp_jobs(services),
    ]
    for job in jobs:
        if job.name in SINGLETONS:
            job.singleton = True
    return jobs
