"""The durable processing queue (table ``ingest_queue``), shared by any number of consumers.

1. `enqueue` adds a row in the caller's transaction (the upload's own, so an acknowledged upload always
   has its row).
2. `claim_next` picks a candidate and claims it with a conditional UPDATE that must change exactly one row
   (a pending row, or a claimed row whose lease ran out); a consumer that loses the race tries the next
   candidate. The claim gets a fresh token.
3. The processing transaction calls `finish`, which deletes the row only if it still carries that token;
   anything else means another consumer took the row over and the transaction is rolled back.
4. `release` puts a row back with a delay after a transient failure; `release_dead_claims` frees rows of
   processes on this host that no longer exist, so a restart after SIGKILL does not wait for the lease.
5. On PostgreSQL the transaction that queues uploads also calls `notify_queued`, which wakes the consumers
   of the other processes at its commit (`kodeks_smart.ingest.listen`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import IngestTask
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
#: After this many claims an upload is given up as failed (each claim that did not finish is a crash).
MAX_ATTEMPTS = 5
_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class Claim:
    task_id: int
    upload_id: int
    token: str
    attempts: int
    reason: str


def consumer_identity() -> str:
    """``host:pid:random``: the pid lets a restarted process on the same host free its dead claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def enqueue(session: Session, upload_id: int, dealer_id: int, reason: str = "upload") -> bool:
    """Queue an upload unless it already waits; returns True if a row was added."""
    exists = session.scalar(select(IngestTask.id).where(IngestTask.upload_id == upload_id))
    if exists is not None:
        return False
    session.add(IngestTask(upload_id=upload_id, dealer_id=dealer_id, reason=reason, state="pending"))
    session.flush()
    return True


#: PostgreSQL notification channel of queued uploads (see `kodeks_smart.ingest.listen`).
CHANNEL = "smart_ingest"


def notify_queued(session: Session) -> None:
    """Wake the consumers of other processes when ``session`` commits: uploads were queued in it.
    PostgreSQL only (LISTEN / NOTIFY, delivered at commit); SQLite serves one process."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(IngestTask.state == "pending", IngestTask.available_at <= now),
        and_(IngestTask.state == "claimed", IngestTask.lease_until < now),
    )


def claim_next(db: Database, owner: str, now: datetime | None = None) -> Claim | None:
    """Claim the oldest available row, or return None when there is nothing to do."""
    with db.write() as s:
        return claim_in(s, owner, now)


def claim_in(session: Session, owner: str, now: datetime | None = None) -> Claim | None:
    """`claim_next` in the caller's write transaction (the consumer reads what processing needs in the
    same one); the claim holds once that transaction commits."""
    now = now or utcnow()
    candidates = session.execute(
        select(IngestTask.id, IngestTask.upload_id, IngestTask.attempts, IngestTask.reason)
        .where(_claimable(now))
        .order_by(IngestTask.id)
        .limit(_CANDIDATES)
    ).all()
    for task_id, upload_id, attempts, reason in candidates:
        token = secrets.token_hex(16)
        result = session.execute(
            update(IngestTask)
            .where(IngestTask.id == task_id, _claimable(now))
            .values(
                state="claimed",
                claim_token=token,
                claimed_by=owner,
                lease_until=now + LEASE,
                attempts=IngestTask.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(task_id, upload_id, token, attempts + 1, reason)
    return None


def finish(session: Session, claim: Claim) -> bool:
    """Delete the claimed row inside the processing transaction; False if the claim was lost."""
    result = session.execute(
        delete(IngestTask)
        .where(IngestTask.id == claim.task_id, IngestTask.claim_token == claim.token)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def release(db: Database, claim: Claim, error: str, delay: float) -> None:
    """Give a claimed row back after a transient failure; it becomes available after ``delay`` seconds."""
    with db.write() as s:
        s.execute(
            update(IngestTask)
            .where(IngestTask.id == claim.task_id, IngestTask.claim_token == claim.token)
            .values(
                state="pending",
                claim_token=None,
                claimed_by=None,
                lease_until=None,
                available_at=utcnow() + timedelta(seconds=delay),
                last_error=error[:2000],
            )
            .execution_options(synchronize_session=False)
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_claims(db: Database, host: str | None = None) -> int:
    """Free rows claimed by processes of this host that have exited; returns how many."""
    host = host or socket.gethostname()
    with db.write() as s:
        rows = s.execute(
            select(IngestTask.id, IngestTask.claimed_by).where(
                IngestTask.state == "claimed", IngestTask.claimed_by.like(f"{host}:%")
            )
        ).all()
        dead = []
        for task_id, owner in rows:
            parts = (owner or "").split(":")
            if len(parts) == 3 and parts[1].isdigit() and not _pid_alive(int(parts[1])):
                dead.append(task_id)
        if dead:
            s.execute(
                update(IngestTask)
                .where(IngestTask.id.in_(dead), IngestTask.state == "claimed")
                .values(state="pending", claim_token=None, claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            log.info("released %d queue rows of exited processes", len(dead))
        return len(dead)


def depth(db: Database) -> int:
    """Rows waiting or in progress."""
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(IngestTask)) or 0)
