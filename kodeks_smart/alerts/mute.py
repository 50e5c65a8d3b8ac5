"""Muting: silences, the checks' dependency matrix and Count aggregation behind one interface.

A `Muter` answers, for a firing alert about to be notified, the reason it must stay quiet (or None).
Muted alerts keep their state and show on dashboards; they are notified once nothing mutes them any
more (a silence expires, the blocking alert resolves) if they are still firing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import COUNT_FOR, RULES
from kodeks_smart.store.alert_models import AlertState, Silence
from kodeks_smart.store.models import Installation

#: source rule active on an installation → rules whose alerts on that installation it explains.
#: Server unreachable explains everything above TCP; maintenance explains failing logins and pages;
#: a failed test-user login makes the key and warning checks meaningless (spec/alerts.md §4).
DEPENDENCIES: dict[str, frozenset[str]] = {
    "KodeksTcpStatus": frozenset(
        {
            "KodeksHttp200Status",
            "KodeksBehindProxyDown",
            "KodeksAuthNotWork",
            "KodeksOnlineSensLockCheck",
            "KodeksWarning",
            "KodeksLimitsUsers",
            "KodeksMaintenance",
            "KodeksMaintenanceToLong",
            "KodeksNeedSupport",
            "KodeksSppStatus",
        }
    ),
    "KodeksHttp200Status": frozenset(
        {"KodeksAuthNotWork", "KodeksOnlineSensLockCheck", "KodeksWarning", "KodeksLimitsUsers"}
    ),
    "KodeksBehindProxyDown": frozenset(
        {
            "KodeksHttp200Status",
            "KodeksAuthNotWork",
            "KodeksOnlineSensLockCheck",
            "KodeksWarning",
            "KodeksLimitsUsers",
        }
    ),
    "KodeksMaintenance": frozenset(
        {
            "KodeksHttp200Status",
            "KodeksAuthNotWork",
            "KodeksOnlineSensLockCheck",
            "KodeksWarning",
            "KodeksLimitsUsers",
        }
    ),
    "KodeksAuthNotWork": frozenset({"KodeksOnlineSensLockCheck", "KodeksWarning"}),
    "KodeksLimitsUsers": frozenset({"KodeksAuthNotWork", "KodeksOnlineSensLockCheck", "KodeksWarning"}),
}


class Muter(Protocol):
    def prepare(self, session: Session, now: datetime, candidates: Sequence[AlertState]) -> None:
        """Load what the muter needs for this batch (one query, not one per alert)."""

    def reason(self, state: AlertState) -> str | None:
        """Why ``state`` must not be notified now, or None."""


def silence_matches(silence: Silence, state: AlertState) -> bool:
    if silence.dealer_id is not None and silence.dealer_id != state.dealer_id:
        return False
    if silence.cabinet_id is not None and silence.cabinet_id != state.cabinet_id:
        return False
    for name, expected in (silence.matchers or {}).items():
        actual: str | None
        if name == "rule":
            actual = state.rule
        elif name == "installation":
            actual = str(state.installation_id) if state.installation_id is not None else None
        else:
            value = (state.labels or {}).get(name)
            actual = None if value is None else str(value)
        if actual != str(expected):
            return False
    return True


class Silencer:
    """Silences in force now."""

    def __init__(self) -> None:
        self._active: list[Silence] = []

    def prepare(self, session: Session, now: datetime, candidates: Sequence[AlertState]) -> None:
        self._active = list(
            session.scalars(select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now))
        )

    def reason(self, state: AlertState) -> str | None:
        for silence in self._active:
            if silence_matches(silence, state):
                return f"тишина #{silence.id} ({silence.author}): {silence.comment}"
        return None


class Inhibitor:
    """The dependency matrix: an active source alert on the same installation explains the target."""

    def __init__(self, dependencies: dict[str, frozenset[str]] = DEPENDENCIES) -> None:
        self.dependencies = dependencies
        self._targets = frozenset().union(*dependencies.values())
        self._active: dict[int, set[str]] = defaultdict(set)

    def prepare(self, session: Session, now: datetime, candidates: Sequence[AlertState]) -> None:
        self._active = defaultdict(set)
        installations = {
            c.installation_id for c in candidates if c.rule in self._targets and c.installation_id
        }
        if not installations:
            return
        rows = session.execute(
            select(AlertState.installation_id, AlertState.rule).where(
                AlertState.installation_id.in_(installations),
                AlertState.rule.in_(self.dependencies),
                or_(AlertState.status == "pending", AlertState.status == "firing"),
            )
        )
        for installation_id, rule in rows:
            if installation_id is not None:
                self._active[installation_id].add(rule)

    def reason(self, state: AlertState) -> str | None:
        if state.installation_id is None:
            return None
        for source in sorted(self._active.get(state.installation_id, ())):
            if source != state.rule and state.rule in self.dependencies[source]:
                return f"следствие {source}"
        return None


class CountInhibitor:
    """While a "…Count" alert is active for a cabinet, its per-object alerts there stay quiet."""

    def __init__(self) -> None:
        self._active: set[tuple[str, int]] = set()

    def prepare(self, session: Session, now: datetime, candidates: Sequence[AlertState]) -> None:
        count_names = {COUNT_FOR[c.rule].name for c in candidates if c.rule in COUNT_FOR}
        self._active = set()
        if not count_names:
            return
        rows = session.execute(
            select(AlertState.rule, AlertState.cabinet_id).where(
                AlertState.rule.in_(count_names),
                or_(AlertState.status == "pending", AlertState.status == "firing"),
            )
        )
        self._active = {(rule, cabinet_id) for rule, cabinet_id in rows}

    def reason(self, state: AlertState) -> str | None:
        count_rule = COUNT_FOR.get(state.rule)
        if count_rule is not None and (count_rule.name, state.cabinet_id) in self._active:
            return f"входит в {count_rule.name}"
        return None


class MaintenanceWindows:
    """An installation's known daily backup and restart times are planned maintenance: for an hour
    from each (local time of the installation), its probe alerts stay quiet."""

    def __init__(self, length: timedelta = timedelta(hours=1)) -> None:
        self.length = length
        self._muted: dict[int, str] = {}

    def prepare(self, session: Session, now: datetime, candidates: Sequence[AlertState]) -> None:
        self._muted = {}
        ids = {c.installation_id for c in candidates if c.installation_id and _is_probe(c.rule)}
        if not ids:
            return
        rows = session.execute(
            select(
                Installation.id,
                Installation.tz_offset_minutes,
                Installation.backup_time,
                Installation.restart_time,
            ).where(Installation.id.in_(ids))
        )
        for inst_id, offset, *times in rows:
            local = now + timedelta(minutes=offset or 0)
            for text in times:
                start = _today_at(local, text)
                if start is None:
                    continue
                for day in (start - timedelta(days=1), start):
                    if day <= local < day + self.length:
                        self._muted[inst_id] = f"плановое обслуживание ПК с {text}"

    def reason(self, state: AlertState) -> str | None:
        if state.installation_id is None or not _is_probe(state.rule):
            return None
        return self._muted.get(state.installation_id)


def _is_probe(rule: str) -> bool:
    spec = RULES.get(rule)
    return spec is not None and spec.source == "probe"


def _today_at(local: datetime, text: str | None) -> datetime | None:
    if not text or not re.fullmatch(r"\d{1,2}:\d{2}", text):
        return None
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        return None
    return local.replace(hour=hours, minute=minutes, second=0, microsecond=0)


def first_reason(muters: Iterable[Muter], state: AlertState) -> str | None:
    for muter in muters:
        reason = muter.reason(state)
        if reason is not None:
            return reason
    return None
