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
"""

from __future__ import annotations

import logging
import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import COUNT_FOR, RULES, RuleSpec
from kodeks_smart.store.alert_models import AlertEvent, AlertState

log = logging.getLogger(__name__)


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


Condition = Callable[[Session, datetime], Iterable[Instance]]

#: ``last_seen_at`` is refreshed at most this often, so that steady alerts are not rewritten every cycle.
LAST_SEEN_GRANULARITY = timedelta(minutes=5)


class _Lenient(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str):
            value = kwargs.get(key)
            return "?" if value is None or value == "" else value
        return super().get_value(key, args, kwargs)


_FORMATTER = _Lenient()


def render_summary(spec: RuleSpec, labels: Mapping[str, Any]) -> str:
    """The rule's Russian summary line; a missing label shows as «?» instead of failing."""
    return _FORMATTER.format(spec.summary, **labels)


@dataclass
class CycleResult:
    evaluated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    active: int = 0
    fired: int = 0
    resolved: int = 0


class Evaluator:
    def __init__(self, conditions: Mapping[str, Condition], rules: Mapping[str, RuleSpec] = RULES) -> None:
        unknown = sorted(set(conditions) - set(rules))
        if unknown:
            raise ValueError(f"conditions for unknown rules: {', '.join(unknown)}")
        self.conditions = dict(conditions)
        self.rules = rules

    def collect(
        self, session: Session, now: datetime, result: CycleResult
    ) -> dict[tuple[str, str], Instance]:
        """Steps 1 and 2: the active instances of every rule that could be evaluated."""
        active: dict[tuple[str, str], Instance] = {}
        for name, condition in self.conditions.items():
            try:
                instances = list(condition(session, now))
            except Exception as exc:  # one broken rule must not stop the others
                log.exception("alert rule %s failed", name)
                result.failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            result.evaluated.append(name)
            for inst in instances:
                active[(inst.rule, inst.key)] = inst
        for base, count_rule in COUNT_FOR.items():
            if base not in result.evaluated or count_rule.name not in self.rules:
                continue
            result.evaluated.append(count_rule.name)
            by_cabinet: dict[tuple[int, int], list[Instance]] = defaultdict(list)
            for inst in active.values():
                if inst.rule == base:
                    by_cabinet[(inst.dealer_id, inst.cabinet_id)].append(inst)
            for (dealer_id, cabinet_id), members in by_cabinet.items():
                if len(members) > count_rule.count_threshold:
                    spec = self.rules[base]
                    objects = sorted(
                        f"{m.labels.get('client') or '?'} — {render_summary(spec, m.labels)}" for m in members
                    )
                    labels = {
                        "count": len(members),
                        "objects": objects,
                        "dealer": members[0].labels.get("dealer"),
                    }
                    key = f"cabinet:{cabinet_id}"
                    active[(count_rule.name, key)] = Instance(
                        count_rule.name, key, dealer_id, cabinet_id, labels=labels
                    )
        result.active = len(active)
        return active

    def run(self, session: Session, now: datetime) -> CycleResult:
        """One cycle (steps 1–3) inside the caller's transaction."""
        result = CycleResult()
        active = self.collect(session, now, result)
        evaluated = set(result.evaluated)
        if not evaluated:
            return result
        rows = session.scalars(
            select(AlertState).where(
                AlertState.rule.in_(evaluated),
                or_(AlertState.status != "resolved", AlertState.resolve_pending.is_(True)),
            )
        )
        states = {(s.rule, s.key): s for s in rows}
        # Resolved alerts that come back: one query per rule and chunk of keys, not one per alert.
        returning: dict[str, list[str]] = defaultdict(list)
        for rule, key in active:
            if (rule, key) not in states:
                returning[rule].append(key)
        resolved: dict[tuple[str, str], AlertState] = {}
        for rule, keys in returning.items():
            for start in range(0, len(keys), 500):
                for s in session.scalars(
                    select(AlertState).where(
                        AlertState.rule == rule, AlertState.key.in_(keys[start : start + 500])
                    )
                ):
                    resolved[(s.rule, s.key)] = s
        fired: list[AlertState] = []
        for ident, inst in active.items():
            state = states.pop(ident, None) or resolved.get(ident)
            state, fires = self._observe(session, state, inst, now)
            if fires:
                fired.append(state)
        if fired:
            session.flush()  # once for all new alerts: their ids go into the events
            for state in fired:
                self._event(session, state, "firing", now, state.summary)
            result.fired += len(fired)
        for state in states.values():
            self._vanish(session, state, now, result)
        return result

    def _observe(
        self, session: Session, state: AlertState | None, inst: Instance, now: datetime
    ) -> tuple[AlertState, bool]:
        """Update (or create) the alert of an active instance; the flag is True if it fires now."""
        spec = self.rules[inst.rule]
        labels = dict(inst.labels)
        summary = (
            render_summary(spec, labels) if not spec.is_count else spec.summary.format(count=labels["count"])
        )
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
        for name, value in (
            ("dealer_id", inst.dealer_id),
            ("cabinet_id", inst.cabinet_id),
            ("client_id", inst.client_id),
            ("installation_id", inst.installation_id),
            ("online_access_id", inst.online_access_id),
            ("severity", spec.severity),
            ("priority", spec.priority),
            ("category", spec.category),
            ("labels", labels),
            ("summary", summary),
        ):
            if getattr(state, name) != value:
                setattr(state, name, value)
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
