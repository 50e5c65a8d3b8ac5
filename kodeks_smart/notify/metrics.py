"""Prometheus metrics of delivery, on the process's `Services.registry`.

Counters (events seen by this process's worker), by channel:
``smart_notify_sent_total``, ``smart_notify_failed_total`` (given up: permanent error or too old),
``smart_notify_retries_total`` (retryable failures), ``smart_notify_deferred_total`` (put back by our own
rate limit or held for a digest), and the histogram ``smart_notify_send_duration_seconds``.

Gauges read from the outbox table at scrape time, so they are right whichever process sends:
``smart_notify_outbox_rows{channel,state}`` for the states pending, sending and failed, and
``smart_notify_oldest_pending_seconds{channel}``, the age of the oldest notification not yet delivered.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from kodeks_smart.lib.scrape import StoreCollector
from kodeks_smart.notify.base import Clock, SystemClock
from kodeks_smart.notify.outbox import stats
from kodeks_smart.store.db import Database

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, NotifyMetrics] = weakref.WeakKeyDictionary()


class OutboxCollector(StoreCollector):
    what = "outbox"

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db)
        self.clock = clock

    def families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            "smart_notify_outbox_rows",
            "Outbox rows waiting (pending), being sent (sending) or given up (failed)",
            labels=["channel", "state"],
        )
        oldest = GaugeMetricFamily(
            "smart_notify_oldest_pending_seconds",
            "Age of the oldest notification not yet delivered",
            labels=["channel"],
        )
        return rows, oldest

    def fill(self, families: Sequence[GaugeMetricFamily]) -> None:
        rows, oldest = families
        with self.db.session() as s:
            current = stats(s, self.clock.now())
        for channel in ("email", "telegram", "webhook"):
            for state in ("pending", "sending", "failed"):
                rows.add_metric([channel, state], current.rows.get((channel, state), 0))
            oldest.add_metric([channel], current.oldest_pending.get(channel, 0.0))


class NotifyMetrics:
    def __init__(
        self, registry: CollectorRegistry, db: Database | None = None, clock: Clock | None = None
    ) -> None:
        self.sent = Counter("smart_notify_sent", "Notifications delivered", ["channel"], registry=registry)
        self.failed = Counter(
            "smart_notify_failed",
            "Notifications given up (permanent error or too old)",
            ["channel"],
            registry=registry,
        )
        self.retries = Counter(
            "smart_notify_retries",
            "Failed delivery attempts that will be retried",
            ["channel"],
            registry=registry,
        )
        self.deferred = Counter(
            "smart_notify_deferred",
            "Deliveries put back by a rate limit or held for a digest",
            ["channel"],
            registry=registry,
        )
        self.duration = Histogram(
            "smart_notify_send_duration_seconds",
            "Duration of delivery attempts",
            ["channel"],
            registry=registry,
        )
        if db is not None:
            registry.register(OutboxCollector(db, clock or SystemClock()))


def metrics_for(registry: CollectorRegistry, db: Database, clock: Clock | None = None) -> NotifyMetrics:
    """The delivery metrics of a registry, created and registered on first use."""
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = NotifyMetrics(registry, db, clock)
        _BY_REGISTRY[registry] = metrics
    return metrics
