"""Alert pipeline benchmark: evaluation CPU per cycle and state-change-to-SMTP latency.

    .venv/bin/python bench/alerts.py [--installations 10000] [--changes 40] [--group-wait 5]
                                     [--database-url postgresql://…]

1. builds a store with N internet installations in 10 cabinets, each with an `ok` result for the `tcp` and
   `limit` checks, a mailbox per cabinet taking the `technical` category, and an SMTP relay pointing at a
   local aiosmtpd sink;
2. runs the full evaluation (every rule's condition + lifecycle + dispatch) over the unchanged store several
   times and reports the CPU time per cycle;
3. switches the `limit` check of `--changes` installations to `fail` one after another (a new one every
   0.25 s), while the service loop runs as in `smart serve` (evaluation every second, delivery woken after
   each dispatch); for every change it measures the time until the SMTP server accepted a message naming
   that installation's client, and reports p50 / p99 (`KodeksLimitsUsers` has `for` = 0, so the latency is
   the group window plus the pipeline's own delay).
Numbers are measured, never assumed; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import insert, update

from kodeks_smart.alerts.dispatch import Dispatcher
from kodeks_smart.alerts.engine import Evaluator
from kodeks_smart.alerts.rules import all_conditions
from kodeks_smart.alerts.sink import OutboxSink
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify.worker import DeliveryWorker
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Installation, SmtpRelay
from kodeks_smart.store.probe_models import ProbeCheck
from kodeks_smart.store.types import utcnow

CABINETS = 10


class Sink:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        text = bytes(envelope.content).decode("utf-8", "replace")
        with self.lock:
            self.arrivals.append((time.monotonic(), text))
        return "250 OK"


def build_store(db: Database, box: SecretBox, n: int, smtp_port: int, failing: int) -> list[tuple[int, str]]:
    """Step 1; returns (installation id, client short name) for every installation."""
    migrate.upgrade(db)
    now = utcnow()
    with db.write() as s:
        dealer, _ = admin.add_dealer(s, "0599BENCH", "Бенчмарк")
        cabinets = [admin.add_cabinet(s, dealer.code, f"Филиал {i}") for i in range(CABINETS)]
        for cabinet in cabinets:
            admin.add_mailbox(s, cabinet, f"support-{cabinet.id}@bench.local", ["technical"])
        s.add(
            SmtpRelay(
                dealer_id=None, host="127.0.0.1", port=smtp_port, security="plain", sender="smart@bench"
            )
        )
        s.flush()
        clients, installations, checks = [], [], []
        for i in range(n):
            cabinet = cabinets[i % CABINETS]
            cid = i + 1
            clients.append(
                {
                    "id": cid,
                    "dealer_id": dealer.id,
                    "cabinet_id": cabinet.id,
                    "short_name": f"c{i:05d}",
                    "display_name": f"Клиент {i}",
                    "created_at": now,
                }
            )
            installations.append(
                {
                    "id": cid,
                    "dealer_id": dealer.id,
                    "cabinet_id": cabinet.id,
                    "client_id": cid,
                    "kind": "internet",
                    "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:80",
                    "protocol": "http",
                    "ping": True,
                    "tz_offset_minutes": 180,
                    "created_at": now,
                    "pull": False,
                }
            )
            for check in ("tcp", "limit"):
                checks.append(
                    {
                        "dealer_id": dealer.id,
                        "cabinet_id": cabinet.id,
                        "installation_id": cid,
                        "check_name": check,
                        "status": "fail"
                        if check == "tcp" and i % max(1, n // max(failing, 1)) == 1 and failing
                        else "ok",
                        "since": now,
                        "checked_at": now,
                        "value": "",
                        "detail": "",
                    }
                )
        for table, rows in ((Client, clients), (Installation, installations), (ProbeCheck, checks)):
            for start in range(0, len(rows), 2000):
                s.execute(insert(table), rows[start : start + 2000])
    return [(c["id"], c["short_name"]) for c in clients]


def cycle(db: Database, evaluator: Evaluator, dispatcher: Dispatcher) -> None:
    with db.write() as s:
        now = utcnow()
        evaluator.run(s, now)
        dispatcher.run(s, now)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency_run(
    db: Database, box: SecretBox, targets: list[tuple[int, str]], sink: Sink, group_wait: float
) -> list[float]:
    evaluator = Evaluator(all_conditions())
    dispatcher = Dispatcher(OutboxSink("http://bench"), group_wait=timedelta(seconds=group_wait))
    worker = DeliveryWorker(db, box)
    changed_at: dict[str, float] = {}
    done = asyncio.Event()

    async def change_states() -> None:
        for inst_id, name in targets:
            with db.write() as s:
                s.execute(
                    update(ProbeCheck)
                    .where(ProbeCheck.installation_id == inst_id, ProbeCheck.check_name == "limit")
                    .values(status="fail", since=utcnow(), value="0")
                )
            changed_at[name] = time.monotonic()
            await asyncio.sleep(0.25)

    async def service_loop() -> None:
        while not done.is_set():
            await asyncio.to_thread(cycle, db, evaluator, dispatcher)
            await worker.run_once()
            with sink.lock:
                seen = {n for _, text in sink.arrivals for n in changed_at if n in text}
            if len(changed_at) == len(targets) and seen >= set(changed_at):
                done.set()
            await asyncio.sleep(1.0)

    await asyncio.wait_for(asyncio.gather(change_states(), service_loop()), timeout=group_wait * 4 + 120)
    latencies = []
    with sink.lock:
        for name, t0 in changed_at.items():
            arrival = min(t for t, text in sink.arrivals if name in text)
            latencies.append(arrival - t0)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--installations", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--group-wait", type=float, default=5.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--failing", type=int, default=0, help="installations whose tcp check fails throughout"
    )
    args = parser.parse_args()

    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    tmp = tempfile.TemporaryDirectory()
    db = Database(args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}")
    box = SecretBox([SecretBox.generate_key()])
    try:
        t0 = time.perf_counter()
        installations = build_store(db, box, args.installations, smtp_port, args.failing)
        print(
            f"store: {args.installations} installations in {CABINETS} cabinets "
            f"({db.engine.dialect.name}), built in {time.perf_counter() - t0:.1f} s"
        )

        evaluator = Evaluator(all_conditions())
        dispatcher = Dispatcher(OutboxSink("http://bench"))
        cpu, wall = [], []
        for _ in range(args.cycles):
            c0, w0 = time.process_time(), time.perf_counter()
            cycle(db, evaluator, dispatcher)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        print(
            f"evaluation cycle over {args.installations} installations ({args.failing} with a failing tcp "
            f"check), {len(evaluator.conditions)} rules: "
            f"CPU mean {statistics.mean(cpu):.3f} s, max {max(cpu):.3f} s; wall mean {statistics.mean(wall):.3f} s"
        )

        step = max(1, len(installations) // args.changes)
        targets = installations[::step][: args.changes]  # index 0 mod step: never among the failing ones
        latencies = asyncio.run(latency_run(db, box, targets, sink, args.group_wait))
        print(
            f"state change → SMTP accepted, {len(latencies)} changes, group window {args.group_wait:g} s: "
            f"p50 {percentile(latencies, 0.5):.2f} s, p99 {percentile(latencies, 0.99):.2f} s, "
            f"max {max(latencies):.2f} s (target p99 ≤ {args.group_wait + 5:g} s)"
        )
        print(f"messages accepted by SMTP: {len(sink.arrivals)}")
    finally:
        controller.stop()
        db.dispose()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
