"""The outbox and its worker: stored before sending, deduplicated, retried, recovered, never sent twice."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from kodeks_smart.notify import outbox
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Account
from kodeks_smart.store.notify_models import DeliveryAttempt, Notification, OutboxItem
from kodeks_smart.store.scope import NotFound, Scope, Tenant
from tests.conftest import Tenants
from tests.notify.conftest import ManualClock, WorkerFactory, alert, drain, enqueue, rows, run
from tests.notify.servers import FakeBotApi, Reply, SmtpServer, telegram_error, wait_for

SUPPORT = [Recipient("email", "support-alpha@example.ru")]


def test_a_notification_is_stored_routed_and_pending_before_anything_is_sent(
    db: Database, tenants: Tenants, relay: int, smtp: SmtpServer
) -> None:
    queued = enqueue(db, alert(), tenants.cabinet_a, "icmp:alpha:1")
    assert queued.created
    stored = rows(db)
    assert [(r.channel, r.target, r.state) for r in stored] == [
        ("email", "support-alpha@example.ru", "pending"),
        ("email", "alpha@example.ru", "pending"),
        ("telegram", "-1005", "pending"),
    ]
    assert all(r.cabinet_id == tenants.cabinet_a and r.dealer_id == tenants.dealer_id for r in stored)
    assert smtp.received == []


def test_enqueuing_the_same_notification_twice_creates_nothing(db: Database, tenants: Tenants) -> None:
    first = enqueue(db, alert(), tenants.cabinet_a, "icmp:alpha:1")
    second = enqueue(db, alert(subject="другой текст"), tenants.cabinet_a, "icmp:alpha:1")
    assert not second.created
    assert second.notification_id == first.notification_id and second.outbox_ids == first.outbox_ids
    with db.session() as s:
        assert len(s.scalars(select(Notification)).all()) == 1
    assert len(rows(db)) == 3


def test_a_notification_for_another_dealers_cabinet_is_refused(db: Database, tenants: Tenants) -> None:
    with pytest.raises(outbox.OutboxError):
        enqueue(db, alert(), tenants.cabinet_c, "icmp:1")


def test_smtp_down_for_fifty_notifications_then_up_delivers_each_exactly_once(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    smtp.stop()
    for n in range(50):
        enqueue(
            db,
            alert(subject=f"Оповещение {n}"),
            tenants.cabinet_a,
            f"outage:{n}",
            recipients=SUPPORT,
            clock=clock,
        )
    worker = make_worker()
    assert run(worker) == 50
    waiting = rows(db)
    assert {r.state for r in waiting} == {"pending"}
    assert all(r.attempts == 1 and "нет связи с почтовым сервером" in (r.last_error or "") for r in waiting)
    assert all(r.next_attempt_at > clock.now() for r in waiting)
    assert run(worker) == 0  # nothing is due while backing off

    for _ in range(5):  # hours of outage: more failed attempts, nothing lost, nothing given up
        clock.advance(3600)
        assert run(worker) == 50
    assert {r.state for r in rows(db)} == {"pending"}

    smtp.start()  # the same port again
    clock.advance(3600)
    drain(worker)
    assert {r.state for r in rows(db)} == {"sent"}
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 50
    assert Counter(subjects) == Counter(
        f"[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha_client] Оповещение {n}" for n in range(50)
    )
    assert len({m["Message-ID"] for m in smtp.messages}) == 50
    clock.advance(86400)
    assert drain(worker) == 0 and len(smtp.received) == 50


def test_a_restarted_worker_resumes_and_sends_nothing_twice(
    db: Database,
    db_url: str,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    for n in range(6):
        enqueue(
            db, alert(subject=f"№{n}"), tenants.cabinet_a, f"restart:{n}", recipients=SUPPORT, clock=clock
        )
    first = make_worker("before-restart", batch=3)
    assert run(first) == 3
    assert len(smtp.received) == 3

    # A new process: its own engine, its own worker, the same database.
    other_db = Database(db_url)
    try:
        second = make_worker("after-restart", db=other_db)
        drain(second)
        clock.advance(86400)
        drain(second)
    finally:
        other_db.dispose()
    assert sorted(m["Subject"].rsplit(" ", 1)[1] for m in smtp.messages) == [f"№{n}" for n in range(6)]
    assert {r.state for r in rows(db)} == {"sent"}


def test_a_row_claimed_by_a_worker_that_died_is_taken_over_after_its_lease_with_the_same_message_id(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    queued = enqueue(db, alert(), tenants.cabinet_a, "crash:1", recipients=SUPPORT, clock=clock)
    [row_id] = queued.outbox_ids
    assert outbox.claim(db, row_id, now=clock.now(), worker="died-mid-send")  # then the process was killed
    survivor = make_worker("survivor")
    assert run(survivor) == 0  # the dead worker's lease still holds
    clock.advance(outbox.DEFAULT_LEASE.total_seconds() + 1)
    assert run(survivor) == 1
    [sent] = smtp.messages
    [row] = rows(db)
    assert row.state == "sent" and row.claimed_by == "survivor"
    assert sent["Message-ID"] == f"<{row.idempotency_key}@smart.example.ru>"


def test_a_row_is_claimed_by_one_worker_only(db: Database, tenants: Tenants, clock: ManualClock) -> None:
    [row_id, *_] = enqueue(db, alert(), tenants.cabinet_a, "claim:1", clock=clock).outbox_ids
    assert outbox.claim(db, row_id, now=clock.now(), worker="a")
    assert not outbox.claim(db, row_id, now=clock.now(), worker="b")


def test_two_workers_share_the_outbox_without_sending_anything_twice(
    db: Database,
    db_url: str,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    for n in range(30):
        enqueue(db, alert(subject=f"№{n}"), tenants.cabinet_a, f"pair:{n}", recipients=SUPPORT, clock=clock)
    other_db = Database(db_url)
    try:
        one, two = make_worker("one", batch=7), make_worker("two", db=other_db, batch=7)

        async def both() -> None:
            await asyncio.gather(one.run_until_idle(), two.run_until_idle())

        asyncio.run(both())
    finally:
        other_db.dispose()
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 30 and len(set(subjects)) == 30
    with db.session() as s:
        attempts = s.scalars(select(DeliveryAttempt)).all()
    assert len(attempts) == 30 and {a.outcome for a in attempts} == {"sent"}


def test_a_permanent_error_marks_the_row_failed_with_its_reason_and_records_the_attempt(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    smtp.handler.refuse["gone@example.ru"] = "550 5.1.1 Mailbox unavailable"
    [row_id] = enqueue(
        db,
        alert(),
        tenants.cabinet_a,
        "perm:1",
        recipients=[Recipient("email", "gone@example.ru")],
        clock=clock,
    ).outbox_ids
    run(make_worker())
    [row] = rows(db)
    assert row.state == "failed" and row.failed_at == clock.now()
    assert row.last_error is not None and "550" in row.last_error
    with db.session() as s:
        [attempt] = outbox.attempts_of(Tenant(s, Scope.operator()), row_id)
    assert attempt.outcome == "failed" and attempt.error == row.last_error
    assert attempt.started_at == clock.now() and attempt.worker == "w1" and attempt.duration >= 0
    clock.advance(86400)
    assert drain(make_worker()) == 0  # a failed row is not retried by itself


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    smtp.stop()
    enqueue(db, alert(), tenants.cabinet_a, "backoff:1", recipients=SUPPORT, clock=clock)
    worker = make_worker(retry_cap=600)
    delays = []
    for _ in range(8):
        started = clock.now()
        assert run(worker) == 1
        [row] = rows(db)
        delay = (row.next_attempt_at - started).total_seconds()
        delays.append(delay)
        clock.advance(delay)
    for n, delay in enumerate(delays):
        nominal = min(600.0, 30.0 * 2**n)
        assert nominal / 2 <= delay <= nominal
    assert max(delays) <= 600


def test_a_notification_that_cannot_be_delivered_for_48_hours_is_given_up(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    smtp.stop()
    enqueue(db, alert(), tenants.cabinet_a, "old:1", recipients=SUPPORT, clock=clock)
    worker = make_worker()
    for _ in range(60):
        clock.advance(3600)
        run(worker)
        if rows(db)[0].state == "failed":
            break
    [row] = rows(db)
    assert row.state == "failed"
    assert row.last_error is not None and row.last_error.startswith("не доставлено за 48 ч: нет связи")
    assert row.failed_at is not None and row.failed_at - row.created_at >= timedelta(hours=48)
    assert row.failed_at - row.created_at < timedelta(hours=49)


def test_a_failed_row_can_be_retried_by_hand_and_then_goes_out(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    smtp.handler.refuse["support-alpha@example.ru"] = "550 5.7.1 Temporarily blocked"
    [row_id] = enqueue(db, alert(), tenants.cabinet_a, "manual:1", recipients=SUPPORT, clock=clock).outbox_ids
    worker = make_worker()
    run(worker)
    assert rows(db)[0].state == "failed"
    smtp.handler.refuse.clear()
    with db.write() as s:
        outbox.retry(Tenant(s, Scope.operator()), row_id, now=clock.now(), give_up_after=timedelta(hours=48))
    run(worker)
    [row] = rows(db)
    assert row.state == "sent" and row.attempts == 2 and row.last_error is None
    with db.write() as s, pytest.raises(outbox.OutboxError, match="уже доставлено"):
        outbox.retry(Tenant(s, Scope.operator()), row_id, now=clock.now(), give_up_after=timedelta(hours=48))


def test_a_cabinet_sees_only_its_own_outbox(db: Database, tenants: Tenants, clock: ManualClock) -> None:
    enqueue(db, alert(), tenants.cabinet_a, "alpha:1", clock=clock)
    enqueue(db, alert(client="beta_client"), tenants.cabinet_b, "beta:1", clock=clock)
    with db.session() as s:
        alice = Scope.for_account(s, s.scalars(select(Account).where(Account.login == "alice")).one())
        boss = Scope.for_account(s, s.scalars(select(Account).where(Account.login == "boss")).one())
        charlie = Scope.for_account(s, s.scalars(select(Account).where(Account.login == "charlie")).one())
        seen_by_alice = outbox.list_outbox(Tenant(s, alice))
        assert seen_by_alice and {e.cabinet_id for e in seen_by_alice} == {tenants.cabinet_a}
        assert {e.cabinet_id for e in outbox.list_outbox(Tenant(s, boss))} == {
            tenants.cabinet_a,
            tenants.cabinet_b,
        }
        assert outbox.list_outbox(Tenant(s, charlie)) == []
        assert sum(outbox.outbox_counts(Tenant(s, alice)).values()) == len(seen_by_alice)
        bobs_row = s.scalars(select(OutboxItem).where(OutboxItem.cabinet_id == tenants.cabinet_b)).first()
        assert bobs_row is not None
        with pytest.raises(NotFound):
            outbox.attempts_of(Tenant(s, alice), bobs_row.id)
    with db.write() as s, pytest.raises(NotFound):
        outbox.retry(Tenant(s, alice), bobs_row.id, now=clock.now(), give_up_after=timedelta(hours=1))


def test_telegram_429_is_honoured_before_the_next_try(
    db: Database, tenants: Tenants, bot_api: FakeBotApi, clock: ManualClock, make_worker: WorkerFactory
) -> None:
    bot_api.script.append(telegram_error(429, "Too Many Requests: retry after 40", retry_after=40))
    recipients = [Recipient("telegram", "-1005", _chat_id(db, "-1005"))]
    enqueue(db, alert(), tenants.cabinet_a, "flood:1", recipients=recipients, clock=clock)
    worker = make_worker()
    run(worker)
    [row] = rows(db)
    assert row.state == "pending" and row.next_attempt_at == clock.now() + timedelta(seconds=40)
    clock.advance(39)
    assert run(worker) == 0 and len(bot_api.requests) == 1
    clock.advance(1)
    run(worker)
    assert rows(db)[0].state == "sent"
    assert [m.token for m in bot_api.delivered] == ["bot-alpha"]


def test_a_long_telegram_message_resumes_after_the_parts_delivered_before_a_failure(
    db: Database, tenants: Tenants, bot_api: FakeBotApi, clock: ManualClock, make_worker: WorkerFactory
) -> None:
    lines = "\n".join(f"клиент_{n:03} — нет ответа на ping" for n in range(400))
    message = alert("KodeksIcmpCount", client=None, telegram_html=f"<b>FIRING KodeksIcmpCount</b>\n{lines}")
    bot_api.script.extend([Reply(200, {"ok": True, "result": {}}), telegram_error(502, "Bad Gateway")])
    recipients = [Recipient("telegram", "-1005", _chat_id(db, "-1005"))]
    enqueue(db, message, tenants.cabinet_a, "long:1", recipients=recipients, clock=clock)
    worker = make_worker()
    run(worker)
    [row] = rows(db)
    assert row.state == "pending" and row.parts_sent == 1
    clock.advance(3600)
    run(worker)
    [row] = rows(db)
    accepted = [r.json["text"] for r in bot_api.requests if r.status == 200]
    assert row.state == "sent" and row.parts_sent == len(accepted) > 2
    assert len(set(accepted)) == len(accepted)  # the first part went out once


def test_a_telegram_chat_that_migrated_is_remembered_for_the_cabinet(
    db: Database, tenants: Tenants, bot_api: FakeBotApi, clock: ManualClock, make_worker: WorkerFactory
) -> None:
    from collections import deque

    from kodeks_smart.store.models import TelegramChat

    bot_api.chat_script["-1005"] = deque(
        [
            telegram_error(
                400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1009
            )
        ]
    )
    chat_row = _chat_id(db, "-1005")
    recipients = [Recipient("telegram", "-1005", chat_row)]
    # Enqueued on the worker's clock: on the real clock the row was due only before the clock's start.
    enqueue(db, alert(), tenants.cabinet_a, "migrate:1", recipients=recipients, clock=clock)
    run(make_worker())
    with db.session() as s:
        chat = s.get(TelegramChat, chat_row)
        assert chat is not None and chat.chat_id == "-1009"
    [row] = rows(db)
    assert row.state == "sent" and row.target == "-1009"


def test_a_blocked_bot_fails_the_row_at_once(
    db: Database, tenants: Tenants, bot_api: FakeBotApi, clock: ManualClock, make_worker: WorkerFactory
) -> None:
    bot_api.script.append(telegram_error(403, "Forbidden: bot was kicked from the supergroup chat"))
    recipients = [Recipient("telegram", "-1005", _chat_id(db, "-1005"))]
    enqueue(db, alert(), tenants.cabinet_a, "kicked:1", recipients=recipients, clock=clock)
    run(make_worker())
    [row] = rows(db)
    assert row.state == "failed" and row.last_error is not None and "kicked" in row.last_error
    assert "bot-alpha" not in row.last_error


def test_metrics_show_waiting_failed_and_the_oldest_pending_age_by_channel(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    smtp.handler.refuse["gone@example.ru"] = "550 no such user"
    enqueue(
        db, alert(), tenants.cabinet_a, "m:1", recipients=[Recipient("email", "gone@example.ru")], clock=clock
    )
    enqueue(db, alert(), tenants.cabinet_a, "m:2", recipients=SUPPORT, clock=clock)
    registry = CollectorRegistry()
    worker = make_worker(registry=registry)
    run(worker)
    smtp.stop()
    enqueue(db, alert(), tenants.cabinet_a, "m:3", recipients=SUPPORT, clock=clock)
    run(worker)
    clock.advance(90)
    text = generate_latest(registry).decode()
    assert 'smart_notify_sent_total{channel="email"} 1.0' in text
    assert 'smart_notify_failed_total{channel="email"} 1.0' in text
    assert 'smart_notify_retries_total{channel="email"} 1.0' in text
    assert 'smart_notify_outbox_rows{channel="email",state="failed"} 1.0' in text
    assert 'smart_notify_outbox_rows{channel="email",state="pending"} 1.0' in text
    assert 'smart_notify_oldest_pending_seconds{channel="email"} 90.0' in text
    assert 'smart_notify_oldest_pending_seconds{channel="telegram"} 0.0' in text


def test_wake_sends_a_new_notification_without_waiting_for_the_next_poll(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    worker = make_worker()
    started = threading.Event()

    async def scenario() -> None:
        serving = asyncio.create_task(worker.serve(seconds=3600))  # nothing is due: it would sleep an hour
        await asyncio.sleep(0.2)
        started.set()

        def alert_engine() -> None:
            enqueue(db, alert(), tenants.cabinet_a, "wake:1", recipients=SUPPORT, clock=clock)
            worker.wake()  # from another thread, as the evaluator's to_thread code would

        await asyncio.to_thread(alert_engine)
        delivered = await asyncio.to_thread(wait_for, lambda: len(smtp.received) == 1, 20)
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        assert delivered

    asyncio.run(scenario())
    assert started.is_set() and rows(db)[0].state == "sent"


def test_finished_rows_are_purged_after_the_keep_period(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    enqueue(db, alert(), tenants.cabinet_a, "purge:1", recipients=SUPPORT, clock=clock)
    run(make_worker())
    clock.advance(86400 * 91)
    enqueue(db, alert(), tenants.cabinet_a, "purge:2", recipients=SUPPORT, clock=clock)
    with db.write() as s:
        assert outbox.purge(s, clock.now() - timedelta(days=90)) == 1
    with db.session() as s:
        assert [n.dedup_key for n in s.scalars(select(Notification))] == ["purge:2"]
        assert s.scalars(select(DeliveryAttempt)).all() == []
    assert [r.state for r in rows(db)] == ["pending"]


def _chat_id(db: Database, chat: str) -> int:
    from kodeks_smart.store.models import TelegramChat

    with db.session() as s:
        return s.scalars(select(TelegramChat.id).where(TelegramChat.chat_id == chat)).first() or 0


def test_stop_ends_a_waiting_serve_at_once(db: Database, make_worker: WorkerFactory) -> None:
    worker = make_worker()

    async def scenario() -> bool:
        serving = asyncio.create_task(worker.serve(seconds=3600))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(worker.stop)  # from another thread, as a shutdown hook might
        done, _ = await asyncio.wait({serving}, timeout=20)
        return serving in done

    assert asyncio.run(scenario())
    assert asyncio.run(asyncio.wait_for(worker.serve(seconds=3600), timeout=20)) is None  # later runs too


def test_the_delivery_job_is_scheduled_with_its_metrics_on_the_process_registry(services: Services) -> None:
    from kodeks_smart import jobs
    from kodeks_smart.notify import worker as notify_worker

    [job] = [j for j in jobs.default_jobs(services) if j.name == "notify-delivery"]
    assert job.run_at_start and job.jitter == 0 and job.timeout > job.interval
    assert notify_worker.worker_for(services) is notify_worker.worker_for(services)
    text = generate_latest(services.registry).decode()
    assert "smart_notify_outbox_rows" in text and "smart_notify_sent_total" in text
    assert len(jobs.default_jobs(services)) == len(
        jobs.default_jobs(services)
    )  # listing jobs twice is harmless
