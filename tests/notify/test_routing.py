"""Routing: which mailboxes, chats, webhooks and managers get a notification, each exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify.routing import Recipient, RoutingError, route
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Mailbox, Manager, TelegramChat
from kodeks_smart.store.notify_models import WebhookEndpoint
from tests.conftest import Tenants
from tests.notify.conftest import client_id


def targets(recipients: list[Recipient]) -> list[tuple[str, str]]:
    return [(r.channel, r.address) for r in recipients]


@pytest.fixture
def cabinet_a(db: Database, tenants: Tenants, box: SecretBox) -> Cabinet:
    """Cabinet A with the mailboxes of the [059] routing idea and a webhook for critical alerts."""
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        admin.add_mailbox(s, cabinet, "training-alpha@example.ru", ["analytics"], note="обучение")
        admin.add_mailbox(s, cabinet, "online-alpha@example.ru", ["online"], note="онлайн-доступы")
        s.add(
            WebhookEndpoint(
                dealer_id=cabinet.dealer_id,
                cabinet_id=cabinet.id,
                url="https://helpdesk.example.ru/hook",
                categories=["critical"],
            )
        )
        return cabinet


def test_a_critical_alert_goes_to_the_critical_mailbox_the_chat_the_webhook_and_the_manager(
    db: Database, tenants: Tenants, cabinet_a: Cabinet
) -> None:
    with db.session() as s:
        found = route(s, tenants.cabinet_a, "critical", client_id(db, "alpha_client"))
    assert targets(found) == [
        ("email", "support-alpha@example.ru"),
        ("email", "alpha@example.ru"),
        ("telegram", "-1005"),
        ("webhook", "https://helpdesk.example.ru/hook"),
    ]


def test_an_analytics_alert_goes_to_the_analytics_mailbox_and_the_manager_only(
    db: Database, tenants: Tenants, cabinet_a: Cabinet
) -> None:
    with db.session() as s:
        found = route(s, tenants.cabinet_a, "analytics", client_id(db, "alpha_client"))
    assert targets(found) == [("email", "training-alpha@example.ru"), ("email", "alpha@example.ru")]


def test_an_online_alert_goes_to_the_online_mailbox_and_the_extra_addresses(
    db: Database, tenants: Tenants, cabinet_a: Cabinet
) -> None:
    with db.session() as s:
        found = route(s, tenants.cabinet_a, "online", extra_emails=["buh@client.example.ru"])
    assert targets(found) == [("email", "online-alpha@example.ru"), ("email", "buh@client.example.ru")]


def test_an_address_named_by_several_routes_gets_one_message(
    db: Database, tenants: Tenants, cabinet_a: Cabinet
) -> None:
    with db.write() as s:
        manager = s.scalars(select(Manager).where(Manager.cabinet_id == tenants.cabinet_a)).one()
        manager.emails = ["Support-Alpha@Example.RU", "alpha@example.ru", " ALPHA@example.ru "]
    with db.session() as s:
        found = route(
            s, tenants.cabinet_a, "critical", client_id(db, "alpha_client"), extra_emails=["alpha@EXAMPLE.ru"]
        )
    emails = [r.address for r in found if r.channel == "email"]
    assert emails == ["support-alpha@example.ru", "alpha@example.ru"]


def test_a_notification_about_several_clients_reaches_each_clients_manager(
    db: Database, tenants: Tenants, box: SecretBox
) -> None:
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        second = admin.add_manager(s, cabinet, "Менеджер второй", ["second@example.ru", "ALPHA@example.ru"])
        other_client = admin.add_client(s, cabinet, "omega_client", "ООО «Омега»", second)
        other_id = other_client.id
    with db.session() as s:
        found = route(s, tenants.cabinet_a, "critical", client_ids=[client_id(db, "alpha_client"), other_id])
    assert [r.address for r in found if r.channel == "email"] == [
        "support-alpha@example.ru",
        "alpha@example.ru",
        "second@example.ru",
    ]


def test_another_cabinets_client_cannot_be_routed(db: Database, tenants: Tenants) -> None:
    with db.session() as s, pytest.raises(RoutingError):
        route(s, tenants.cabinet_a, "critical", client_id(db, "beta_client"))


def test_a_cabinet_routes_only_to_its_own_mailboxes_and_chats(db: Database, tenants: Tenants) -> None:
    with db.session() as s:
        found = route(s, tenants.cabinet_b, "critical")
    assert targets(found) == [("email", "support-beta@example.ru"), ("telegram", "-1004")]


def test_a_disabled_webhook_gets_nothing(db: Database, tenants: Tenants, cabinet_a: Cabinet) -> None:
    with db.write() as s:
        for endpoint in s.scalars(select(WebhookEndpoint)):
            endpoint.enabled = False
    with db.session() as s:
        found = route(s, tenants.cabinet_a, "critical")
    assert "webhook" not in {r.channel for r in found}


def test_switched_off_mailboxes_and_chats_get_nothing_until_switched_on(
    db: Database, tenants: Tenants
) -> None:
    with db.session() as s:
        assert targets(route(s, tenants.cabinet_b, "critical")) == [
            ("email", "support-beta@example.ru"),
            ("telegram", "-1004"),
        ]
    with db.write() as s:
        for row in [*s.scalars(select(Mailbox)), *s.scalars(select(TelegramChat))]:
            row.enabled = False
    with db.session() as s:
        assert route(s, tenants.cabinet_b, "critical") == []
    with db.write() as s:
        for chat in s.scalars(select(TelegramChat)):
            chat.enabled = True
    with db.session() as s:
        assert targets(route(s, tenants.cabinet_b, "critical")) == [("telegram", "-1004")]
