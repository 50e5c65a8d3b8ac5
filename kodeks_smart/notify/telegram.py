"""Telegram through the Bot API ``sendMessage`` method (``parse_mode=HTML``) over httpx.

* Text: the message's ``telegram_html`` (built by the caller with `escape_html` / `link_html`) or its
  plain text escaped. Only ``<``, ``>`` and ``&`` need escaping in Telegram's HTML; an unescaped one
  makes Telegram refuse the message ("can't parse entities").
* Length: a message over 4096 characters is split on line boundaries (inside a line on a space, as a
  last resort anywhere outside a tag or entity); tags open at a cut are closed and reopened, so every
  part is valid HTML on its own. Parts are sent in order; the number delivered is kept in the target
  (and stored by the outbox), so a retry resumes after them instead of repeating them.
* Rate limits (Telegram's bot FAQ): at most one message a second to a chat and 20 a minute to a group
  (negative chat ids and ``@channel`` names). Token buckets from `kodeks_smart.lib.ratelimit`, kept by
  the worker across runs; a send waits for its turn, or — if that would take longer than ``max_wait`` —
  raises `RateLimited` so the outbox row is put back without counting an attempt. A 429 reply pauses
  the chat for ``parameters.retry_after`` seconds. The buckets are per process: several worker
  processes sending to one chat share Telegram's limit, and the 429 handling covers the excess.
* Errors: 429, 5xx, timeouts and connection errors are retryable; other 4xx replies (400 chat not
  found, 401 bad token, 403 bot blocked or kicked, 400 can't parse entities) are permanent. A 400 with
  ``parameters.migrate_to_chat_id`` (the group became a supergroup) is followed at once, and the new id
  is reported in the target so the outbox stores it in the cabinet's chat.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from kodeks_smart.lib.ratelimit import KeyedRateLimiter
from kodeks_smart.notify.base import Clock, DeliveryError, Message, RateLimited, SystemClock

DEFAULT_API_URL = "https://api.telegram.org"
MAX_MESSAGE_LENGTH = 4096
DEFAULT_TIMEOUT = 20.0
#: Longest we wait in-process for a chat's turn before putting the row back.
DEFAULT_MAX_WAIT = 30.0

_TOKEN = re.compile(r"<[^<>]*>|&(?:#\d{1,7}|#x[0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});|[\s\S]")
_TAG_NAME = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")


def escape_html(text: str) -> str:
    """Escape plain text for Telegram's HTML mode."""
    return html.escape(text, quote=False)


def link_html(title: str, url: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{escape_html(title)}</a>'


def telegram_text(message: Message) -> str:
    if message.telegram_html is not None:
        body = message.telegram_html.rstrip()
    else:
        body = escape_html(message.text.rstrip())
        if message.links:
            body += "\n\n" + "\n".join(link_html(link.title, link.url) for link in message.links)
    return body


# -- splitting ------------------------------------------------------------------------------------


def text_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class _Open:
    name: str
    tag: str


def _tokens(text: str) -> Iterator[str]:
    for match in _TOKEN.finditer(text):
        yield match.group(0)


def _apply(stack: tuple[_Open, ...], token: str) -> tuple[_Open, ...]:
    if not (token.startswith("<") and token.endswith(">") and len(token) > 2):
        return stack
    match = _TAG_NAME.match(token)
    if match is None:
        return stack
    name = match.group(1).lower()
    if token[1:].lstrip().startswith("/"):
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].name == name:
                return stack[:i]
        return stack
    if token.endswith("/>"):
        return stack
    return (*stack, _Open(name, token))


def _closers(stack: tuple[_Open, ...]) -> str:
    return "".join(f"</{o.name}>" for o in reversed(stack))


def _openers(stack: tuple[_Open, ...]) -> str:
    return "".join(o.tag for o in stack)


def split_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` characters, each valid on its own.

    Cuts are made after the last line break of a part if it has one, else after the last space, else
    between two tokens (never inside a tag or an entity). Tags open at a cut are closed at the end of
    the part and reopened at the start of the next one.
    """
    if text_length(text) <= limit:
        return [text] if text.strip() else []
    parts: list[str] = []
    part = _Part(())
    for tok in _tokens(text):
        while (
            part.content
            and part.length + text_length(tok) + text_length(_closers(_apply(part.stack, tok))) > limit
        ):
            head, rest, at = part.cut()
            if head.strip():
                parts.append(head)
            part = _Part(at)
            for old in rest:
                part.push(old)
        part.push(tok)
    if part.content:
        parts.append("".join(part.tokens).rstrip() + _closers(part.stack))
    return parts


class _Part:
    """The part being filled by `split_html`: its tokens, length, open tags and possible cut points."""

    def __init__(self, stack: tuple[_Open, ...]) -> None:
        opener = _openers(stack)
        self.tokens: list[str] = [opener] if opener else []
        self.length = text_length(opener)
        self.stack = stack
        self.content = 0  # tokens that are not whitespace
        self.line_break: tuple[int, tuple[_Open, ...]] | None = None
        self.space: tuple[int, tuple[_Open, ...]] | None = None

    def push(self, tok: str) -> None:
        self.tokens.append(tok)
        self.length += text_length(tok)
        self.stack = _apply(self.stack, tok)
        if tok == "\n":
            self.line_break = (len(self.tokens), self.stack)
        elif tok == " ":
            self.space = (len(self.tokens), self.stack)
        elif tok.strip():
            self.content += 1

    def cut(self) -> tuple[str, list[str], tuple[_Open, ...]]:
        """(this part closed at the best cut, the tokens after the cut, the tags open at the cut)."""
        index, at = self.line_break or self.space or (len(self.tokens), self.stack)
        head = "".join(self.tokens[:index]).rstrip() + _closers(at)
        return head, self.tokens[index:], at


# -- rate limits ----------------------------------------------------------------------------------


def is_group(chat_id: str) -> bool:
    """Groups, supergroups and channels have negative ids (or are addressed as @name)."""
    return chat_id.startswith("-") or chat_id.startswith("@")


class TelegramLimits:
    """Per-chat and per-group token buckets plus pauses asked for by 429 replies; long-lived."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        per_chat_per_second: float = 1.0,
        group_per_minute: float = 20.0,
    ) -> None:
        self.clock = clock or SystemClock()
        # Capacity 1: no bursts, so no 60-second window ever holds more than the per-minute figure.
        self.per_chat = KeyedRateLimiter(1, per_chat_per_second, clock=self.clock.monotonic)
        self.per_group = KeyedRateLimiter(1, group_per_minute / 60.0, clock=self.clock.monotonic)
        self._paused_until: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def pause(self, chat_id: str, seconds: float) -> None:
        until = self.clock.monotonic() + seconds
        self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, 0.0))

    def wait_time(self, chat_id: str) -> float:
        wait = self.per_chat.bucket(chat_id).wait_time()
        if is_group(chat_id):
            wait = max(wait, self.per_group.bucket(chat_id).wait_time())
        paused = self._paused_until.get(chat_id)
        if paused is not None:
            wait = max(wait, paused - self.clock.monotonic())
        return max(0.0, wait)

    async def acquire(self, chat_id: str, max_wait: float) -> None:
        """Wait for the chat's turn and take it; raise `RateLimited` if the wait would exceed ``max_wait``."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            while True:
                wait = self.wait_time(chat_id)
                if wait <= 0:
                    break
                if wait > max_wait:
                    raise RateLimited(
                        f"лимит сообщений в чат {chat_id}: следующая отправка через {wait:.0f} с", wait
                    )
                await self.clock.sleep(wait)
            self.per_chat.allowed(chat_id)
            if is_group(chat_id):
                self.per_group.allowed(chat_id)


# -- channel --------------------------------------------------------------------------------------


@dataclass
class ChatTarget:
    """A chat and the bot that writes to it. ``parts_sent`` and ``migrated_to`` are updated by `send`."""

    chat_id: str
    bot_token: str
    parts_sent: int = 0
    migrated_to: str | None = None

    def __repr__(self) -> str:  # never show the token
        return f"ChatTarget(chat_id={self.chat_id!r}, parts_sent={self.parts_sent})"


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the bot token."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


class TelegramChannel:
    kind = "telegram"

    def __init__(
        self,
        http: httpx.AsyncClient,
        limits: TelegramLimits,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        quiet_http_logs()
        self.http = http
        self.limits = limits
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.max_wait = max_wait

    async def send(self, message: Message, target: ChatTarget) -> None:
        parts = split_html(telegram_text(message))
        if not parts:
            raise DeliveryError(
                "пустое сообщение: Telegram не принимает сообщения без текста", permanent=True
            )
        while target.parts_sent < len(parts):
            await self.limits.acquire(target.chat_id, self.max_wait)
            await self._send_part(target, parts[target.parts_sent])
            target.parts_sent += 1

    async def _send_part(self, target: ChatTarget, text: str, *, migrated: bool = False) -> None:
        url = f"{self.api_url}/bot{target.bot_token}/sendMessage"
        payload = {
            "chat_id": target.chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        try:
            response = await self.http.post(url, json=payload, timeout=self.timeout)
        except httpx.TimeoutException:
            raise DeliveryError("Telegram не ответил вовремя") from None
        except httpx.HTTPError as exc:
            detail = str(exc).replace(target.bot_token, "***") or type(exc).__name__
            raise DeliveryError(f"нет связи с Telegram: {detail}") from None
        if response.is_success:
            return
        body = _json(response)
        description = str(body.get("description") or response.reason_phrase or "").replace(
            target.bot_token, "***"
        )
        params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        assert isinstance(params, dict)
        code = response.status_code
        if code == 429 or "retry_after" in params:
            retry_after = _number(params.get("retry_after")) or 1.0
            self.limits.pause(target.chat_id, retry_after)
            raise DeliveryError(
                f"Telegram просит подождать {retry_after:g} с (429): {description}", retry_after=retry_after
            )
        new_chat = params.get("migrate_to_chat_id")
        if new_chat is not None and not migrated:
            target.chat_id = str(new_chat)
            target.migrated_to = target.chat_id
            await self.limits.acquire(target.chat_id, self.max_wait)
            await self._send_part(target, text, migrated=True)
            return
        if code >= 500:
            raise DeliveryError(f"Telegram временно недоступен: {code} {description}")
        if code in (401, 404):
            raise DeliveryError(f"Telegram не принял токен бота: {code} {description}", permanent=True)
        if 400 <= code < 500:
            raise DeliveryError(f"Telegram отказал: {code} {description}", permanent=True)
        raise DeliveryError(f"Telegram ответил {code} {description}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None
