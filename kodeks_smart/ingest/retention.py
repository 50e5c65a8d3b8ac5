"""Retention: old samples, rollups, facts and upload rows, and old raw files, removed in small batches.

Each batch is its own short transaction followed by a pause, so that uploads and the consumer get the
database (SQLite has one writer) between batches; ingest waits for at most one batch. Every delete uses an
index:
1. samples, hourly rollups and user rows older than ``SMART_RETENTION_DAYS``, by their time index;
2. events and per-client facts (`CLIENT_TIMED_TABLES`) older than that, client by client, through the
   (client, time) prefix of their keys;
3. upload rows received before that; the per-report rows they own (snapshots, gaps) go by cascade;
4. raw files of uploads received before ``SMART_RAW_RETENTION_DAYS``: the row keeps its log entry with
   ``raw_path`` NULL; a file is deleted once no upload refers to it;
5. temporary files a crash left in ``raw/.tmp``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Date, Table, delete, select, update

from kodeks_smart.ingest import seats_rollup, usage_rollup, user_rollup
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.spool import sweep_temp
from kodeks_smart.ingest.writers import table_of
from kodeks_smart.store.dashboard_rollup_models import DailyRollup
from kodeks_smart.store.ingest_models import (
    CatalogHealthFact,
    HourlyRollup,
    Sample,
    SysinfoKassistDay,
    SysinfoLogin,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoUsageHour,
    SysinfoUser,
    Upload,
)
from kodeks_smart.store.models import Client
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

BATCH = 2000
PAUSE = 0.05

#: (table, time column) with an index on the time column.
TIMED_TABLES: list[tuple[Table, str]] = [
    (table_of(Sample), "ts"),
    (table_of(HourlyRollup), "hour"),
    (table_of(DailyRollup), "day"),
    (table_of(SysinfoUser), "last_seen_at"),
]
#: (table, time column) whose keys start with (client_id, time column).
CLIENT_TIMED_TABLES: list[tuple[Table, str]] = [
    (table_of(model), column)
    for model, column in (
        (CatalogHealthFact, "observed_at"),
        (SysinfoReportRow, "created_at"),
        (SysinfoRefusal, "occurred_at"),
        (SysinfoLogin, "occurred_at"),
        (SysinfoSearch, "occurred_at"),
        (SysinfoUsageHour, "hour"),
        (SysinfoKassistDay, "day"),
    )
]
#: Uploads deleted per transaction (each takes its per-report rows along by cascade).
UPLOAD_BATCH = 50


@dataclass
class RetentionReport:
    deleted: dict[str, int] = field(default_factory=dict)
    raw_files: int = 0
    temp_files: int = 0


def _delete_older(ctx: IngestContext, table: Table, column: Column[Any], cutoff: Any, batch: int) -> int:
    """Delete rows with ``column < cutoff`` a batch at a time (by a time boundary, using its index)."""
    total = 0
    while True:
        with ctx.db.write() as s:
            boundary = s.scalar(select(column).where(column < cutoff).order_by(column).offset(batch).limit(1))
            limit = boundary if boundary is not None else cutoff
            result = s.execute(delete(table).where(column < limit))
            n = int(result.rowcount or 0)  # type: ignore[attr-defined]
            if boundary is not None and n == 0:  # many rows share one timestamp: take them all
                n = int(s.execute(delete(table).where(column <= boundary)).rowcount or 0)  # type: ignore[attr-defined]
        total += n
        if boundary is None:
            return total
        time.sleep(PAUSE)


def _delete_older_per_client(
    ctx: IngestContext, table: Table, column: Column[Any], cutoff: Any, batch: int
) -> int:
    """Delete rows with ``column < cutoff`` client by client, a batch at a time, by their primary key."""
    total = 0
    with ctx.db.session() as s:
        clients = list(s.scalars(select(Client.id).order_by(Client.id)))
    for client_id in clients:
        while True:
            with ctx.db.write() as s:
                ids = select(table.c.id).where(table.c.client_id == client_id, column < cutoff).limit(batch)
                n = int(s.execute(delete(table).where(table.c.id.in_(ids))).rowcount or 0)  # type: ignore[attr-defined]
            total += n
            if n < batch:
                break
            time.sleep(PAUSE)
    return total


def _delete_uploads(ctx: IngestContext, cutoff: datetime, batch: int) -> int:
    total = 0
    while True:
        with ctx.db.write() as s:
            ids = list(
                s.scalars(
                    select(Upload.id).where(Upload.received_at < cutoff).order_by(Upload.id).limit(batch)
                )
            )
            paths = set(
                s.scalars(select(Upload.raw_path).where(Upload.id.in_(ids), Upload.raw_path.is_not(None)))
            )
            if ids:
                s.execute(delete(Upload).where(Upload.id.in_(ids)))
            orphans = _unreferenced(s, paths)
        _unlink(ctx, orphans)
        total += len(ids)
        if len(ids) < batch:
            return total
        time.sleep(PAUSE)


def _unreferenced(s: Any, paths: set[str | None]) -> list[str]:
    if not paths:
        return []
    still = set(s.scalars(select(Upload.raw_path).where(Upload.raw_path.in_([p for p in paths if p]))))
    return [p for p in paths if p and p not in still]


def _unlink(ctx: IngestContext, rel_paths: list[str]) -> int:
    removed = 0
    for rel in rel_paths:
        try:
            (ctx.data_dir / rel).unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def _expire_raw(ctx: IngestContext, cutoff: datetime, batch: int) -> int:
    removed = 0
    while True:
        with ctx.db.write() as s:
            rows = s.execute(
                select(Upload.id, Upload.raw_path)
                .where(Upload.received_at < cutoff, Upload.raw_path.is_not(None))
                .order_by(Upload.id)
                .limit(batch)
            ).all()
            ids = [r.id for r in rows]
            if ids:
                s.execute(update(Upload).where(Upload.id.in_(ids)).values(raw_path=None))
            orphans = _unreferenced(s, {r.raw_path for r in rows})
        removed += _unlink(ctx, orphans)
        if len(rows) < batch:
            return removed
        time.sleep(PAUSE)


def run_retention(ctx: IngestContext, now: datetime | None = None, batch: int = BATCH) -> RetentionReport:
    now = now or utcnow()
    cutoff = now - timedelta(days=ctx.retention_days)
    report = RetentionReport()
    for table, column in TIMED_TABLES:
        report.deleted[table.name] = _delete_older(ctx, table, table.c[column], cutoff, batch)
    for table, column in CLIENT_TIMED_TABLES:
        col = table.c[column]
        limit: Any = cutoff.date() if isinstance(col.type, Date) else cutoff
        report.deleted[table.name] = _delete_older_per_client(ctx, table, col, limit, batch)
    report.deleted["uploads"] = _delete_uploads(ctx, cutoff, min(batch, UPLOAD_BATCH))
    report.deleted.update(usage_rollup.prune(ctx.db, cutoff))
    report.deleted.update(seats_rollup.prune(ctx.db, cutoff))
    report.deleted.update(user_rollup.prune(ctx.db, cutoff))
    report.raw_files = _expire_raw(ctx, now - timedelta(days=ctx.raw_retention_days), batch)
    report.temp_files = sweep_temp(ctx.data_dir)
    if any(report.deleted.values()) or report.raw_files:
        log.info("retention removed %s rows, %d raw files", report.deleted, report.raw_files)
    return report
