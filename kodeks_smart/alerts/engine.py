"""Evaluation and lifecycle: conditions over stored data → alert states pending → firing → resolved.

One evaluation cycle:
1. run every rule's condition; a condition that raises is logged and its rule is left as it was
   (its alerts neither fire nor resolve on a broken query);
2. synthesise "…Count" instances: a per-object rule active for more objects of one cabinet than the
   Count rule's threshold gives one Count instance for that cabinet;
3. move states: new → pending (or straight to firing when ``for`` is 0), pending for longer than ``for``
   → firing, firing and no longer active → resolved (a RESOLVED notification is due only if FIRING was
   notified), pending and no longer active → forgotten. A resolved alert that comes back before its
   RESOLVED went out continues firing instead of flapping.
Every transition writes an ``alert_events`` row in the same transaction.

Incremental cycles. Rules fed by sysinfo reports (the Evaluator's ``scoped`` rules) only change when a new
report is processed. The Evaluator keeps in memory the id of the newest report it has seen (the watermark);
a *partial* cycle evaluates those rules only for the installations with reports past the watermark (the
installation ids are in `cycle_scope` for their conditions) and leaves every alert of other installations
exactly as it is. A *full* cycle evaluates everything; it runs on the first cycle (so a restart simply does
one) and then every ``full_interval`` seconds, which also covers the clock-dependent parts of those rules.
Rules that are not scoped (probes, online access…) are evaluated in full every cycle.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import case, insert, null, or_, select, text, update
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import COUNT_FOR, RULES, RuleSpec
from kodeks_smart.store.alert_models import AlertEvent, AlertState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Instance:
    """One object for which a rule's condition holds now."""

    rule: str
    key: str
    dealer_id: int
    cabinet_id: int
    client_id: int | None = None
    installation_id: int | None = None
    online_access_id: int | None = None
    labels: Mapping[str, Any] = field(default_factory=dict)
    #: A stable digest of everything the labels (and so the summary) are made of, or None. With one, an open
    #: alert stored with the same fingerprint (and the same owner, severity, priority and category) is steady
    #: without its labels being built or compared: ``labels`` may then be `LazyLabels`, built only for the
    #: alerts that change. The rule must put into it whatever its labels depend on, the summary template and
    #: a version of its label-building code included (see `fingerprint`).
    fingerprint: str | None = None


class LazyLabels(Mapping[str, Any]):
    """Labels built on first use. A rule whose labels are costly (lists of events) returns them so together
    with an `Instance.fingerprint`: the engine builds them only for alerts that are new or change."""

    __slots__ = ("_build", "_labels")

    def __init__(self, build: Callable[[], Mapping[str, Any]]) -> None:
        self._build: Callable[[], Mapping[str, Any]] | None = build
        self._labels: dict[str, Any] = {}

    def _built(self) -> dict[str, Any]:
        if self._build is not None:
            self._labels = dict(self._build())
            self._build = None
        return self._labels

    def build(self) -> dict[str, Any]:
        """A copy of the labels, built now if they were not yet."""
        return dict(self._built())

    @property
    def built(self) -> bool:
        """Whether the labels were built (for tests: steady alerts must not need them)."""
        return self._build is None

    def __getitem__(self, key: str) -> Any:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def fingerprint(*parts: object) -> str:
    """A stable digest of ``parts`` (their ``repr``), for `Instance.fingerprint`: the same in every process,
    unlike ``hash()``, because it is stored with the alert."""
    return hashlib.blake2b(repr(parts).encode("utf-8", "backslashreplace"), digest_size=12).hexdigest()


Condition = Callable[[Session, datetime], Iterable[Instance]]

#: ``last_seen_at`` is refreshed at most this often, so that steady alerts are not rewritten every cycle.
LAST_SEEN_GRANULARITY = timedelta(minutes=5)
#: Key of a dict in ``session.info`` that lives for the conditions of one cycle: conditions of several
#: rules answered by one query keep its result there (see `cycle_cached`).
CYCLE_CACHE = "kodeks_smart.alerts.cycle"
#: Key of ``session.info`` holding, while the scoped conditions of a partial cycle run, the installation ids
#: they evaluate (see `cycle_scope`).
CYCLE_SCOPE = "kodeks_smart.alerts.scope"
#: Key of ``session.info`` holding, while the conditions of a full pass run, the compared columns (see
#: `_compared`) of the open alerts of every rule the pass evaluates, by rule: read once, before the
#: conditions, for `stored_fingerprints` and then for the lifecycle (see `Evaluator._open_rows`).
CYCLE_OPEN = "kodeks_smart.alerts.open"
#: Key of ``session.info`` holding, during a cycle, the Evaluator's `cycle_memo`.
CYCLE_MEMO = "kodeks_smart.alerts.memo"
#: ``changes(session, watermark)`` → (new watermark, installation ids with reports past ``watermark``);
#: with ``watermark`` None only the new watermark matters (a full pass follows).
ChangeFeed = Callable[[Session, int | None], tuple[int | None, frozenset[int]]]
_CHUNK = 500
#: A partial cycle with more installations to look at than this is a full pass instead.
MAX_SCOPE = 5000
#: Columns an active instance sets on its alert, in the order of `_values`.
_ASSIGNED = (
    "dealer_id",
    "cabinet_id",
    "client_id",
    "installation_id",
    "online_access_id",
    "severity",
    "priority",
    "category",
    "labels",
    "summary",
)
#: Columns compared directly; labels and summary only for alerts without a fingerprint, the fingerprint
#: otherwise.
_OWNER = _ASSIGNED[:-2]
#: Positions of the `_OWNER` columns (and of the rule, key, status, ``seen_due`` and fingerprint) in a row of
#: `_compared`; its id is the first column.
_OWNER_AT = slice(6, 6 + len(_OWNER))
_RULE_AT, _KEY_AT, _STATUS_AT, _SEEN_DUE_AT, _FINGERPRINT_AT = 1, 2, 3, 5, 6 + len(_OWNER)


def _compared(now: datetime) -> tuple[Any, ...]:
    """What a cycle reads of every open alert to tell steady ones from those that change.

    Labels (JSON, with lists of events for some rules) and summaries are read only for alerts without a
    fingerprint: decoding them was a third of a full pass with 10,000 KodeksSearchIsEmpty alerts. The times
    are reduced to what the cycle asks of them (``started_at`` of pending alerts only; whether
    ``last_seen_at`` is due), which spares converting two datetimes per alert.
    """
    return (
        AlertState.id,
        AlertState.rule,
        AlertState.key,
        AlertState.status,
        case((AlertState.status == "pending", AlertState.started_at), else_=null()).label("started_at"),
        or_(AlertState.last_seen_at.is_(None), AlertState.last_seen_at <= now - LAST_SEEN_GRANULARITY).label(
            "seen_due"
        ),
        *(getattr(AlertState, name) for name in _OWNER),
        AlertState.fingerprint,
        case((AlertState.fingerprint.is_(None), AlertState.labels), else_=null()).label("labels"),
        case((AlertState.fingerprint.is_(None), AlertState.summary), else_=null()).label("summary"),
    )


def _owner(inst: Instance, spec: RuleSpec) -> tuple[Any, ...]:
    """The compared columns of an alert but for its labels and summary."""
    return (
        inst.dealer_id,
        inst.cabinet_id,
        inst.client_id,
        inst.installation_id,
        inst.online_access_id,
        spec.severity,
        spec.priority,
        spec.category,
    )


def _values(inst: Instance, spec: RuleSpec, labels: dict[str, Any], summary: str) -> tuple[Any, ...]:
    return (*_owner(inst, spec), labels, summary)


def _steady(
    row: Any,
    inst: Instance,
    spec: RuleSpec,
    desired: Callable[[], tuple[RuleSpec, dict[str, Any], str]],
    now: datetime,
) -> bool:
    """True if an open alert stays as it is (but for ``last_seen_at``): same values, and not a pending one
    whose ``for`` has run out. With a fingerprint the labels are not built: the same fingerprint and owner
    columns mean the same alert; ``desired()`` builds them for the others. (Columns by position: this runs
    for every open alert of a full pass.)"""
    if row[_STATUS_AT] == "pending" and (now - row.started_at).total_seconds() >= spec.for_seconds:
        return False
    if row[_FINGERPRINT_AT] != inst.fingerprint:
        return False
    if inst.fingerprint is not None:
        return bool(row[_OWNER_AT] == _owner(inst, spec))
    _, labels, summary = desired()
    return all(
        getattr(row, name) == value
        for name, value in zip(_ASSIGNED, _values(inst, spec, labels, summary), strict=True)
    )


def cycle_cached(session: Session, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, once per evaluation cycle: conditions of several rules that one query answers share its
    result through this. Outside a cycle (a condition called on its own) it simply computes."""
    cache: dict[str, Any] | None = session.info.get(CYCLE_CACHE)
    if cache is None:
        return compute()
    if session.info.get(CYCLE_SCOPE) is not None:
        name = f"{name}@scoped"  # computed for some installations only: not for a condition without scope
    if name not in cache:
        cache[name] = compute()
    return cast(T, cache[name])


def cycle_memo(session: Session, name: str) -> dict[Any, Any] | None:
    """A dict of the running Evaluator named ``name`` that outlives the cycle, or None outside an
    evaluation cycle (a condition called on its own). Only for data that is exact by its key whatever the
    cycle: facts that never change under that key (the snapshot facts of a report, keyed by its row id;
    see `kodeks_smart.alerts.rules.sysinfo_rules`). `Evaluator.reset` clears it."""
    memo: dict[str, dict[Any, Any]] | None = session.info.get(CYCLE_MEMO)
    if memo is None:
        return None
    return memo.setdefault(name, {})


def cycle_scope(session: Session) -> frozenset[int] | None:
    """The installation ids a scoped condition is to evaluate now; None = all of them."""
    scope: frozenset[int] | None = session.info.get(CYCLE_SCOPE)
    return scope


def stored_fingerprints(session: Session, rule: str) -> dict[str, str | None]:
    """Key → fingerprint of the open (pending or firing) alerts of ``rule`` that the calling condition
    decides: all of them, or in a partial cycle those of the installations in `cycle_scope`. A condition
    whose labels are costly prepares them only for the keys whose fingerprint differs (see
    `Instance.fingerprint`)."""
    scope = cycle_scope(session)
    prefetched: dict[str, list[Any]] | None = session.info.get(CYCLE_OPEN)
    if scope is None and prefetched is not None and rule in prefetched:
        # A full pass read them already, with the rows the lifecycle compares.
        # By position: attribute access on 10,000 rows costs more than the query it replaces.
        return {
            row[_KEY_AT]: row[_FINGERPRINT_AT]
            for row in prefetched[rule]
            if row[_STATUS_AT] in ("pending", "firing")
        }
    stmt = select(AlertState.key, AlertState.fingerprint).where(
        AlertState.rule == rule, AlertState.status.in_(("pending", "firing"))
    )
    if scope is None:
        return {key: value for key, value in session.execute(stmt)}
    found: dict[str, str | None] = {}
    ids = sorted(scope)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(
            {key: value for key, value in session.execute(stmt.where(AlertState.installation_id.in_(chunk)))}
        )
    return found


@dataclass(frozen=True)
class RuleScope:
    """What a partially evaluated rule covered: its stored alerts whose ``column`` (``installation_id``, or
    ``cabinet_id`` for a Count rule) is in ``ids``; its other alerts are left as they are."""

    column: str
    ids: frozenset[int]

    def covers(self, row: Any) -> bool:
        return getattr(row, self.column) in self.ids


class _Lenient(dict[str, Any]):
    """Labels for ``str.format_map``: a missing, None or empty label reads as «?»."""

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        return "?" if value is None or value == "" else value


def render_summary(spec: RuleSpec, labels: Mapping[str, Any]) -> str:
    """The rule's Russian summary line; a missing label shows as «?» instead of failing."""
    return spec.summary.format_map(_Lenient(labels))


@dataclass
class CycleResult:
    evaluated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    active: int = 0
    fired: int = 0
    resolved: int = 0
    #: True for a full pass; else the partially evaluated rules and what they covered.
    full: bool = True
    scopes: dict[str, RuleScope] = field(default_factory=dict)


class Evaluator:
    """Evaluates the rules, cycle after cycle; keep one instance for the incremental cycles to work.

    ``scoped`` names the rules whose conditions honour `cycle_scope` and ``changes`` tells which installations
    have new data; without ``changes`` every cycle is a full pass.
    """

    def __init__(
        self,
        conditions: Mapping[str, Condition],
        rules: Mapping[str, RuleSpec] = RULES,
        *,
        scoped: Collection[str] = (),
        changes: ChangeFeed | None = None,
        full_interval: float = 300.0,
    ) -> None:
        unknown = sorted(set(conditions) - set(rules))
        if unknown:
            raise ValueError(f"conditions for unknown rules: {', '.join(unknown)}")
        self.conditions = dict(conditions)
        self.rules = rules
        self.scoped = frozenset(scoped) & set(conditions)
        self.changes = changes
        self.full_interval = timedelta(seconds=full_interval)
        #: Id of the newest report seen (None: nothing seen yet, the next cycle is a full pass).
        self.watermark: int | None = None
        self.last_full: datetime | None = None
        #: What the conditions keep from one cycle to the next (see `cycle_memo`).
        self.memo: dict[str, dict[Any, Any]] = {}

    def reset(self) -> None:
        """Forget the watermark (the next cycle is a full pass) and the memo (after a cycle that was not
        committed)."""
        self.watermark = None
        self.last_full = None
        self.memo.clear()

    def _plan(self, session: Session, now: datetime) -> frozenset[int] | None:
        """The installations the scoped rules evaluate this cycle; None = a full pass."""
        if self.changes is None or not self.scoped:
            return None
        full_due = (
            self.watermark is None or self.last_full is None or now - self.last_full >= self.full_interval
        )
        watermark, changed = self.changes(session, None if full_due else self.watermark)
        if len(changed) > MAX_SCOPE:
            full_due = True  # as costly as a full pass anyway
        if full_due:
            self.last_full = now
        self.watermark = watermark if watermark is not None else self.watermark
        return None if full_due else changed

    def collect(
        self,
        session: Session,
        now: datetime,
        result: CycleResult,
        scope: frozenset[int] | None = None,
    ) -> dict[tuple[str, str], Instance]:
        """Steps 1 and 2: the active instances of every rule that could be evaluated (the scoped rules only
        for the installations in ``scope``, unless it is None)."""
        active: dict[tuple[str, str], Instance] = {}
        result.full = scope is None
        for name, condition in self.conditions.items():
            partial = scope is not None and name in self.scoped
            if partial and not scope:
                continue  # no new reports: nothing to look at, its alerts stay as they are
            session.info[CYCLE_SCOPE] = scope if partial else None
            try:
                instances = list(condition(session, now))
            except Exception as exc:  # one broken rule must not stop the others
                log.exception("alert rule %s failed", name)
                result.failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                session.info.pop(CYCLE_SCOPE, None)
            result.evaluated.append(name)
            if partial:
                assert scope is not None
                result.scopes[name] = RuleScope("installation_id", scope)
            for inst in instances:
                if partial and inst.installation_id not in scope:  # type: ignore[operator]
                    continue  # a condition that ignores the scope must not touch other installations
                active[(inst.rule, inst.key)] = inst
        for base, count_rule in COUNT_FOR.items():
            if base not in result.evaluated or count_rule.name not in self.rules:
                continue
            result.evaluated.append(count_rule.name)
            spec = self.rules[base]
            by_cabinet: dict[tuple[int, int], list[str]] = defaultdict(list)
            dealers: dict[int, Any] = {}
            for inst in active.values():
                if inst.rule == base:
                    by_cabinet[(inst.dealer_id, inst.cabinet_id)].append(
                        f"{inst.labels.get('client') or '?'} — {render_summary(spec, inst.labels)}"
                    )
                    dealers.setdefault(inst.dealer_id, inst.labels.get("dealer"))
            base_scope = result.scopes.get(base)
            if base_scope is not None:
                cabinets = self._count_partial(session, base, base_scope, by_cabinet, dealers)
                result.scopes[count_rule.name] = RuleScope("cabinet_id", cabinets)
            for (dealer_id, cabinet_id), members in by_cabinet.items():
                if len(members) > count_rule.count_threshold:
                    objects = sorted(members)
                    labels = {"count": len(members), "objects": objects, "dealer": dealers.get(dealer_id)}
                    key = f"cabinet:{cabinet_id}"
                    active[(count_rule.name, key)] = Instance(
                        count_rule.name, key, dealer_id, cabinet_id, labels=labels
                    )
        result.active = len(active)
        return active

    @staticmethod
    def _count_partial(
        session: Session,
        base: str,
        scope: RuleScope,
        by_cabinet: dict[tuple[int, int], list[str]],
        dealers: dict[int, Any],
    ) -> frozenset[int]:
        """Count instances after a partial evaluation of their base rule: the cabinets it touched (with
        active instances now, or open alerts of the evaluated installations) get the evaluated instances plus
        the open alerts of their other installations, as the last cycle that evaluated those left them.
        Returns the cabinets whose Count alerts this cycle decides."""
        is_open = AlertState.status.in_(("pending", "firing"))
        cabinets = {cabinet_id for _, cabinet_id in by_cabinet}
        ids = sorted(scope.ids)
        for start in range(0, len(ids), _CHUNK):
            cabinets.update(
                session.scalars(
                    select(AlertState.cabinet_id)
                    .where(
                        AlertState.rule == base,
                        is_open,
                        AlertState.installation_id.in_(ids[start : start + _CHUNK]),
                    )
                    .distinct()
                )
            )
        touched = sorted(cabinets)
        for start in range(0, len(touched), _CHUNK):
            for row in session.execute(
                select(
                    AlertState.dealer_id,
                    AlertState.cabinet_id,
                    AlertState.installation_id,
                    AlertState.labels,
                    AlertState.summary,
                ).where(
                    AlertState.rule == base,
                    is_open,
                    AlertState.cabinet_id.in_(touched[start : start + _CHUNK]),
                )
            ):
                if scope.covers(row):
                    continue  # evaluated just now
                labels = row.labels or {}
                by_cabinet[(row.dealer_id, row.cabinet_id)].append(
                    f"{labels.get('client') or '?'} — {row.summary}"
                )
                dealers.setdefault(row.dealer_id, labels.get("dealer"))
        return frozenset(cabinets)

    def _evaluable(self) -> list[str]:
        """The rules a full pass evaluates unless their condition fails: those with a condition and the
        Count rules of those."""
        names = list(self.conditions)
        names.extend(
            count_rule.name
            for base, count_rule in COUNT_FOR.items()
            if base in self.conditions and count_rule.name in self.rules
        )
        return names

    def _prefetch(self, session: Session, now: datetime) -> dict[str, list[Any]]:
        """Rule → the compared columns of its open alerts (and those whose RESOLVED is due), for every rule
        a full pass may evaluate: one query before the conditions, which serves `stored_fingerprints`
        too (a second read of 10,000 KodeksSearchIsEmpty alerts per full pass before)."""
        names = self._evaluable()
        found: dict[str, list[Any]] = {name: [] for name in names}
        is_open = or_(AlertState.status != "resolved", AlertState.resolve_pending.is_(True))
        for row in session.execute(select(*_compared(now)).where(AlertState.rule.in_(names), is_open)):
            found[row[_RULE_AT]].append(row)
        return found

    def _open_rows(
        self,
        session: Session,
        result: CycleResult,
        now: datetime,
        prefetched: Mapping[str, list[Any]] | None = None,
    ) -> dict[tuple[str, str], Any]:
        """The compared columns of the open alerts (and those whose RESOLVED is due) that this cycle decides:
        all of the rules evaluated in full, those in their scope of the partially evaluated ones. A full
        pass passes the rows it read before its conditions (`_prefetch`)."""
        is_open = or_(AlertState.status != "resolved", AlertState.resolve_pending.is_(True))
        whole = [name for name in result.evaluated if name not in result.scopes]
        if prefetched is not None and not result.scopes:
            return {(row[_RULE_AT], row[_KEY_AT]): row for name in whole for row in prefetched.get(name, ())}
        compared = _compared(now)
        queries = []
        if whole:
            queries.append(select(*compared).where(AlertState.rule.in_(whole), is_open))
        by_scope: dict[RuleScope, list[str]] = defaultdict(list)
        for name, scope in result.scopes.items():
            by_scope[scope].append(name)
        for scope, names in by_scope.items():
            ids = sorted(scope.ids)
            column = getattr(AlertState, scope.column)
            for start in range(0, len(ids), _CHUNK):
                queries.append(
                    select(*compared).where(
                        AlertState.rule.in_(names), is_open, column.in_(ids[start : start + _CHUNK])
                    )
                )
        return {(row.rule, row.key): row for stmt in queries for row in session.execute(stmt)}

    def run(self, session: Session, now: datetime) -> CycleResult:
        """One cycle (steps 1–3) inside the caller's transaction.

        Most alerts are steady from one cycle to the next. Their states are compared as plain rows (one Core
        select of the compared columns), not loaded as ORM objects; only alerts that change — new, pending
        due to fire, with changed labels, returning or vanishing — are loaded and updated through the ORM,
        and steady alerts whose ``last_seen_at`` is due get it in one bulk UPDATE.

        The cyclic garbage collector is paused for the cycle: a full pass allocates hundreds of thousands of
        short-lived objects (rows, instances), which triggered collections that walked the whole heap of the
        process again and again — 0.1-0.35 s of CPU per full pass over 10,000 installations, for garbage
        that reference counting frees anyway. Collection resumes (and catches up) when the cycle ends.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._run(session, now)
        finally:
            if paused:
                gc.enable()

    def _run(self, session: Session, now: datetime) -> CycleResult:
        result = CycleResult()
        if session.get_bind().dialect.name == "postgresql":
            # The conditions are many short index lookups per installation; over 10,000 installations their
            # estimated cost crosses jit_above_cost, and compiling them cost more server CPU (0.2-0.5 s per
            # query in a full pass) than it could save. For this transaction only.
            session.execute(text("SET LOCAL jit = off"))
        session.info[CYCLE_CACHE] = {}
        session.info[CYCLE_MEMO] = self.memo
        prefetched: dict[str, list[Any]] | None = None
        try:
            scope = self._plan(session, now)
            if scope is None:
                prefetched = session.info[CYCLE_OPEN] = self._prefetch(session, now)
            active = self.collect(session, now, result, scope)
        finally:
            session.info.pop(CYCLE_CACHE, None)
            session.info.pop(CYCLE_OPEN, None)
            session.info.pop(CYCLE_MEMO, None)
        if scope is not None and self.scoped.intersection(result.failed):
            # The new reports of this cycle were not seen by a broken rule: the next cycle is a full pass.
            self.last_full = None
        if not result.evaluated:
            return result
        light = self._open_rows(session, result, now, prefetched)
        wanted: dict[tuple[str, str], tuple[RuleSpec, dict[str, Any], str]] = {}

        def desired(ident: tuple[str, str]) -> tuple[RuleSpec, dict[str, Any], str]:
            """Built once per alert, and only for those that need it (see `Instance.fingerprint`)."""
            if ident not in wanted:
                wanted[ident] = self._desired(active[ident])
            return wanted[ident]

        load: list[int] = []  # ids of stored alerts that change
        touch: list[int] = []  # ids of steady alerts whose last_seen_at is due
        returning: dict[str, list[str]] = defaultdict(list)  # not open: new, or resolved and back
        unknown: set[tuple[str, str]] = set()
        rules = self.rules
        for ident, inst in active.items():
            row = light.pop(ident, None)
            if row is None:
                returning[inst.rule].append(inst.key)
                unknown.add(ident)
            elif row[_STATUS_AT] in ("pending", "firing") and _steady(
                row, inst, rules[inst.rule], partial(desired, ident), now
            ):
                if row[_SEEN_DUE_AT]:
                    touch.append(row[0])
            else:
                load.append(row[0])
        # What is left in ``light`` is no longer active: pending ones are forgotten, firing ones resolve.
        load.extend(row.id for row in light.values() if row.status in ("pending", "firing"))
        states: dict[tuple[str, str], AlertState] = {}
        for start in range(0, len(load), _CHUNK):
            for state in session.scalars(
                select(AlertState).where(AlertState.id.in_(load[start : start + _CHUNK]))
            ):
                states[(state.rule, state.key)] = state
        # Resolved alerts that come back: one query per rule and chunk of keys, not one per alert.
        for rule, keys in returning.items():
            for start in range(0, len(keys), _CHUNK):
                for state in session.scalars(
                    select(AlertState).where(
                        AlertState.rule == rule, AlertState.key.in_(keys[start : start + _CHUNK])
                    )
                ):
                    states[(state.rule, state.key)] = state
        for start in range(0, len(touch), _CHUNK):
            session.execute(
                update(AlertState)
                .where(AlertState.id.in_(touch[start : start + _CHUNK]))
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
        fired: list[AlertState] = []
        new: list[tuple[Instance, tuple[RuleSpec, dict[str, Any], str]]] = []
        for ident, inst in active.items():
            found = states.pop(ident, None)
            if found is None:
                if ident in unknown:
                    new.append((inst, desired(ident)))  # never stored: inserted in bulk below
                continue  # else steady
            state, fires = self._observe(session, found, inst, desired(ident), now)
            if fires:
                fired.append(state)
        if fired:
            session.flush()  # once for all of them: their ids go into the events
            for state in fired:
                self._event(session, state, "firing", now, state.summary)
            result.fired += len(fired)
        result.fired += self._insert(session, new, now)
        for state in states.values():
            self._vanish(session, state, now, result)
        return result

    @staticmethod
    def _insert(
        session: Session, new: list[tuple[Instance, tuple[RuleSpec, dict[str, Any], str]]], now: datetime
    ) -> int:
        """Store alerts never seen before, with the events of those that fire at once (``for`` = 0); returns
        how many fire.

        Bulk INSERTs (returning the new ids) instead of one ORM object per alert and event,
        which were flushed one row at a time: 20,000 statements when a first cycle finds 10,000 alerts.
        The states are those `_observe` gives a new alert: pending, or firing at once when ``for`` is 0.
        """
        fired = 0
        for start in range(0, len(new), _CHUNK):
            rows = []
            for inst, (spec, labels, summary) in new[start : start + _CHUNK]:
                fires = spec.for_seconds <= 0
                values = dict(zip(_ASSIGNED, _values(inst, spec, labels, summary), strict=True))
                values.update(
                    rule=inst.rule,
                    key=inst.key,
                    status="firing" if fires else "pending",
                    started_at=now,
                    fired_at=now if fires else None,
                    resolved_at=None,
                    last_seen_at=now,
                    notified_at=None,
                    resolve_pending=False,
                    fingerprint=inst.fingerprint,
                )
                rows.append(values)
            # Matched by (rule, key), unique: asking for the rows' order would make SQLite insert one by one.
            ids = {
                (rule, key): alert_id
                for alert_id, rule, key in session.execute(
                    insert(AlertState).returning(AlertState.id, AlertState.rule, AlertState.key), rows
                )
            }
            events = [
                {
                    "dealer_id": row["dealer_id"],
                    "cabinet_id": row["cabinet_id"],
                    "alert_id": ids[(row["rule"], row["key"])],
                    "rule": row["rule"],
                    "key": row["key"],
                    "kind": "firing",
                    "at": now,
                    "detail": row["summary"],
                }
                for row in rows
                if row["status"] == "firing"
            ]
            if events:
                session.execute(insert(AlertEvent), events)
            fired += len(events)
        return fired

    def _desired(self, inst: Instance) -> tuple[RuleSpec, dict[str, Any], str]:
        """The rule, labels and summary an alert of ``inst`` should carry."""
        spec = self.rules[inst.rule]
        labels = inst.labels.build() if isinstance(inst.labels, LazyLabels) else dict(inst.labels)
        summary = (
            render_summary(spec, labels) if not spec.is_count else spec.summary.format(count=labels["count"])
        )
        return spec, labels, summary

    def _observe(
        self,
        session: Session,
        state: AlertState | None,
        inst: Instance,
        desired: tuple[RuleSpec, dict[str, Any], str],
        now: datetime,
    ) -> tuple[AlertState, bool]:
        """Update (or create) the alert of an active instance; the flag is True if it fires now."""
        spec, labels, summary = desired
        if state is None:
            state = AlertState(rule=inst.rule, key=inst.key, status="pending", started_at=now)
            session.add(state)
        elif state.status == "resolved":
            if state.resolve_pending:
                # Came back before its RESOLVED went out: it simply keeps firing.
                state.status = "firing"
                state.resolve_pending = False
                state.resolved_at = None
            else:
                state.status = "pending"
                state.started_at = now
                state.fired_at = None
                state.resolved_at = None
                state.notified_at = None
        # Assign only what changed: a steady alert then costs no UPDATE at all.
        for name, value in zip(_ASSIGNED, _values(inst, spec, labels, summary), strict=True):
            if getattr(state, name) != value:
                setattr(state, name, value)
        if state.fingerprint != inst.fingerprint:
            state.fingerprint = inst.fingerprint
        if state.last_seen_at is None or now - state.last_seen_at >= LAST_SEEN_GRANULARITY:
            state.last_seen_at = now
        if state.status == "pending" and (now - state.started_at).total_seconds() >= spec.for_seconds:
            state.status = "firing"
            state.fired_at = now
            state.last_seen_at = now
            return state, True
        return state, False

    def _vanish(self, session: Session, state: AlertState, now: datetime, result: CycleResult) -> None:
        if state.status == "pending":
            session.delete(state)
        elif state.status == "firing":
            state.status = "resolved"
            state.resolved_at = now
            state.resolve_pending = state.notified_at is not None
            result.resolved += 1
            self._event(session, state, "resolved", now, state.summary)

    @staticmethod
    def _event(session: Session, state: AlertState, kind: str, now: datetime, detail: str) -> None:
        session.add(
            AlertEvent(
                dealer_id=state.dealer_id,
                cabinet_id=state.cabinet_id,
                alert_id=state.id,
                rule=state.rule,
                key=state.key,
                kind=kind,
                at=now,
                detail=detail,
            )
        )
