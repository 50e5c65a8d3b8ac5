"""`smart outbox` and `smart notify test`, run as real processes against a temporary store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet
from kodeks_smart.store.notify_models import OutboxItem
from tests.live import smart_env
from tests.notify.conftest import add_relay, alert, enqueue
from tests.notify.servers import FakeBotApi, SmtpServer


def smart(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080), "COLUMNS": "250", **env},
        cwd=home,
        timeout=120,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A migrated store with dealer 0599ROGAIKOPITA, cabinet «Филиал А», a mailbox and a Telegram chat."""
    assert smart(tmp_path, "db", "upgrade").returncode == 0
    db = Database(f"sqlite:///{tmp_path}/smart.db")
    box = SecretBox.from_file(tmp_path / "secret.key")
    with db.write() as s:
        admin.add_dealer(s, "0599ROGAIKOPITA", "Рога и копыта")
        cabinet = admin.add_cabinet(s, "0599ROGAIKOPITA", "Филиал А")
        admin.add_mailbox(s, cabinet, "support@example.ru", ["critical"])
        admin.add_telegram_chat(s, box, cabinet, "-100200", "42:bot-token", ["critical"], title="Дежурные")
    db.dispose()
    yield tmp_path


def _db(home: Path) -> Database:
    return Database(f"sqlite:///{home}/smart.db")


def test_notify_test_sends_to_every_channel_of_the_cabinet_and_reports_each(
    home: Path, smtp: SmtpServer, bot_api: FakeBotApi
) -> None:
    db = _db(home)
    add_relay(db, SecretBox.from_file(home / "secret.key"), smtp.port)
    db.dispose()
    args = ["notify", "test", "--dealer", "0599ROGAIKOPITA", "--cabinet", "Филиал А"]
    result = smart(home, *args, SMART_NOTIFY_TELEGRAM_API_URL=bot_api.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "e-mail support@example.ru: доставлено" in result.stdout
    assert "Telegram -100200: доставлено" in result.stdout
    [mail] = smtp.messages
    assert mail["Subject"] == "[SMART][test][SmartTest][0599ROGAIKOPITA] Проверка оповещений"
    assert "Филиал А" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [chat] = bot_api.delivered
    assert chat.chat_id == "-100200" and chat.token == "42:bot-token"


def test_notify_test_reports_a_channel_that_does_not_work_and_exits_non_zero(
    home: Path, bot_api: FakeBotApi
) -> None:
    args = [
        "notify",
        "test",
        "--dealer",
        "0599ROGAIKOPITA",
        "--cabinet",
        "Филиал А",
        "--email",
        "x@example.ru",
    ]
    result = smart(home, *args, SMART_NOTIFY_TELEGRAM_API_URL=bot_api.url)
    assert result.returncode == 1
    assert "x@example.ru: не настроен SMTP-сервер" in result.stdout
    db = _db(home)
    with db.session() as s:
        [row] = s.scalars(select(OutboxItem)).all()
        assert row.state == "failed"  # a test message is not retried later
    db.dispose()


def test_notify_test_refuses_a_chat_the_cabinet_does_not_have(home: Path) -> None:
    result = smart(
        home, "notify", "test", "--dealer", "0599ROGAIKOPITA", "--cabinet", "Филиал А", "--telegram", "-1"
    )
    assert result.returncode == 2 and "не найден среди чатов" in result.stderr


def test_outbox_lists_failed_rows_with_the_reason_and_retry_requeues_one(
    home: Path, smtp: SmtpServer
) -> None:
    db = _db(home)
    with db.session() as s:
        cabinet_id = s.scalars(select(Cabinet.id)).one()
    queued = enqueue(
        db, alert(client=None), cabinet_id, "cli:1", recipients=[Recipient("email", "a@example.ru")]
    )
    with db.write() as s:
        row = s.get(OutboxItem, queued.outbox_ids[0])
        assert row is not None
        row.state, row.last_error, row.attempts = "failed", "сервер не принял адрес a@example.ru: 550", 1
    db.dispose()

    listing = smart(home, "outbox", "--state", "failed")
    assert listing.returncode == 0, listing.stderr
    assert "a@example.ru" in listing.stdout and "550" in listing.stdout and "ошибка" in listing.stdout
    assert "[0599ROGAIKOPITA][critical][KodeksIcmp] Нет ответа на ping" in listing.stdout
    assert "a@example.ru" not in smart(home, "outbox", "--state", "sent").stdout

    retried = smart(home, "outbox", "retry", str(queued.outbox_ids[0]))
    assert retried.returncode == 0, retried.stderr
    db = _db(home)
    with db.session() as s:
        assert s.scalars(select(OutboxItem.state)).one() == "pending"
    db.dispose()
    assert smart(home, "outbox", "retry", "999").returncode == 2


def test_outbox_for_an_unknown_dealer_is_an_error(home: Path) -> None:
    result = smart(home, "outbox", "--dealer", "NOSUCHDEALER")
    assert result.returncode == 2 and "не найден" in result.stderr
