"""Dispatch: which alerts are due for a notification now, muted or not, grouped into notifications.

1. due FIRING: firing, never notified and older than the group window (so alerts of one rule that
   start together in a cabinet go out as one message), or notified longer ago than the rule's repeat
   interval; due RESOLVED: resolved with a RESOLVED pending;
2. muters (silences, dependency matrix, Count aggregation) keep firing alerts quiet; a muted alert
   stays due and goes out once nothing mutes it, if it is still firing; RESOLVED messages of alerts
   that were notified are never muted, so no FIRING is left without its RESOLVED;
3. group by (dealer, cabinet, rule, kind) and hand each group to the sink in the caller's
   transaction; mark the alerts notified in the same transaction, so a crash either loses neither the
   outbox rows nor the marks, or keeps both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import RULES, RuleSpec
from kodeks_smart.alerts.mute import (
    CountInhibitor,
    Inhibitor,
    MaintenanceWindows,
    Muter,
    Silencer,
    first_reason,
)
from kodeks_smart.store.alert_models import AlertEvent, AlertState


@dataclass
class Notification:
    kind: str  # firing | resolved
    rule: RuleSpec
    dealer_id: int
    cabinet_id: int
    alerts: list[AlertState]
    repeat: bool = False


class NotificationSink(Protocol):
    def enqueue(self, session: Session, notification: Notification, now: datetime) -> None:
        """Store the notification for delivery (outbox rows) in ``session``'s transaction."""


@dataclass
class DispatchResult:
    notifications: list[Notification] = field(default_factory=list)
    muted: dict[int, str] = field(default_factory=dict)


#: The shortest repeat interval of any rule, in seconds.
_SHORTEST_REPEAT = min(spec.repeat_seconds for spec in RULES.values())


def default_muters() -> list[Muter]:
    return [Silencer(), MaintenanceWindows(), Inhibitor(), CountInhibitor()]


class Dispatcher:
    def __init__(
        self,
        sink: NotificationSink,
        *,
        group_wait: timedelta = timedelta(seconds=30),
        muters: Sequence[Muter] | None = None,
    ) -> None:
        self.sink = sink
        self.group_wait = group_wait
        self.muters = list(muters) if muters is not None else default_muters()

    def due(self, session: Session, now: datetime) -> tuple[list[AlertState], list[AlertState]]:
        # Most firing alerts are not due: decide on plain rows, load only the due ones as objects. Alerts
        # notified more recently than the shortest repeat interval of any rule cannot be due: the database
        # leaves them out (10,000 steady alerts cost a tenth of a second of row handling otherwise).
        recently = now - timedelta(seconds=_SHORTEST_REPEAT)
        due = [
            row.id
            for row in session.execute(
                select(AlertState.id, AlertState.rule, AlertState.fired_at, AlertState.notified_at).where(
                    AlertState.status == "firing",
                    or_(AlertState.notified_at.is_(None), AlertState.notified_at <= recently),
                )
            )
            if self._is_due(row, now)
        ]
        firing = [
            s
            for start in range(0, len(due), 500)
            for s in session.scalars(select(AlertState).where(AlertState.id.in_(due[start : start + 500])))
        ]
        resolved = list(
            session.scalars(
                select(AlertState).where(
                    AlertState.status == "resolved", AlertState.resolve_pending.is_(True)
                )
            )
        )
        return firing, resolved

    def _is_due(self, state: Any, now: datetime) -> bool:
        """``state``: an alert, or a row with its ``rule``, ``fired_at`` and ``notified_at``."""
        spec = RULES.get(state.rule)
        if spec is None:
            return False
        if state.notified_at is None:
            return state.fired_at is not None and bool(now - state.fired_at >= self.group_wait)
        return bool((now - state.notified_at).total_seconds() >= spec.repeat_seconds)

    def run(self, session: Session, now: datetime) -> DispatchResult:
        result = DispatchResult()
        firing, resolved = self.due(session, now)
        for muter in self.muters:
            muter.prepare(session, now, firing)
        audible: list[AlertState] = []
        for state in firing:
            reason = first_reason(self.muters, state)
            if reason is None:
                audible.append(state)
            else:
                result.muted[state.id] = reason
        groups: dict[tuple[int, int, str, str], list[AlertState]] = defaultdict(list)
        for state in audible:
            groups[(state.dealer_id, state.cabinet_id, state.rule, "firing")].append(state)
        for state in resolved:
            groups[(state.dealer_id, state.cabinet_id, state.rule, "resolved")].append(state)
        for (dealer_id, cabinet_id, rule_name, kind), members in sorted(groups.items()):
            members.sort(key=lambda s: (s.priority, s.summary))
            repeat = kind == "firing" and all(s.notified_at is not None for s in members)
            notification = Notification(kind, RULES[rule_name], dealer_id, cabinet_id, members, repeat)
            self.sink.enqueue(session, notification, now)
            for state in members:
                if kind == "firing":
                    state.notified_at = now
                else:
                    state.resolve_pending = False
                session.add(
                    AlertEvent(
                        dealer_id=dealer_id,
                        cabinet_id=cabinet_id,
                        alert_id=state.id,
                        rule=state.rule,
                        key=state.key,
                        kind="notified",
                        at=now,
                        detail=("повтор " if repeat else "") + kind,
                    )
                )
            result.notifications.append(notification)
        return result


def active_alerts(session: Session) -> list[AlertState]:
    """Pending and firing alerts (for dashboards and `smart alerts`)."""
    return list(
        session.scalars(
            select(AlertState)
            .where(or_(AlertState.status == "firing", AlertState.status == "pending"))
            .order_by(AlertState.priority, AlertState.rule, AlertState.key)
        )
    )
