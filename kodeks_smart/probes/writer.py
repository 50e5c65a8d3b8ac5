"""The results writer: keeps the current state of every check in memory and batches it into the store.

What is written, and when:

* a **status change** of a check (and any change of a failing check's value) is queued as urgent: the
  runner's flush loop wakes at once and writes it, with the abnormal-state intervals it opens or closes;
* a result that changes nothing only moves ``checked_at`` in memory; rows are refreshed in the store at
  most every `TOUCH_SECONDS`, so 10,000 unchanged installations cost no write per cycle;
* latencies are aggregated per target and check over a window (SMART_PROBE_LATENCY_WINDOW) and written as
  one row (samples, mean, max) when the window is over;
* billing readings and the backup/restart times read from ``/admin/pref`` are written as they come;
* a check an installation no longer has (ping switched off, licence manager removed) is deleted, so its
  last result cannot keep an alert firing.

`take` runs on the event loop (it only moves buffers), `write` in a worker thread (one transaction).
A failed write puts its batch back, so nothing is lost while the database is unavailable; current
states are keyed by check, so the backlog stays bounded by the number of checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kodeks_smart.probes.model import (
    INSTALLATION_CHECKS,
    CheckResult,
    InstallationTarget,
    OnlineTarget,
    Report,
    Status,
)
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Installation, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeLatency, ProbeStateInterval

log = logging.getLogger(__name__)

TOUCH_SECONDS = 600.0
#: Checks whose latency is sampled.
SAMPLED = frozenset({"icmp", "tcp", "http200", "auth", "licman_tcp", "online"})

Target = InstallationTarget | OnlineTarget
Key = tuple[str, int, str]  # ("inst" | "online", target id, check)


@dataclass(slots=True)
class Current:
    """The current state of one check, as in the store (or about to be)."""

    dealer_id: int
    cabinet_id: int
    status: str
    value: str
    detail: str
    since: datetime
    checked_at: datetime
    written_at: datetime | None  # last time the row was written (None: not yet)


@dataclass(slots=True)
class _Window:
    started: datetime
    samples: int = 0
    total: float = 0.0
    peak: float = 0.0


@dataclass
class Batch:
    checks: dict[Key, Current] = field(default_factory=dict)
    #: ("open" | "close", installation id, state, code, at, detail, dealer id, cabinet id) in order.
    intervals: list[tuple[str, int, str, int | None, datetime, str, int, int]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    billing: list[dict[str, Any]] = field(default_factory=list)
    prefs: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    forget_installations: set[int] = field(default_factory=set)
    forget_online: set[int] = field(default_factory=set)
    #: Checks an installation no longer has (ping switched off, licence manager removed).
    drop_checks: set[Key] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(
            self.checks
            or self.intervals
            or self.latency
            or self.billing
            or self.prefs
            or self.forget_installations
            or self.forget_online
            or self.drop_checks
        )

    def merge_back(self, newer: Batch) -> None:
        """Put a failed batch (self) in front of what was queued meanwhile (newer wins per check)."""
        self.checks.update(newer.checks)
        self.intervals.extend(newer.intervals)
        self.latency.extend(newer.latency)
        self.billing.extend(newer.billing)
        self.prefs.update(newer.prefs)
        self.forget_installations |= newer.forget_installations
        self.forget_online |= newer.forget_online
        self.drop_checks |= newer.drop_checks


class ResultWriter:
    def __init__(
        self, db: Database, *, latency_window: float = 900.0, touch_seconds: float = TOUCH_SECONDS
    ) -> None:
        self.db = db
        self.latency_window = timedelta(seconds=latency_window)
        self.touch = timedelta(seconds=touch_seconds)
        self.current: dict[Key, Current] = {}
        self.open_states: dict[int, dict[str, int | None]] = {}
        self._windows: dict[Key, _Window] = {}
        self._pending = Batch()
        self.urgent = False
        self.writes = 0
        self.rows_written = 0

    # -- loading -----------------------------------------------------------------------------------

    def load(
        self, installation_ids: Iterable[int], online_ids: Iterable[int], owns: Callable[[int], bool]
    ) -> tuple[set[int], set[int]]:
        """Read the stored states of these targets (at start): changes are then detected against them.

        Returns the installations and online accesses that ``owns`` (this worker's shard) but that are not
        targets any more (moved to a closed contour while SMART was down…): their rows are stale.
        """
        inst = set(installation_ids)
        online = set(online_ids)
        stale_inst: set[int] = set()
        stale_online: set[int] = set()
        with self.db.session() as s:
            for row in s.scalars(select(ProbeCheck)):
                if row.installation_id is not None and row.installation_id in inst:
                    key: Key = ("inst", row.installation_id, row.check_name)
                elif row.online_access_id is not None and row.online_access_id in online:
                    key = ("online", row.online_access_id, row.check_name)
                else:
                    if row.installation_id is not None and owns(row.installation_id):
                        stale_inst.add(row.installation_id)
                    elif row.online_access_id is not None and owns(row.online_access_id):
                        stale_online.add(row.online_access_id)
                    continue
                self.current[key] = Current(
                    row.dealer_id,
                    row.cabinet_id,
                    row.status,
                    row.value,
                    row.detail,
                    row.since,
                    row.checked_at,
                    row.checked_at,
                )
            for interval in s.scalars(
                select(ProbeStateInterval).where(ProbeStateInterval.ended_at.is_(None))
            ):
                if interval.installation_id in inst:
                    self.open_states.setdefault(interval.installation_id, {})[interval.state] = (
                        interval.http_code
                    )
                elif owns(interval.installation_id):
                    stale_inst.add(interval.installation_id)
        return stale_inst, stale_online

    # -- recording (event loop) ----------------------------------------------------------------------

    def record_result(self, kind: str, target: Target, result: CheckResult, at: datetime) -> bool:
        """Remember one check result; True if it is a change that must be written now."""
        key: Key = (kind, target.id, result.check.value)
        status = result.status.value
        old = self.current.get(key)
        if old is None:
            entry = Current(
                target.dealer_id, target.cabinet_id, status, result.value, result.detail, at, at, None
            )
            self.current[key] = entry
            self._pending.checks[key] = entry
            urgent = True
        else:
            urgent = old.status != status or (status == Status.FAIL and old.value != result.value)
            if old.status != status:
                old.since = at
            old.status, old.value, old.detail, old.checked_at = status, result.value, result.detail, at
            old.dealer_id, old.cabinet_id = target.dealer_id, target.cabinet_id
            if urgent:
                self._pending.checks[key] = old
        if result.latency is not None and result.check.value in SAMPLED:
            self._sample(key, target, result.latency, at)
        self.urgent = self.urgent or urgent
        return urgent

    def record_installation(self, target: InstallationTarget, report: Report, at: datetime) -> bool:
        changed = False
        for result in report.results.values():
            changed = self.record_result("inst", target, result, at) or changed
        for check in INSTALLATION_CHECKS:
            key: Key = ("inst", target.id, check.value)
            if check not in report.results and key in self.current:
                # The installation no longer has this check: its last result must not stay (and alert).
                del self.current[key]
                self._pending.checks.pop(key, None)
                self._windows.pop(key, None)
                self._pending.drop_checks.add(key)
                self.urgent = changed = True
        changed = self._record_states(target, report, at) or changed
        return changed

    def _record_states(self, target: InstallationTarget, report: Report, at: datetime) -> bool:
        now_states = {state.value: code for state, code in report.states.items()}
        was = self.open_states.get(target.id, {})
        if now_states.keys() == was.keys():
            return False
        details = {state.value: text for state, text in report.state_details.items()}
        for state in was.keys() - now_states.keys():
            self._pending.intervals.append(
                ("close", target.id, state, None, at, "", target.dealer_id, target.cabinet_id)
            )
        for state in now_states.keys() - was.keys():
            self._pending.intervals.append(
                (
                    "open",
                    target.id,
                    state,
                    now_states[state],
                    at,
                    details.get(state, ""),
                    target.dealer_id,
                    target.cabinet_id,
                )
            )
        kept = {state: was[state] for state in was.keys() & now_states.keys()}
        kept.update({state: now_states[state] for state in now_states.keys() - was.keys()})
        if kept:
            self.open_states[target.id] = kept
        else:
            self.open_states.pop(target.id, None)
        self.urgent = True
        return True

    def record_billing(self, target: OnlineTarget, billing: dict[str, tuple[int, int]], at: datetime) -> None:
        row: dict[str, Any] = {
            "dealer_id": target.dealer_id,
            "cabinet_id": target.cabinet_id,
            "online_access_id": target.id,
            "read_at": at,
            "source": "soap",
        }
        for kind in ("docs", "search", "print", "upload"):
            top, used = billing.get(kind, (None, None))
            row[f"{kind}_max"] = top
            row[f"{kind}_used"] = used
        self._pending.billing.append(row)
        self.urgent = True

    def record_pref(self, installation_id: int, backup: str | None, restart: str | None) -> None:
        self._pending.prefs[installation_id] = (backup, restart)

    def forget(self, installation_ids: Iterable[int] = (), online_ids: Iterable[int] = ()) -> None:
        """Targets no longer probed here: their checks and open states are removed from the store."""
        inst, online = set(installation_ids), set(online_ids)
        if not inst and not online:
            return
        for key in [
            k
            for k in self.current
            if (k[0] == "inst" and k[1] in inst) or (k[0] == "online" and k[1] in online)
        ]:
            del self.current[key]
            self._pending.checks.pop(key, None)
            self._windows.pop(key, None)
        for ident in inst:
            self.open_states.pop(ident, None)
        self._pending.forget_installations |= inst
        self._pending.forget_online |= online
        self.urgent = True

    def _sample(self, key: Key, target: Target, seconds: float, at: datetime) -> None:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(at)
        window.samples += 1
        window.total += seconds
        window.peak = max(window.peak, seconds)
        if at - window.started >= self.latency_window:
            self._pending.latency.append(
                {
                    "dealer_id": target.dealer_id,
                    "cabinet_id": target.cabinet_id,
                    "installation_id": key[1] if key[0] == "inst" else None,
                    "online_access_id": key[1] if key[0] == "online" else None,
                    "check_name": key[2],
                    "at": at,
                    "samples": window.samples,
                    "mean_ms": round(window.total / window.samples * 1000, 3),
                    "max_ms": round(window.peak * 1000, 3),
                }
            )
            del self._windows[key]

    # -- batching ----------------------------------------------------------------------------------

    def take(self, now: datetime, *, touch: bool = True) -> Batch:
        """Writes due now (event loop): queued changes, plus (``touch``) rows not refreshed for a while."""
        batch, self._pending = self._pending, Batch()
        self.urgent = False
        if touch:
            due = now - self.touch
            for key, entry in self.current.items():
                if key not in batch.checks and (entry.written_at is None or entry.written_at <= due):
                    batch.checks[key] = entry
        # Copies: the worker thread writes them while the loop goes on updating the live states.
        batch.checks = {key: replace(entry) for key, entry in batch.checks.items()}
        return batch

    def put_back(self, batch: Batch) -> None:
        """A batch that could not be written goes back in front of the queue."""
        batch.merge_back(self._pending)
        self._pending = batch
        self.urgent = True

    def write(self, batch: Batch, now: datetime) -> int:
        """Write a batch in one transaction (worker thread); returns the number of rows written."""
        try:
            with self.db.write() as s:
                rows = self._write(s, batch, now)
        except IntegrityError:
            # An installation or online access was deleted while it was being probed: drop its rows.
            with self.db.session() as s:
                self._drop_vanished(s, batch)
            with self.db.write() as s:
                rows = self._write(s, batch, now)
        for key in batch.checks:
            live = self.current.get(key)
            if live is not None:
                live.written_at = now
        self.writes += 1
        self.rows_written += rows
        return rows

    def _drop_vanished(self, s: Session, batch: Batch) -> None:
        inst_ids = {k[1] for k in batch.checks if k[0] == "inst"} | {i[1] for i in batch.intervals}
        online_ids = {k[1] for k in batch.checks if k[0] == "online"} | {
            r["online_access_id"] for r in batch.billing
        }
        alive_inst = (
            set(s.scalars(select(Installation.id).where(Installation.id.in_(inst_ids))))
            if inst_ids
            else set()
        )
        alive_online = (
            set(s.scalars(select(OnlineAccess.id).where(OnlineAccess.id.in_(online_ids))))
            if online_ids
            else set()
        )
        batch.checks = {
            k: v
            for k, v in batch.checks.items()
            if (k[0] == "inst" and k[1] in alive_inst) or (k[0] == "online" and k[1] in alive_online)
        }
        batch.intervals = [i for i in batch.intervals if i[1] in alive_inst]
        batch.latency = [
            r
            for r in batch.latency
            if (r["installation_id"] in alive_inst) or (r["online_access_id"] in alive_online)
        ]
        batch.billing = [r for r in batch.billing if r["online_access_id"] in alive_online]
        batch.prefs = {k: v for k, v in batch.prefs.items() if k in alive_inst}

    def _write(self, s: Session, batch: Batch, now: datetime) -> int:
        rows = 0
        if batch.forget_installations:
            ids = list(batch.forget_installations)
            s.execute(delete(ProbeCheck).where(ProbeCheck.installation_id.in_(ids)))
            s.execute(
                update(ProbeStateInterval)
                .where(ProbeStateInterval.installation_id.in_(ids), ProbeStateInterval.ended_at.is_(None))
                .values(ended_at=now)
            )
        if batch.forget_online:
            s.execute(delete(ProbeCheck).where(ProbeCheck.online_access_id.in_(list(batch.forget_online))))
        for _kind, ident, check in batch.drop_checks:
            s.execute(
                delete(ProbeCheck).where(ProbeCheck.installation_id == ident, ProbeCheck.check_name == check)
            )
        rows += self._upsert_checks(s, batch.checks)
        for op, inst, state, code, at, detail, dealer_id, cabinet_id in batch.intervals:
            if op == "close":
                s.execute(
                    update(ProbeStateInterval)
                    .where(
                        ProbeStateInterval.installation_id == inst,
                        ProbeStateInterval.state == state,
                        ProbeStateInterval.ended_at.is_(None),
                    )
                    .values(ended_at=at)
                )
            else:
                s.add(
                    ProbeStateInterval(
                        dealer_id=dealer_id,
                        cabinet_id=cabinet_id,
                        installation_id=inst,
                        state=state,
                        http_code=code,
                        started_at=at,
                        detail=detail,
                    )
                )
            rows += 1
        if batch.latency:
            s.execute(insert(ProbeLatency), batch.latency)
            rows += len(batch.latency)
        if batch.billing:
            s.execute(insert(OnlineBillingReading), batch.billing)
            rows += len(batch.billing)
        for inst, (backup, restart) in batch.prefs.items():
            s.execute(
                update(Installation)
                .where(Installation.id == inst)
                .values(backup_time=backup, restart_time=restart)
            )
            rows += 1
        return rows

    def _upsert_checks(self, s: Session, checks: dict[Key, Current]) -> int:
        by_kind: dict[str, list[dict[str, Any]]] = {"inst": [], "online": []}
        for (kind, ident, check), entry in checks.items():
            by_kind[kind].append(
                {
                    "dealer_id": entry.dealer_id,
                    "cabinet_id": entry.cabinet_id,
                    "installation_id": ident if kind == "inst" else None,
                    "online_access_id": ident if kind == "online" else None,
                    "check_name": check,
                    "status": entry.status,
                    "since": entry.since,
                    "checked_at": entry.checked_at,
                    "value": entry.value[:100],
                    "detail": entry.detail,
                }
            )
        dialect = s.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        for kind, values in by_kind.items():
            if not values:
                continue
            target = ProbeCheck.installation_id if kind == "inst" else ProbeCheck.online_access_id
            stmt = module.insert(ProbeCheck)
            stmt = stmt.on_conflict_do_update(
                index_elements=[target, ProbeCheck.check_name],
                set_={
                    "dealer_id": stmt.excluded.dealer_id,
                    "cabinet_id": stmt.excluded.cabinet_id,
                    "status": stmt.excluded.status,
                    "since": stmt.excluded.since,
                    "checked_at": stmt.excluded.checked_at,
                    "value": stmt.excluded.value,
                    "detail": stmt.excluded.detail,
                },
            )
            s.execute(stmt, values)
        return len(checks)
