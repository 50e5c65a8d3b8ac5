"""The delivery worker: the scheduler job that drains the outbox.

One run (`DeliveryWorker.run_once`):
1. pick the due rows and claim each with the outbox's conditional UPDATE (rows another worker took
   are skipped);
2. sort the claimed rows into lanes, one per target, kept in enqueue order; lanes run concurrently
   (at most ``concurrency`` at a time), the rows of one lane one after another, so messages to one
   chat or address go out in order and the Telegram per-chat limit is waited out in one place;
3. for each row load the credentials (SMTP relay, bot token, webhook secret), send through the channel,
   and record the attempt and the new state (`outbox.finish`) right after the send.
`serve` repeats runs for the length of one scheduler job, sleeping until the next row is due or until
`wake` is called — the alert engine calls `wake(services)` after committing new notifications, so
they go out at once instead of at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import ssl
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import IntegrityError

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.lib.aio import set_event_threadsafe
from kodeks_smart.lib.secrets import SecretBox, SecretKeyError
from kodeks_smart.notify import outbox
from kodeks_smart.notify.base import Channel, Clock, DeliveryError, Message, RateLimited, SystemClock
from kodeks_smart.notify.email import EmailChannel, MailTarget, RelayConfig, build_digest, make_message_id
from kodeks_smart.notify.metrics import NotifyMetrics, metrics_for
from kodeks_smart.notify.outbox import Outcome, Work
from kodeks_smart.notify.telegram import DEFAULT_API_URL, ChatTarget, TelegramChannel, TelegramLimits
from kodeks_smart.notify.webhook import WebhookChannel, WebhookTarget
from kodeks_smart.scheduler import Job
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import TelegramChat
from kodeks_smart.store.notify_models import OutboxItem, WebhookEndpoint

if TYPE_CHECKING:
    from kodeks_smart.runtime import Services

log = logging.getLogger(__name__)

#: Length of one scheduler run of the delivery job; the job is rescheduled right after it. Short, because
#: on SIGTERM the scheduler waits for the run in flight: a stop takes at most this long (plus a send).
RUN_SECONDS = 10.0
#: The scheduler's timeout for one run: the run itself plus sends still in flight at its end.
JOB_TIMEOUT = RUN_SECONDS + 300.0


@dataclass(frozen=True)
class DeliveryConfig:
    retry_base: float = outbox.RETRY_BASE_SECONDS
    retry_cap: float = 3600.0
    give_up_after: timedelta = timedelta(hours=48)
    digest_interval: timedelta = timedelta(hours=1)
    lease: timedelta = outbox.DEFAULT_LEASE
    telegram_api_url: str = DEFAULT_API_URL
    smtp_ca_file: str = ""
    batch: int = 100
    concurrency: int = 8
    keep: timedelta = timedelta(days=90)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        """The worker's configuration; raises ConfigError naming the setting that is out of range."""
        if settings.notify_retry_max_delay < outbox.RETRY_BASE_SECONDS:
            raise ConfigError(f"SMART_NOTIFY_RETRY_MAX_DELAY: at least {outbox.RETRY_BASE_SECONDS:g} seconds")
        if settings.notify_give_up_hours <= 0:
            raise ConfigError("SMART_NOTIFY_GIVE_UP_HOURS: must be positive")
        if settings.notify_digest_interval <= 0:
            raise ConfigError("SMART_NOTIFY_DIGEST_INTERVAL: must be positive")
        if settings.notify_keep_days < 1:
            raise ConfigError("SMART_NOTIFY_KEEP_DAYS: at least 1")
        if not settings.notify_telegram_api_url.startswith(("http://", "https://")):
            raise ConfigError("SMART_NOTIFY_TELEGRAM_API_URL: expected an http:// or https:// URL")
        if settings.notify_smtp_ca_file and not os.path.isfile(settings.notify_smtp_ca_file):
            raise ConfigError(
                f"SMART_NOTIFY_SMTP_CA_FILE: file {settings.notify_smtp_ca_file} does not exist"
            )
        return cls(
            retry_cap=settings.notify_retry_max_delay,
            give_up_after=timedelta(hours=settings.notify_give_up_hours),
            digest_interval=timedelta(seconds=settings.notify_digest_interval),
            telegram_api_url=settings.notify_telegram_api_url,
            smtp_ca_file=settings.notify_smtp_ca_file,
            keep=timedelta(days=settings.notify_keep_days),
        )


@dataclass
class _Channels:
    """The channel of each kind for one run (typed by the protocol, so each class is checked against it)."""

    email: Channel[MailTarget]
    telegram: Channel[ChatTarget]
    webhook: Channel[WebhookTarget]


@dataclass
class _Result:
    outcome: Outcome
    error: str | None = None
    next_attempt_at: datetime | None = None
    parts_sent: int | None = None
    group: tuple[int, ...] = ()
    #: The outbox already has the row's new state (held for a digest): record nothing.
    settled: bool = False


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        config: DeliveryConfig | None = None,
        *,
        metrics: NotifyMetrics | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        name: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.db = db
        self.box = box
        self.config = config or DeliveryConfig()
        self.metrics = metrics
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        if tls_context is None and self.config.smtp_ca_file:
            tls_context = ssl.create_default_context(cafile=self.config.smtp_ca_file)
        self.tls_context = tls_context
        #: Telegram buckets live as long as the worker, across runs.
        self.limits = TelegramLimits(self.clock)
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_requested = False
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._last_purge: float | None = None
        self._stopping = False

    # -- waking ------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Start a run now instead of at the next due time; safe to call from any thread."""
        with self._lock:
            self._wake_requested = True
            loop, event = self._loop, self._event
        set_event_threadsafe(loop, event)

    def stop(self) -> None:
        """Shutting down: the current `serve` returns after the sends in flight, later ones at once."""
        with self._lock:
            self._stopping = True
        self.wake()

    # -- running -----------------------------------------------------------------------------------

    async def serve(self, seconds: float) -> None:
        """Deliver for about ``seconds``: runs back to back while rows are due, else sleep until one is
        due, `wake` is called, or the time is up."""
        event = asyncio.Event()
        with self._lock:
            self._loop, self._event = asyncio.get_running_loop(), event
        end = self.clock.monotonic() + seconds
        try:
            while not self._stopping:
                with self._lock:
                    self._wake_requested = False
                event.clear()
                self._deadline = end
                await self.run_until_idle()
                await self._maybe_purge()
                left = end - self.clock.monotonic()
                if left <= 0 or self._stopping:
                    return
                next_due = await asyncio.to_thread(self._seconds_to_next_due)
                timeout = left if next_due is None else min(left, max(next_due, 0.05))
                with self._lock:
                    if self._wake_requested:
                        continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=timeout)
        finally:
            self._deadline = None
            with self._lock:
                self._loop, self._event = None, None

    async def run_until_idle(self, max_runs: int = 1000) -> int:
        """Run until no row is due (or ``max_runs``); returns the number of rows handled."""
        total = 0
        for _ in range(max_runs):
            handled = await self.run_once()
            total += handled
            if handled == 0 or self._past_deadline():
                break
        return total

    async def run_once(self, ids: Sequence[int] | None = None) -> int:
        """Claim the due rows (``ids``: only among these) and deliver them; returns how many were claimed."""
        now = self.clock.now()
        candidates = await asyncio.to_thread(self._due, now, ids)
        claimed = [
            i
            for i in candidates
            if await asyncio.to_thread(
                outbox.claim, self.db, i, now=now, worker=self.name, lease=self.config.lease
            )
        ]
        if not claimed:
            return 0
        work = await asyncio.to_thread(self._load, claimed)
        lanes: dict[tuple[str, str], list[Work]] = {}
        for w in work:
            lanes.setdefault((w.channel, w.target_key), []).append(w)
        slots = asyncio.Semaphore(self.config.concurrency)
        async with httpx.AsyncClient() as http:
            channels = _Channels(
                email=EmailChannel(tls_context=self.tls_context),
                telegram=TelegramChannel(http, self.limits, api_url=self.config.telegram_api_url),
                webhook=WebhookChannel(http, clock=self.clock),
            )

            async def lane(rows: list[Work]) -> None:
                carried: set[int] = set()  # rows a digest of this lane already delivered
                async with slots:
                    for i, w in enumerate(rows):
                        if w.id in carried:
                            continue
                        if self._past_deadline():
                            await asyncio.to_thread(
                                self._put_back, [r for r in rows[i:] if r.id not in carried]
                            )
                            return
                        carried.update(await self._deliver(w, channels))

            await asyncio.gather(*(lane(rows) for rows in lanes.values()))
        return len(claimed)

    def _past_deadline(self) -> bool:
        return self._stopping or (self._deadline is not None and self.clock.monotonic() >= self._deadline)

    def _due(self, now: datetime, ids: Sequence[int] | None) -> list[int]:
        with self.db.session() as s:
            return outbox.due_ids(s, now, self.config.batch, ids)

    def _load(self, ids: Sequence[int]) -> list[Work]:
        with self.db.session() as s:
            return outbox.load_work(s, ids)

    def _seconds_to_next_due(self) -> float | None:
        with self.db.session() as s:
            return outbox.seconds_to_next_due(s, self.clock.now())

    def _put_back(self, rows: Sequence[Work]) -> None:
        now = self.clock.now()
        for w in rows:
            outbox.finish(self.db, w.id, "deferred", worker=self.name, now=now, started_at=now, duration=0.0)

    async def _maybe_purge(self) -> None:
        now = self.clock.monotonic()
        if self._last_purge is not None and now - self._last_purge < 3600:
            return
        self._last_purge = now

        def purge() -> int:
            with self.db.write() as s:
                return outbox.purge(s, self.clock.now() - self.config.keep)

        removed = await asyncio.to_thread(purge)
        if removed:
            log.info("outbox: removed %d finished rows older than %s", removed, self.config.keep)

    # -- one row -----------------------------------------------------------------------------------

    async def _deliver(self, work: Work, channels: _Channels) -> tuple[int, ...]:
        """Send one claimed row and record the outcome; returns the other rows a digest carried with it."""
        started_at = self.clock.now()
        t0 = self.clock.monotonic()
        usage: tuple[int, datetime] | None = None
        result: _Result
        try:
            if work.channel == "email":
                result, usage = await self._send_email(work, channels.email)
            elif work.channel == "telegram":
                result = await self._send_telegram(work, channels.telegram)
            else:
                result = await self._send_webhook(work, channels.webhook)
        except Exception as exc:  # a bug or an unforeseen error must not stop the other rows
            log.exception("outbox row %d: unexpected error", work.id)
            result = self._after_error(work, DeliveryError(f"внутренняя ошибка: {type(exc).__name__}: {exc}"))
        duration = self.clock.monotonic() - t0
        if result.settled:
            return ()
        if usage is not None and result.outcome != "sent":
            await asyncio.to_thread(outbox.release_usage, self.db, *usage)
        await asyncio.to_thread(self._record, work, result, started_at, duration)
        return result.group

    def _record(self, work: Work, result: _Result, started_at: datetime, duration: float) -> None:
        now = self.clock.now()
        for outbox_id in (work.id, *result.group):
            outbox.finish(
                self.db,
                outbox_id,
                result.outcome,
                worker=self.name,
                now=now,
                started_at=started_at,
                duration=duration,
                error=result.error,
                next_attempt_at=result.next_attempt_at,
                parts_sent=result.parts_sent if outbox_id == work.id else None,
                digest_id=work.id if result.group else None,
            )
        if self.metrics is not None:
            count = 1 + len(result.group)
            counter = {
                "sent": self.metrics.sent,
                "retry": self.metrics.retries,
                "failed": self.metrics.failed,
                "deferred": self.metrics.deferred,
            }[result.outcome]
            counter.labels(work.channel).inc(count)
            if result.outcome != "deferred":
                self.metrics.duration.labels(work.channel).observe(duration)
        if result.outcome in ("retry", "failed"):
            log.warning(
                "outbox row %d (%s → %s): %s",
                work.id,
                work.channel,
                work.target,
                result.error,
                extra={"outbox_id": work.id, "channel": work.channel, "outcome": result.outcome},
            )

    def _after_error(self, work: Work, exc: DeliveryError, *, parts_sent: int | None = None) -> _Result:
        """Turn an error into the row's next state: put back, retry later, or give up."""
        now = self.clock.now()
        if isinstance(exc, RateLimited):
            return _Result(
                "deferred",
                next_attempt_at=now + timedelta(seconds=exc.retry_after or 1.0),
                parts_sent=parts_sent,
            )
        if exc.permanent:
            return _Result("failed", exc.message, parts_sent=parts_sent)
        limit = outbox.deadline(work, self.config.give_up_after)
        if now >= limit:
            hours = (limit - work.created_at).total_seconds() / 3600
            return _Result("failed", f"не доставлено за {hours:g} ч: {exc.message}", parts_sent=parts_sent)
        if exc.retry_after is not None:
            delay = exc.retry_after
        else:
            delay = outbox.backoff_delay(
                work.attempts + 1, base=self.config.retry_base, cap=self.config.retry_cap, rng=self.rng
            )
        return _Result(
            "retry",
            exc.message,
            next_attempt_at=min(now + timedelta(seconds=delay), limit),
            parts_sent=parts_sent,
        )

    # -- channels ----------------------------------------------------------------------------------

    async def _send_email(
        self, work: Work, channel: Channel[MailTarget]
    ) -> tuple[_Result, tuple[int, datetime] | None]:
        try:
            relay = await asyncio.to_thread(self._relay, work.dealer_id)
        except DeliveryError as exc:
            return self._after_error(work, exc), None
        plan = await asyncio.to_thread(
            outbox.plan_email,
            self.db,
            work,
            relay,
            now=self.clock.now(),
            worker=self.name,
            digest_interval=self.config.digest_interval,
            lease=self.config.lease,
        )
        if plan.action == "hold":
            if self.metrics is not None:
                self.metrics.deferred.labels("email").inc()
            return _Result("deferred", settled=True), None
        usage = (relay.id, plan.usage_hour) if relay.id is not None and plan.usage_hour is not None else None
        try:
            message: Message = work.message
            key = work.idempotency_key
            if plan.group:
                others = await asyncio.to_thread(self._load, plan.group)
                message = build_digest(
                    [work.message, *(o.message for o in others)], dealer_code=work.message.dealer_code
                )
                key += "-digest"
            target = MailTarget(work.target, relay, make_message_id(key, relay.sender), date=self.clock.now())
            await channel.send(message, target)
        except Exception as exc:  # the counted message and the digest's rows must be given back
            if not isinstance(exc, DeliveryError):
                log.exception("outbox row %d: unexpected error", work.id)
                exc = DeliveryError(f"внутренняя ошибка: {type(exc).__name__}: {exc}")
            result = self._after_error(work, exc)
            result.group = plan.group
            return result, usage
        return _Result("sent", group=plan.group), usage

    def _relay(self, dealer_id: int) -> RelayConfig:
        with self.db.session() as s:
            row = outbox.relay_for(s, dealer_id)
            if row is None:
                raise DeliveryError("не настроен SMTP-сервер: ни у дистрибьютора, ни сервер по умолчанию")
            try:
                password = self.box.decrypt(row.password_enc) if row.password_enc else None
            except SecretKeyError:
                raise DeliveryError(
                    f"пароль SMTP-сервера {row.host} не расшифровывается текущим ключом SMART"
                ) from None
            return RelayConfig(
                id=row.id,
                host=row.host,
                port=row.port,
                security=row.security,
                username=row.username,
                password=password,
                sender=row.sender,
                daily_limit=row.daily_limit,
            )

    async def _send_telegram(self, work: Work, channel: Channel[ChatTarget]) -> _Result:
        try:
            target = await asyncio.to_thread(self._chat, work)
        except DeliveryError as exc:
            return self._after_error(work, exc)
        try:
            await channel.send(work.message, target)
        except DeliveryError as exc:
            return self._after_error(work, exc, parts_sent=target.parts_sent)
        finally:
            if target.migrated_to is not None:
                await asyncio.to_thread(self._migrate_chat, work, target.migrated_to)
        return _Result("sent", parts_sent=target.parts_sent)

    def _chat(self, work: Work) -> ChatTarget:
        with self.db.session() as s:
            chat = s.get(TelegramChat, work.ref_id) if work.ref_id is not None else None
            if chat is None or chat.cabinet_id != work.cabinet_id:
                raise DeliveryError("чат Telegram удалён из настроек кабинета", permanent=True)
            try:
                token = self.box.decrypt(chat.bot_token_enc)
            except SecretKeyError:
                raise DeliveryError("токен бота не расшифровывается текущим ключом SMART") from None
            return ChatTarget(chat.chat_id, token, parts_sent=work.parts_sent)

    def _migrate_chat(self, work: Work, new_chat_id: str) -> None:
        """The group became a supergroup: store its new id in the cabinet's chat and in the row."""
        try:
            with self.db.write() as s:
                chat = s.get(TelegramChat, work.ref_id)
                if chat is not None:
                    chat.chat_id = new_chat_id
                item = s.get(OutboxItem, work.id)
                if item is not None:
                    item.target = new_chat_id
        except IntegrityError:
            log.warning(
                "telegram chat %s moved to %s, which the cabinet already has", work.target, new_chat_id
            )
        else:
            log.info("telegram chat %s is now %s", work.target, new_chat_id)

    async def _send_webhook(self, work: Work, channel: Channel[WebhookTarget]) -> _Result:
        try:
            target = await asyncio.to_thread(self._endpoint, work)
            await channel.send(work.message, target)
        except DeliveryError as exc:
            return self._after_error(work, exc)
        return _Result("sent")

    def _endpoint(self, work: Work) -> WebhookTarget:
        with self.db.session() as s:
            endpoint = s.get(WebhookEndpoint, work.ref_id) if work.ref_id is not None else None
            if endpoint is None or endpoint.cabinet_id != work.cabinet_id:
                raise DeliveryError("вебхук удалён из настроек кабинета", permanent=True)
            if not endpoint.enabled:
                raise DeliveryError("вебхук отключён в настройках кабинета", permanent=True)
            try:
                secret = self.box.decrypt(endpoint.secret_enc) if endpoint.secret_enc else None
            except SecretKeyError:
                raise DeliveryError("секрет вебхука не расшифровывается текущим ключом SMART") from None
            return WebhookTarget(
                endpoint.url,
                secret,
                work.idempotency_key,
                notification_id=work.notification_id,
                created_at=work.created_at,
            )


# -- the process's worker -------------------------------------------------------------------------

# One worker per `Services`, keyed by its metrics registry: unlike the database, which the worker holds,
# nothing in the worker refers back to the registry, so the entry goes away with the Services.
_WORKERS: weakref.WeakKeyDictionary[CollectorRegistry, DeliveryWorker] = weakref.WeakKeyDictionary()


def worker_for(services: Services) -> DeliveryWorker:
    """The delivery worker of a process's `Services`, created (with its metrics) on first use."""
    worker = _WORKERS.get(services.registry)
    if worker is None:
        worker = DeliveryWorker(
            services.db,
            services.box,
            DeliveryConfig.from_settings(services.settings),
            metrics=metrics_for(services.registry, services.db),
        )
        _WORKERS[services.registry] = worker
    return worker


def wake(services: Services) -> None:
    """Tell this process's delivery worker that new notifications are waiting (no-op without one)."""
    worker = _WORKERS.get(services.registry)
    if worker is not None:
        worker.wake()


def stop(services: Services) -> None:
    """Let this process's delivery worker finish promptly at shutdown (call before the scheduler stops)."""
    worker = _WORKERS.get(services.registry)
    if worker is not None:
        worker.stop()


def notify_jobs(services: Services) -> list[Job]:
    """The delivery job: each run delivers for `RUN_SECONDS` and is rescheduled at once (no jitter)."""
    worker = worker_for(services)

    async def deliver() -> None:
        await worker.serve(RUN_SECONDS)

    return [
        Job(
            "notify-delivery",
            deliver,
            interval=RUN_SECONDS,
            timeout=JOB_TIMEOUT,
            jitter=0.0,
            run_at_start=True,
        )
    ]
