"""The ingest pipeline's Prometheus metrics: queue gauges read at scrape time, outcomes and durations of
this process's consumer, the listener's state (`kodeks_smart.ingest.telemetry`)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kodeks_smart.app import create_app
from kodeks_smart.ingest import queue
from kodeks_smart.ingest.consumer import process_available
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.telemetry import IngestMetrics, QueueCollector, metrics_for
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.store.types import utcnow
from tests.ingest.conftest import Agent, status_body


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_queued_and_processed_uploads_show_on_the_metrics(agent: Agent, ctx: IngestContext) -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry, ctx.db)
    later = CollectorRegistry()  # the same queue scraped five minutes from now
    later.register(QueueCollector(ctx.db, now=lambda: utcnow() + timedelta(minutes=5)))

    assert _value(registry, "smart_ingest_queue_rows", state="waiting") == 0
    assert _value(registry, "smart_ingest_oldest_queued_seconds") == 0
    assert agent.upload("alpha_client.status", status_body()).status_code == 200
    assert agent.upload("beta_client.status", b"\x00\xff\xfe" * 200).status_code == 200  # fails: binary
    assert _value(registry, "smart_ingest_queue_rows", state="waiting") == 2
    assert _value(registry, "smart_ingest_queue_rows", state="claimed") == 0
    oldest = _value(later, "smart_ingest_oldest_queued_seconds")
    assert oldest is not None and 299 <= oldest <= 330

    assert process_available(ctx, "metrics-test", observe=metrics.observe) == 2
    assert _value(registry, "smart_ingest_processed_total", outcome="done") == 1
    assert _value(registry, "smart_ingest_processed_total", outcome="failed") == 1
    assert _value(registry, "smart_ingest_processing_seconds_count") == 2
    assert _value(registry, "smart_ingest_queue_rows", state="waiting") == 0
    assert _value(registry, "smart_ingest_oldest_queued_seconds") == 0

    assert agent.upload("alpha_client.status", status_body(sessions=3)).status_code == 200
    assert queue.claim_next(ctx.db, "another-process") is not None
    assert _value(registry, "smart_ingest_queue_rows", state="claimed") == 1
    assert _value(registry, "smart_ingest_queue_rows", state="waiting") == 0
    expired = CollectorRegistry()  # past the claim's lease: waiting again, for any consumer
    expired.register(QueueCollector(ctx.db, now=lambda: utcnow() + queue.LEASE + timedelta(seconds=1)))
    assert _value(expired, "smart_ingest_queue_rows", state="waiting") == 1


def test_a_process_that_runs_the_consumer_serves_the_metrics(services: Services) -> None:
    """The scheduler's consumer and /metrics share the process's registry."""
    running = Services(
        settings=services.settings.__class__.from_values(
            {
                "database_url": services.db.url,
                "data_dir": str(services.settings.data_path),
                "secret_key_file": str(services.settings.secret_key_path),
                "probes": False,
            }
        ),
        db=services.db,
        box=services.box,
        hashing=services.hashing,
    )
    create_app(running, role="worker")
    assert metrics_for(running.registry, running.db) is metrics_for(running.registry, running.db)
    text = generate_latest(running.registry).decode()
    for name in (
        "smart_ingest_queue_rows",
        "smart_ingest_oldest_queued_seconds",
        "smart_ingest_processing_seconds",
        "smart_ingest_notifications_listening",
    ):
        assert f"# TYPE {name} " in text, name


def test_a_scrape_survives_a_store_it_cannot_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    unmigrated = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # no queue table
    registry = CollectorRegistry()
    IngestMetrics(registry, unmigrated)
    try:
        with caplog.at_level(logging.WARNING, logger="kodeks_smart.lib.scrape"):
            text = generate_latest(registry).decode()
    finally:
        unmigrated.dispose()
    assert "smart_ingest_queue_rows{" not in text
    assert "smart_ingest_processing_seconds" in text  # the process's own metrics are still served
    assert "ingest queue metrics unavailable: OperationalError" in caplog.text
