"""Monthly delivery: each manager receives one e-mail with the renewal reports (PDF) of his own clients.

The delivery of month M (``2026-11``) covers the twelve whole months that end with M (December 2025 …
November 2026) and goes out from SMART_REPORTS_DELIVERY_DAY of the following month. It goes through
the alert outbox: one notification per manager with the dedup key ``reports:renewal:<M>:manager:<id>``,
addressed to the manager's e-mails only, with the PDFs as attachments. Enqueuing is idempotent per
(month, manager), so a restart, a second run of the job or `smart report deliver` run again never sends
twice; a manager whose notification exists is skipped before anything is rendered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select

from kodeks_smart.notify import outbox
from kodeks_smart.notify.base import Attachment, Link, Message
from kodeks_smart.notify.routing import Recipient
from kodeks_smart.reports import data, render
from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Job
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Dealer, Manager
from kodeks_smart.store.notify_models import Notification
from kodeks_smart.store.scope import Scope, Tenant
from kodeks_smart.store.types import utcnow

log = logging.getLogger(__name__)

CATEGORY = "reports"
RULE = "RenewalReport"
#: Delivery is computed on Moscow time (most distributors; a day's shift does not matter monthly).
DELIVERY_OFFSET = timedelta(hours=3)


def dedup_key(month: date, manager_id: int) -> str:
    return f"reports:renewal:{month:%Y-%m}:manager:{manager_id}"


@dataclass
class ManagerDelivery:
    manager_id: int
    manager: str
    emails: list[str]
    clients: list[str]
    #: "queued", "already sent" (the notification existed), "no e-mail", "dry run".
    status: str
    notification_id: int | None = None


@dataclass
class DeliveryResult:
    month: date
    managers: list[ManagerDelivery] = field(default_factory=list)

    @property
    def queued(self) -> int:
        return sum(1 for m in self.managers if m.status == "queued")


def period_of(month: date, months: int = 12) -> tuple[date, date]:
    last = data.month_start(month)
    return data.add_months(last, -(months - 1)), last


def deliver(
    db: Database,
    month: date,
    *,
    months: int = 12,
    dry_run: bool = False,
    public_url: str = "",
    progress: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> DeliveryResult:
    """Enqueue the renewal reports of ``month`` for every manager with an e-mail (see the module doc)."""
    say = progress or (lambda _: None)
    month = data.month_start(month)
    first, last = period_of(month, months)
    result = DeliveryResult(month)
    with db.session() as s:
        targets = data.renewal_targets(s)
        managers = {m.id: m for m in s.scalars(select(Manager).where(Manager.id.in_(sorted(targets))))}
        done = set(
            s.scalars(
                select(Notification.dedup_key).where(
                    Notification.dedup_key.in_([dedup_key(month, mid) for mid in targets])
                )
            )
        )
    for manager_id, client_ids in sorted(targets.items()):
        manager = managers[manager_id]
        emails = [e for e in (manager.emails or []) if e and "@" in e]
        entry = ManagerDelivery(manager.id, manager.name, emails, [], "no e-mail")
        result.managers.append(entry)
        if not emails:
            continue
        if dedup_key(month, manager.id) in done:
            entry.status = "already sent"
            continue
        # Rendered outside any write transaction: a slow PDF must not hold SQLite's write lock.
        attachments: list[Attachment] = []
        with db.session() as s:
            tenant = Tenant(s, Scope.cabinets(manager.dealer_id, [manager.cabinet_id]))
            dealer = s.get(Dealer, manager.dealer_id)
            assert dealer is not None
            dealer_code = dealer.code
            for client_id in client_ids:
                client = s.get(Client, client_id)
                assert client is not None
                entry.clients.append(client.short_name)
                if dry_run:
                    continue
                say(f"{manager.name}: {client.short_name}")
                report = data.renewal_report(tenant, client_id, first, last)
                attachments.append(
                    Attachment(render.filename(report, "pdf"), "application/pdf", render.pdf(report))
                )
        if dry_run:
            entry.status = "dry run"
            continue
        message = replace(
            _message(dealer_code, manager.cabinet_id, manager.name, entry.clients, first, last, public_url),
            attachments=tuple(attachments),
        )
        with db.write() as s:
            enqueued = outbox.enqueue(
                s,
                message,
                cabinet_id=manager.cabinet_id,
                dedup_key=dedup_key(month, manager.id),
                recipients=[Recipient("email", e, via="manager") for e in emails],
                now=now,
            )
        entry.notification_id = enqueued.notification_id
        entry.status = "queued" if enqueued.created else "already sent"
    return result


def _message(
    dealer_code: str,
    cabinet_id: int,
    manager: str,
    clients: list[str],
    first: date,
    last: date,
    public_url: str,
) -> Message:
    period = f"{data.month_label(first)} — {data.month_label(last)}"
    lines = [
        f"{manager}, добрый день!",
        "",
        f"Во вложении — данные для пролонгации ваших клиентов за период {period} (PDF, по файлу на клиента):",
        *(f"• {name}" for name in clients),
        "",
        "Отчёт показывает использование системы по месяцам: вовлечённость, активность, документы, "
        "отказы из-за нехватки рабочих мест, пустые поиски и доступность сервера — материал для "
        "разговора с ЛПР.",
    ]
    links: tuple[Link, ...] = ()
    if public_url:
        links = (Link("Отчёты в кабинете SMART", f"{public_url.rstrip('/')}/c/{cabinet_id}/reports"),)
    return Message(
        category=CATEGORY,
        rule=RULE,
        dealer_code=dealer_code,
        client=None,
        subject=f"Данные для пролонгации за {period}: {len(clients)} клиент(ов)",
        text="\n".join(lines),
        links=links,
    )


def due_month(now: datetime, delivery_day: int) -> date | None:
    """The month to deliver at ``now``: the previous month, from the delivery day of this one."""
    local = (now + DELIVERY_OFFSET).date()
    if local.day < delivery_day:
        return None
    return data.add_months(local.replace(day=1), -1)


def report_jobs(services: Services) -> list[Job]:
    """The hourly check that delivers the previous month's reports once the delivery day has come."""
    settings = services.settings
    if not settings.reports_delivery:
        return []

    def run() -> None:
        month = due_month(utcnow(), settings.reports_delivery_day)
        if month is None:
            return
        result = deliver(
            services.db, month, months=settings.reports_months, public_url=settings.effective_public_url
        )
        if result.queued:
            log.info("renewal reports of %s queued for %d manager(s)", f"{month:%Y-%m}", result.queued)
            from kodeks_smart.notify import worker

            worker.wake(services)

    async def job() -> None:
        await asyncio.to_thread(run)

    return [Job("reports-delivery", job, interval=3600, timeout=3000, singleton=True)]
