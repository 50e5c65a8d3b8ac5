"""What every channel shares: the message, the channel interface, the one error type, the clock.

A channel is one module (`email`, `telegram`, `webhook`) with a class whose ``send(message, target)``
either returns (the target accepted the message) or raises `DeliveryError`, marked permanent (retrying
cannot help: unknown chat, blocked bot, refused recipient) or retryable (outage, timeout, rate limit),
optionally with the delay the other side asked for.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

#: Human names of the channels, for listings and messages.
CHANNEL_LABELS = {"email": "e-mail", "telegram": "Telegram", "webhook": "вебхук"}

#: The first tag of every subject; a subject that starts with it is already tagged.
TAG_PREFIX = "[SMART]"
_UNSAFE_IN_TAG = re.compile(r"[\[\]\r\n\t]+")
_LINE_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail (other channels ignore attachments)."""

    filename: str
    content_type: str
    content: bytes

    def __repr__(self) -> str:  # never dump the content into logs
        return f"Attachment({self.filename!r}, {self.content_type!r}, {len(self.content)} bytes)"


@dataclass(frozen=True)
class Message:
    """One notification as the channels see it.

    ``subject`` is the human part of the subject (e.g. ``[FIRING:2] Нет ответа на ping``); the e-mail
    channel prefixes the stable bracketed tags of `tags`. A subject that already starts with ``[SMART]``
    is taken as tagged and used as it is. ``text`` is plain text; ``html`` the HTML part of the e-mail
    (a fragment or a whole document; empty: text only); ``telegram_html`` the Telegram text in its HTML
    subset (None: the plain text is escaped and sent).
    """

    category: str
    rule: str
    dealer_code: str
    client: str | None
    subject: str
    text: str
    html: str = ""
    telegram_html: str | None = None
    links: tuple[Link, ...] = ()
    #: Files the e-mail channel attaches (stored in ``notification_attachments``).
    attachments: tuple[Attachment, ...] = ()

    @property
    def tags(self) -> str:
        """``[SMART][critical][KodeksIcmp][0599ROGAIKOPITA][client]``: stable for mail-server sorting.

        The client tag is left out when the notification is not about one client (e.g. a Count alert).
        """
        parts = ["SMART", self.category, self.rule, self.dealer_code]
        if self.client:
            parts.append(self.client)
        return "".join(f"[{_tag_value(p)}]" for p in parts)

    @property
    def is_tagged(self) -> bool:
        return self.subject.lstrip().startswith(TAG_PREFIX)

    @property
    def tagged_subject(self) -> str:
        if self.is_tagged:
            return one_line(self.subject)
        return f"{self.tags} {one_line(self.subject)}".strip()


def _tag_value(value: str) -> str:
    return _UNSAFE_IN_TAG.sub("_", value.strip()) or "-"


def one_line(text: str) -> str:
    """Collapse line breaks: header values must never contain them."""
    return _LINE_BREAKS.sub(" ", text).strip()


class DeliveryError(Exception):
    """The target did not accept the message.

    ``permanent``: retrying cannot help, the row is marked failed with this message as the reason.
    ``retry_after``: seconds the other side asked us to wait (Telegram 429, HTTP Retry-After).
    The message is Russian and shown to users as is; it never contains credentials.
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class RateLimited(DeliveryError):
    """Our own rate limit says "not now": the row is put back without counting an attempt."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, permanent=False, retry_after=retry_after)


T_contra = TypeVar("T_contra", contravariant=True)


class Channel(Protocol[T_contra]):
    """Sends a message to one target of the channel's kind; raises `DeliveryError` when it was not taken."""

    kind: str

    async def send(self, message: Message, target: T_contra) -> None: ...


class Clock(Protocol):
    """Time as the delivery code sees it; tests pass a manual clock to make backoff due at once."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
