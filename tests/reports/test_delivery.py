"""Monthly delivery through the outbox and a real SMTP server: each manager gets only his own clients,
once per month, with the PDFs attached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify.worker import DeliveryConfig, DeliveryWorker
from kodeks_smart.reports import schedule
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet
from kodeks_smart.store.notify_models import OutboxItem
from kodeks_smart.store.report_models import NotificationAttachment
from tests.conftest import Tenants
from tests.notify.conftest import add_relay
from tests.notify.servers import SmtpServer
from tests.reports.helpers import Built, build_client

MONTH = date(2026, 11, 1)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def second_manager(db: Database, box: SecretBox, tenants: Tenants) -> str:
    """Cabinet A gets a second manager with a client of his own (and no data: the report still goes)."""
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        manager = admin.add_manager(
            s, cabinet, "Менеджер delta", ["Delta@Example.ru", "delta-boss@example.ru"]
        )
        client = admin.add_client(s, cabinet, "delta_client", "ООО «delta»", manager)
        admin.add_installation(s, box, client, "internet", "delta.example.ru:80")
        admin.add_manager(s, cabinet, "Менеджер без e-mail", [])
    return "delta_client"


def deliver_all(db: Database, box: SecretBox) -> int:
    worker = DeliveryWorker(db, box, DeliveryConfig(), name="reports-test")
    return asyncio.run(worker.run_until_idle())


def test_each_manager_receives_only_his_clients_once(
    db: Database,
    box: SecretBox,
    tenants: Tenants,
    year: tuple[Built, Built],
    second_manager: str,
    smtp: SmtpServer,
) -> None:
    build_client(db, "gamma_client", date(2025, 12, 1), seed=3)
    add_relay(db, box, smtp.port)
    result = schedule.deliver(db, MONTH)
    status = {m.manager: (m.status, m.clients) for m in result.managers}
    assert status == {
        "Менеджер alpha": ("queued", ["alpha_client"]),
        "Менеджер beta": ("queued", ["beta_client"]),
        "Менеджер gamma": ("queued", ["gamma_client"]),
        "Менеджер delta": ("queued", ["delta_client"]),
    }
    deliver_all(db, box)
    by_rcpt: dict[str, list[str]] = {}
    for received in smtp.received:
        message = received.message
        names = [part.get_filename() for part in message.iter_attachments()]
        for part in message.iter_attachments():
            assert part.get_content_type() == "application/pdf"
            assert part.get_content().startswith(b"%PDF")
        assert "Данные для пролонгации" in str(message["Subject"])
        for rcpt in received.rcpt_tos:
            by_rcpt[rcpt.lower()] = [str(n) for n in names]
    assert by_rcpt == {
        "alpha@example.ru": ["prolongaciya-alpha_client-2025-12-2026-11.pdf"],
        "beta@example.ru": ["prolongaciya-beta_client-2025-12-2026-11.pdf"],
        "gamma@example.ru": ["prolongaciya-gamma_client-2025-12-2026-11.pdf"],
        "delta@example.ru": ["prolongaciya-delta_client-2025-12-2026-11.pdf"],
        "delta-boss@example.ru": ["prolongaciya-delta_client-2025-12-2026-11.pdf"],
    }
    sent = len(smtp.received)

    # A restart (or the hourly job, or the command run again) sends nothing a second time.
    again = schedule.deliver(db, MONTH)
    assert {m.status for m in again.managers} == {"already sent"}
    assert deliver_all(db, box) == 0
    assert len(smtp.received) == sent
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 5
        attachments = s.scalars(select(NotificationAttachment)).all()
        assert len(attachments) == 4
        # Attachments carry the tenant of their notification's cabinet.
        assert {a.cabinet_id for a in attachments} == {
            tenants.cabinet_a,
            tenants.cabinet_b,
            tenants.cabinet_c,
        }


def test_the_next_month_is_a_new_delivery_and_dry_run_sends_nothing(
    db: Database, box: SecretBox, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    dry = schedule.deliver(db, MONTH, dry_run=True)
    assert {m.status for m in dry.managers} == {"dry run"}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0
    assert schedule.deliver(db, MONTH).queued == 3
    assert schedule.deliver(db, date(2026, 12, 1)).queued == 3


def test_the_job_delivers_the_previous_month_from_the_delivery_day() -> None:
    assert schedule.due_month(datetime(2026, 12, 1, 0, 30, tzinfo=UTC), 1) == date(2026, 11, 1)
    assert schedule.due_month(datetime(2026, 11, 30, 20, 59, tzinfo=UTC), 1) == date(2026, 10, 1)
    assert schedule.due_month(datetime(2026, 12, 2, 12, tzinfo=UTC), 3) is None
    assert schedule.due_month(datetime(2026, 12, 20, 12, tzinfo=UTC), 3) == date(2026, 11, 1)
    assert schedule.due_month(datetime(2027, 1, 1, 12, tzinfo=UTC), 1) == date(2026, 12, 1)


def test_the_delivery_job_is_registered_unless_disabled(services: Services) -> None:
    assert [j.name for j in schedule.report_jobs(services)] == ["reports-delivery"]
    off = replace(services, settings=services.settings.with_overrides(reports_delivery=False))
    assert schedule.report_jobs(off) == []


def test_delivery_day_and_months_are_validated(services: Services) -> None:
    from kodeks_smart.config import ConfigError

    with pytest.raises(ConfigError, match="SMART_REPORTS_DELIVERY_DAY"):
        services.settings.with_overrides(reports_delivery_day=31)
    with pytest.raises(ConfigError, match="SMART_REPORTS_MONTHS"):
        services.settings.with_overrides(reports_months=0)
