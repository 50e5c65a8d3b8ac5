"""Fixtures for delivery tests: loopback servers, a manual clock, a relay, workers, alerts."""

from __future__ import annotations

import asyncio
import gc
import random
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify import outbox
from kodeks_smart.notify.base import Link, Message
from kodeks_smart.notify.metrics import NotifyMetrics
from kodeks_smart.notify.outbox import Enqueued
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.notify.worker import DeliveryConfig, DeliveryWorker
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, SmtpRelay
from kodeks_smart.store.notify_models import OutboxItem
from tests.notify.servers import FakeBotApi, SelfSigned, SmtpServer, WebhookReceiver, self_signed

DEALER = "0599ROGAIKOPITA"


class ManualClock:
    """Time that moves only when told to (or when the code under test sleeps)."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)) -> None:
        self._now = start
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


@pytest.fixture(autouse=True)
def _collect_transports_left_for_the_collector() -> Iterator[None]:
    """A TLS connection closed at the end of ``asyncio.run`` (implicit TLS, STARTTLS) can leave its socket
    transport to the garbage collector while the TLS shutdown is still pending; collected in a later test,
    its ResourceWarning failed that test instead (seen on a loaded machine: «unclosed transport» in
    ``test_a_refused_recipient_is_a_permanent_error`` after the implicit-TLS test). Collect after every
    test of this package, so what a test leaves is closed with it."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    server = FakeBotApi()
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


def add_relay(db: Database, box: SecretBox, port: int, **fields: Any) -> int:
    """The operator's default relay (dealer_id NULL) on 127.0.0.1:port; ``fields`` override columns."""
    password = fields.pop("password", None)
    values: dict[str, Any] = {
        "dealer_id": None,
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "username": None,
        "sender": "СМАРТ <alert@smart.example.ru>",
        "daily_limit": None,
    }
    values.update(fields)
    with db.write() as s:
        relay = SmtpRelay(**values, password_enc=box.encrypt(password) if password else None)
        s.add(relay)
        s.flush()
        return relay.id


@pytest.fixture
def relay(db: Database, box: SecretBox, smtp: SmtpServer) -> int:
    return add_relay(db, box, smtp.port)


class WorkerFactory(Protocol):
    def __call__(self, name: str = "w1", **config: Any) -> DeliveryWorker: ...


@pytest.fixture
def make_worker(db: Database, box: SecretBox, clock: ManualClock, bot_api: FakeBotApi) -> WorkerFactory:
    def make(name: str = "w1", **config: Any) -> DeliveryWorker:
        config.setdefault("telegram_api_url", bot_api.url)
        worker_db = config.pop("db", db)
        registry = config.pop("registry", CollectorRegistry())
        tls_context = config.pop("tls_context", None)
        return DeliveryWorker(
            worker_db,
            box,
            DeliveryConfig(**config),
            metrics=NotifyMetrics(registry, worker_db, clock),
            clock=clock,
            rng=random.Random(7),
            name=name,
            tls_context=tls_context,
        )

    return make


def alert(
    rule: str = "KodeksIcmp",
    *,
    category: str = "critical",
    client: str | None = "alpha_client",
    subject: str = "Нет ответа на ping",
    text: str = "Сервер ПК ТЭ клиента ООО «Альфа» не отвечает на ping с 09:00.",
    **fields: Any,
) -> Message:
    return Message(
        category=category,
        rule=rule,
        dealer_code=DEALER,
        client=client,
        subject=subject,
        text=text,
        html=fields.pop("html", f"<p>{text}</p>"),
        links=fields.pop(
            "links", (Link("Развёрнутое описание аварии", f"https://smart.example.ru/docs/{rule}"),)
        ),
        **fields,
    )


def enqueue(
    db: Database,
    message: Message,
    cabinet_id: int,
    key: str,
    *,
    recipients: list[Recipient] | None = None,
    clock: ManualClock | None = None,
) -> Enqueued:
    with db.write() as s:
        return outbox.enqueue(
            s,
            message,
            cabinet_id=cabinet_id,
            dedup_key=key,
            recipients=recipients,
            now=clock.now() if clock else None,
        )


def rows(db: Database, ids: tuple[int, ...] | list[int] | None = None) -> list[OutboxItem]:
    with db.session() as s:
        stmt = select(OutboxItem).order_by(OutboxItem.id)
        if ids is not None:
            stmt = stmt.where(OutboxItem.id.in_(list(ids)))
        return list(s.scalars(stmt))


def client_id(db: Database, short_name: str) -> int:
    with db.session() as s:
        return s.scalars(select(Client.id).where(Client.short_name == short_name)).one()


def run(worker: DeliveryWorker, ids: tuple[int, ...] | None = None) -> int:
    return asyncio.run(worker.run_once(ids))


def drain(worker: DeliveryWorker) -> int:
    return asyncio.run(worker.run_until_idle())
