"""Per-relay daily limits: when the next message would exceed the limit, mail goes out as digests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify import outbox
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import SmtpRelay
from tests.conftest import Tenants
from tests.notify.conftest import ManualClock, WorkerFactory, add_relay, alert, drain, enqueue, rows, run
from tests.notify.servers import SmtpServer

SUPPORT = [Recipient("email", "support-alpha@example.ru")]
OTHER = [Recipient("email", "duty@example.ru")]


def limit_relay(db: Database, box: SecretBox, smtp: SmtpServer, daily_limit: int) -> int:
    return add_relay(db, box, smtp.port, daily_limit=daily_limit)


def queue(
    db: Database, tenants: Tenants, clock: ManualClock, count: int, prefix: str, to: list[Recipient]
) -> None:
    for n in range(count):
        enqueue(
            db, alert(subject=f"{prefix} {n}"), tenants.cabinet_a, f"{prefix}:{n}", recipients=to, clock=clock
        )


def test_when_the_daily_limit_would_be_exceeded_the_rest_goes_to_each_recipient_in_one_digest(
    db: Database,
    box: SecretBox,
    tenants: Tenants,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    limit_relay(db, box, smtp, daily_limit=10)  # a tenth (1) is kept for digests: 9 single messages
    worker = make_worker()
    queue(db, tenants, clock, 9, "Обычное", SUPPORT)
    drain(worker)
    assert len(smtp.received) == 9
    queue(db, tenants, clock, 4, "Первому", SUPPORT)
    queue(db, tenants, clock, 3, "Второму", OTHER)
    drain(worker)
    assert len(smtp.received) == 9
    held = [r for r in rows(db) if r.state == "pending"]
    assert len(held) == 7 and all(r.held for r in held)

    clock.advance(3600)  # one digest interval later: the reserve allows one digest
    drain(worker)
    assert len(smtp.received) == 10  # the limit, not a message more
    first = smtp.received[-1]
    expected = {"support-alpha@example.ru": 4, "duty@example.ru": 3}[first.rcpt_tos[0]]
    assert (
        first.message["Subject"]
        == f"[SMART][critical][digest][0599ROGAIKOPITA] Сводка оповещений: {expected}"
    )

    clock.advance(3600)
    drain(worker)
    assert len(smtp.received) == 10  # the other digest waits until the 24-hour window moves on
    clock.advance(25 * 3600)
    drain(worker)
    assert len(smtp.received) == 11
    assert {r.state for r in rows(db)} == {"sent"}
    assert {smtp.received[-1].rcpt_tos[0], first.rcpt_tos[0]} == {
        "support-alpha@example.ru",
        "duty@example.ru",
    }
    texts = "".join(m.get_body(("plain",)).get_content() for m in smtp.messages[-2:])  # type: ignore[union-attr]
    for n in range(4):
        assert f"Первому {n}" in texts
    for n in range(3):
        assert f"Второму {n}" in texts


def test_a_digest_collects_what_arrived_during_the_interval(
    db: Database,
    box: SecretBox,
    tenants: Tenants,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    relay_id = limit_relay(db, box, smtp, daily_limit=20)  # 2 kept for digests: 18 single messages
    queue(db, tenants, clock, 18, "Обычное", SUPPORT)
    worker = make_worker()
    drain(worker)
    assert len(smtp.received) == 18
    for n in range(6):
        clock.advance(300)
        enqueue(
            db, alert(subject=f"Позднее {n}"), tenants.cabinet_a, f"late:{n}", recipients=SUPPORT, clock=clock
        )
        drain(worker)
    assert len(smtp.received) == 18
    clock.advance(3600)
    drain(worker)
    assert len(smtp.received) == 19
    digest = smtp.messages[-1]
    assert digest["Subject"] == "[SMART][critical][digest][0599ROGAIKOPITA] Сводка оповещений: 6"
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Дневной лимит отправки писем почти исчерпан" in text
    for n in range(6):
        assert f"[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha_client] Позднее {n}" in text
    late = [r for r in rows(db) if r.held]
    assert {r.state for r in late} == {"sent"} and len({r.digest_id for r in late}) == 1
    with db.session() as s:
        assert outbox.relay_usage(s, relay_id, clock.now()) == 19


def test_a_relay_without_a_limit_never_holds_mail(
    db: Database,
    tenants: Tenants,
    relay: int,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    queue(db, tenants, clock, 30, "Без лимита", SUPPORT)
    drain(make_worker())
    assert len(smtp.received) == 30 and not any(r.held for r in rows(db))


def test_a_failed_send_does_not_use_up_the_daily_limit(
    db: Database,
    box: SecretBox,
    tenants: Tenants,
    smtp: SmtpServer,
    clock: ManualClock,
    make_worker: WorkerFactory,
) -> None:
    relay_id = limit_relay(db, box, smtp, daily_limit=10)
    smtp.stop()
    queue(db, tenants, clock, 3, "Сбой", SUPPORT)
    run(make_worker())
    with db.session() as s:
        assert outbox.relay_usage(s, relay_id, clock.now()) == 0


def test_the_dealers_own_relay_is_used_before_the_default(
    db: Database, box: SecretBox, tenants: Tenants, relay: int, clock: ManualClock, make_worker: WorkerFactory
) -> None:
    own = SmtpServer().start()
    try:
        add_relay(db, box, own.port, dealer_id=tenants.dealer_id, sender="alerts@rogaikopita.ru")
        queue(db, tenants, clock, 1, "Свой сервер", SUPPORT)
        run(make_worker())
        assert [r.mail_from for r in own.received] == ["alerts@rogaikopita.ru"]
    finally:
        own.stop()


def test_without_any_relay_mail_waits_and_the_reason_is_visible(
    db: Database, tenants: Tenants, clock: ManualClock, make_worker: WorkerFactory
) -> None:
    queue(db, tenants, clock, 1, "Нет сервера", SUPPORT)
    run(make_worker())
    [row] = rows(db)
    assert (
        row.state == "pending" and row.last_error is not None and "не настроен SMTP-сервер" in row.last_error
    )


@pytest.mark.parametrize(("limit", "reserve"), [(1, 1), (5, 1), (10, 1), (500, 50), (2000, 200)])
def test_a_tenth_of_the_limit_is_kept_for_digests(limit: int, reserve: int) -> None:
    assert outbox.digest_reserve(limit) == reserve


def test_usage_counts_the_last_24_hours_only(
    db: Database, box: SecretBox, tenants: Tenants, smtp: SmtpServer, clock: ManualClock
) -> None:
    relay_id = limit_relay(db, box, smtp, daily_limit=500)
    with db.write() as s:
        assert s.get(SmtpRelay, relay_id) is not None
        outbox.add_usage(s, relay_id, outbox.hour_floor(clock.now() - timedelta(hours=30)), 100)
        outbox.add_usage(s, relay_id, outbox.hour_floor(clock.now() - timedelta(hours=23)), 7)
        outbox.add_usage(s, relay_id, outbox.hour_floor(clock.now()), 3)
    with db.session() as s:
        assert outbox.relay_usage(s, relay_id, clock.now()) == 10
        assert s.scalars(select(SmtpRelay.daily_limit)).first() == 500
