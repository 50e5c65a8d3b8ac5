"""Dynamic shard membership: worker processes share the probe targets and take over a dead one's share.

How it works:

1. every worker registers a row in ``worker_members`` under a stable name (SMART_WORKER_NAME, by default
   the host name) and moves its ``heartbeat_at`` every SMART_WORKER_HEARTBEAT seconds;
2. the *live* members are the rows whose heartbeat is younger than SMART_WORKER_TTL;
3. each target belongs to exactly one live member, chosen by rendezvous (highest-random-weight)
   hashing of (target, member name): every member computes the same owner from the same live set
   without talking to the others. When a member dies only its targets move (each to the member with
   the next highest weight); when it comes back under the same name exactly those targets move back;
4. a worker that stops cleanly deletes its row, so the others take its share at their next heartbeat
   instead of after the TTL.

Hand-over is eventually consistent: until every worker has seen the same live set (at most one heartbeat
interval) a target may be probed by two workers or, after a crash, by none for up to TTL + heartbeat
seconds. Probing twice is harmless (check states are upserted).

On SQLite (one process) the only member owns everything. Clocks of the workers' hosts must agree within a
few seconds (NTP): heartbeats are compared with the reading worker's clock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kodeks_smart.probes.targets import PROBED_KINDS
from kodeks_smart.store.cluster_models import WorkerMember
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Installation, OnlineAccess
from kodeks_smart.store.probe_models import ProbeCheck, ProbeStateInterval
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

#: Rows of workers dead for longer than this are deleted (until then `smart workers` shows them).
FORGET_AFTER = timedelta(days=1)


def weight(kind: str, ident: int, member: str) -> int:
    """The rendezvous weight of a member for a target: a stable 64-bit hash of both."""
    digest = hashlib.blake2b(f"{kind}:{ident}\x00{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class View:
    """One worker's view of the live members; answers which targets are its own."""

    me: str
    members: tuple[str, ...]

    def owner(self, ident: int, kind: str = "inst") -> str:
        return max(self.members, key=lambda member: (weight(kind, ident, member), member))

    def owns(self, ident: int, kind: str = "inst") -> bool:
        if len(self.members) == 1:
            return self.members[0] == self.me
        return self.owner(ident, kind) == self.me


def default_name() -> str:
    return socket.gethostname()


class Membership:
    """This process's row in ``worker_members`` and its current view of the live members."""

    def __init__(
        self,
        db: Database,
        name: str = "",
        *,
        ttl: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.name = (name or default_name())[:200]
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self.host = socket.gethostname()[:200]
        self.pid = os.getpid()
        self.view = View(self.name, (self.name,))
        self.joined = False

    def join(self) -> View:
        """Register (or take over a dead row of the same name); returns the view."""
        now = self.clock()
        with self.db.write() as s:
            row = s.scalar(select(WorkerMember).where(WorkerMember.name == self.name))
            if row is not None and (row.host, row.pid) != (self.host, self.pid) and self._alive(row, now):
                # Another live process already uses the name: both would claim the same share.
                taken = self.name
                self.name = f"{self.name}-{self.pid}"[:200]
                log.warning("worker name %s is in use by a live process; joining as %s", taken, self.name)
                row = s.scalar(select(WorkerMember).where(WorkerMember.name == self.name))
            if row is None:
                s.add(
                    WorkerMember(
                        name=self.name, host=self.host, pid=self.pid, started_at=now, heartbeat_at=now
                    )
                )
            else:
                row.host, row.pid, row.started_at, row.heartbeat_at = self.host, self.pid, now, now
        self.joined = True
        log.info("joined the workers as %s", self.name)
        return self.refresh()

    def _alive(self, row: WorkerMember, now: datetime) -> bool:
        return row.heartbeat_at >= now - self.ttl

    def beat(self) -> View:
        """Move this worker's heartbeat (re-registering if its row was removed); returns the fresh view."""
        if not self.joined:
            return self.join()
        now = self.clock()
        with self.db.write() as s:
            moved = s.execute(
                update(WorkerMember)
                .where(
                    WorkerMember.name == self.name,
                    WorkerMember.pid == self.pid,
                    WorkerMember.host == self.host,
                )
                .values(heartbeat_at=now)
            ).rowcount  # type: ignore[attr-defined]
            s.execute(delete(WorkerMember).where(WorkerMember.heartbeat_at < now - FORGET_AFTER))
        if not moved:
            log.warning("worker row %s was gone or taken over; registering again", self.name)
            return self.join()
        return self.refresh()

    def refresh(self) -> View:
        """Re-read the live members (always including this worker)."""
        now = self.clock()
        with self.db.session() as s:
            names = set(
                s.scalars(select(WorkerMember.name).where(WorkerMember.heartbeat_at >= now - self.ttl))
            )
        names.add(self.name)
        view = View(self.name, tuple(sorted(names)))
        if view.members != self.view.members:
            log.info("live workers: %s", ", ".join(view.members))
        self.view = view
        return view

    def leave(self) -> None:
        """Remove this worker's row: the others take over its share at their next heartbeat."""
        if not self.joined:
            return
        with self.db.write() as s:
            s.execute(
                delete(WorkerMember).where(
                    WorkerMember.name == self.name,
                    WorkerMember.pid == self.pid,
                    WorkerMember.host == self.host,
                )
            )
        self.joined = False
        log.info("left the workers (%s)", self.name)


def members(db: Database) -> list[WorkerMember]:
    """All registered workers, newest heartbeat first (for `smart workers`)."""
    with db.session() as s:
        return list(s.scalars(select(WorkerMember).order_by(WorkerMember.heartbeat_at.desc())))


def still_targets(
    session: Session, installation_ids: set[int], online_ids: set[int]
) -> tuple[set[int], set[int]]:
    """Which of these ids are still probe targets (for some worker): the others were removed."""
    inst: set[int] = set()
    online: set[int] = set()
    if installation_ids:
        inst = set(
            session.scalars(
                select(Installation.id).where(
                    Installation.id.in_(installation_ids),
                    Installation.kind.in_(PROBED_KINDS),
                    Installation.address.is_not(None),
                )
            )
        )
    if online_ids:
        online = set(session.scalars(select(OnlineAccess.id).where(OnlineAccess.id.in_(online_ids))))
    return inst, online


def stale_states(session: Session, view: View) -> tuple[set[int], set[int]]:
    """Installations and online accesses of this worker's share that have stored check states or open
    abnormal states but are no probe targets any more (removed while no worker was running)."""
    inst = {i for i in session.scalars(select(ProbeCheck.installation_id)) if i is not None}
    inst |= set(
        session.scalars(
            select(ProbeStateInterval.installation_id).where(ProbeStateInterval.ended_at.is_(None))
        )
    )
    online = {o for o in session.scalars(select(ProbeCheck.online_access_id)) if o is not None}
    alive_inst, alive_online = still_targets(session, inst, online)
    return (
        {i for i in inst - alive_inst if view.owns(i)},
        {o for o in online - alive_online if view.owns(o, "online")},
    )
