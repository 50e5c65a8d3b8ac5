"""Prometheus gauges read from the store when `/metrics` is scraped (queue depths, oldest waiting row…).

Such a gauge is right whichever process does the work, but a scrape must never fail because the store is
busy or down: `StoreCollector.collect` then logs a warning and yields nothing for that scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from kodeks_smart.store.db import Database

log = logging.getLogger(__name__)


class StoreCollector(Collector):
    """Subclasses say what they export (`families`, new empty families each call) and fill them from the
    store (`fill`). ``what`` names them in the warning of a failed read."""

    what = "store"

    def __init__(self, db: Database) -> None:
        self.db = db

    def families(self) -> Sequence[GaugeMetricFamily]:
        raise NotImplementedError

    def fill(self, families: Sequence[GaugeMetricFamily]) -> None:
        raise NotImplementedError

    def describe(self) -> Iterator[Metric]:
        # Declared without values so that registering does not query the database.
        yield from self.families()

    def collect(self) -> Iterator[Metric]:
        families = self.families()
        try:
            self.fill(families)
        except SQLAlchemyError as exc:
            log.warning("%s metrics unavailable: %s", self.what, type(exc).__name__)
            return
        yield from families
