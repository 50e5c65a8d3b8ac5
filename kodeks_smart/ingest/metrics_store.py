"""Storing a parsed metrics file: every sample as a series point, catalog health as facts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from kodeks_smart.ingest.writers import Point, Target, insert_rows, store_points, table_of
from kodeks_smart.parsers.metrics import MetricsReport
from kodeks_smart.store.ingest_models import CatalogHealthFact

#: A ``date:`` line further than this from the time of receipt is not believed.
MAX_CLOCK_SKEW = timedelta(days=30)
WARN_CLOCK_SKEW = timedelta(hours=1)


@dataclass
class Written:
    report_time: datetime | None
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def sample_time(report: MetricsReport, received_at: datetime, warnings: list[str]) -> datetime:
    """The time of the file's samples: its ``date:`` line (the PK's clock), else the time of receipt."""
    if report.sampled_at is None:
        return received_at
    skew = report.sampled_at - received_at
    if abs(skew) > MAX_CLOCK_SKEW:
        warnings.append(
            f"время в строке date: ({report.sampled_at:%Y-%m-%d %H:%M} UTC) отличается от времени получения"
            " больше чем на 30 дней — использовано время получения"
        )
        return received_at
    if abs(skew) > WARN_CLOCK_SKEW:
        hours = skew.total_seconds() / 3600
        warnings.append(f"часы сервера Кодекс расходятся со временем получения на {hours:+.1f} ч")
    return report.sampled_at


def write_metrics(session: Session, target: Target, report: MetricsReport) -> Written:
    written = Written(report_time=None, warnings=list(report.warnings))
    at = sample_time(report, target.received_at, written.warnings)
    written.report_time = at
    points = [Point(s.name, s.labels, s.timestamp or at, s.value) for s in report.samples]
    stored = store_points(session, target, points, "metrics")
    facts = [
        {
            "dealer_id": target.dealer_id,
            "cabinet_id": target.cabinet_id,
            "client_id": target.client_id,
            "installation_id": target.installation_id,
            "upload_id": target.upload_id,
            "observed_at": at,
            "service": c.service[:100],
            "path": c.path[:300],
            "main_page": c.main_page,
            "main_page_status": c.main_page_status[:200] if c.main_page_status else None,
            "product_control": c.product_control,
        }
        for c in report.catalogs
    ]
    insert_rows(session, table_of(CatalogHealthFact), facts)
    written.stats = {
        "samples": stored,
        "series": len({(s.name, s.labels) for s in report.samples}),
        "catalogs": len(facts),
        "bad_lines": report.bad_lines,
        "skipped_nan": sum(1 for p in points if math.isnan(p.value)),
    }
    return written
