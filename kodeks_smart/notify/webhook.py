"""Webhook: the notification as a JSON POST, for integration with other systems (helpdesk, CRM, chat).

Request: ``Content-Type: application/json``; body fields listed in `payload`; headers
``X-Smart-Idempotency-Key`` (the same on every retry of one delivery: receivers deduplicate on it) and
``X-Smart-Event`` (the category). With a secret, also ``X-Smart-Timestamp`` (Unix seconds) and
``X-Smart-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>``; a receiver
recomputes it and rejects requests older than a few minutes.

Answer: 2xx accepted; 408 and 429 retryable (``Retry-After`` in seconds honoured); other 4xx
permanent (the receiver refuses this request and will refuse it again); 3xx permanent (redirects are not
followed: the configured URL is wrong); 5xx, timeouts and connection errors retryable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from kodeks_smart.notify.base import Clock, DeliveryError, Message, SystemClock

DEFAULT_TIMEOUT = 15.0
SIGNATURE_HEADER = "X-Smart-Signature"
TIMESTAMP_HEADER = "X-Smart-Timestamp"
IDEMPOTENCY_HEADER = "X-Smart-Idempotency-Key"


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str | None
    idempotency_key: str
    notification_id: int | None = None
    created_at: datetime | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookTarget(url={self.url!r})"


def payload(message: Message, target: WebhookTarget) -> dict[str, Any]:
    return {
        "id": target.idempotency_key,
        "notification_id": target.notification_id,
        "created_at": target.created_at.isoformat() if target.created_at else None,
        "category": message.category,
        "rule": message.rule,
        "dealer": message.dealer_code,
        "client": message.client,
        "subject": message.subject,
        "tags": message.tags,
        "text": message.text,
        "links": [{"title": link.title, "url": link.url} for link in message.links],
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookChannel:
    kind = "webhook"

    def __init__(
        self, http: httpx.AsyncClient, *, clock: Clock | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.http = http
        self.clock = clock or SystemClock()
        self.timeout = timeout

    async def send(self, message: Message, target: WebhookTarget) -> None:
        body = json.dumps(payload(message, target), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "SMART-webhook/1",
            IDEMPOTENCY_HEADER: target.idempotency_key,
            "X-Smart-Event": message.category,
        }
        if target.secret:
            timestamp = str(int(self.clock.now().timestamp()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(target.secret, timestamp, body)
        where = _display(target.url)
        try:
            response = await self.http.post(
                target.url, content=body, headers=headers, timeout=self.timeout, follow_redirects=False
            )
        except httpx.TimeoutException:
            raise DeliveryError(f"{where} не ответил вовремя") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"нет связи с {where}: {type(exc).__name__}") from None
        code = response.status_code
        if response.is_success:
            return
        if code in (408, 429):
            raise DeliveryError(f"{where} просит повторить позже: {code}", retry_after=_retry_after(response))
        if 300 <= code < 400:
            raise DeliveryError(
                f"{where} перенаправляет запрос ({code}); укажите точный адрес вебхука", permanent=True
            )
        if 400 <= code < 500:
            raise DeliveryError(f"{where} отклонил запрос: {code}", permanent=True)
        raise DeliveryError(f"{where} временно недоступен: {code}")


def _display(url: str) -> str:
    """The URL without query and credentials (they may hold tokens)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None, userinfo=b""))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None
