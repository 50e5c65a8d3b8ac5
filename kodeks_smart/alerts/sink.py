"""The hand-off from the alert pipeline to the notification outbox, and the evaluation job.

A grouped notification goes to two kinds of targets:
* the cabinet's routes for the rule's category (mailboxes, Telegram chats, webhooks) get the whole group;
* each client's manager gets the alerts of his own clients — unless his address is already one of the
  cabinet's routes, in which case the whole group reaches him once and nothing more.
Everything is stored in the dispatcher's transaction; `wake` is called after the commit.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from kodeks_smart.alerts.dispatch import Dispatcher, Notification
from kodeks_smart.alerts.engine import Evaluator
from kodeks_smart.alerts.render import AlertLine, render
from kodeks_smart.alerts.rules import evaluator as rules_evaluator
from kodeks_smart.notify import outbox, worker
from kodeks_smart.notify.base import Link, Message
from kodeks_smart.notify.routing import Recipient, route
from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Job
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.models import Cabinet, Client, Dealer, Manager


def _lines(notification: Notification, names: dict[int, str]) -> list[AlertLine]:
    if notification.rule.is_count:
        objects = [str(o) for a in notification.alerts for o in (a.labels or {}).get("objects", [])]
        return [AlertLine("", o) for o in objects]
    return [
        AlertLine(names.get(a.client_id or 0, str((a.labels or {}).get("client", ""))), a.summary)
        for a in notification.alerts
    ]


class OutboxSink:
    def __init__(self, public_url: str) -> None:
        self.public_url = public_url
        self.enqueued = 0

    def _message(
        self,
        notification: Notification,
        alerts: list[AlertState],
        dealer: Dealer,
        cabinet: Cabinet,
        names: dict[int, str],
    ) -> Message:
        part = Notification(
            notification.kind,
            notification.rule,
            notification.dealer_id,
            notification.cabinet_id,
            alerts,
            notification.repeat,
        )
        lines = _lines(part, names)
        texts = render(
            spec=notification.rule,
            kind=notification.kind,
            dealer_code=dealer.code,
            lines=lines,
            public_url=self.public_url,
            cabinet_name=cabinet.name,
            repeat=notification.repeat,
        )
        clients = sorted({line.client for line in lines if line.client})
        return Message(
            category=notification.rule.category,
            rule=notification.rule.name,
            dealer_code=dealer.code,
            client=clients[0] if len(clients) == 1 else None,
            subject=texts.subject,
            text=texts.text,
            html=texts.html,
            telegram_html=texts.telegram_html,
            links=(
                Link(
                    notification.rule.name,
                    f"{self.public_url.rstrip('/')}/docs/alerts/{notification.rule.name}",
                ),
            ),
        )

    def enqueue(self, session: Session, notification: Notification, now: datetime) -> None:
        cabinet = session.get(Cabinet, notification.cabinet_id)
        dealer = session.get(Dealer, notification.dealer_id)
        assert cabinet is not None and dealer is not None
        client_ids = sorted({a.client_id for a in notification.alerts if a.client_id is not None})
        clients = {c.id: c for c in (session.get(Client, cid) for cid in client_ids) if c is not None}
        names = {cid: c.short_name for cid, c in clients.items()}
        ident = hashlib.sha256(",".join(str(a.id) for a in notification.alerts).encode()).hexdigest()[:16]
        base_key = (
            f"alert:{notification.kind}:{notification.rule.name}:{cabinet.id}:{now.isoformat()}:{ident}"
        )

        routes = route(session, cabinet.id, notification.rule.category)
        covered = {r.key for r in routes if r.channel == "email"}
        if routes:
            message = self._message(notification, notification.alerts, dealer, cabinet, names)
            outbox.enqueue(
                session, message, cabinet_id=cabinet.id, dedup_key=base_key, recipients=routes, now=now
            )
            self.enqueued += 1
        by_manager: dict[int, list[AlertState]] = defaultdict(list)
        for alert in notification.alerts:
            client = clients.get(alert.client_id or 0)
            if client is not None and client.manager_id is not None:
                by_manager[client.manager_id].append(alert)
        for manager_id, alerts in sorted(by_manager.items()):
            manager = session.get(Manager, manager_id)
            if manager is None:
                continue
            targets = [
                Recipient("email", address.strip(), via=f"менеджер {manager.name}")
                for address in manager.emails or []
                if address.strip() and address.strip().lower() not in covered
            ]
            if not targets:
                continue
            message = self._message(notification, alerts, dealer, cabinet, names)
            outbox.enqueue(
                session,
                message,
                cabinet_id=cabinet.id,
                dedup_key=f"{base_key}:m{manager_id}",
                recipients=targets,
                now=now,
            )
            self.enqueued += 1


def evaluate_and_dispatch(services: Services, now: datetime, evaluator: Evaluator | None = None) -> int:
    """One alert cycle in one transaction; returns the number of notifications stored.

    Pass the same ``evaluator`` from cycle to cycle for incremental evaluation (see `Evaluator`); without one
    the cycle is a full pass."""
    sink = OutboxSink(services.settings.effective_public_url)
    if evaluator is None:
        evaluator = rules_evaluator(services.settings.alert_full_interval)
    try:
        with services.db.write() as session:
            evaluator.run(session, now)
            Dispatcher(sink).run(session, now)
    except BaseException:
        evaluator.reset()  # its watermark moved in a transaction that was not committed
        raise
    if sink.enqueued:
        worker.wake(services)
    return sink.enqueued


def alert_jobs(services: Services) -> list[Job]:
    from kodeks_smart.store.types import utcnow

    evaluator = rules_evaluator(services.settings.alert_full_interval)

    async def evaluate() -> None:
        await asyncio.to_thread(evaluate_and_dispatch, services, utcnow(), evaluator)

    return [
        Job(
            "alerts-evaluate",
            evaluate,
            interval=services.settings.alert_interval,
            timeout=120,
            jitter=0.05,
            singleton=True,
        )
    ]
