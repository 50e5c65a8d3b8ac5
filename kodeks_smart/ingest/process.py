"""Processing one claimed upload: read the raw file, parse it, write the records, close the claim.

1. Load the upload row and, for a sysinfo report, which of its events earlier reports already stored
   (`coverage_windows`) in one short read (the consumer does it in the transaction of the claim,
   `claim_and_load`).
2. Read and parse the raw file outside any transaction (parsing a big report must not hold SQLite's
   write lock); a sysinfo report is told those windows, so the month of history every hourly report
   repeats is not rebuilt (reprocessing rebuilds everything).
   A `ParseError` — hostile, broken or empty input — becomes the upload's visible error.
3. In one write transaction: delete the queue row (only if the claim is still ours), delete what an
   earlier processing of this upload wrote, write the new records, and set the upload's status.
   A crash before the commit leaves the queue row to be claimed again; after it, nothing is left to
   redo — each upload is processed exactly once.
4. A database error that may pass (locked, connection lost) gives the claim back with a delay; after
   `queue.MAX_ATTEMPTS` claims the upload is marked failed so that a poison file cannot loop forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from kodeks_smart.asrp import queue as asrp_queue
from kodeks_smart.ingest import operup_latest, queue
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.metrics_store import Written, write_metrics
from kodeks_smart.ingest.spool import read_raw
from kodeks_smart.ingest.sysinfo_store import coverage_windows, write_sysinfo
from kodeks_smart.ingest.writers import Target, choose_installation, clear_derived
from kodeks_smart.parsers.content import sniff
from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.limits import Limits
from kodeks_smart.parsers.metrics import MetricsReport, parse_metrics
from kodeks_smart.parsers.sysinfo import SysinfoReport, Windows, parse_sysinfo
from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Installation
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

#: Stored with each processed upload; raise it when a parser change should be visible in the log.
PARSER_VERSION = "1"


class _ClaimLost(Exception):
    pass


@dataclass(frozen=True, slots=True)
class UploadInfo:
    id: int
    dealer_id: int
    cabinet_id: int | None
    client_id: int | None
    client_name: str
    kind: str
    fmt: str
    raw_path: str | None
    received_at: datetime
    processed_count: int


Parsed = MetricsReport | SysinfoReport


def parse_upload(
    data: bytes, kind: str, fmt: str, limits: Limits, skip: Windows | None = None
) -> tuple[Parsed, list[str]]:
    """Parse raw bytes by what they are; the name only decides between metrics and sysinfo."""
    warnings: list[str] = []
    content = sniff(data)
    if kind == "metrics":
        return parse_metrics(data, limits), warnings
    if content == "text":
        raise ParseError(
            "not-sysinfo",
            "Файл не является отчётом sysinfo (ожидается ZIP-архив или XML)",
            "not a sysinfo report (expected a ZIP archive or XML)",
        )
    if content != fmt:
        warnings.append(f"файл .{fmt} на самом деле {'ZIP-архив' if content == 'zip' else 'XML'}")
    return parse_sysinfo(data, limits, skip), warnings


#: What processing a claim needs to know before it parses: the upload, and for a sysinfo report the
#: windows earlier reports of its client already stored.
Loaded = tuple[UploadInfo | None, Windows | None]


def _load(ctx: IngestContext, claim: queue.Claim) -> Loaded:
    """`load` in a read transaction of its own."""
    with ctx.db.session() as s:
        return load(s, claim)


def load(s: Session, claim: queue.Claim) -> Loaded:
    """The upload and, for a sysinfo report, what earlier reports of its client already stored."""
    # Columns, not the ORM object: loading an `Upload` (identity map, all its columns, change tracking)
    # cost more than the query on every report.
    u = Upload
    row = s.execute(
        select(
            u.id,
            u.dealer_id,
            u.cabinet_id,
            u.client_id,
            u.client_name,
            u.kind,
            u.fmt,
            u.raw_path,
            u.received_at,
            u.processed_count,
        ).where(u.id == claim.upload_id)
    ).first()
    if row is None:
        return None, None
    info = UploadInfo(
        row.id,
        row.dealer_id,
        row.cabinet_id,
        row.client_id,
        row.client_name,
        row.kind,
        row.fmt,
        row.raw_path,
        row.received_at,
        row.processed_count or 0,
    )
    skip = None
    if info.kind == "sysinfo" and claim.reason != "reprocess" and info.client_id is not None:
        skip = coverage_windows(s, info.client_id, info.received_at)
    return info, skip


def claim_and_load(ctx: IngestContext, owner: str) -> tuple[queue.Claim, Loaded] | None:
    """Claim the next queued upload and read what processing it needs, in one transaction (a transaction
    less per upload than `queue.claim_next` and then `process_claim` alone)."""
    with ctx.db.write() as s:
        claim = queue.claim_in(s, owner)
        return None if claim is None else (claim, load(s, claim))


def process_claim(ctx: IngestContext, claim: queue.Claim, loaded: Loaded | None = None) -> str:
    """Process one claimed upload; returns the outcome: done, failed, retry, lost or gone.

    ``loaded``: what `claim_and_load` read with the claim (read here otherwise)."""
    info, skip = loaded if loaded is not None else _load(ctx, claim)
    if info is None:
        return "gone"  # the upload was deleted, and its queue row with it
    if info.client_id is None or info.cabinet_id is None:
        return _finalize_quarantined(ctx, claim)
    if claim.attempts > queue.MAX_ATTEMPTS:
        return _finalize_failed(
            ctx,
            claim,
            ParseError(
                "crashed",
                f"Обработка файла прерывалась {claim.attempts - 1} раз — файл отложен как ошибочный",
                "processing was interrupted repeatedly",
            ),
        )
    try:
        if info.raw_path is None:
            raise FileNotFoundError
        data = read_raw(ctx.data_dir, info.raw_path)
    except FileNotFoundError:
        return _finalize_failed(
            ctx,
            claim,
            ParseError("raw-missing", "Исходный файл больше не хранится", "the raw file is no longer kept"),
        )
    rebuild = claim.reason == "reprocess"
    try:
        parsed, warnings = parse_upload(data, info.kind, info.fmt, ctx.limits, skip)
    except ParseError as exc:
        return _finalize_failed(ctx, claim, exc)
    except Exception as exc:
        log.exception("parser failed on upload %s", info.id)
        return _finalize_failed(
            ctx,
            claim,
            ParseError(
                "internal",
                f"Внутренняя ошибка обработчика: {type(exc).__name__}: {exc}"[:1000],
                "internal parser error",
            ),
        )
    del data
    try:
        with ctx.db.write() as s:
            if not queue.finish(s, claim):
                raise _ClaimLost
            if info.processed_count:
                if info.kind == "sysinfo":
                    operup_latest.note_cleared(s, info.id)
                clear_derived(s, info.id, info.kind)
            written = _write(s, info, parsed, rebuild)
            done = (
                update(Upload)
                .where(Upload.id == info.id)
                .values(
                    status="done",
                    error=None,
                    error_code=None,
                    warnings=(warnings + written.warnings)[:50],
                    stats=written.stats,
                    report_time=written.report_time,
                    installation_id=written.stats.get("installation_id"),
                    **_processed_values(func.coalesce(Upload.processed_count, 0) + 1),
                )
                .execution_options(synchronize_session=False)
            )
            # ASRP forwarding: queued with the stored report, at most once per upload and forwarder (the
            # status update goes in the same round trip as the forwarders' query).
            asrp_queue.enqueue_upload(s, info, before=done)
        return "done"
    except _ClaimLost:
        return "lost"
    except OperationalError as exc:
        log.warning("upload %s: transient database error, will retry: %s", info.id, exc)
        queue.release(ctx.db, claim, str(exc), delay=min(300.0, 5.0 * 2**claim.attempts))
        return "retry"
    except SQLAlchemyError as exc:
        log.exception("upload %s: records could not be written", info.id)
        return _finalize_failed(
            ctx,
            claim,
            ParseError(
                "store",
                f"Данные отчёта не записаны: {type(exc).__name__}"[:1000],
                "the records could not be stored",
            ),
        )


def _target(s: Session, info: UploadInfo, regnum: str | None) -> tuple[Target, Installation | None]:
    """Where the records go, and the installation they are attributed to (the caller keeps it while it
    writes: the session's identity map holds objects weakly, and the writers read the installation again
    by id, which is free only while it is still in the session)."""
    assert info.client_id is not None and info.cabinet_id is not None
    installation = choose_installation(s, info.client_id, regnum)
    target = Target(
        upload_id=info.id,
        dealer_id=info.dealer_id,
        cabinet_id=info.cabinet_id,
        client_id=info.client_id,
        installation_id=installation.id if installation else None,
        received_at=info.received_at,
    )
    return target, installation


def _write(s: Session, info: UploadInfo, parsed: Parsed, rebuild: bool) -> Written:
    if isinstance(parsed, MetricsReport):
        target, installation = _target(s, info, None)
        written = write_metrics(s, target, parsed)
    else:
        target, installation = _target(s, info, parsed.regnum)
        written = write_sysinfo(s, target, parsed, rebuild, fresh=not rebuild and not info.processed_count)
    written.stats["installation_id"] = target.installation_id
    del installation  # kept until here on purpose (see `_target`)
    return written


def _processed_values(count: Any) -> dict[str, Any]:
    """The columns every processing outcome sets; ``count``: the new ``processed_count`` (a number, or an
    SQL expression for an UPDATE)."""
    return {"processed_at": utcnow(), "processed_count": count, "parser_version": PARSER_VERSION}


def _finalize_failed(ctx: IngestContext, claim: queue.Claim, error: ParseError) -> str:
    with ctx.db.write() as s:
        if not queue.finish(s, claim):
            return "lost"
        upload = s.get(Upload, claim.upload_id)
        if upload is None:
            return "gone"
        if upload.processed_count:
            clear_derived(s, upload.id, upload.kind)
        upload.status = "failed"
        upload.error_code = error.code
        upload.error = f"{error.message} ({error.message_en})"
        upload.stats = {}
        upload.warnings = []
        for column, value in _processed_values((upload.processed_count or 0) + 1).items():
            setattr(upload, column, value)
    log.info("upload %s failed: %s", claim.upload_id, error.code)
    return "failed"


def _finalize_quarantined(ctx: IngestContext, claim: queue.Claim) -> str:
    with ctx.db.write() as s:
        if not queue.finish(s, claim):
            return "lost"
        upload = s.get(Upload, claim.upload_id)
        if upload is not None:
            upload.status = "quarantined"
    return "quarantined"
