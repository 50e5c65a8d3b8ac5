"""``sysinfo_operup_latest`` (the newest report time per OperUp file) stays equal to a rebuild from the
OperUp rows: after each report of a sequence (a new report, a late older one, a second one at the same
time), after reprocessing, after ORM edits that delete a file's newest rows, and when migration 0019
fills it. «Для менеджеров» ranks the OperUp files by it (`tests/web/test_managers_speed_paths.py`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kodeks_smart.ingest import operup_latest, process
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.store.ingest_models import SysinfoOperUpFile, SysinfoOperUpLatest
from tests.ingest.test_usage_rollup_delta import NOON, _report, ctx, same_as_rebuilt

__all__ = ["ctx"]


def _same_as_rebuilt(ctx: IngestContext) -> list[tuple[Any, ...]]:
    return same_as_rebuilt(ctx, (SysinfoOperUpLatest,), operup_latest.backfill)["sysinfo_operup_latest"]


def _newest_file_report(ctx: IngestContext) -> Any:
    with ctx.db.session() as s:
        return s.scalar(select(func.max(SysinfoOperUpFile.report_at)))


def test_the_newest_report_per_file_equals_a_rebuild_after_every_report(ctx: IngestContext) -> None:
    _report(ctx, NOON - timedelta(hours=3), 330)
    first = _same_as_rebuilt(ctx)
    assert {r[-1] for r in first} == {_newest_file_report(ctx)}
    _report(ctx, NOON, 330, seed=1)  # the next report: every file moves on
    second = _same_as_rebuilt(ctx)
    assert max(r[-1] for r in second) == _newest_file_report(ctx) > max(r[-1] for r in first)
    # a late, older report adds its own new files but moves no file back
    _report(ctx, NOON - timedelta(hours=2), 330, seed=2)
    late = _same_as_rebuilt(ctx)
    assert set(second) < set(late)
    _report(ctx, NOON, 330, seed=3)  # a second report made at the same time: files move on or stay
    again = {(r[3], r[4]): r[5] for r in _same_as_rebuilt(ctx)}
    assert all(again[(r[3], r[4])] >= r[5] for r in late) and len(again) >= len(late)


def test_reprocessing_and_orm_edits_recompute_the_files_they_touch(
    ctx: IngestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _report(ctx, NOON - timedelta(hours=3), 330)
    _report(ctx, NOON, 330, seed=1)
    newest = _newest_file_report(ctx)
    before = {(r[3], r[4]): r[5] for r in _same_as_rebuilt(ctx)}
    # Reprocessing (oldest first) with a parser that reads no OperUp files of the newer report (a parser
    # change): its files go back to the older report's time where that had them, else lose their row.
    real = process.parse_sysinfo
    calls: list[int] = []

    def fewer_files(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        calls.append(len(report.operup_files))
        if len(calls) == 2:
            report.operup_files = []
        return report

    monkeypatch.setattr(process, "parse_sysinfo", fewer_files)
    assert enqueue_reprocess(ctx) == 2
    drain(ctx)
    after = {(r[3], r[4]): r[5] for r in _same_as_rebuilt(ctx)}
    assert len(calls) == 2 and max(after.values()) < newest
    assert set(after) < set(before)  # files of the newer report only are gone
    assert any(before[key] > at for key, at in after.items())  # files of both went back
    monkeypatch.setattr(process, "parse_sysinfo", real)
    assert enqueue_reprocess(ctx) == 2  # and back: the files return
    drain(ctx)
    assert {(r[3], r[4]): r[5] for r in _same_as_rebuilt(ctx)} == before
    # The newest report's OperUp rows deleted by hand (through the ORM): the files go back to the older one
    with ctx.db.write() as s:
        for row in s.scalars(select(SysinfoOperUpFile).where(SysinfoOperUpFile.report_at == newest)):
            s.delete(row)
    rows = _same_as_rebuilt(ctx)
    assert rows and max(r[-1] for r in rows) == _newest_file_report(ctx) < newest


def test_migration_0019_fills_the_table_as_the_models_declare_it(ctx: IngestContext) -> None:
    """Downgrading to 0018 drops the table; upgrading again creates it as the model declares it (columns,
    types, keys) and fills it from the stored OperUp rows."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from kodeks_smart.store import migrate
    from kodeks_smart.store.models import Base
    from tests.grafana.test_migration import _downgrade

    _report(ctx, NOON - timedelta(hours=3), 330)
    _report(ctx, NOON, 330, seed=1)
    kept = _same_as_rebuilt(ctx)
    _downgrade(ctx.db, "0018")
    assert "sysinfo_operup_latest" not in inspect(ctx.db.engine).get_table_names()
    migrate.upgrade(ctx.db)
    assert _same_as_rebuilt(ctx) == kept
    with ctx.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    ours = [d for d in diff if "sysinfo_operup_latest" in repr(d)]
    assert ours == []
