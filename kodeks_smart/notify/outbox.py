"""The outbox: notifications stored before they are sent, claimed by workers, retried, recorded.

Life of an outbox row::

    enqueue ──▶ pending ──claim──▶ sending ──send ok──▶ sent
                  ▲                   │
                  └──retryable error──┤ (backoff; attempts recorded)
                                      └──permanent error, or still failing after the give-up age──▶ failed

1. `enqueue` writes a `Notification` and one `OutboxItem` per unique target in the caller's transaction,
   before anything is sent. ``(dealer, dedup_key)`` is unique, so enqueuing the same notification again
   creates nothing.
2. `claim` moves one due row to ``sending`` with a conditional UPDATE that must change exactly one row:
   the row is ``pending`` and due, or ``sending`` with an expired lease (its worker died). Several
   workers on SQLite or PostgreSQL can share the outbox; each row is sent by one of them at a time.
3. After the send, `finish` records the attempt and the new state in one transaction: ``sent``; or
   ``pending`` again with the next attempt after an exponential backoff with jitter (or after the delay
   the other side asked for); or ``failed`` with the reason.
4. E-mail through a relay with a daily limit goes through `plan_email` first: below the limit minus a
   reserve the message is sent as is; above it the row is *held*, and held rows of one recipient are
   sent together as one digest per digest interval while the reserve lasts, or after the window rolls on.

Guarantee: at-least-once, with duplicates confined to a crash in the moment between the other side
accepting a message and `finish` committing (see docs/notifications.md).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kodeks_smart.notify.base import Attachment, Link, Message
from kodeks_smart.notify.email import RelayConfig
from kodeks_smart.notify.routing import Recipient, RoutingError, route, unique
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Client, Dealer, SmtpRelay
from kodeks_smart.store.notify_models import (
    DeliveryAttempt,
    Notification,
    OutboxItem,
    SmtpRelayUsage,
)
from kodeks_smart.store.report_models import NotificationAttachment
from kodeks_smart.store.scope import Tenant
from kodeks_smart.store.types import utcnow

DEFAULT_LEASE = timedelta(minutes=10)
RETRY_BASE_SECONDS = 30.0
#: Window over which a relay's daily limit is counted: 24 hours plus the current hour (conservative).
USAGE_WINDOW = timedelta(hours=24)


class OutboxError(ValueError):
    """An outbox operation is not possible; the message is Russian and user-facing."""


# -- enqueue --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueued:
    notification_id: int
    #: False when a notification with this dedup key already existed (nothing new was stored).
    created: bool
    outbox_ids: tuple[int, ...]


def idempotency_key(dealer_id: int, dedup_key: str, channel: str, target_key: str) -> str:
    raw = f"{dealer_id}\x1f{dedup_key}\x1f{channel}\x1f{target_key}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def enqueue(
    session: Session,
    message: Message,
    *,
    cabinet_id: int,
    dedup_key: str,
    recipients: Sequence[Recipient] | None = None,
    client_id: int | None = None,
    client_ids: Sequence[int] = (),
    extra_emails: Sequence[str] = (),
    now: datetime | None = None,
) -> Enqueued:
    """Store a notification and its outbox rows (one per unique target) in the caller's transaction.

    Targets: ``recipients`` if given, else `routing.route` for the message's category and clients
    (``client_id`` — or the client whose short name is ``message.client`` — and ``client_ids``, for a
    notification that groups alerts of several clients) plus ``extra_emails``.
    Idempotent: a second call with the same ``dedup_key`` for the dealer returns the stored notification
    with ``created=False`` and stores nothing. After the commit, call `worker.wake` so that delivery
    starts at once. Raises `OutboxError` / `RoutingError` for a cabinet, dealer or client that do not match.
    """
    now = now or utcnow()
    cabinet = session.get(Cabinet, cabinet_id)
    if cabinet is None:
        raise OutboxError(f"кабинет {cabinet_id} не найден")
    dealer = session.get(Dealer, cabinet.dealer_id)
    assert dealer is not None
    if message.dealer_code != dealer.code:
        raise OutboxError(f"сообщение для дистрибьютора {message.dealer_code}, а кабинет — {dealer.code}")
    if not dedup_key or len(dedup_key) > 200:
        raise OutboxError("ключ дедупликации должен содержать от 1 до 200 символов")
    existing = _existing(session, dealer.id, dedup_key)
    if existing is not None:
        return existing
    if client_id is None and message.client:
        client = session.scalars(
            select(Client).where(Client.dealer_id == dealer.id, Client.short_name == message.client)
        ).first()
        if client is not None:
            if client.cabinet_id != cabinet_id:
                raise RoutingError(f"клиент {message.client} не относится к кабинету {cabinet.name}")
            client_id = client.id
    if recipients is None:
        targets = route(
            session, cabinet_id, message.category, client_id, client_ids=client_ids, extra_emails=extra_emails
        )
    else:
        targets = unique(recipients)
    notification = Notification(
        dealer_id=dealer.id,
        cabinet_id=cabinet_id,
        client_id=client_id,
        dedup_key=dedup_key,
        category=message.category[:20],
        rule=message.rule[:100],
        dealer_code=dealer.code,
        client=message.client,
        subject=message.subject[:500],
        text=message.text,
        html=message.html,
        telegram_html=message.telegram_html,
        links=[[link.title, link.url] for link in message.links],
        created_at=now,
    )
    try:
        # A savepoint: a concurrent enqueue of the same key (PostgreSQL) loses the race cleanly.
        with session.begin_nested():
            session.add(notification)
            session.flush()
            items = [
                OutboxItem(
                    dealer_id=dealer.id,
                    cabinet_id=cabinet_id,
                    notification_id=notification.id,
                    channel=r.channel,
                    target=_shown_target(r),
                    target_key=r.key,
                    ref_id=r.ref_id,
                    idempotency_key=idempotency_key(dealer.id, dedup_key, r.channel, r.key),
                    state="pending",
                    created_at=now,
                    next_attempt_at=now,
                )
                for r in targets
            ]
            session.add_all(items)
            session.add_all(
                NotificationAttachment(
                    dealer_id=dealer.id,
                    cabinet_id=cabinet_id,
                    notification_id=notification.id,
                    filename=a.filename[:200],
                    content_type=a.content_type[:100],
                    content=a.content,
                )
                for a in message.attachments
            )
            session.flush()
    except IntegrityError:
        existing = _existing(session, dealer.id, dedup_key)
        if existing is None:
            raise
        return existing
    return Enqueued(notification.id, True, tuple(item.id for item in items))


def _existing(session: Session, dealer_id: int, dedup_key: str) -> Enqueued | None:
    found = session.scalars(
        select(Notification.id).where(
            Notification.dealer_id == dealer_id, Notification.dedup_key == dedup_key
        )
    ).first()
    if found is None:
        return None
    ids = session.scalars(
        select(OutboxItem.id).where(OutboxItem.notification_id == found).order_by(OutboxItem.id)
    ).all()
    return Enqueued(found, False, tuple(ids))


def _shown_target(r: Recipient) -> str:
    if r.channel == "webhook":
        return r.address.split("?", 1)[0][:500]
    return r.address[:500]


# -- claiming -------------------------------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    return or_(
        and_(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now),
        and_(OutboxItem.state == "sending", OutboxItem.lease_until < now),
    )


def due_ids(session: Session, now: datetime, limit: int, ids: Sequence[int] | None = None) -> list[int]:
    """Rows that may be claimed now, oldest due first (``ids``: only among these)."""
    stmt = select(OutboxItem.id).where(_claimable(now))
    if ids is not None:
        stmt = stmt.where(OutboxItem.id.in_(list(ids)))
    return list(session.scalars(stmt.order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(limit)))


def claim(
    db: Database, outbox_id: int, *, now: datetime, worker: str, lease: timedelta = DEFAULT_LEASE
) -> bool:
    """Take one row for sending; True only if this call changed exactly that one row."""
    with db.write() as s:
        result = s.execute(
            update(OutboxItem)
            .where(OutboxItem.id == outbox_id, _claimable(now))
            .values(state="sending", lease_until=now + lease, claimed_by=worker)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1


def seconds_to_next_due(session: Session, now: datetime) -> float | None:
    """Seconds until the next pending row (or expired lease) is due; None when nothing waits."""
    next_pending = session.scalar(
        select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.state == "pending")
    )
    next_lease = session.scalar(select(func.min(OutboxItem.lease_until)).where(OutboxItem.state == "sending"))
    times = [t for t in (next_pending, next_lease) if t is not None]
    if not times:
        return None
    return max(0.0, (min(times) - now).total_seconds())


@dataclass
class Work:
    """A claimed row with its notification, as the worker needs it."""

    id: int
    dealer_id: int
    cabinet_id: int
    notification_id: int
    channel: str
    target: str
    target_key: str
    ref_id: int | None
    idempotency_key: str
    attempts: int
    parts_sent: int
    held: bool
    created_at: datetime
    give_up_at: datetime | None
    message: Message


def load_work(session: Session, ids: Sequence[int]) -> list[Work]:
    rows = session.execute(
        select(OutboxItem, Notification)
        .join(Notification, Notification.id == OutboxItem.notification_id)
        .where(OutboxItem.id.in_(list(ids)))
        .order_by(OutboxItem.id)
    ).all()
    files = _attachments(session, {n.id for _, n in rows})
    return [
        Work(
            id=item.id,
            dealer_id=item.dealer_id,
            cabinet_id=item.cabinet_id,
            notification_id=item.notification_id,
            channel=item.channel,
            target=item.target,
            target_key=item.target_key,
            ref_id=item.ref_id,
            idempotency_key=item.idempotency_key,
            attempts=item.attempts,
            parts_sent=item.parts_sent,
            held=item.held,
            created_at=n.created_at,
            give_up_at=item.give_up_at,
            message=message_of(n, files.get(n.id, ())),
        )
        for item, n in rows
    ]


def _attachments(session: Session, notification_ids: set[int]) -> dict[int, tuple[Attachment, ...]]:
    found: dict[int, tuple[Attachment, ...]] = {}
    if not notification_ids:
        return found
    for a in session.scalars(
        select(NotificationAttachment)
        .where(NotificationAttachment.notification_id.in_(sorted(notification_ids)))
        .order_by(NotificationAttachment.id)
    ):
        found[a.notification_id] = (
            *found.get(a.notification_id, ()),
            Attachment(a.filename, a.content_type, a.content),
        )
    return found


def message_of(n: Notification, attachments: tuple[Attachment, ...] = ()) -> Message:
    return Message(
        category=n.category,
        rule=n.rule,
        dealer_code=n.dealer_code,
        client=n.client,
        subject=n.subject,
        text=n.text,
        html=n.html or "",
        telegram_html=n.telegram_html,
        links=tuple(Link(str(title), str(url)) for title, url in n.links or []),
        attachments=attachments,
    )


# -- recording ------------------------------------------------------------------------------------


Outcome = Literal["sent", "retry", "failed", "deferred"]


def backoff_delay(attempts: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base·2^(n−1), capped, with jitter.

    The jitter (a random 50–100 % of the delay) keeps many rows that failed together during an outage
    from all coming back in the same second.
    """
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay * rng.uniform(0.5, 1.0)


def finish(
    db: Database,
    outbox_id: int,
    outcome: Outcome,
    *,
    worker: str,
    now: datetime,
    started_at: datetime,
    duration: float,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    parts_sent: int | None = None,
    digest_id: int | None = None,
) -> bool:
    """Record an attempt and the row's new state in one transaction.

    ``deferred`` puts the row back without counting an attempt (our own rate limit). For other
    outcomes an attempt row is written. The state changes only while the row is still this worker's
    claim, except ``sent``, which always wins: the message did go out. Returns False if the row was no
    longer ours.
    """
    with db.write() as s:
        item = s.get(OutboxItem, outbox_id)
        if item is None:
            return False
        ours = item.state == "sending" and item.claimed_by == worker
        if outcome != "deferred":
            s.add(
                DeliveryAttempt(
                    dealer_id=item.dealer_id,
                    cabinet_id=item.cabinet_id,
                    outbox_id=item.id,
                    started_at=started_at,
                    duration=duration,
                    outcome=outcome,
                    error=error,
                    worker=worker,
                )
            )
            item.attempts += 1
        if parts_sent is not None:
            item.parts_sent = max(item.parts_sent, parts_sent)
        if outcome == "sent":
            if item.state != "sent":
                item.state = "sent"
                item.sent_at = now
                item.digest_id = digest_id
                item.last_error = None
                item.failed_at = None
            item.lease_until = None
            return ours
        if not ours:
            return False
        item.lease_until = None
        item.claimed_by = None
        if outcome == "failed":
            item.state = "failed"
            item.failed_at = now
            item.last_error = error
            return True
        item.state = "pending"
        item.next_attempt_at = next_attempt_at or now
        if outcome == "retry":
            item.last_error = error
        return True


def deadline(work: Work, give_up_after: timedelta) -> datetime:
    return work.give_up_at or (work.created_at + give_up_after)


# -- e-mail daily limits and digests --------------------------------------------------------------


@dataclass(frozen=True)
class EmailPlan:
    """What to do with a claimed e-mail row.

    ``send``: send it alone. ``digest``: send it together with the rows ``group`` (already claimed by
    this worker) as one digest. ``hold``: it was put back to wait for a digest; do nothing now.
    ``usage_hour``: the usage bucket counted for this send (to be given back if the send fails).
    """

    action: Literal["send", "digest", "hold"]
    group: tuple[int, ...] = ()
    usage_hour: datetime | None = None


def digest_reserve(daily_limit: int) -> int:
    """Messages of a day kept for digests: a tenth of the limit, at least one."""
    return max(1, math.ceil(daily_limit / 10))


def hour_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def relay_usage(session: Session, relay_id: int, now: datetime) -> int:
    """Messages the relay sent in the current hour and the 24 hours before it."""
    since = hour_floor(now) - USAGE_WINDOW
    total = session.scalar(
        select(func.coalesce(func.sum(SmtpRelayUsage.messages), 0)).where(
            SmtpRelayUsage.relay_id == relay_id, SmtpRelayUsage.hour_start >= since
        )
    )
    return int(total or 0)


def add_usage(session: Session, relay_id: int, hour: datetime, delta: int) -> None:
    """Count ``delta`` messages (−1: give one back) in the relay's bucket for ``hour``."""
    insert: Any
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(SmtpRelayUsage).values(relay_id=relay_id, hour_start=hour, messages=max(0, delta))
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["relay_id", "hour_start"], set_={"messages": SmtpRelayUsage.messages + delta}
        )
    )


def release_usage(db: Database, relay_id: int, hour: datetime) -> None:
    """Give back a counted message that was not sent after all."""
    with db.write() as s:
        add_usage(s, relay_id, hour, -1)


def plan_email(
    db: Database,
    work: Work,
    relay: RelayConfig,
    *,
    now: datetime,
    worker: str,
    digest_interval: timedelta,
    lease: timedelta = DEFAULT_LEASE,
) -> EmailPlan:
    """Decide, under the relay's daily limit, whether a claimed e-mail row goes now, alone or in a digest.

    1. A relay without a limit: send (the message is still counted, for the record).
    2. Usage below limit − reserve and the row not held: count it and send.
    3. Otherwise a row that is not held yet is held: put back until one digest interval from now (or,
       if the limit is reached, until the next hour, when the window has moved on).
    4. A held row that comes due: if the limit is reached, wait for the next hour; else claim the other
       held rows of the same recipient (same relay and dealer), count one message, send them as a digest.
       The caller must not deliver the rows of ``group`` on their own afterwards.
    Runs in one write transaction that locks the relay row, so two workers cannot overrun the limit.
    """
    if relay.id is None:
        return EmailPlan("send")
    hour = hour_floor(now)
    with db.write() as s:
        s.scalars(select(SmtpRelay.id).where(SmtpRelay.id == relay.id).with_for_update()).first()
        used = relay_usage(s, relay.id, now)
        limit = relay.daily_limit
        if limit is None or (not work.held and used < limit - digest_reserve(limit)):
            add_usage(s, relay.id, hour, 1)
            return EmailPlan("send", usage_hour=hour)
        item = s.get(OutboxItem, work.id)
        assert item is not None
        if not work.held or used >= limit:
            when = now + digest_interval if used < limit else hour + timedelta(hours=1)
            item.state = "pending"
            item.held = True
            item.relay_id = relay.id
            item.next_attempt_at = when
            item.lease_until = None
            item.claimed_by = None
            return EmailPlan("hold")
        # Held rows of the recipient that wait, or that this worker claimed in the same run (they are in
        # this row's lane, which skips them once the digest has carried them).
        candidates = list(
            s.scalars(
                select(OutboxItem.id)
                .where(
                    OutboxItem.held.is_(True),
                    or_(
                        OutboxItem.state == "pending",
                        and_(OutboxItem.state == "sending", OutboxItem.claimed_by == worker),
                    ),
                    OutboxItem.relay_id == relay.id,
                    OutboxItem.dealer_id == work.dealer_id,
                    OutboxItem.target_key == work.target_key,
                    OutboxItem.id != work.id,
                )
                .order_by(OutboxItem.id)
                .with_for_update(skip_locked=True)
            )
        )
        if candidates:
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(candidates), OutboxItem.state.in_(("pending", "sending")))
                .values(state="sending", lease_until=now + lease, claimed_by=worker)
                .execution_options(synchronize_session=False)
            )
        add_usage(s, relay.id, hour, 1)
        return EmailPlan("digest" if candidates else "send", tuple(candidates), hour)


def relay_for(session: Session, dealer_id: int) -> SmtpRelay | None:
    """The dealer's own relay, or the operator's default (dealer_id NULL)."""
    own = session.scalars(select(SmtpRelay).where(SmtpRelay.dealer_id == dealer_id)).first()
    if own is not None:
        return own
    return session.scalars(select(SmtpRelay).where(SmtpRelay.dealer_id.is_(None))).first()


# -- queries for the cabinet, the CLI and the metrics ---------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    dealer_code: str
    cabinet_id: int
    channel: str
    target: str
    state: str
    held: bool
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    category: str
    rule: str
    client: str | None
    subject: str


def list_outbox(
    tenant: Tenant,
    *,
    state: str | None = None,
    channel: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[OutboxEntry]:
    """Outbox rows visible in the tenant's scope, newest first (``before_id`` pages back)."""
    stmt = (
        select(OutboxItem, Notification)
        .join(Notification, Notification.id == OutboxItem.notification_id)
        .where(tenant.scope.condition(OutboxItem))
    )
    if state is not None:
        stmt = stmt.where(OutboxItem.state == state)
    if channel is not None:
        stmt = stmt.where(OutboxItem.channel == channel)
    if before_id is not None:
        stmt = stmt.where(OutboxItem.id < before_id)
    rows = tenant.session.execute(stmt.order_by(OutboxItem.id.desc()).limit(limit)).all()
    return [
        OutboxEntry(
            id=item.id,
            dealer_code=n.dealer_code,
            cabinet_id=item.cabinet_id,
            channel=item.channel,
            target=item.target,
            state=item.state,
            held=item.held,
            attempts=item.attempts,
            created_at=item.created_at,
            next_attempt_at=item.next_attempt_at,
            sent_at=item.sent_at,
            failed_at=item.failed_at,
            last_error=item.last_error,
            category=n.category,
            rule=n.rule,
            client=n.client,
            subject=n.subject,
        )
        for item, n in rows
    ]


def attempts_of(tenant: Tenant, outbox_id: int) -> list[DeliveryAttempt]:
    """The attempts of one row in the tenant's scope (NotFound for a row outside it), oldest first."""
    item = tenant.get(OutboxItem, outbox_id)
    return list(
        tenant.session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == item.id).order_by(DeliveryAttempt.id)
        )
    )


def outbox_counts(tenant: Tenant) -> dict[tuple[str, str], int]:
    """Number of rows per (channel, state) in the tenant's scope."""
    rows = tenant.session.execute(
        select(OutboxItem.channel, OutboxItem.state, func.count())
        .where(tenant.scope.condition(OutboxItem))
        .group_by(OutboxItem.channel, OutboxItem.state)
    ).all()
    return {(channel, state): int(count) for channel, state, count in rows}


def retry(tenant: Tenant, outbox_id: int, *, now: datetime, give_up_after: timedelta) -> OutboxItem:
    """Send a failed (or waiting) row again at once, with a fresh give-up age; scoped to the tenant."""
    item = tenant.get(OutboxItem, outbox_id)
    if item.state == "sent":
        raise OutboxError(f"оповещение {outbox_id} уже доставлено")
    if item.state == "sending" and item.lease_until is not None and item.lease_until > now:
        raise OutboxError(f"оповещение {outbox_id} сейчас отправляется")
    item.state = "pending"
    item.next_attempt_at = now
    item.give_up_at = now + give_up_after
    item.failed_at = None
    item.lease_until = None
    item.claimed_by = None
    item.held = False
    return item


@dataclass(frozen=True)
class OutboxStats:
    rows: dict[tuple[str, str], int]
    #: Age in seconds of the oldest row not yet sent (pending or sending), per channel.
    oldest_pending: dict[str, float]


def stats(session: Session, now: datetime) -> OutboxStats:
    """Counts of rows waiting, being sent and failed, and the age of the oldest unsent row, per channel."""
    rows = session.execute(
        select(OutboxItem.channel, OutboxItem.state, func.count())
        .where(OutboxItem.state.in_(("pending", "sending", "failed")))
        .group_by(OutboxItem.channel, OutboxItem.state)
    ).all()
    oldest = session.execute(
        select(OutboxItem.channel, func.min(OutboxItem.created_at))
        .where(OutboxItem.state.in_(("pending", "sending")))
        .group_by(OutboxItem.channel)
    ).all()
    return OutboxStats(
        rows={(c, s): int(n) for c, s, n in rows},
        oldest_pending={c: max(0.0, (now - t).total_seconds()) for c, t in oldest if t is not None},
    )


def purge(session: Session, before: datetime) -> int:
    """Delete sent and failed rows finished before ``before`` (attempts go with them), and then
    notifications left without rows; returns the number of outbox rows deleted."""
    finished = or_(
        and_(OutboxItem.state == "sent", OutboxItem.sent_at < before),
        and_(OutboxItem.state == "failed", OutboxItem.failed_at < before),
    )
    ids = list(session.scalars(select(OutboxItem.id).where(finished)))
    if not ids:
        return 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_(chunk)))
        session.execute(delete(OutboxItem).where(OutboxItem.id.in_(chunk)))
    still_used = select(OutboxItem.notification_id).distinct()
    session.execute(
        delete(Notification).where(Notification.created_at < before, Notification.id.not_in(still_used))
    )
    session.execute(delete(SmtpRelayUsage).where(SmtpRelayUsage.hour_start < before - USAGE_WINDOW))
    return len(ids)
