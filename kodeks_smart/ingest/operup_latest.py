"""Keeping ``sysinfo_operup_latest`` (`SysinfoOperUpLatest`) equal to the OperUp rows it is derived from.

A row per installation and OperUp file: the newest report time among the file's rows that carry a file
time. «Сколько дней назад обновились файлы в OperUp» ranks the files by the age at their newest point;
finding each file's newest report over the range took a maximum over every report's rows of the range
(60,000 rows at 93 days in the benchmark, 24 times more with hourly reports), this table gives it in a row
per file (`web.dashboards.managers._operup_newest`).

The dashboard relies on one rule: for every file with rows, the row here is at least as new as the newest
of them (a newer value than the facts would hide the file's real newest point; an older one cannot occur).
So:

* the sysinfo writer upserts the report's files with the «newer wins» rule in the report's batch (a late,
  older report changes nothing); when an upload is processed again its old rows are deleted first, so the
  files they were the newest rows of are looked at again (`note_cleared` before the delete, `repair` after
  the write): a file the new rows did not bring back to that time takes its newest remaining row (one
  index look-up per such file, newest first), or loses its row;
* ORM writes of `SysinfoOperUpFile` (tests, hand fixes): session events, at commit (`refresh_client`);
* the retention job does not prune it: rows whose facts are gone are older than retention, so they can
  only make the ranking read from an earlier time than needed (never miss a file), and there is a row per
  file ever seen, not per report;
* migration 0019 and ``bench/web.py``: `backfill`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kodeks_smart.ingest import rollup_hooks
from kodeks_smart.ingest.usage_rollup import Bind, table_of
from kodeks_smart.ingest.writers import Batch, fit
from kodeks_smart.store.ingest_models import SysinfoOperUpFile, SysinfoOperUpLatest

FILES = table_of(SysinfoOperUpFile)
LATEST = table_of(SysinfoOperUpLatest)
#: The key a file without a path is kept under (a control character: XML text cannot hold it).
NO_PATH = "\x01"
_KEYS = ("dealer_id", "cabinet_id", "client_id", "installation_id")


def rows_of(files: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of this table that a report's OperUp rows (as written: keys, ``path``, ``report_at``,
    ``modified_at``) give: one per installation and path, of the rows with a file time."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for r in files:
        if r.get("modified_at") is None or r.get("installation_id") is None:
            continue
        row = fit(LATEST, {**{k: r[k] for k in _KEYS}, "path": r.get("path") or NO_PATH})
        row["report_at"] = r["report_at"]
        key = (row["installation_id"], row["path"])
        if key not in out or out[key]["report_at"] < row["report_at"]:
            out[key] = row
    return list(out.values())


def write(batch: Batch, files: Sequence[dict[str, Any]]) -> int:
    """Queue the upsert of a report's files: a stored row takes the report's time when it is not newer."""
    return batch.write(LATEST, rows_of(files), ("installation_id", "path"), ("report_at",), newer="report_at")


def _path() -> ColumnElement[str]:
    path: ColumnElement[str] = func.coalesce(FILES.c.path, NO_PATH)
    return path


def _fill(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert the rows of the OperUp rows matching ``where`` (none of their keys may be stored)."""
    f = FILES
    keys = [f.c[k] for k in _KEYS]
    path = _path()  # one expression (one parameter) in both places: PostgreSQL matches them by text
    stmt = (
        select(*keys, path, func.max(f.c.report_at))
        .where(f.c.modified_at.is_not(None), f.c.installation_id.is_not(None), *where)
        .group_by(*keys, path)
    )
    bind.execute(insert(LATEST).from_select([*_KEYS, "path", "report_at"], stmt))


_CLEARED = "operup_latest_cleared"


def note_cleared(session: Session, upload_id: int) -> None:
    """Before an upload's rows are deleted to process it again: remember its files and times (by the
    upload's index), for `repair` after the new rows are written in the same transaction."""
    f = FILES
    rows = session.execute(
        select(f.c.client_id, f.c.installation_id, _path(), f.c.report_at).where(
            f.c.upload_id == upload_id, f.c.modified_at.is_not(None), f.c.installation_id.is_not(None)
        )
    ).all()
    session.info.setdefault(_CLEARED, set()).update(tuple(r) for r in rows)


def repair(session: Session) -> int:
    """After an upload processed again has written its rows: every file whose stored newest time is one
    of the deleted rows' (so it may have come from them) takes the newest row the facts still have, or
    loses its row. Returns how many were looked at."""
    cleared: set[tuple[Any, ...]] = session.info.pop(_CLEARED, set())
    looked = 0
    f, lt = FILES, LATEST
    for client_id, inst, path, at in sorted(cleared, key=lambda r: (r[0], r[1], r[2])):
        stored = session.execute(
            select(lt.c.id, lt.c.report_at).where(lt.c.installation_id == inst, lt.c.path == path)
        ).first()
        if stored is None or stored.report_at != at:
            continue  # newer rows (or none) are the newest: the deleted ones were not
        looked += 1
        newest = session.scalar(
            select(f.c.report_at)
            .where(
                f.c.client_id == client_id,
                f.c.installation_id == inst,
                _path() == path,
                f.c.modified_at.is_not(None),
            )
            .order_by(f.c.report_at.desc())
            .limit(1)
        )
        if newest is None:
            session.execute(delete(lt).where(lt.c.id == stored.id))
        elif newest != at:
            session.execute(update(lt).where(lt.c.id == stored.id).values(report_at=newest))
    return looked


def refresh_client(bind: Bind, client_id: int) -> None:
    """Recompute a client's rows from its OperUp rows (after rows were deleted or edited)."""
    bind.execute(delete(LATEST).where(LATEST.c.client_id == client_id))
    _fill(bind, FILES.c.client_id == client_id)


def backfill(bind: Bind) -> None:
    """Rebuild the table from the stored OperUp rows (migration 0019, bulk-loaded benchmark stores)."""
    bind.execute(delete(LATEST))
    _fill(bind)


# -- ORM writes (kodeks_smart.ingest.rollup_hooks) ---------------------------------------------------


def _orm_keys(obj: Any) -> list[tuple[int, list[Any]]]:
    if not isinstance(obj, SysinfoOperUpFile):
        return []
    return [(client_id, []) for client_id in rollup_hooks.values(obj, "client_id")]


def _orm_refresh(session: Session, client_id: int, _moments: set[Any]) -> None:
    refresh_client(session, client_id)


rollup_hooks.register("operup_latest", 5, _orm_keys, _orm_refresh)


__all__ = ["LATEST", "NO_PATH", "backfill", "note_cleared", "refresh_client", "repair", "rows_of", "write"]
