"""ORM writes to sysinfo facts → the rollups they feed, refreshed before the transaction commits.

The sysinfo writer keeps the rollups current itself (Core statements, by difference or by re-sum). Anything
else that changes facts through ORM objects (an admin fix, a test, a future tool) is caught here: after each
flush every registered rollup notes the keys the flushed objects touch (their old and new values), and before
the commit each rollup refreshes its keys, in the order of ``order`` (a rollup folded from another one comes
after it: the daily seats are folded from the per-report seat rows). A rollback forgets the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

_PENDING = "rollup_pending"

#: obj → (key, values) pairs the object touches; nothing for objects the rollup does not read.
Collect = Callable[[Any], Iterable[tuple[Hashable, Iterable[Any]]]]
#: (session, key, values) → None: bring the rollup up to date for that key.
Refresh = Callable[[Session, Any, set[Any]], None]


@dataclass(frozen=True)
class Rollup:
    name: str
    order: int
    collect: Collect
    refresh: Refresh


ROLLUPS: list[Rollup] = []


def register(name: str, order: int, collect: Collect, refresh: Refresh) -> None:
    """Add (or, on a module reload, replace) a rollup kept current on ORM writes."""
    ROLLUPS[:] = sorted(
        [r for r in ROLLUPS if r.name != name] + [Rollup(name, order, collect, refresh)],
        key=lambda r: r.order,
    )


def values(obj: Any, name: str) -> list[Any]:
    """The attribute's current value and, for a changed object, the value it had before."""
    history = inspect(obj).attrs[name].history
    return [v for v in (getattr(obj, name), *history.deleted) if v is not None]


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    objects = (*session.new, *session.dirty, *session.deleted)
    if not objects:
        return
    for rollup in ROLLUPS:
        for obj in objects:
            for key, moments in rollup.collect(obj):
                pending: dict[str, dict[Any, set[Any]]] = session.info.setdefault(_PENDING, {})
                pending.setdefault(rollup.name, {}).setdefault(key, set()).update(moments)


@event.listens_for(Session, "before_commit")
def _refresh_pending(session: Session) -> None:
    """Changes not flushed yet are flushed first (their keys are collected then): the commit's own flush
    comes after this event."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    pending: dict[str, dict[Any, set[Any]]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    for rollup in ROLLUPS:
        for key, moments in pending.get(rollup.name, {}).items():
            rollup.refresh(session, key, moments)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


__all__ = ["ROLLUPS", "Rollup", "register", "values"]
