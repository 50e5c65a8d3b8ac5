"""`smart outbox` (list, retry) and `smart notify test`: the delivery queue from the command line."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.notify import outbox
from kodeks_smart.notify.base import CHANNEL_LABELS, Message
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.notify.telegram import escape_html
from kodeks_smart.notify.worker import DeliveryConfig, DeliveryWorker
from kodeks_smart.runtime import Services, open_services
from kodeks_smart.store import admin
from kodeks_smart.store.models import Mailbox, TelegramChat
from kodeks_smart.store.notify_models import OUTBOX_STATES, OutboxItem, WebhookEndpoint
from kodeks_smart.store.scope import NotFound, Scope, Tenant
from kodeks_smart.store.types import utcnow

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

outbox_app = typer.Typer(
    help="The notification outbox: list deliveries, retry failed ones.", invoke_without_command=True
)
notify_app = typer.Typer(help="Notification channels.", no_args_is_help=True)

STATE_LABELS = {"pending": "ждёт", "sending": "отправляется", "sent": "доставлено", "failed": "ошибка"}


def register(app: typer.Typer) -> None:
    """Add `smart outbox` and `smart notify` to the main command."""
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(notify_app, name="notify")


_services = open_services


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]Ошибка:[/] {escape(message)}")
    return typer.Exit(2)


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


@outbox_app.callback()
def outbox_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="pending | sending | sent | failed")] = None,
    dealer: Annotated[str | None, typer.Option(help="Only this dealer's notifications (dealer code)")] = None,
    limit: Annotated[int, typer.Option(help="How many rows, newest first")] = 50,
) -> None:
    """List outbox rows (newest first): target, state, attempts and the last error."""
    if ctx.invoked_subcommand is not None:
        return
    if state is not None and state not in OUTBOX_STATES:
        raise _fail(f"--state: ожидается {', '.join(OUTBOX_STATES)}")
    with _services() as services, services.db.session() as s:
        scope = Scope.operator()
        if dealer:
            try:
                scope = Scope.dealer(admin.find_dealer(s, dealer).id)
            except admin.AdminError as exc:
                raise _fail(str(exc)) from None
        tenant = Tenant(s, scope)
        entries = outbox.list_outbox(tenant, state=state, limit=limit)
        counts = outbox.outbox_counts(tenant)
    table = Table(
        "id", "создано (UTC)", "канал", "получатель", "состояние", "попыток", "оповещение", "ошибка"
    )
    for e in entries:
        shown = STATE_LABELS.get(e.state, e.state)
        if e.state == "pending" and e.held:
            shown = "ждёт сводки"
        if e.state == "pending" and e.attempts:
            shown += f", повтор {_fmt(e.next_attempt_at)}"
        if e.state == "sent":
            shown += f" {_fmt(e.sent_at)}"
        # Cells hold data (subjects, errors in brackets): escaped so that Rich does not read it as markup.
        table.add_row(
            *(
                escape(cell)
                for cell in (
                    str(e.id),
                    _fmt(e.created_at),
                    CHANNEL_LABELS.get(e.channel, e.channel),
                    e.target,
                    shown,
                    str(e.attempts),
                    f"[{e.dealer_code}][{e.category}][{e.rule}] {e.subject}",
                    e.last_error or "—",
                )
            )
        )
    console.print(table)
    totals = {st: sum(n for (_, s_), n in counts.items() if s_ == st) for st in OUTBOX_STATES}
    console.print(
        "Всего: "
        + ", ".join(f"{STATE_LABELS[st]} — {totals[st]}" for st in OUTBOX_STATES)
        + (f" (показаны последние {len(entries)})" if len(entries) == limit else "")
    )


@outbox_app.command("retry")
def outbox_retry(
    outbox_id: Annotated[int, typer.Argument(help="Outbox row id (see `smart outbox`)")],
) -> None:
    """Send a failed notification again now, with a fresh give-up period."""
    with _services() as services:
        config = DeliveryConfig.from_settings(services.settings)
        try:
            with services.db.write() as s:
                item = outbox.retry(
                    Tenant(s, Scope.operator()), outbox_id, now=utcnow(), give_up_after=config.give_up_after
                )
                target = item.target
        except NotFound:
            raise _fail(f"строка очереди {outbox_id} не найдена") from None
        except outbox.OutboxError as exc:
            raise _fail(str(exc)) from None
    console.print(f"Оповещение {outbox_id} для {escape(target)} поставлено на повторную отправку.")


@notify_app.command("test")
def notify_test(
    dealer: Annotated[str, typer.Option(help="Dealer code")],
    cabinet: Annotated[str, typer.Option(help="Cabinet name")],
    email: Annotated[list[str] | None, typer.Option(help="E-mail address; repeat for several")] = None,
    telegram: Annotated[
        list[str] | None, typer.Option(help="Chat id (or title) of one of the cabinet's Telegram chats")
    ] = None,
) -> None:
    """Send a test message now and report for each target whether it was delivered.

    Without --email/--telegram the message goes to every mailbox, chat and webhook of the cabinet.
    """
    with _services() as services:
        now = utcnow()
        with services.db.write() as s:
            try:
                dealer_row = admin.find_dealer(s, dealer)
                cabinet_row = admin.find_cabinet(s, dealer_row, cabinet)
            except admin.AdminError as exc:
                raise _fail(str(exc)) from None
            recipients = _test_recipients(s, cabinet_row.id, email or [], telegram or [])
            if not recipients:
                raise _fail(f"у кабинета «{cabinet}» нет ни почтовых ящиков, ни чатов, ни вебхуков")
            enqueued = outbox.enqueue(
                s,
                _test_message(dealer_row.code, cabinet_row.name, now),
                cabinet_id=cabinet_row.id,
                dedup_key=f"test:{uuid.uuid4().hex}",
                recipients=recipients,
                now=now,
            )
        worker = DeliveryWorker(services.db, services.box, DeliveryConfig.from_settings(services.settings))
        asyncio.run(worker.run_once(enqueued.outbox_ids))
        delivered = _report(services, enqueued.outbox_ids)
    if not delivered:
        raise typer.Exit(1)


def _test_recipients(s: Session, cabinet_id: int, emails: list[str], chats: list[str]) -> list[Recipient]:
    result = [Recipient("email", address.strip(), via="проверка") for address in emails]
    cabinet_chats = list(s.scalars(select(TelegramChat).where(TelegramChat.cabinet_id == cabinet_id)))
    for wanted in chats:
        chat = next((c for c in cabinet_chats if wanted in (c.chat_id, c.title)), None)
        if chat is None:
            raise _fail(f"чат {wanted!r} не найден среди чатов Telegram кабинета")
        result.append(Recipient("telegram", chat.chat_id, chat.id, via="проверка"))
    if emails or chats:
        return result
    # Without names: every channel that is on (one switched off is tested by naming it).
    result += [
        Recipient("email", m.address, via="проверка")
        for m in s.scalars(select(Mailbox).where(Mailbox.cabinet_id == cabinet_id, Mailbox.enabled.is_(True)))
    ]
    result += [Recipient("telegram", c.chat_id, c.id, via="проверка") for c in cabinet_chats if c.enabled]
    result += [
        Recipient("webhook", w.url, w.id, via="проверка")
        for w in s.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.cabinet_id == cabinet_id, WebhookEndpoint.enabled.is_(True)
            )
        )
    ]
    return result


def _test_message(dealer_code: str, cabinet_name: str, now: datetime) -> Message:
    when = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    text = (
        "Это тестовое сообщение SMART.\n"
        f"Если вы его получили, канал оповещений кабинета «{cabinet_name}» настроен верно.\n"
        f"Отправлено: {when}."
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


def _report(services: Services, ids: tuple[int, ...]) -> bool:
    """Print the outcome per target; what was not delivered is marked failed (a test is not retried)."""
    all_sent = True
    now = utcnow()
    with services.db.write() as s:
        for item in s.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids)).order_by(OutboxItem.id)):
            label = escape(f"{CHANNEL_LABELS.get(item.channel, item.channel)} {item.target}")
            if item.state == "sent":
                console.print(f"[green]✓[/] {label}: доставлено")
                continue
            all_sent = False
            reason = item.last_error or ("ждёт сводки: дневной лимит почты" if item.held else "не отправлено")
            console.print(f"[red]✗[/] {label}: {escape(reason)}")
            if item.state == "pending":  # a row another process is sending right now is left to it
                item.state = "failed"
                item.failed_at = now
                item.last_error = f"проверка: {reason}"
    return all_sent
