"""ASRP forwarding end to end: a sysinfo upload goes through ingest into the forwarding queue and is sent to a
local server playing ASRP; retries, exactly-once, the answers of ASRP, secrets at rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from kodeks_smart.asrp import configure, queue
from kodeks_smart.asrp.forwarders import ForwardError, HttpForwarder, HttpSettings, Report
from kodeks_smart.asrp.service import LogLine, log_lines, send_sample
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.asrp_models import AsrpForward
from kodeks_smart.store.ingest_models import SysinfoReportRow, Upload
from kodeks_smart.store.models import Dealer
from kodeks_smart.store.scope import Scope, Tenant
from kodeks_smart.store.types import utcnow
from tests.asrp.conftest import Harness, http_input
from tests.asrp.server import IDENT, NUMBER, FakeAsrp


def rows(h: Harness) -> list[AsrpForward]:
    with h.services.db.session() as s:
        found = list(s.scalars(select(AsrpForward).order_by(AsrpForward.id)))
        s.expunge_all()
        return found


def test_a_processed_report_is_posted_as_multipart_with_the_configured_fields(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    raw = h.feed()
    [row] = rows(h)
    assert row.state == "pending" and row.client_name == "alpha_client"
    assert row.cabinet_id == h.tenants.cabinet_a

    assert h.forward() == 1
    [request] = fake_asrp.requests
    with h.services.db.session() as s:
        upload = s.scalars(select(Upload)).one()
        regnum = s.scalar(select(SysinfoReportRow.regnum))
    assert request.method == "POST" and request.path == "/upload"
    assert request.headers["authorization"] == "Bearer asrp-token-42"
    assert request.fields == {
        "dealer": "0599ROGAIKOPITA",
        "client": "alpha_client",
        "reg": regnum,
        "n": str(upload.id),
        "sum": upload.sha256,
    }
    assert regnum
    assert request.files["sysinfo"] == (upload.filename, raw)

    [row] = rows(h)
    assert (row.state, row.http_status, row.upload_number, row.ident) == ("accepted", 200, NUMBER, IDENT)
    assert row.answer is not None and "Принят" in row.answer
    [line] = lines_of(h, Scope.dealer(h.tenants.dealer_id))
    assert (line.state_ru, line.response, line.number, line.ident) == ("Принят", "ок", NUMBER, IDENT)


def lines_of(h: Harness, scope: Scope, **filters: str) -> list[LogLine]:
    with h.services.db.session() as s:
        return log_lines(Tenant(s, scope), **filters)  # type: ignore[arg-type]


def test_reprocessing_and_resending_never_forward_twice(h: Harness, fake_asrp: FakeAsrp) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed()
    h.forward()
    assert enqueue_reprocess(h.ctx) == 1
    assert drain(h.ctx) == 1
    h.feed()  # the agent sends the same file again
    assert h.forward() == 0
    assert len(rows(h)) == 1 and len(fake_asrp.requests) == 1


def test_a_failing_server_is_retried_with_backoff_and_the_report_goes_out_exactly_once(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed()
    fake_asrp.mode = "error"
    now = utcnow()
    h.forward(now)
    [row] = rows(h)
    assert (row.state, row.attempts, row.http_status) == ("pending", 1, 500)
    assert row.last_error and "временно недоступен" in row.last_error
    assert row.next_attempt_at > now
    first_delay = row.next_attempt_at - now

    assert h.forward(now + timedelta(seconds=1)) == 0  # not due yet
    h.forward(row.next_attempt_at)
    [row] = rows(h)
    assert row.attempts == 2 and row.next_attempt_at - row.last_attempt_at > first_delay / 2  # type: ignore[operator]
    [line] = lines_of(h, Scope.operator())
    assert line.state_ru == "В очереди" and "ошибка" in line.answer

    fake_asrp.mode = "accept"
    h.forward(row.next_attempt_at)
    h.forward(row.next_attempt_at + timedelta(hours=5))
    [row] = rows(h)
    assert row.state == "accepted" and row.attempts == 3 and row.last_error is None
    assert len(fake_asrp.requests) == 3
    assert sum(1 for r in fake_asrp.requests if r.files) == 3


def test_a_duplicate_answer_is_recorded_as_repeat(h: Harness, fake_asrp: FakeAsrp) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed()
    fake_asrp.mode = "duplicate"
    h.forward()
    [row] = rows(h)
    assert (row.state, row.upload_number, row.ident) == ("duplicate", NUMBER, None)
    [line] = lines_of(h, Scope.operator(), state="duplicate")
    assert (line.state_ru, line.response) == ("Повтор", "warning")


def test_garbage_is_not_taken_for_success_and_a_client_error_is_permanent(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed()
    fake_asrp.mode = "garbage"
    h.forward()
    [row] = rows(h)
    assert row.state == "pending" and row.last_error == "ответ сервера не распознан как «принято»"
    assert row.answer is not None and "\x00" not in row.answer and len(row.answer) <= 500

    fake_asrp.mode = "reject"
    h.forward(row.next_attempt_at)
    [row] = rows(h)
    assert row.state == "failed" and row.http_status == 400
    assert row.answer == "Неверный формат запроса [31m"  # control characters stripped
    assert h.forward(row.next_attempt_at + timedelta(days=1)) == 0


def test_a_server_that_does_not_answer_in_time_is_retried(h: Harness, fake_asrp: FakeAsrp) -> None:
    h.configure(http_input(fake_asrp.url, timeout=1.0))
    h.feed()
    fake_asrp.delay = 3.0
    h.forward()
    [row] = rows(h)
    assert row.state == "pending" and row.last_error and "не ответил за 1 с" in row.last_error


def test_forwarding_is_given_up_after_the_configured_age_and_retry_queues_it_again(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed()
    fake_asrp.mode = "error"
    now = utcnow()
    h.forward(now)
    later = now + timedelta(hours=73)
    h.forward(later)
    [row] = rows(h)
    assert row.state == "failed" and row.finished_at is not None

    fake_asrp.mode = "accept"
    with h.services.db.write() as s:
        other = queue.retry(Tenant(s, Scope.dealer(h.tenants.other_dealer_id)), later)
        assert other == 0  # another dealer's retry does not touch it
        assert queue.retry(Tenant(s, Scope.dealer(h.tenants.dealer_id)), later) == 1
    h.forward(later)
    [row] = rows(h)
    assert row.state == "accepted" and row.first_failed_at is None


def test_a_disabled_forwarder_queues_nothing(h: Harness, fake_asrp: FakeAsrp) -> None:
    h.configure(http_input(fake_asrp.url, enabled=False))
    h.feed()
    assert rows(h) == []


def test_a_private_address_is_refused_unless_allowed(h: Harness, fake_asrp: FakeAsrp) -> None:
    forwarder = HttpForwarder(HttpSettings(url=fake_asrp.url), allow_private=False)
    with pytest.raises(ForwardError) as caught:
        forwarder.send(Report(b"x", "x.zip", {}))
    assert caught.value.permanent and "внутренней сети" in caught.value.message
    assert fake_asrp.requests == []


def test_basic_and_header_authentication(h: Harness, fake_asrp: FakeAsrp) -> None:
    for auth, name, expected in (
        ("basic", "dealer", ("authorization", "Basic ZGVhbGVyOnMzY3JldA==")),
        ("header", "X-Api-Key", ("x-api-key", "s3cret")),
    ):
        settings = HttpSettings(url=fake_asrp.url, auth=auth, auth_name=name, secret="s3cret", method="PUT")
        answer = HttpForwarder(settings, allow_private=True).send(Report(b"zip", "a.zip", {}))
        assert answer.outcome == "accepted"
        key, value = expected
        assert fake_asrp.requests[-1].headers[key] == value
        assert fake_asrp.requests[-1].method == "PUT"


def test_the_secret_is_encrypted_at_rest_and_never_shown(h: Harness, fake_asrp: FakeAsrp) -> None:
    h.configure(http_input(fake_asrp.url))
    with h.services.db.session() as s:
        stored = s.execute(text("SELECT secret_enc FROM asrp_forwarders")).scalar_one()
        assert b"asrp-token-42" not in bytes(stored)
        row = configure.forwarder_of(s, h.tenants.dealer_id)
        assert row is not None
        assert "asrp-token-42" not in repr(configure.describe(row))
        assert configure.describe(row)["Секрет"] == "задан"
    # changing other settings keeps the stored secret
    with h.services.db.write() as s:
        row = configure.forwarder_of(s, h.tenants.dealer_id)
        assert row is not None
        data = configure.input_of(row)
        data.timeout = 10
        configure.save(s, h.services.box, h.tenants.dealer_id, data, folder_root="")
    h.feed()
    h.forward()
    assert fake_asrp.requests[-1].headers["authorization"] == "Bearer asrp-token-42"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "ftp://asrp.example.ru/"}, "адрес АСРП"),
        ({"url": "https://user:pw@asrp.example.ru/"}, "логин и пароль"),
        ({"method": "DELETE"}, "метод"),
        ({"fields": {"x": "{password}"}}, "неизвестная подстановка"),
        ({"fields": {"x": "{client.__class__}"}}, "неизвестная подстановка"),
        ({"fields": {"bad name": "1"}}, "поле формы"),
        ({"success_regex": "(unclosed"}, "шаблон успеха"),
        ({"auth": "header", "auth_name": "Host"}, "имя заголовка"),
        ({"auth": "basic", "auth_name": "", "secret": "x"}, "логин"),
        ({"secret": "a\r\nInjected: 1"}, "перевод строки"),
        ({"timeout": 0.0}, "таймаут"),
        ({"kind": "folder"}, "SMART_ASRP_FOLDER_ROOT"),
    ],
)
def test_hostile_or_broken_settings_are_rejected_with_a_clear_message(
    h: Harness, change: dict[str, object], message: str
) -> None:
    data = http_input("https://asrp.example.ru/upload")
    for key, value in change.items():
        setattr(data, key, value)
    with h.services.db.write() as s, pytest.raises(AdminError, match=message):
        configure.save(s, h.services.box, h.tenants.dealer_id, data, folder_root="")


def test_the_test_command_sends_a_sample(h: Harness, fake_asrp: FakeAsrp) -> None:
    h.configure(http_input(fake_asrp.url))
    with h.services.db.session() as s:
        dealer = s.get(Dealer, h.tenants.dealer_id)
        row = configure.forwarder_of(s, h.tenants.dealer_id)
        assert dealer is not None and row is not None
        forwarder = configure.build(row, h.services.box, folder_root="", allow_private=True)
    answer = send_sample(forwarder, dealer)
    assert answer.outcome == "accepted"
    assert fake_asrp.requests[-1].fields["client"] == "smart-test"
    assert rows(h) == []


def test_a_row_is_claimed_by_one_worker_and_a_dead_workers_row_is_taken_over(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed()
    [row] = rows(h)
    now = utcnow()
    first = queue.claim(h.services.db, row.id, now)
    assert first is not None
    assert queue.claim(h.services.db, row.id, now) is None  # a second worker gets nothing
    assert h.forward(now + timedelta(minutes=5)) == 0  # the lease still holds
    # the first worker died mid-send: after the lease another worker sends it, the late finish is ignored
    assert h.forward(now + queue.LEASE + timedelta(seconds=1)) == 1
    assert not queue.finish(h.services.db, row.id, first, {"state": "failed"})
    [row] = rows(h)
    assert row.state == "accepted" and len(fake_asrp.requests) == 1
