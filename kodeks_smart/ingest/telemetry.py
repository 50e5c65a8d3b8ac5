"""Prometheus metrics of the ingest pipeline, on the process's `Services.registry` (served at `/metrics`).

Events of this process's consumer: ``smart_ingest_processed_total{outcome}`` (done, failed, retry, lost,
gone, quarantined: `process.process_claim`'s outcomes) and the histogram ``smart_ingest_processing_seconds``
(claim to commit, per upload). ``smart_ingest_notifications_listening`` is 1 while the process listens for
uploads queued by other processes (PostgreSQL, `listen.QueueListener`), else 0.

Gauges read from the queue table at scrape time, so they are right whichever process consumes:
``smart_ingest_queue_rows{state}`` — ``waiting`` (not claimed, or its claim's lease ran out) and ``claimed``
— and ``smart_ingest_oldest_queued_seconds``, how long the oldest queued upload has waited (0 when the queue
is empty): alert on it, a stuck or missing consumer shows there first.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import and_, func, select

from kodeks_smart.lib.scrape import StoreCollector
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import IngestTask
from kodeks_smart.store.types import utcnow

#: Seconds; a steady sysinfo report takes tens of milliseconds, a first report or a 20 MB one seconds.
PROCESSING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, IngestMetrics] = weakref.WeakKeyDictionary()


class QueueCollector(StoreCollector):
    what = "ingest queue"

    def __init__(self, db: Database, now: Callable[[], datetime] = utcnow) -> None:
        super().__init__(db)
        self.now = now

    def families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            "smart_ingest_queue_rows",
            "Queued uploads waiting for a consumer (waiting) or being processed (claimed)",
            labels=["state"],
        )
        oldest = GaugeMetricFamily(
            "smart_ingest_oldest_queued_seconds", "How long the oldest queued upload has waited"
        )
        return rows, oldest

    def fill(self, families: Sequence[GaugeMetricFamily]) -> None:
        rows, oldest = families
        now = self.now()
        t = IngestTask
        claimed = and_(t.claim_token.is_not(None), t.lease_until > now)
        with self.db.session() as s:
            total, in_work, first = s.execute(
                select(func.count(t.id), func.count(t.id).filter(claimed), func.min(t.enqueued_at))
            ).one()
        rows.add_metric(["waiting"], int(total or 0) - int(in_work or 0))
        rows.add_metric(["claimed"], int(in_work or 0))
        oldest.add_metric([], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry, db: Database | None = None) -> None:
        self.processed = Counter(
            "smart_ingest_processed",
            "Uploads processed by this process, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "smart_ingest_processing_seconds",
            "Time to process one upload, from its claim to the commit",
            buckets=PROCESSING_BUCKETS,
            registry=registry,
        )
        self.listening = Gauge(
            "smart_ingest_notifications_listening",
            "1 while this process listens for uploads queued by other processes (PostgreSQL)",
            registry=registry,
        )
        if db is not None:
            registry.register(QueueCollector(db))

    def observe(self, outcome: str, seconds: float) -> None:
        self.processed.labels(outcome).inc()
        self.duration.observe(seconds)


def metrics_for(registry: CollectorRegistry, db: Database) -> IngestMetrics:
    """The ingest metrics of a registry, created and registered on first use."""
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = _BY_REGISTRY[registry] = IngestMetrics(registry, db)
    return metrics
