"""Who gets a notification: the unique targets of one cabinet for a category and a client.

* every mailbox of the cabinet that takes the category (``critical`` → the high-priority technical
  mailbox, ``analytics`` → the user-activity mailbox, ``online`` → the online accesses' mailbox…);
* every Telegram chat of the cabinet that takes the category;
* every enabled webhook endpoint of the cabinet that takes the category;
* the e-mails of the client's manager, for every alert of that client;
* any extra e-mails the caller names (e.g. the addresses of an online access from online.csv).

An address that several routes name is one target: e-mail addresses compare case-insensitively (the
first spelling wins), chats by chat id, webhooks by endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.store.models import Client, Mailbox, Manager, TelegramChat
from kodeks_smart.store.notify_models import WebhookEndpoint


@dataclass(frozen=True)
class Recipient:
    """One target of a notification.

    ``address`` is the e-mail address, the Telegram chat id or the webhook URL; ``ref_id`` is the
    ``telegram_chats`` / ``webhook_endpoints`` row whose credentials are used; ``via`` says which route
    named it (for listings).
    """

    channel: str
    address: str
    ref_id: int | None = None
    via: str = ""

    @property
    def key(self) -> str:
        if self.channel == "email":
            return self.address.strip().lower()
        if self.channel == "webhook":
            return f"webhook:{self.ref_id}"
        return self.address.strip()


class RoutingError(ValueError):
    """The client named for routing does not belong to the cabinet."""


def _takes(categories: Iterable[str] | None, category: str) -> bool:
    return category in (categories or ())


def route(
    session: Session,
    cabinet_id: int,
    category: str,
    client_id: int | None = None,
    *,
    client_ids: Sequence[int] = (),
    extra_emails: Sequence[str] = (),
) -> list[Recipient]:
    """The unique targets of a notification of ``category`` in a cabinet, about a client (``client_id``),
    several clients (``client_ids``: a grouped notification reaches each client's manager) or none.

    Raises `RoutingError` for a client outside the cabinet.
    """
    found: list[Recipient] = []
    for mailbox in session.scalars(
        select(Mailbox)
        .where(Mailbox.cabinet_id == cabinet_id, Mailbox.enabled.is_(True))
        .order_by(Mailbox.id)
    ):
        if _takes(mailbox.categories, category):
            found.append(Recipient("email", mailbox.address.strip(), via=mailbox.note or "почтовый ящик"))
    for cid in [*([client_id] if client_id is not None else []), *client_ids]:
        client = session.get(Client, cid)
        if client is None or client.cabinet_id != cabinet_id:
            raise RoutingError(f"клиент {cid} не относится к кабинету {cabinet_id}")
        manager = session.get(Manager, client.manager_id) if client.manager_id is not None else None
        if manager is not None:
            found.extend(
                Recipient("email", address.strip(), via=f"менеджер {manager.name}")
                for address in manager.emails or []
                if address.strip()
            )
    found.extend(Recipient("email", address.strip(), via="дополнительный адрес") for address in extra_emails)
    for chat in session.scalars(
        select(TelegramChat)
        .where(TelegramChat.cabinet_id == cabinet_id, TelegramChat.enabled.is_(True))
        .order_by(TelegramChat.id)
    ):
        if _takes(chat.categories, category):
            found.append(Recipient("telegram", chat.chat_id, chat.id, via=chat.title or "чат Telegram"))
    for endpoint in session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.cabinet_id == cabinet_id, WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookEndpoint.id)
    ):
        if _takes(endpoint.categories, category):
            found.append(Recipient("webhook", endpoint.url, endpoint.id, via=endpoint.title or "вебхук"))
    return unique(found)


def unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    """Drop repeated targets, keeping the first occurrence (and so its spelling and route)."""
    seen: set[tuple[str, str]] = set()
    result = []
    for r in recipients:
        ident = (r.channel, r.key)
        if r.key and ident not in seen:
            seen.add(ident)
            result.append(r)
    return result
