"""`smart reprocess` rebuilds derived data from kept raw files; retention removes what is too old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from sqlalchemy import func, select, update

from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.ingest.retention import run_retention
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store.ingest_models import (
    CatalogHealthFact,
    HourlyRollup,
    Sample,
    SysinfoDatabase,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoUser,
    Upload,
)
from tests.ingest.conftest import Agent, status_body

NOW = datetime.now(UTC).replace(microsecond=0)


def _count(ctx: IngestContext, model: type) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_reprocessing_rebuilds_what_processing_wrote(
    agent: Agent, other_agent: Agent, ctx: IngestContext
) -> None:
    agent.upload("alpha_client.zip", generate_zip(SysinfoProfile("alpha_client", users=10, days=2, now=NOW)))
    other_agent.upload("gamma_client.status", status_body())
    drain(ctx)
    before = (_count(ctx, SysinfoDatabase), _count(ctx, SysinfoSearch), _count(ctx, SysinfoUser))
    with ctx.db.write() as s:  # a parser bug wrote nonsense
        s.execute(SysinfoDatabase.__table__.delete())  # type: ignore[attr-defined]
        s.execute(update(SysinfoSearch).values(query="испорчено"))
    assert enqueue_reprocess(ctx, dealer_code="0599ROGAIKOPITA") == 1
    assert drain(ctx) == 1
    assert (_count(ctx, SysinfoDatabase), _count(ctx, SysinfoSearch), _count(ctx, SysinfoUser)) == before
    with ctx.db.session() as s:
        assert "испорчено" not in set(s.scalars(select(SysinfoSearch.query)))
        counts = dict(s.execute(select(Upload.filename, Upload.processed_count)).all())
    assert counts == {"alpha_client.zip": 2, "gamma_client.status": 1}
    assert _count(ctx, SysinfoReportRow) == 1


def test_reprocess_selects_by_time_of_receipt(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.status", status_body(sessions=1))
    agent.upload("alpha_client.status", status_body(sessions=2))
    drain(ctx)
    with ctx.db.write() as s:
        s.execute(update(Upload).where(Upload.id == 1).values(received_at=NOW - timedelta(days=10)))
    assert enqueue_reprocess(ctx, since=NOW - timedelta(days=1)) == 1
    assert enqueue_reprocess(ctx, since=NOW - timedelta(days=1)) == 0  # already queued
    drain(ctx)
    with ctx.db.session() as s:
        assert list(s.scalars(select(Upload.processed_count).order_by(Upload.id))) == [1, 2]


def test_retention_removes_old_rows_and_raw_files_and_keeps_recent_ones(
    agent: Agent, ctx: IngestContext
) -> None:
    old = NOW - timedelta(days=ctx.retention_days + 10)
    agent.upload(
        "alpha_client.status", status_body(date=format_datetime(NOW - timedelta(minutes=5), usegmt=True))
    )
    agent.upload("alpha_client.status", status_body(date=format_datetime(NOW, usegmt=True)))
    drain(ctx)
    with ctx.db.write() as s:  # the first upload and everything it wrote are 13 months old
        s.execute(update(Upload).where(Upload.id == 1).values(received_at=old))
        s.execute(update(CatalogHealthFact).where(CatalogHealthFact.upload_id == 1).values(observed_at=old))
        s.execute(update(Sample).where(Sample.upload_id == 1).values(ts=old))
        old_raw = s.scalar(select(Upload.raw_path).where(Upload.id == 1))
        recent_raw = s.scalar(select(Upload.raw_path).where(Upload.id == 2))
    stale_tmp = ctx.data_dir / "raw" / ".tmp" / "upload-crashed"
    stale_tmp.write_bytes(b"half")
    import os

    os.utime(stale_tmp, (0, 0))
    samples_before = _count(ctx, Sample)
    report = run_retention(ctx, now=NOW, batch=2)
    assert report.deleted["uploads"] == 1 and report.temp_files == 1
    assert report.deleted["metric_samples"] == samples_before // 2
    with ctx.db.session() as s:
        assert list(s.scalars(select(Upload.id))) == [2]
        assert set(s.scalars(select(CatalogHealthFact.upload_id))) == {2}
        assert s.scalar(select(func.min(Sample.ts))) > NOW - timedelta(days=1)
        assert s.scalar(select(func.count()).select_from(HourlyRollup)) >= 1
    assert old_raw and not (ctx.data_dir / old_raw).exists()
    assert recent_raw and (ctx.data_dir / recent_raw).exists()
    assert not stale_tmp.exists()


def test_raw_files_expire_before_the_log_when_configured_so(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.status", status_body())
    drain(ctx)
    with ctx.db.write() as s:
        s.execute(update(Upload).values(received_at=NOW - timedelta(days=ctx.raw_retention_days + 1)))
    short = IngestContext(
        db=ctx.db,
        data_dir=ctx.data_dir,
        max_upload_bytes=ctx.max_upload_bytes,
        limits=ctx.limits,
        retention_days=10_000,
        raw_retention_days=ctx.raw_retention_days,
    )
    report = run_retention(short, now=NOW)
    assert report.raw_files == 1 and report.deleted["uploads"] == 0
    with ctx.db.session() as s:
        upload = s.get(Upload, 1)
        assert upload is not None and upload.raw_path is None and upload.status == "done"
    assert agent.get("alpha_client.status").status_code == 404  # no longer kept
    assert enqueue_reprocess(ctx) == 0  # nothing to rebuild from


def test_an_old_date_line_is_stored_under_its_own_time(agent: Agent, ctx: IngestContext) -> None:
    stamp = NOW - timedelta(days=2)
    agent.upload("alpha_client.status", status_body(date=format_datetime(stamp, usegmt=True)))
    drain(ctx)
    with ctx.db.session() as s:
        assert set(s.scalars(select(Sample.ts))) == {stamp}


def test_retention_removes_old_events_client_by_client(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.zip", generate_zip(SysinfoProfile("alpha_client", users=10, days=3, now=NOW)))
    agent.upload("beta_client.zip", generate_zip(SysinfoProfile("beta_client", users=10, days=3, now=NOW)))
    drain(ctx)
    old = NOW - timedelta(days=ctx.retention_days + 1)
    with ctx.db.write() as s:
        alpha = s.scalar(select(Upload.client_id).where(Upload.filename == "alpha_client.zip"))
        ids = list(s.scalars(select(SysinfoSearch.id).where(SysinfoSearch.client_id == alpha)))
        aged = ids[: len(ids) // 2]
        for offset, search_id in enumerate(aged):  # distinct times keep the natural key unique
            s.execute(
                update(SysinfoSearch)
                .where(SysinfoSearch.id == search_id)
                .values(occurred_at=old - timedelta(seconds=offset))
            )
    before = _count(ctx, SysinfoSearch)
    report = run_retention(ctx, now=NOW, batch=3)
    assert report.deleted["sysinfo_searches"] == len(aged) > 0
    assert _count(ctx, SysinfoSearch) == before - len(aged)
    assert report.deleted["uploads"] == 0
