"""Periodic jobs of the probes (the probing itself is the long-running `ProbeRunner`, not a job).

``probe-retention`` removes latency rows, ended abnormal-state intervals and billing readings older than
SMART_RETENTION_DAYS (13 months by default), a batch at a time so that no transaction grows large.
Current check states are never old: they are replaced, not accumulated.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Job
from kodeks_smart.store.db import Database
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeLatency, ProbeStateInterval
from kodeks_smart.store.types import utcnow

BATCH = 5000


def _delete_before(db: Database, model: Any, column: Any, cutoff: datetime) -> int:
    total = 0
    while True:
        with db.write() as s:
            ids = list(s.scalars(select(model.id).where(column < cutoff).limit(BATCH)))
            if ids:
                s.execute(delete(model).where(model.id.in_(ids)))
        total += len(ids)
        if len(ids) < BATCH:
            return total


def run_retention(db: Database, retention_days: int, now: datetime | None = None) -> dict[str, int]:
    """Delete probe history older than ``retention_days``; returns the rows deleted per table."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    return {
        "probe_latency": _delete_before(db, ProbeLatency, ProbeLatency.at, cutoff),
        "probe_state_intervals": _delete_before(db, ProbeStateInterval, ProbeStateInterval.ended_at, cutoff),
        "online_billing_readings": _delete_before(
            db, OnlineBillingReading, OnlineBillingReading.read_at, cutoff
        ),
    }


def probe_jobs(services: Services) -> list[Job]:
    async def probe_retention() -> None:
        await asyncio.to_thread(run_retention, services.db, services.settings.retention_days)

    return [Job("probe-retention", probe_retention, interval=3600, timeout=3300)]
