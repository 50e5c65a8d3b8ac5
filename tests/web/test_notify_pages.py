"""Notification pages of the cabinet: mailboxes and Telegram chats, the test message, the outbox.

The test message goes through the real outbox and the process's delivery worker (running in a thread, as
under `smart serve`) to a real SMTP server (aiosmtpd) and a local Telegram Bot API on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kodeks_smart.app import create_app
from kodeks_smart.config import Settings
from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.notify import worker as delivery
from kodeks_smart.notify.routing import route
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Mailbox, SmtpRelay, TelegramChat
from kodeks_smart.store.notify_models import Notification, OutboxItem
from tests.conftest import Tenants
from tests.notify.servers import FakeBotApi, SmtpServer, wait_for
from tests.web.test_cabinet import HTML, csrf_of, login

TOKEN = "123456789:AAE" + "x" * 32


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    server = FakeBotApi()
    yield server
    server.close()


@pytest.fixture
def services(
    db: Database,
    box: SecretBox,
    hashing: PasswordHashing,
    tmp_path: Path,
    bot_api: FakeBotApi,
    smtp: SmtpServer,
) -> Services:
    (tmp_path / "data").mkdir(mode=0o700, exist_ok=True)
    settings = Settings.from_values(
        {
            "database_url": db.url,
            "data_dir": str(tmp_path / "data"),
            "secret_key_file": str(tmp_path / "secret.key"),
            "scheduler": False,
            "probes": False,
            "notify_telegram_api_url": bot_api.url,
        }
    )
    with db.write() as s:
        s.add(
            SmtpRelay(
                dealer_id=None, host="127.0.0.1", port=smtp.port, security="plain", sender="smart@test.ru"
            )
        )
    return Services(settings=settings, db=db, box=box, hashing=hashing)


@pytest.fixture
def worker(services: Services) -> Iterator[delivery.DeliveryWorker]:
    """The process's delivery worker serving in a thread, woken by the pages like under `smart serve`."""
    w = delivery.worker_for(services)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            asyncio.run(w.serve(5))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield w
    done.set()
    w.stop()
    thread.join(timeout=30)


@pytest.fixture
def app_client(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with services.db.write() as s:
        admin.add_account(s, services.hashing, "dadmin", "dadmin-password", "dealer-admin", "0599ROGAIKOPITA")
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def _ids(db: Database, model: type[Mailbox] | type[TelegramChat], cabinet_id: int) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(model.id).where(model.cabinet_id == cabinet_id).order_by(model.id)))


def _states(db: Database, notification_id: int) -> dict[str, str]:
    with db.session() as s:
        rows = s.scalars(select(OutboxItem).where(OutboxItem.notification_id == notification_id))
        return {r.target: r.state for r in rows}


def test_an_administrator_adds_a_mailbox_and_a_chat_and_the_test_message_reaches_both(
    app_client: TestClient,
    services: Services,
    tenants: Tenants,
    smtp: SmtpServer,
    bot_api: FakeBotApi,
    worker: delivery.DeliveryWorker,
) -> None:
    login(app_client, "dadmin", "dadmin-password")
    base = f"/c/{tenants.cabinet_a}"
    token = csrf_of(app_client, f"{base}/channels")
    added = app_client.post(
        f"{base}/mailboxes",
        data={
            "address": "duty@firma.ru",
            "note": "дежурные",
            "category": ["critical", "online"],
            "csrf_token": token,
        },
    )
    assert added.status_code == 303, added.text
    chat = app_client.post(
        f"{base}/telegram",
        data={
            "chat_id": "-1001234567890",
            "title": "Дежурные",
            "bot_token": TOKEN,
            "category": ["critical"],
            "csrf_token": token,
        },
    )
    assert chat.status_code == 303, chat.text
    page = app_client.get(f"{base}/channels", headers=HTML)
    assert "duty@firma.ru" in page.text and "онлайн-доступы" in page.text and "Дежурные" in page.text
    assert TOKEN not in page.text
    with services.db.session() as s:
        stored = s.scalars(select(TelegramChat).where(TelegramChat.chat_id == "-1001234567890")).one()
        assert services.box.decrypt(stored.bot_token_enc) == TOKEN
        assert stored.cabinet_id == tenants.cabinet_a and stored.dealer_id == tenants.dealer_id
        targets = {r.address for r in route(s, tenants.cabinet_a, "online")}
    assert targets == {"duty@firma.ru"}

    mailbox_id = _ids(services.db, Mailbox, tenants.cabinet_a)[-1]
    sent = app_client.post(
        f"{base}/channels/test", data={"target": f"mailbox-{mailbox_id}", "csrf_token": token}
    )
    assert sent.status_code == 303
    found = re.search(r"test=(\d+)", sent.headers["location"])
    assert found
    notification_id = int(found.group(1))
    assert wait_for(lambda: _states(services.db, notification_id) == {"duty@firma.ru": "sent"})
    (mail,) = smtp.messages
    assert mail["To"] == "duty@firma.ru" and "Проверка оповещений" in str(mail["Subject"])
    assert "dadmin" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    result = app_client.get(sent.headers["location"], headers=HTML)
    assert "Результат проверки" in result.text and "доставлено" in result.text

    everything = app_client.post(f"{base}/channels/test", data={"target": "all", "csrf_token": token})
    found = re.search(r"test=(\d+)", everything.headers["location"])
    assert found
    all_id = int(found.group(1))
    expected = {"support-alpha@example.ru", "duty@firma.ru", "-1005", "-1001234567890"}
    assert wait_for(lambda: _states(services.db, all_id) == dict.fromkeys(expected, "sent"))
    assert {m.chat_id for m in bot_api.delivered} == {"-1005", "-1001234567890"}
    assert any(m.token == TOKEN for m in bot_api.delivered)

    outbox = app_client.get(f"{base}/outbox", headers=HTML)
    assert outbox.status_code == 200 and outbox.text.count("доставлено") >= 5
    csv = app_client.get(f"{base}/outbox?state=sent&channel=telegram&format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("№;Создано (UTC);Канал;Получатель;Состояние")
    assert len(lines) == 3 and all(";Telegram;" in line and ";доставлено;" in line for line in lines[1:])
    xlsx = app_client.get(f"{base}/outbox?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_a_refused_address_fails_shows_its_error_and_is_sent_again_on_retry(
    app_client: TestClient,
    services: Services,
    tenants: Tenants,
    smtp: SmtpServer,
    worker: delivery.DeliveryWorker,
) -> None:
    login(app_client, "alice", "alice-password")
    base = f"/c/{tenants.cabinet_a}"
    token = csrf_of(app_client, f"{base}/channels")
    smtp.handler.refuse["support-alpha@example.ru"] = "550 5.1.1 No such user"
    mailbox_id = _ids(services.db, Mailbox, tenants.cabinet_a)[0]
    sent = app_client.post(
        f"{base}/channels/test", data={"target": f"mailbox-{mailbox_id}", "csrf_token": token}
    )
    found = re.search(r"test=(\d+)", sent.headers["location"])
    assert found
    notification_id = int(found.group(1))
    assert wait_for(lambda: set(_states(services.db, notification_id).values()) == {"failed"})
    page = app_client.get(f"{base}/outbox?state=failed", headers=HTML)
    assert "No such user" in page.text and "Повторить" in page.text
    with services.db.session() as s:
        row_id = s.scalars(select(OutboxItem.id).where(OutboxItem.notification_id == notification_id)).one()
    assert app_client.post(f"{base}/outbox/{row_id}/retry", data={"csrf_token": "forged"}).status_code == 403
    del smtp.handler.refuse["support-alpha@example.ru"]
    retried = app_client.post(f"{base}/outbox/{row_id}/retry", data={"csrf_token": token})
    assert retried.status_code == 303
    assert wait_for(lambda: _states(services.db, notification_id) == {"support-alpha@example.ru": "sent"})
    again = app_client.post(f"{base}/outbox/{row_id}/retry", data={"csrf_token": token}, headers=HTML)
    assert again.status_code == 409 and "уже доставлено" in again.text
    assert [m["To"] for m in smtp.messages] == ["support-alpha@example.ru"]


def test_wrong_input_is_refused_in_russian_with_the_form_kept(
    app_client: TestClient, tenants: Tenants
) -> None:
    login(app_client, "dadmin", "dadmin-password")
    base = f"/c/{tenants.cabinet_a}"
    token = csrf_of(app_client, f"{base}/channels")
    bad = app_client.post(
        f"{base}/mailboxes",
        data={
            "address": "дежурные без собаки",
            "note": "моя заметка",
            "category": ["analytics"],
            "csrf_token": token,
        },
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "не похож на адрес электронной почты" in bad.text
    assert 'value="дежурные без собаки"' in bad.text and 'value="моя заметка"' in bad.text
    form = bad.text.split('id="mailbox-form"', 1)[1].split("</form>", 1)[0]
    assert 'value="analytics" checked' in form and 'value="critical" checked' not in form
    duplicate = app_client.post(
        f"{base}/mailboxes", data={"address": "Support-Alpha@example.ru", "csrf_token": token}, headers=HTML
    )
    assert duplicate.status_code == 422 and "уже есть в кабинете" in duplicate.text
    hostile = app_client.post(
        f"{base}/mailboxes",
        data={"address": "a@b.ru", "category": ["critical", "<script>"], "csrf_token": token},
        headers=HTML,
    )
    assert (
        hostile.status_code == 422
        and "Неизвестная категория" in hostile.text
        and "<script>" not in hostile.text
    )
    no_token = app_client.post(
        f"{base}/telegram",
        data={"chat_id": "-100777", "title": "<b>Чат</b>", "csrf_token": token},
        headers=HTML,
    )
    assert no_token.status_code == 422 and "Токен бота" in no_token.text
    assert 'value="&lt;b&gt;Чат&lt;/b&gt;"' in no_token.text
    bad_chat = app_client.post(
        f"{base}/telegram",
        data={"chat_id": "чат дежурных", "bot_token": TOKEN, "csrf_token": token},
        headers=HTML,
    )
    assert bad_chat.status_code == 422 and "Идентификатор чата" in bad_chat.text
    assert TOKEN not in bad_chat.text


def test_editing_disabling_and_deleting_channels(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "dadmin", "dadmin-password")
    base = f"/c/{tenants.cabinet_a}"
    mailbox_id = _ids(services.db, Mailbox, tenants.cabinet_a)[0]
    chat_id = _ids(services.db, TelegramChat, tenants.cabinet_a)[0]
    form = app_client.get(f"{base}/mailboxes/{mailbox_id}", headers=HTML)
    assert form.status_code == 200 and 'value="support-alpha@example.ru"' in form.text
    token = csrf_of(app_client, f"{base}/channels")
    saved = app_client.post(
        f"{base}/mailboxes/{mailbox_id}", data={"address": "help@alpha.ru", "note": "", "csrf_token": token}
    )
    assert saved.status_code == 303 and "без категорий" in app_client.get(saved.headers["location"]).text
    renamed = app_client.post(
        f"{base}/telegram/{chat_id}",
        data={"chat_id": "-1005", "title": "Новый", "category": ["technical"], "csrf_token": token},
    )
    assert renamed.status_code == 303
    with services.db.session() as s:
        mailbox = s.get(Mailbox, mailbox_id)
        chat = s.get(TelegramChat, chat_id)
        assert mailbox is not None and (mailbox.address, mailbox.categories) == ("help@alpha.ru", [])
        assert chat is not None and (chat.title, chat.categories) == ("Новый", ["technical"])
        assert services.box.decrypt(chat.bot_token_enc) == "bot-alpha"  # an empty token field keeps it
        assert route(s, tenants.cabinet_a, "critical") == []
    assert (
        app_client.post(f"{base}/mailboxes/{mailbox_id}/delete", data={"csrf_token": token}).status_code
        == 303
    )
    assert app_client.post(f"{base}/telegram/{chat_id}/delete", data={"csrf_token": token}).status_code == 303
    assert _ids(services.db, Mailbox, tenants.cabinet_a) == []
    assert _ids(services.db, TelegramChat, tenants.cabinet_a) == []
    empty = app_client.post(f"{base}/channels/test", data={"target": "all", "csrf_token": token})
    assert "нет включённых почтовых ящиков" in app_client.get(empty.headers["location"]).text


def test_switching_a_channel_off_keeps_its_settings_and_stops_its_notifications(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "dadmin", "dadmin-password")
    base = f"/c/{tenants.cabinet_a}"
    mailbox_id = _ids(services.db, Mailbox, tenants.cabinet_a)[0]
    chat_id = _ids(services.db, TelegramChat, tenants.cabinet_a)[0]
    token = csrf_of(app_client, f"{base}/channels")
    with services.db.session() as s:
        before = {r.channel for r in route(s, tenants.cabinet_a, "critical")}
    assert {"email", "telegram"} <= before
    for path in (f"{base}/mailboxes/{mailbox_id}/enabled", f"{base}/telegram/{chat_id}/enabled"):
        off = app_client.post(path, data={"enabled": "false", "csrf_token": token})
        assert off.status_code == 303
        assert "отключён" in app_client.get(off.headers["location"]).text
    with services.db.session() as s:
        mailbox, chat = s.get(Mailbox, mailbox_id), s.get(TelegramChat, chat_id)
        assert mailbox is not None and chat is not None
        assert not mailbox.enabled and mailbox.categories and mailbox.address == "support-alpha@example.ru"
        assert not chat.enabled and chat.categories
        assert route(s, tenants.cabinet_a, "critical") == []
    page = app_client.get(f"{base}/channels", headers=HTML).text
    assert page.count('<tr class="off">') == 2 and page.count(">Включить</button>") == 2
    # «во все каналы» skips the switched-off ones: nothing is left to test.
    empty = app_client.post(f"{base}/channels/test", data={"target": "all", "csrf_token": token})
    assert "нет включённых" in app_client.get(empty.headers["location"]).text
    with services.db.session() as s:
        assert s.scalars(select(Notification)).first() is None
    on = app_client.post(
        f"{base}/mailboxes/{mailbox_id}/enabled", data={"enabled": "true", "csrf_token": token}
    )
    assert on.status_code == 303 and "включён" in app_client.get(on.headers["location"]).text
    with services.db.session() as s:
        assert [r.address for r in route(s, tenants.cabinet_a, "critical")] == ["support-alpha@example.ru"]
    # A cabinet user sees the state but cannot switch; without the CSRF token nobody can.
    assert app_client.post(f"{base}/telegram/{chat_id}/enabled", data={"enabled": "true"}).status_code == 403
    login(app_client, "alice", "alice-password")
    token = csrf_of(app_client, f"{base}/channels")
    assert ">Включить</button>" not in app_client.get(f"{base}/channels", headers=HTML).text
    forbidden = app_client.post(
        f"{base}/telegram/{chat_id}/enabled", data={"enabled": "true", "csrf_token": token}
    )
    assert forbidden.status_code == 403
    # Another cabinet's channel: 404, and it stays on.
    b_mailbox = _ids(services.db, Mailbox, tenants.cabinet_b)[0]
    login(app_client, "dadmin", "dadmin-password")
    token = csrf_of(app_client, f"{base}/channels")
    stolen = app_client.post(
        f"{base}/mailboxes/{b_mailbox}/enabled", data={"enabled": "false", "csrf_token": token}
    )
    assert stolen.status_code == 404
    with services.db.session() as s:
        b = s.get(Mailbox, b_mailbox)
        assert b is not None and b.enabled


def test_a_cabinet_user_sees_the_channels_but_changes_nothing_and_every_post_needs_the_csrf_token(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "alice", "alice-password")
    base = f"/c/{tenants.cabinet_a}"
    mailbox_id = _ids(services.db, Mailbox, tenants.cabinet_a)[0]
    page = app_client.get(f"{base}/channels", headers=HTML)
    assert page.status_code == 200 and "support-alpha@example.ru" in page.text
    assert 'id="mailbox-form"' not in page.text and "Отправить тестовое сообщение" in page.text
    token = csrf_of(app_client, f"{base}/channels")
    assert (
        app_client.post(f"{base}/mailboxes", data={"address": "x@y.ru", "csrf_token": token}).status_code
        == 403
    )
    assert app_client.get(f"{base}/mailboxes/{mailbox_id}", headers=HTML).status_code == 403
    assert (
        app_client.post(f"{base}/mailboxes/{mailbox_id}/delete", data={"csrf_token": token}).status_code
        == 403
    )
    login(app_client, "dadmin", "dadmin-password")
    for path, data in (
        (f"{base}/mailboxes", {"address": "x@y.ru"}),
        (f"{base}/mailboxes/{mailbox_id}", {"address": "x@y.ru"}),
        (f"{base}/mailboxes/{mailbox_id}/delete", {}),
        (f"{base}/telegram", {"chat_id": "-1", "bot_token": TOKEN}),
        (f"{base}/channels/test", {"target": "all"}),
    ):
        assert app_client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403, path
        assert app_client.post(path, data=data).status_code == 403, path
    assert _ids(services.db, Mailbox, tenants.cabinet_a) == [mailbox_id]
    with services.db.session() as s:
        assert s.scalars(select(Notification)).first() is None


def test_cabinet_a_gets_404_for_every_notification_object_of_cabinet_b(
    app_client: TestClient, services: Services, tenants: Tenants
) -> None:
    login(app_client, "bob", "bob-password")
    token_b = csrf_of(app_client, f"/c/{tenants.cabinet_b}/channels")
    sent = app_client.post(
        f"/c/{tenants.cabinet_b}/channels/test", data={"target": "all", "csrf_token": token_b}
    )
    found = re.search(r"test=(\d+)", sent.headers["location"])
    assert found
    b_notification = int(found.group(1))
    with services.db.session() as s:
        b_row = s.scalars(select(OutboxItem.id).where(OutboxItem.notification_id == b_notification)).first()
    b_mailbox = _ids(services.db, Mailbox, tenants.cabinet_b)[0]
    b_chat = _ids(services.db, TelegramChat, tenants.cabinet_b)[0]

    for user, password in (("alice", "alice-password"), ("dadmin", "dadmin-password")):
        login(app_client, user, password)
        a = f"/c/{tenants.cabinet_a}"
        token = csrf_of(app_client, f"{a}/channels")
        if user == "alice":
            for path in (f"/c/{tenants.cabinet_b}/channels", f"/c/{tenants.cabinet_b}/outbox"):
                assert app_client.get(path, headers=HTML).status_code == 404, path
        else:
            for path in (f"{a}/mailboxes/{b_mailbox}", f"{a}/telegram/{b_chat}"):
                assert app_client.get(path, headers=HTML).status_code == 404, path
        assert app_client.get(f"{a}/channels?test={b_notification}", headers=HTML).status_code == 404
        for path, data in (
            (f"{a}/mailboxes/{b_mailbox}", {"address": "stolen@x.ru"}),
            (f"{a}/mailboxes/{b_mailbox}/delete", {}),
            (f"{a}/telegram/{b_chat}", {"chat_id": "-1"}),
            (f"{a}/telegram/{b_chat}/delete", {}),
            (f"{a}/channels/test", {"target": f"mailbox-{b_mailbox}"}),
            (f"{a}/channels/test", {"target": f"telegram-{b_chat}"}),
            (f"{a}/outbox/{b_row}/retry", {}),
            (f"/c/{tenants.cabinet_c}/mailboxes", {"address": "x@y.ru"}),
        ):
            assert app_client.post(path, data={**data, "csrf_token": token}).status_code == 404, (user, path)
        outbox = app_client.get(f"{a}/outbox?format=csv")
        assert "support-beta@example.ru" not in outbox.content.decode("utf-8-sig")
    with services.db.session() as s:
        mailbox = s.get(Mailbox, b_mailbox)
        assert mailbox is not None and mailbox.address == "support-beta@example.ru"
