"""The forwarding worker: drains the ASRP queue.

One run (`forward_due`):
1. pick the due rows of enabled forwarders and claim each (`queue.claim`; rows another worker took are
   skipped);
2. for each claimed row load the raw report, the placeholder values and the dealer's forwarder, and send;
3. record the outcome right after the send (`queue.finish`): accepted / duplicate with the server's
   answer, upload number and id; a retryable error puts the row back with exponential backoff (the
   notification outbox's `backoff_delay`), until the first failure is older than the give-up age, when it
   becomes ``failed`` like a permanent error. The raw file is read from ``SMART_DATA_DIR``; one removed by
   retention fails the row permanently.
The send is synchronous (httpx) and runs in a worker thread of the scheduler job.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kodeks_smart.asrp import configure, queue
from kodeks_smart.asrp.forwarders import Answer, Forwarder, ForwardError, Report
from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.ingest.spool import read_raw
from kodeks_smart.lib.secrets import SecretBox, SecretKeyError
from kodeks_smart.notify.outbox import backoff_delay
from kodeks_smart.scheduler import Job
from kodeks_smart.store.asrp_models import AsrpForward, AsrpForwarder
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Dealer
from kodeks_smart.store.types import utcnow

if TYPE_CHECKING:
    from kodeks_smart.runtime import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForwardConfig:
    data_dir: Path
    retry_base: float = 30.0
    retry_cap: float = 3600.0
    give_up_after: timedelta = timedelta(hours=72)
    allow_private: bool = False
    folder_root: str = ""
    batch: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> ForwardConfig:
        if settings.asrp_retry_max_delay < 30:
            raise ConfigError("SMART_ASRP_RETRY_MAX_DELAY: at least 30 seconds")
        if settings.asrp_give_up_hours <= 0:
            raise ConfigError("SMART_ASRP_GIVE_UP_HOURS: must be positive")
        return cls(
            data_dir=settings.data_path,
            retry_cap=settings.asrp_retry_max_delay,
            give_up_after=timedelta(hours=settings.asrp_give_up_hours),
            allow_private=settings.asrp_allow_private,
            folder_root=settings.asrp_folder_root,
        )


@dataclass(frozen=True)
class _Work:
    forwarder: Forwarder
    report: Report
    first_failed_at: datetime | None
    attempts: int


def report_values(dealer: Dealer, upload: Upload, client: str, regnum: str | None) -> dict[str, str]:
    return {
        "client": client,
        "dealer": dealer.code,
        "regnum": regnum or "",
        "upload_id": str(upload.id),
        "sha256": upload.sha256,
        "filename": upload.filename,
        "received": upload.received_at.strftime("%Y%m%d%H%M%S"),
    }


class ForwardWorker:
    def __init__(self, db: Database, box: SecretBox, config: ForwardConfig, rng: random.Random | None = None):
        self.db = db
        self.box = box
        self.config = config
        self.rng = rng or random.Random()

    def forward_due(self, now: datetime | None = None) -> int:
        """One run (steps 1–3); returns how many rows were sent (whatever the outcome)."""
        now = now or utcnow()
        with self.db.session() as s:
            ids = queue.due_ids(s, now, self.config.batch)
        done = 0
        for forward_id in ids:
            token = queue.claim(self.db, forward_id, now)
            if token is None:
                continue
            self._forward(forward_id, token, now)
            done += 1
        return done

    def run_until_idle(self, now: datetime | None = None, max_runs: int = 100) -> int:
        total = 0
        for _ in range(max_runs):
            n = self.forward_due(now)
            total += n
            if n == 0:
                break
        return total

    def _load(self, forward_id: int) -> _Work:
        with self.db.session() as s:
            row = s.get(AsrpForward, forward_id)
            assert row is not None
            forwarder = s.get(AsrpForwarder, row.forwarder_id)
            upload = s.get(Upload, row.upload_id)
            dealer = s.get(Dealer, row.dealer_id)
            assert forwarder is not None and upload is not None and dealer is not None
            if upload.raw_path is None:
                raise ForwardError("исходный файл отчёта больше не хранится", permanent=True)
            values = report_values(dealer, upload, row.client_name, row.regnum)
            built = configure.build(
                forwarder,
                self.box,
                folder_root=self.config.folder_root,
                allow_private=self.config.allow_private,
            )
            raw_path, filename = upload.raw_path, upload.filename
            first_failed_at, attempts = row.first_failed_at, row.attempts
        try:
            data = read_raw(self.config.data_dir, raw_path)
        except FileNotFoundError:
            raise ForwardError("исходный файл отчёта больше не хранится", permanent=True) from None
        return _Work(built, Report(data, filename, values), first_failed_at, attempts)

    def _forward(self, forward_id: int, token: str, now: datetime) -> None:
        started = time.monotonic()
        values: dict[str, Any]
        first_failed_at: datetime | None = None
        attempts = 0
        try:
            work = self._load(forward_id)
            first_failed_at, attempts = work.first_failed_at, work.attempts
            answer = work.forwarder.send(work.report)
            values = self._success(answer)
        except ForwardError as exc:
            values = self._failure(exc, now, first_failed_at, attempts)
        except SecretKeyError:
            values = self._failure(
                ForwardError("сохранённый секрет не расшифровывается текущим ключом: задайте его заново"),
                now,
                first_failed_at,
                attempts,
            )
        except Exception as exc:  # one broken row must not stop the queue
            log.exception("ASRP forward %s failed", forward_id)
            values = self._failure(
                ForwardError(f"внутренняя ошибка: {type(exc).__name__}"), now, first_failed_at, attempts
            )
        values.update(attempts=attempts + 1, last_attempt_at=now)
        values["details"] = {"duration": round(time.monotonic() - started, 3)}
        if not queue.finish(self.db, forward_id, token, values):
            log.warning("ASRP forward %s: claim lost, outcome not recorded", forward_id)

    @staticmethod
    def _success(answer: Answer) -> dict[str, Any]:
        return {
            "state": answer.outcome,
            "finished_at": utcnow(),
            "http_status": answer.status,
            "answer": answer.answer,
            "upload_number": answer.number,
            "ident": answer.ident,
            "last_error": None,
        }

    def _failure(
        self, exc: ForwardError, now: datetime, first_failed_at: datetime | None, attempts: int
    ) -> dict[str, Any]:
        first = first_failed_at or now
        values: dict[str, Any] = {
            "http_status": exc.status,
            "answer": exc.answer,
            "last_error": exc.message[:2000],
            "first_failed_at": first,
        }
        if exc.permanent or now - first >= self.config.give_up_after:
            values.update(state="failed", finished_at=now)
        else:
            delay = backoff_delay(
                attempts + 1, base=self.config.retry_base, cap=self.config.retry_cap, rng=self.rng
            )
            values.update(state="pending", next_attempt_at=now + timedelta(seconds=delay))
        return values


def asrp_jobs(services: Services) -> list[Job]:
    """The forwarding job: drains the queue every ``SMART_ASRP_INTERVAL`` seconds."""
    import asyncio

    worker = ForwardWorker(services.db, services.box, ForwardConfig.from_settings(services.settings))

    async def forward() -> None:
        await asyncio.to_thread(worker.run_until_idle)

    return [Job("asrp-forward", forward, interval=services.settings.asrp_interval, timeout=1800)]
