"""Webhook channel against a local HTTP receiver: JSON body, signature, idempotency, status codes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime

import httpx
import pytest

from kodeks_smart.notify.base import DeliveryError
from kodeks_smart.notify.webhook import WebhookChannel, WebhookTarget
from tests.notify.conftest import ManualClock, alert
from tests.notify.servers import Reply, WebhookReceiver

SECRET = "общий-секрет"


def post(receiver: WebhookReceiver, target: WebhookTarget) -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await WebhookChannel(http, clock=ManualClock()).send(alert(), target)

    asyncio.run(go())


def target_for(receiver: WebhookReceiver, secret: str | None = SECRET, query: str = "") -> WebhookTarget:
    return WebhookTarget(
        f"{receiver.url}/hook{query}",
        secret,
        "a1b2c3",
        notification_id=42,
        created_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )


def test_a_webhook_gets_the_notification_as_json_with_a_verifiable_signature(
    receiver: WebhookReceiver,
) -> None:
    post(receiver, target_for(receiver))
    [request] = receiver.requests
    body = request.json
    assert body["category"] == "critical" and body["rule"] == "KodeksIcmp"
    assert body["dealer"] == "0599ROGAIKOPITA" and body["client"] == "alpha_client"
    assert body["text"] == "Сервер ПК ТЭ клиента ООО «Альфа» не отвечает на ping с 09:00."
    assert body["tags"] == "[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][alpha_client]"
    assert body["id"] == "a1b2c3" and body["notification_id"] == 42
    assert body["links"] == [
        {"title": "Развёрнутое описание аварии", "url": "https://smart.example.ru/docs/KodeksIcmp"}
    ]
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["X-Smart-Idempotency-Key"] == "a1b2c3"
    timestamp = request.headers["X-Smart-Timestamp"]
    assert timestamp == str(int(datetime(2026, 11, 26, 9, 0, tzinfo=UTC).timestamp()))
    expected = hmac.new("общий-секрет".encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers["X-Smart-Signature"] == "sha256=" + expected.hexdigest()


def test_a_webhook_without_a_secret_is_not_signed(receiver: WebhookReceiver) -> None:
    post(receiver, target_for(receiver, secret=None))
    assert "X-Smart-Signature" not in receiver.requests[0].headers


@pytest.mark.parametrize(
    ("reply", "permanent", "retry_after"),
    [
        (Reply(404), True, None),
        (Reply(410), True, None),
        (Reply(400), True, None),
        (Reply(301, headers={"Location": "http://elsewhere.example/"}), True, None),
        (Reply(408), False, None),
        (Reply(429, headers={"Retry-After": "120"}), False, 120.0),
        (Reply(500), False, None),
        (Reply(503), False, None),
    ],
    ids=["404", "410", "400", "301", "408", "429", "500", "503"],
)
def test_status_codes_are_sorted_into_permanent_and_retryable(
    receiver: WebhookReceiver, reply: Reply, permanent: bool, retry_after: float | None
) -> None:
    receiver.script.append(reply)
    with pytest.raises(DeliveryError) as caught:
        post(receiver, target_for(receiver, query="?token=abc"))
    assert caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after
    assert "token=abc" not in caught.value.message  # a query may hold credentials
    assert len(receiver.requests) == 1  # a redirect is not followed


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_means_delivered(receiver: WebhookReceiver, status: int) -> None:
    receiver.script.append(Reply(status, b""))
    post(receiver, target_for(receiver))


def test_a_receiver_that_is_down_is_retryable() -> None:
    from tests.live import free_port

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            target = WebhookTarget(f"http://127.0.0.1:{free_port()}/hook", None, "k")
            await WebhookChannel(http).send(alert(), target)

    with pytest.raises(DeliveryError) as caught:
        asyncio.run(go())
    assert not caught.value.permanent


def test_a_target_never_shows_its_secret() -> None:
    assert "секрет" not in repr(WebhookTarget("https://x/hook", "секрет", "k"))
