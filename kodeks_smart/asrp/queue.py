"""The forwarding queue (table ``asrp_forwards``): enqueue, claim, finish, retry.

1. `enqueue_upload` runs inside the ingest transaction that stores a processed sysinfo report and adds one
   row per enabled forwarder of the dealer, unless the upload already has one (reprocessing, a resent file):
   an upload is forwarded at most once per forwarder.
2. `claim` takes a due row with a conditional UPDATE that must change exactly one row (``pending`` and due,
   or ``sending`` with an expired lease — a worker that died mid-send), with a fresh claim token.
3. `finish` records the outcome only while the token is still the row's: a worker whose lease ran out and
   whose row another worker took over changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Update, and_, or_, select, update
from sqlalchemy.orm import Session

from kodeks_smart.store.asrp_models import AsrpForward, AsrpForwarder
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoReportRow
from kodeks_smart.store.scope import Tenant

LEASE = timedelta(minutes=10)


class ProcessedUpload(Protocol):
    """What forwarding needs of a processed upload (an `Upload` or the consumer's `UploadInfo`)."""

    @property
    def id(self) -> int: ...

    @property
    def dealer_id(self) -> int: ...

    @property
    def cabinet_id(self) -> int | None: ...

    @property
    def client_id(self) -> int | None: ...

    @property
    def client_name(self) -> str: ...

    @property
    def kind(self) -> str: ...


def enqueue_upload(session: Session, upload: ProcessedUpload, before: Update | None = None) -> int:
    """Queue a processed sysinfo upload for every enabled forwarder of its dealer; returns rows added.

    ``before``: a data-modifying statement of the caller (the upload's status update) carried out first —
    on PostgreSQL as a WITH part of the forwarders' query, which saves the ingest transaction a round trip.
    """
    forwarded = upload.kind == "sysinfo" and upload.cabinet_id is not None
    query = select(AsrpForwarder.id).where(AsrpForwarder.dealer_id == upload.dealer_id, AsrpForwarder.enabled)
    if before is not None:
        if forwarded and session.get_bind().dialect.name == "postgresql":
            query = query.add_cte(before.cte("before_forwarders"))
        else:
            session.execute(before)
    if not forwarded:
        return 0
    forwarders = session.scalars(query).all()
    if not forwarders:
        return 0
    present = set(
        session.scalars(select(AsrpForward.forwarder_id).where(AsrpForward.upload_id == upload.id)).all()
    )
    regnum = session.scalar(select(SysinfoReportRow.regnum).where(SysinfoReportRow.upload_id == upload.id))
    added = 0
    for forwarder_id in forwarders:
        if forwarder_id in present:
            continue
        session.add(
            AsrpForward(
                dealer_id=upload.dealer_id,
                cabinet_id=upload.cabinet_id,
                forwarder_id=forwarder_id,
                upload_id=upload.id,
                client_id=upload.client_id,
                client_name=upload.client_name,
                regnum=regnum,
                state="pending",
                details={},
            )
        )
        added += 1
    if added:
        session.flush()
    return added


def _claimable(now: datetime) -> Any:
    return or_(
        and_(AsrpForward.state == "pending", AsrpForward.next_attempt_at <= now),
        and_(AsrpForward.state == "sending", AsrpForward.lease_until < now),
    )


def due_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Rows that may be claimed now (of enabled forwarders), oldest due first."""
    stmt = (
        select(AsrpForward.id)
        .join(AsrpForwarder, AsrpForwarder.id == AsrpForward.forwarder_id)
        .where(_claimable(now), AsrpForwarder.enabled)
        .order_by(AsrpForward.next_attempt_at, AsrpForward.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def claim(db: Database, forward_id: int, now: datetime, lease: timedelta = LEASE) -> str | None:
    """Take one row for sending; the claim token, or None if another worker was first."""
    token = secrets.token_hex(16)
    with db.write() as s:
        result = s.execute(
            update(AsrpForward)
            .where(AsrpForward.id == forward_id, _claimable(now))
            .values(state="sending", lease_until=now + lease, claimed_by=token)
            .execution_options(synchronize_session=False)
        )
        return token if cast(CursorResult[Any], result).rowcount == 1 else None


def finish(db: Database, forward_id: int, token: str, values: dict[str, Any]) -> bool:
    """Record the outcome of a claimed row; False if the claim was lost meanwhile."""
    with db.write() as s:
        result = s.execute(
            update(AsrpForward)
            .where(
                AsrpForward.id == forward_id, AsrpForward.claimed_by == token, AsrpForward.state == "sending"
            )
            .values(claimed_by=None, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1


def retry(tenant: Tenant, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Put failed rows (or the given failed / waiting rows) in the scope back in the queue, due now."""
    stmt = tenant.select(AsrpForward)
    if ids:
        stmt = stmt.where(AsrpForward.id.in_(list(ids)), AsrpForward.state.in_(("failed", "pending")))
    else:
        stmt = stmt.where(AsrpForward.state == "failed")
    count = 0
    for row in tenant.session.scalars(stmt):
        row.state = "pending"
        row.next_attempt_at = now
        row.finished_at = None
        row.attempts = 0
        row.first_failed_at = None  # a fresh give-up deadline
        count += 1
    tenant.session.flush()
    return count
