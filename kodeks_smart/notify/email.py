"""E-mail through the dealer's SMTP relay (or the operator's default relay) with aiosmtplib.

One message per target: multipart/alternative with a plain-text and (when given) an HTML part, a
Message-ID derived from the outbox row's idempotency key (the same on every retry, so a mail server
or client that deduplicates by Message-ID collapses a repeated send), ``Auto-Submitted`` so that
autoresponders stay quiet, and ``X-SMART-*`` headers beside the bracketed subject tags for sorting.

Error classification: connection problems, timeouts, 4xx replies and relay configuration problems
(authentication, TLS) are retryable — fixing the relay makes the queued messages go out; a 5xx reply to
the recipient, the sender or the message itself is permanent.

Daily limits are enforced by the outbox (`outbox.plan_email`), which also builds the digests
(`build_digest`) that this channel sends like any other message.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib

from kodeks_smart.notify.base import DeliveryError, Link, Message, one_line

SECURITY_MODES = ("starttls", "ssl", "plain")
DEFAULT_TIMEOUT = 30.0
#: Longest subject after the tags: unfolded and base64-encoded it stays within SMTP's 998-byte lines.
MAX_SUBJECT = 250
#: Headers are written unfolded: when Python 3.11 folds a long subject of ASCII tags and Cyrillic words
#: into several encoded words it drops the spaces between them ("Нет ответа" arrives as "Нетответа").
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=None)


@dataclass(frozen=True)
class RelayConfig:
    """An `SmtpRelay` row with its password decrypted (``id`` None: built in code, no usage counting)."""

    id: int | None
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str
    daily_limit: int | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"SMTP security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )

    def __repr__(self) -> str:  # never show the password
        return f"RelayConfig(id={self.id}, host={self.host!r}, port={self.port}, security={self.security!r})"


@dataclass(frozen=True)
class MailTarget:
    address: str
    relay: RelayConfig
    #: ``<...@...>``, stable across retries of the same outbox row.
    message_id: str
    date: datetime | None = None


def make_message_id(key: str, sender: str) -> str:
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "smart.local"
    return f"<{key}@{domain}>"


def plain_body(message: Message) -> str:
    body = message.text.rstrip()
    # Links the text already carries (an alert's runbook link) are not repeated under it.
    links = [link for link in message.links if link.url not in body]
    if links:
        body += "\n\n" + "\n".join(f"{link.title}: {link.url}" for link in links)
    return body + "\n"


def html_body(message: Message) -> str:
    """The HTML part: the message's own HTML (a whole document is used as it is, links included), or a
    fragment or the escaped plain text wrapped in a document, with the links."""
    if _is_document(message.html):
        return message.html
    content = message.html or f"<pre>{html.escape(message.text)}</pre>"
    if message.links:
        items = "".join(
            f'<li><a href="{html.escape(link.url, quote=True)}">{html.escape(link.title)}</a></li>'
            for link in message.links
        )
        content += f"<ul>{items}</ul>"
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{content}</body></html>'


def build_email(message: Message, target: MailTarget) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = target.relay.sender
    msg["To"] = target.address
    msg["Subject"] = _capped(message.tagged_subject, len(message.tags) + 1 + MAX_SUBJECT)
    msg["Date"] = email.utils.format_datetime(target.date) if target.date else email.utils.formatdate()
    msg["Message-ID"] = target.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-SMART-Category"] = one_line(message.category)
    msg["X-SMART-Rule"] = one_line(message.rule)
    msg["X-SMART-Dealer"] = one_line(message.dealer_code)
    if message.client:
        msg["X-SMART-Client"] = one_line(message.client)
    msg.set_content(plain_body(message), cte="quoted-printable")
    if message.html or message.links:
        msg.add_alternative(html_body(message), subtype="html", cte="quoted-printable")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return msg


def build_digest(messages: Sequence[Message], *, dealer_code: str) -> Message:
    """One message that carries several: sent when a relay's daily limit would be exceeded otherwise."""
    count = len(messages)
    intro = (
        "Дневной лимит отправки писем почти исчерпан, поэтому оповещения собраны в одно письмо "
        f"({count} шт.)."
    )
    text_parts = [intro, ""]
    html_parts = [f"<p>{html.escape(intro)}</p>"]
    links: list[Link] = []
    for n, m in enumerate(messages, 1):
        text_parts += [f"{n}. {m.tagged_subject}", m.text.rstrip(), ""]
        html_parts.append(f"<h3>{n}. {html.escape(m.tagged_subject)}</h3>")
        html_parts.append(_fragment(m.html) or f"<pre>{html.escape(m.text)}</pre>")
        links.extend(link for link in m.links if link not in links)
    categories = {m.category for m in messages}
    return Message(
        category=categories.pop() if len(categories) == 1 else "digest",
        rule="digest",
        dealer_code=dealer_code,
        client=None,
        subject=f"Сводка оповещений: {count}",
        text="\n".join(text_parts),
        html="\n".join(html_parts),
        links=tuple(links),
        attachments=tuple(a for m in messages for a in m.attachments),
    )


class EmailChannel:
    """Sends through aiosmtplib: implicit TLS (``ssl``), ``starttls`` or ``plain``, with optional login."""

    kind = "email"

    def __init__(
        self, *, tls_context: ssl.SSLContext | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.tls_context = tls_context
        self.timeout = timeout

    async def send(self, message: Message, target: MailTarget) -> None:
        relay = target.relay
        envelope_from = email.utils.parseaddr(relay.sender)[1] or relay.sender
        try:
            await aiosmtplib.send(
                build_email(message, target).as_bytes(policy=WIRE_POLICY),
                sender=envelope_from,
                recipients=[target.address],
                hostname=relay.host,
                port=relay.port,
                username=relay.username or None,
                password=relay.password if relay.username else None,
                use_tls=relay.security == "ssl",
                start_tls=relay.security == "starttls",
                tls_context=self.tls_context,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            code = refusal.code if refusal is not None else 550
            text = refusal.message if refusal is not None else str(exc)
            raise _reply_error(f"сервер {relay.host} не принял адрес {target.address}", code, text) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"сервер {relay.host} отклонил логин {relay.username}: {exc.code} {_short(exc.message)}"
            ) from None
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            raise _reply_error(f"сервер {relay.host} не принял письмо", exc.code, exc.message) from None
        except aiosmtplib.SMTPResponseException as exc:
            # Greeting, HELO and other session replies: a relay problem, not this message's.
            raise DeliveryError(f"сервер {relay.host} ответил {exc.code} {_short(exc.message)}") from None
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryError(f"сервер {relay.host}: {_short(str(exc))}") from None
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            raise DeliveryError(f"почтовый сервер {relay.host}:{relay.port} не ответил вовремя") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"ошибка TLS с {relay.host}:{relay.port}: {_short(str(exc))}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"нет связи с почтовым сервером {relay.host}:{relay.port}: {_short(str(exc))}"
            ) from None


_DOCUMENT = re.compile(r"<html[\s>]", re.IGNORECASE)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


def _is_document(markup: str) -> bool:
    return bool(_DOCUMENT.search(markup))


def _fragment(markup: str) -> str:
    """The inside of a whole document's body (for a digest), or the fragment itself."""
    if not _is_document(markup):
        return markup
    found = _BODY.search(markup)
    return found.group(1) if found else ""


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reply_error(what: str, code: int, text: str) -> DeliveryError:
    return DeliveryError(f"{what}: {code} {_short(text)}", permanent=500 <= code < 600)


def _short(text: str, limit: int = 300) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
