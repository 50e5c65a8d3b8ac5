"""Self-service pages of notifications: the cabinet's mailboxes and Telegram chats, a test message, and
the outbox with the delivery state of every notification.

Mailboxes and chats are edited by administrators (operator, dealer admin); every user of the cabinet
sees them, sends a test message and retries a failed delivery. A test message goes through the real
outbox: it is stored, delivered by the delivery worker like any alert and shown on the outbox page.
Every object is looked up inside the page's cabinet scope, so an id of another cabinet is answered
with 404 exactly like a missing one.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kodeks_smart.notify import outbox
from kodeks_smart.notify import worker as delivery
from kodeks_smart.notify.base import CHANNEL_LABELS, Message
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.notify.telegram import escape_html
from kodeks_smart.store.admin import AdminError, add_mailbox, add_telegram_chat
from kodeks_smart.store.models import CATEGORIES, Mailbox, TelegramChat
from kodeks_smart.store.notify_models import Notification, OutboxItem
from kodeks_smart.store.scope import NotFound, Tenant
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.cabinet import Page, cabinet_page, require_csrf
from kodeks_smart.web.tables import Column, export, paginate

router = APIRouter(include_in_schema=False)

CATEGORY_RU = {
    "critical": "аварии высокой важности",
    "technical": "технические аварии",
    "analytics": "активность пользователей",
    "online": "онлайн-доступы",
}
CATEGORY_SHORT = {
    "critical": "важная авария",
    "technical": "техническая",
    "analytics": "активность",
    "online": "онлайн-доступ",
    "reports": "отчёт",
    "test": "проверка",
}
#: States shown on the outbox page; ``retrying`` and ``held`` are pending rows seen closer.
STATE_RU = {
    "queued": "в очереди",
    "retrying": "повтор",
    "held": "ждёт сводки",
    "sending": "отправляется",
    "sent": "доставлено",
    "failed": "ошибка",
}
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})\.[A-Za-z]{2,63}$"
)
CHAT_ID_PATTERN = re.compile(r"^(?:-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
BOT_TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
#: How long the test button waits for the worker before showing the page (the page refreshes later).
TEST_WAIT_SECONDS = 3.0
#: A cabinet sends at most this many test messages per hour (each reaches every channel).
TEST_LIMIT_PER_HOUR = 20


def _is_admin(page: Page) -> bool:
    return page.info.account.role in ("operator", "dealer-admin")


def _require_admin(page: Page) -> None:
    if not _is_admin(page):
        raise HTTPException(403, "Изменять каналы оповещений может администратор дистрибьютора")


def _categories(values: list[str]) -> list[str]:
    unknown = [v for v in values if v not in CATEGORIES]
    if unknown:
        raise AdminError("Неизвестная категория оповещений")
    return [c for c in CATEGORIES if c in values]


# -- forms ----------------------------------------------------------------------------------------


@dataclass
class MailboxForm:
    address: str = ""
    note: str = ""
    categories: list[str] = field(default_factory=list)
    id: int | None = None
    error: str = ""

    def validate(self) -> None:
        self.address = self.address.strip()
        self.note = self.note.strip()
        if not EMAIL_PATTERN.fullmatch(self.address) or ".." in self.address:
            raise AdminError(
                f"«{self.address}» не похож на адрес электронной почты (пример: support@firma.ru)"
            )
        if len(self.address) > 320:
            raise AdminError("Адрес длиннее 320 символов")
        if len(self.note) > 300:
            raise AdminError("Примечание длиннее 300 символов")
        self.categories = _categories(self.categories)


@dataclass
class ChatForm:
    chat_id: str = ""
    title: str = ""
    bot_token: str = ""
    categories: list[str] = field(default_factory=list)
    id: int | None = None
    error: str = ""

    def validate(self, *, token_required: bool) -> None:
        self.chat_id = self.chat_id.strip()
        self.title = self.title.strip()
        self.bot_token = self.bot_token.strip()
        if not CHAT_ID_PATTERN.fullmatch(self.chat_id):
            raise AdminError(
                "Идентификатор чата — число (для групп со знаком минус, например -1001234567890) "
                "или имя канала вида @kanal"
            )
        if len(self.title) > 300:
            raise AdminError("Название длиннее 300 символов")
        if (self.bot_token or token_required) and not BOT_TOKEN_PATTERN.fullmatch(self.bot_token):
            raise AdminError("Токен бота выглядит так: 123456789:AAE… (его выдаёт @BotFather)")
        self.categories = _categories(self.categories)


def _render(
    page: Page,
    *,
    mailbox_form: MailboxForm | None = None,
    chat_form: ChatForm | None = None,
    message: str = "",
    test: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    t = page.tenant
    test_rows = _test_rows(t, test) if test is not None else []
    response = page.render(
        "channels.html",
        title="Каналы оповещений",
        mailboxes=t.list(Mailbox, order_by=Mailbox.address),
        chats=t.list(TelegramChat, order_by=TelegramChat.id),
        categories=CATEGORY_RU,
        mailbox_form=mailbox_form or MailboxForm(categories=["critical", "technical"]),
        chat_form=chat_form or ChatForm(categories=["critical"]),
        is_admin=_is_admin(page),
        message=message,
        test_rows=test_rows,
        test_pending=any(r["state"] in ("queued", "retrying", "sending") for r in test_rows),
        channel_labels=CHANNEL_LABELS,
        state_ru=STATE_RU,
    )
    response.status_code = status
    return response


def _test_rows(t: Tenant, notification_id: int) -> list[dict[str, Any]]:
    try:
        t.get(Notification, notification_id)
    except NotFound:
        raise HTTPException(404, "Тестовое сообщение не найдено") from None
    items = t.session.scalars(
        select(OutboxItem).where(OutboxItem.notification_id == notification_id).order_by(OutboxItem.id)
    )
    return [
        {"id": i.id, "channel": i.channel, "target": i.target, "state": _state(i), "error": i.last_error}
        for i in items
    ]


def _state(item: OutboxItem | outbox.OutboxEntry) -> str:
    if item.state == "pending":
        if item.held:
            return "held"
        return "retrying" if item.attempts else "queued"
    return item.state


@router.get("/c/{cabinet_id}/channels", response_class=HTMLResponse)
def channels_page(
    page: Annotated[Page, Depends(cabinet_page)],
    message: str = "",
    test: Annotated[int | None, Query()] = None,
) -> Response:
    return _render(page, message=message[:300], test=test)


def _back(page: Page, message: str, **extra: str) -> RedirectResponse:
    query = urlencode({"message": message, **extra})
    return RedirectResponse(f"/c/{page.cabinet.id}/channels?{query}", status_code=303)


def _mailbox(page: Page, mailbox_id: int) -> Mailbox:
    try:
        return page.tenant.get(Mailbox, mailbox_id)
    except NotFound:
        raise HTTPException(404, "Почтовый ящик не найден") from None


def _chat(page: Page, chat_id: int) -> TelegramChat:
    try:
        return page.tenant.get(TelegramChat, chat_id)
    except NotFound:
        raise HTTPException(404, "Чат Telegram не найден") from None


def _delete(page: Page, model: Any, row_id: int, missing: str, shown: Callable[[Any], str]) -> str:
    """Delete one of the cabinet's channel rows in a write transaction; returns how it is named."""
    with page.services.db.write() as s:
        try:
            row = Tenant(s, page.scope).get(model, row_id)
        except NotFound:
            raise HTTPException(404, missing) from None
        name = shown(row)
        s.delete(row)
    return name


def _duplicate(
    session: Session, model: Any, column: Any, value: str, cabinet_id: int, own_id: int | None
) -> bool:
    stmt = select(model.id).where(model.cabinet_id == cabinet_id, func.lower(column) == value.lower())
    if own_id is not None:
        stmt = stmt.where(model.id != own_id)
    return session.scalars(stmt).first() is not None


# -- mailboxes ------------------------------------------------------------------------------------


@router.get("/c/{cabinet_id}/mailboxes/{mailbox_id}", response_class=HTMLResponse)
def mailbox_edit_form(page: Annotated[Page, Depends(cabinet_page)], mailbox_id: int) -> Response:
    m = _mailbox(page, mailbox_id)  # another cabinet's id: 404 before anything else
    _require_admin(page)
    return _render(page, mailbox_form=MailboxForm(m.address, m.note, list(m.categories or []), m.id))


@router.post("/c/{cabinet_id}/mailboxes", response_class=HTMLResponse)
def mailbox_add(
    page: Annotated[Page, Depends(cabinet_page)],
    address: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    category: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(page, csrf_token)
    _require_admin(page)
    form = MailboxForm(address, note, list(category or []))
    return _save_mailbox(page, form)


@router.post("/c/{cabinet_id}/mailboxes/{mailbox_id}", response_class=HTMLResponse)
def mailbox_update(
    page: Annotated[Page, Depends(cabinet_page)],
    mailbox_id: int,
    address: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    category: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(page, csrf_token)
    _mailbox(page, mailbox_id)
    _require_admin(page)
    return _save_mailbox(page, MailboxForm(address, note, list(category or []), mailbox_id))


def _save_mailbox(page: Page, form: MailboxForm) -> Response:
    try:
        form.validate()
        with page.services.db.write() as s:
            if _duplicate(s, Mailbox, Mailbox.address, form.address, page.cabinet.id, form.id):
                raise AdminError(f"Адрес {form.address} уже есть в кабинете")
            if form.id is None:
                add_mailbox(s, page.cabinet, form.address, form.categories, form.note)
            else:
                row = Tenant(s, page.scope).get(Mailbox, form.id)
                row.address, row.note, row.categories = form.address, form.note, form.categories
    except AdminError as exc:
        form.error = str(exc)
        return _render(page, mailbox_form=form, status=422)
    except NotFound:
        raise HTTPException(404, "Почтовый ящик не найден") from None
    verb = "добавлен" if form.id is None else "сохранён"
    note = "" if form.categories else " (без категорий: не получает оповещений)"
    return _back(page, f"Почтовый ящик {form.address} {verb}{note}")


@router.post("/c/{cabinet_id}/mailboxes/{mailbox_id}/delete")
def mailbox_delete(
    page: Annotated[Page, Depends(cabinet_page)], mailbox_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(page, csrf_token)
    _mailbox(page, mailbox_id)
    _require_admin(page)
    address = _delete(page, Mailbox, mailbox_id, "Почтовый ящик не найден", lambda row: row.address)
    return _back(page, f"Почтовый ящик {address} удалён")


# -- Telegram chats -------------------------------------------------------------------------------


@router.get("/c/{cabinet_id}/telegram/{chat_row_id}", response_class=HTMLResponse)
def chat_edit_form(page: Annotated[Page, Depends(cabinet_page)], chat_row_id: int) -> Response:
    c = _chat(page, chat_row_id)
    _require_admin(page)
    return _render(page, chat_form=ChatForm(c.chat_id, c.title, "", list(c.categories or []), c.id))


@router.post("/c/{cabinet_id}/telegram", response_class=HTMLResponse)
def chat_add(
    page: Annotated[Page, Depends(cabinet_page)],
    chat_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    bot_token: Annotated[str, Form()] = "",
    category: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(page, csrf_token)
    _require_admin(page)
    return _save_chat(page, ChatForm(chat_id, title, bot_token, list(category or [])))


@router.post("/c/{cabinet_id}/telegram/{chat_row_id}", response_class=HTMLResponse)
def chat_update(
    page: Annotated[Page, Depends(cabinet_page)],
    chat_row_id: int,
    chat_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    bot_token: Annotated[str, Form()] = "",
    category: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(page, csrf_token)
    _chat(page, chat_row_id)
    _require_admin(page)
    return _save_chat(page, ChatForm(chat_id, title, bot_token, list(category or []), chat_row_id))


def _save_chat(page: Page, form: ChatForm) -> Response:
    try:
        form.validate(token_required=form.id is None)
        with page.services.db.write() as s:
            if _duplicate(s, TelegramChat, TelegramChat.chat_id, form.chat_id, page.cabinet.id, form.id):
                raise AdminError(f"Чат {form.chat_id} уже есть в кабинете")
            if form.id is None:
                add_telegram_chat(
                    s,
                    page.services.box,
                    page.cabinet,
                    form.chat_id,
                    form.bot_token,
                    form.categories,
                    form.title,
                )
            else:
                row = Tenant(s, page.scope).get(TelegramChat, form.id)
                row.chat_id, row.title, row.categories = form.chat_id, form.title, form.categories
                if form.bot_token:
                    row.bot_token_enc = page.services.box.encrypt(form.bot_token)
    except AdminError as exc:
        form.error = str(exc)
        form.bot_token = ""  # a secret is never sent back to the browser
        return _render(page, chat_form=form, status=422)
    except NotFound:
        raise HTTPException(404, "Чат Telegram не найден") from None
    verb = "добавлен" if form.id is None else "сохранён"
    note = "" if form.categories else " (без категорий: не получает оповещений)"
    return _back(page, f"Чат {form.title or form.chat_id} {verb}{note}")


@router.post("/c/{cabinet_id}/telegram/{chat_row_id}/delete")
def chat_delete(
    page: Annotated[Page, Depends(cabinet_page)], chat_row_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(page, csrf_token)
    _chat(page, chat_row_id)
    _require_admin(page)
    shown = _delete(
        page, TelegramChat, chat_row_id, "Чат Telegram не найден", lambda row: row.title or row.chat_id
    )
    return _back(page, f"Чат {shown} удалён")


# -- switching a channel off and on ---------------------------------------------------------------


def _switch(page: Page, model: Any, row_id: int, on: bool, missing: str, shown: Callable[[Any], str]) -> str:
    """Set ``enabled`` of one of the cabinet's channel rows; returns how the row is named."""
    with page.services.db.write() as s:
        try:
            row = Tenant(s, page.scope).get(model, row_id)
        except NotFound:
            raise HTTPException(404, missing) from None
        row.enabled = on
        return shown(row)


def _switched(on: bool) -> str:
    return (
        "включён: снова получает оповещения"
        if on
        else "отключён: оповещения не получает, настройки сохранены"
    )


@router.post("/c/{cabinet_id}/mailboxes/{mailbox_id}/enabled")
def mailbox_switch(
    page: Annotated[Page, Depends(cabinet_page)],
    mailbox_id: int,
    enabled: Annotated[bool, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Switch a mailbox off (it keeps its address and categories) or back on."""
    require_csrf(page, csrf_token)
    _mailbox(page, mailbox_id)
    _require_admin(page)
    address = _switch(page, Mailbox, mailbox_id, enabled, "Почтовый ящик не найден", lambda row: row.address)
    return _back(page, f"Почтовый ящик {address} {_switched(enabled)}")


@router.post("/c/{cabinet_id}/telegram/{chat_row_id}/enabled")
def chat_switch(
    page: Annotated[Page, Depends(cabinet_page)],
    chat_row_id: int,
    enabled: Annotated[bool, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Switch a Telegram chat off (it keeps its settings and token) or back on."""
    require_csrf(page, csrf_token)
    _chat(page, chat_row_id)
    _require_admin(page)
    shown = _switch(
        page,
        TelegramChat,
        chat_row_id,
        enabled,
        "Чат Telegram не найден",
        lambda row: row.title or row.chat_id,
    )
    return _back(page, f"Чат {shown} {_switched(enabled)}")


# -- test message ---------------------------------------------------------------------------------


def build_test_message(dealer_code: str, cabinet_name: str, login: str, now: datetime) -> Message:
    when = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    text = (
        "Это тестовое сообщение SMART.\n"
        f"Если вы его получили, канал оповещений кабинета «{cabinet_name}» настроен верно.\n"
        f"Отправил из личного кабинета: {login}, {when}."
    )
    return Message(
        category="test",
        rule="SmartTest",
        dealer_code=dealer_code,
        client=None,
        subject="Проверка оповещений",
        text=text,
        html="<p>" + "<br>".join(escape_html(line) for line in text.splitlines()) + "</p>",
        telegram_html="<b>Проверка оповещений SMART</b>\n" + escape_html(text),
    )


@router.post("/c/{cabinet_id}/channels/test")
def send_test(
    page: Annotated[Page, Depends(cabinet_page)],
    target: Annotated[str, Form()] = "all",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Enqueue a test message to one channel (``mailbox-<id>``, ``telegram-<id>``) or to all of them."""
    require_csrf(page, csrf_token)
    recipients = _test_recipients(page, target)
    if not recipients:
        return _back(
            page,
            "В кабинете нет включённых почтовых ящиков и чатов Telegram: сначала добавьте или включите канал",
        )
    now = utcnow()
    with page.services.db.write() as s:
        sent_lately = s.scalar(
            select(func.count()).where(
                Notification.cabinet_id == page.cabinet.id,
                Notification.category == "test",
                Notification.created_at >= now - timedelta(hours=1),
            )
        )
        if (sent_lately or 0) >= TEST_LIMIT_PER_HOUR:
            raise HTTPException(429, "Слишком много тестовых сообщений: не больше 20 в час на кабинет")
        enqueued = outbox.enqueue(
            s,
            build_test_message(page.dealer.code, page.cabinet.name, page.info.account.login, now),
            cabinet_id=page.cabinet.id,
            dedup_key=f"test:{uuid.uuid4().hex}",
            recipients=recipients,
            now=now,
        )
    delivery.wake(page.services)
    _wait_for_delivery(page, enqueued.outbox_ids)
    return _back(page, "Тестовое сообщение поставлено в очередь", test=str(enqueued.notification_id))


def _test_recipients(page: Page, target: str) -> list[Recipient]:
    kind, _, ident = target.partition("-")
    if target == "all":  # the channels that are on; one switched off is tested with its own button
        mailboxes = [m for m in page.tenant.list(Mailbox) if m.enabled]
        chats = [c for c in page.tenant.list(TelegramChat) if c.enabled]
    elif kind == "mailbox" and ident.isdigit():
        mailboxes, chats = [_mailbox(page, int(ident))], []
    elif kind == "telegram" and ident.isdigit():
        mailboxes, chats = [], [_chat(page, int(ident))]
    else:
        raise HTTPException(422, "Неизвестный канал для проверки")
    return [Recipient("email", m.address.strip(), via="проверка") for m in mailboxes] + [
        Recipient("telegram", c.chat_id, c.id, via="проверка") for c in chats
    ]


def _wait_for_delivery(page: Page, ids: tuple[int, ...]) -> None:
    """Give the delivery worker a moment, so that the page usually shows the outcome at once."""
    deadline = time.monotonic() + TEST_WAIT_SECONDS
    while time.monotonic() < deadline:
        with page.services.db.session() as s:
            waiting = s.scalar(
                select(func.count()).where(
                    OutboxItem.id.in_(list(ids)),
                    OutboxItem.state.in_(("pending", "sending")),
                    OutboxItem.attempts == 0,
                )
            )
        if not waiting:
            return
        time.sleep(0.1)


# -- the outbox -----------------------------------------------------------------------------------

OUTBOX_COLUMNS = [
    Column("id", "№"),
    Column("created_at", "Создано (UTC)"),
    Column("channel", "Канал", fmt=lambda c: CHANNEL_LABELS.get(c, c)),
    Column("target", "Получатель"),
    Column("state", "Состояние", fmt=lambda s: STATE_RU.get(s, s)),
    Column("attempts", "Попыток"),
    Column("next_attempt_at", "Следующая попытка"),
    Column("sent_at", "Доставлено"),
    Column("last_error", "Последняя ошибка"),
    Column("category", "Категория", fmt=lambda c: CATEGORY_SHORT.get(c, c)),
    Column("rule", "Тип"),
    Column("client", "Клиент"),
    Column("subject", "Тема"),
]


@router.get("/c/{cabinet_id}/outbox", response_class=HTMLResponse)
def outbox_page(
    page: Annotated[Page, Depends(cabinet_page)],
    state: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies query defaults
    channel: Annotated[list[str], Query()] = [],  # noqa: B006
    days: Annotated[int, Query(ge=1, le=400)] = 7,
    sort: str = "id",
    desc: bool = True,
    p: int = 1,
    per_page: int = 50,
    format: str = "",
    message: str = "",
) -> Response:
    since = utcnow() - timedelta(days=days)
    entries = outbox.list_outbox(page.tenant, limit=20000)
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "created_at": e.created_at,
            "channel": e.channel,
            "target": e.target,
            "state": _state(e),
            "attempts": e.attempts,
            "next_attempt_at": e.next_attempt_at if e.state == "pending" else None,
            "sent_at": e.sent_at,
            "last_error": e.last_error or "",
            "category": e.category,
            "rule": e.rule,
            "client": e.client or "",
            "subject": e.subject,
        }
        for e in entries
        if e.created_at >= since or e.state in ("pending", "sending")
    ]
    wanted_states = [s for s in state if s in STATE_RU]
    wanted_channels = [c for c in channel if c in CHANNEL_LABELS]
    if wanted_states:
        rows = [r for r in rows if r["state"] in wanted_states]
    if wanted_channels:
        rows = [r for r in rows if r["channel"] in wanted_channels]
    if format in ("csv", "xlsx"):
        return export(OUTBOX_COLUMNS, rows, format, f"opoveshcheniya-{page.cabinet.id}")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    table = paginate(OUTBOX_COLUMNS, rows, sort=sort, desc=desc, page=p, per_page=per_page)
    query = [("state", s) for s in wanted_states] + [("channel", c) for c in wanted_channels]
    return page.render(
        "outbox.html",
        title="Очередь оповещений",
        table=table,
        states=STATE_RU,
        channels=CHANNEL_LABELS,
        filters={"state": wanted_states, "channel": wanted_channels},
        days=days,
        counts=counts,
        query=urlencode([*query, ("days", str(days))]),
        message=message[:300],
    )


@router.post("/c/{cabinet_id}/outbox/{outbox_id}/retry")
def outbox_retry(
    page: Annotated[Page, Depends(cabinet_page)], outbox_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(page, csrf_token)
    give_up_after = delivery.DeliveryConfig.from_settings(page.services.settings).give_up_after
    try:
        with page.services.db.write() as s:
            item = outbox.retry(Tenant(s, page.scope), outbox_id, now=utcnow(), give_up_after=give_up_after)
            target = item.target
    except NotFound:
        raise HTTPException(404, "Оповещение не найдено") from None
    except outbox.OutboxError as exc:
        raise HTTPException(409, str(exc)) from None
    delivery.wake(page.services)
    note = f"Оповещение №{outbox_id} для {target} поставлено на повторную отправку"
    return RedirectResponse(f"/c/{page.cabinet.id}/outbox?{urlencode({'message': note})}", status_code=303)
