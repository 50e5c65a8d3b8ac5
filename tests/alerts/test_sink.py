"""Alerts reach the outbox: the cabinet's routes get the whole group, each manager his own clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from kodeks_smart.alerts.dispatch import Dispatcher
from kodeks_smart.alerts.sink import OutboxSink
from kodeks_smart.store import admin
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Client, Installation
from kodeks_smart.store.notify_models import Notification, OutboxItem
from tests.conftest import Tenants

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def firing(db: Database, tenants: Tenants, rule: str, clients: list[str]) -> None:
    with db.write() as s:
        for short in clients:
            client = s.scalars(select(Client).where(Client.short_name == short)).one()
            inst = s.scalars(select(Installation).where(Installation.client_id == client.id)).first()
            s.add(
                AlertState(
                    dealer_id=client.dealer_id,
                    cabinet_id=client.cabinet_id,
                    client_id=client.id,
                    installation_id=inst.id if inst else None,
                    rule=rule,
                    key=f"c:{client.id}",
                    status="firing",
                    severity="critical",
                    priority=1,
                    category="critical",
                    labels={"client": short},
                    summary=f"Порт ПК не принимает соединения ({short})",
                    started_at=NOW - timedelta(minutes=5),
                    fired_at=NOW - timedelta(minutes=2),
                    last_seen_at=NOW,
                )
            )


def targets(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as s:
        rows = s.execute(
            select(OutboxItem.channel, OutboxItem.target_key, Notification.text)
            .join(Notification, Notification.id == OutboxItem.notification_id)
            .order_by(OutboxItem.channel, OutboxItem.target_key)
        )
        return [(c, k, t) for c, k, t in rows]


def test_a_group_goes_to_the_cabinet_routes_and_each_manager_gets_his_own_clients(
    db: Database, tenants: Tenants, box: object
) -> None:
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        other = admin.add_manager(s, cabinet, "Сидоров", ["sidorov@example.ru"])
        admin.add_client(s, cabinet, "delta_client", "ООО «Дельта»", other)
    firing(db, tenants, "KodeksTcpStatus", ["alpha_client", "delta_client"])
    with db.write() as s:
        Dispatcher(OutboxSink("http://smart.local")).run(s, NOW)
    rows = targets(db)
    by_target = {(c, k): t for c, k, t in rows}
    assert set(by_target) == {
        ("email", "support-alpha@example.ru"),
        ("email", "alpha@example.ru"),
        ("email", "sidorov@example.ru"),
        ("telegram", "-1005"),
    }
    whole = by_target[("email", "support-alpha@example.ru")]
    assert "alpha_client" in whole and "delta_client" in whole
    assert "alpha_client" in by_target[("email", "alpha@example.ru")]
    assert "delta_client" not in by_target[("email", "alpha@example.ru")]
    assert "alpha_client" not in by_target[("email", "sidorov@example.ru")]
    assert "http://smart.local/docs/alerts/KodeksTcpStatus" in whole


def test_a_manager_who_is_also_a_route_gets_one_message(db: Database, tenants: Tenants) -> None:
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        admin.add_mailbox(s, cabinet, "ALPHA@example.ru", ["critical"], "руководитель")
    firing(db, tenants, "KodeksTcpStatus", ["alpha_client"])
    with db.write() as s:
        Dispatcher(OutboxSink("http://smart.local")).run(s, NOW)
    emails = [k for c, k, _ in targets(db) if c == "email"]
    assert sorted(emails) == ["alpha@example.ru", "support-alpha@example.ru"]


def test_nothing_of_another_cabinet_reaches_these_routes(db: Database, tenants: Tenants) -> None:
    firing(db, tenants, "KodeksTcpStatus", ["beta_client"])
    with db.write() as s:
        Dispatcher(OutboxSink("http://smart.local")).run(s, NOW)
    keys = {k for _, k, _ in targets(db)}
    assert keys == {"support-beta@example.ru", "beta@example.ru", "-1004"}
