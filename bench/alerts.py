"""Alert pipeline benchmark: evaluation CPU per cycle and state-change-to-SMTP latency.

    .venv/bin/python bench/alerts.py [--installations 10000] [--changes 40] [--group-wait 5]
                                     [--database-url postgresql://…] [--sysinfo-users 20]
                                     [--reports-per-cycle 100] [--full-interval 300]

1. builds a store with N internet installations in 10 cabinets, each with an `ok` result for the `tcp` and
   `limit` checks, a mailbox per cabinet taking the `technical` category, and an SMTP relay pointing at a
   local aiosmtpd sink;
   with ``--sysinfo-users N`` every installation also gets a recent sysinfo report (N users, two days of
   events; the simulator's normal report, stored once by the real writer and copied with SQL), which keeps
   one `KodeksSearchIsEmpty` alert per installation firing — the realistic steady state;
   ``--database-url`` names a PostgreSQL server, on which a throwaway database is created and dropped;
2. runs evaluation cycles (conditions + lifecycle + dispatch) with the incremental evaluator of `smart
   serve` and reports the CPU time of this process per cycle (on PostgreSQL plus the CPU of the server
   backends, read from /proc) and the conditions that cost the most: the first cycle (a full pass that
   creates the alerts), ``--cycles`` partial cycles without new reports, ``--cycles`` partial cycles after
   ``--reports-per-cycle`` new sysinfo reports each (copies of installations' reports, made now; 10,000
   installations reporting hourly bring about 83 in a 30 s cycle), and ``--cycles`` forced full passes;
3. switches the `limit` check of `--changes` installations to `fail` one after another (a new one every
   0.25 s), while the service loop runs as in `smart serve` (evaluation every second, delivery woken after
   each dispatch); for every change it measures the time until the SMTP server accepted a message naming
   that installation's client, and reports p50 / p99 (`KodeksLimitsUsers` has `for` = 0, so the latency is
   the group window plus the pipeline's own delay). The first notifications of the alerts created by the
   first cycle are sent right after it (a one-off, timed apart); during the latency run, with sysinfo
   facts, new reports keep arriving at the hourly rate of every installation, and full passes run every
   ``--full-interval`` seconds (slow rounds are printed).
Numbers are measured, never assumed; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from sqlalchemy import Table, create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kodeks_smart.alerts.dispatch import Dispatcher
from kodeks_smart.alerts.engine import Condition, Evaluator, Instance
from kodeks_smart.alerts.rules import all_conditions, scoped_rules
from kodeks_smart.alerts.rules.sysinfo_rules import changed_installations
from kodeks_smart.alerts.sink import OutboxSink
from kodeks_smart.ingest.sysinfo_store import write_sysinfo
from kodeks_smart.ingest.writers import Target
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.notify.worker import DeliveryWorker
from kodeks_smart.parsers.sysinfo import parse_sysinfo
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database, normalize_url
from kodeks_smart.store.ingest_models import (
    SysinfoCatalog,
    SysinfoComponent,
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoGap,
    SysinfoKassistDay,
    SysinfoLogin,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
    SysinfoVolume,
    Upload,
)
from kodeks_smart.store.models import Client, Installation, SmtpRelay
from kodeks_smart.store.probe_models import ProbeCheck
from kodeks_smart.store.types import utcnow

CABINETS = 10
SYSINFO_FACTS = (
    SysinfoReportRow,
    SysinfoComponent,
    SysinfoCatalog,
    SysinfoDatabase,
    SysinfoVolume,
    SysinfoDbError,
    SysinfoOperUpFile,
    SysinfoSession,
    SysinfoGap,
    SysinfoRefusal,
    SysinfoLogin,
    SysinfoSearch,
    SysinfoUsageHour,
    SysinfoKassistDay,
    SysinfoUser,
)


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
    return [(cast(int, c["id"]), str(c["short_name"])) for c in clients]


def add_sysinfo_facts(db: Database, installations: list[tuple[int, str]], users: int, days: int) -> int:
    """Give every installation a recent sysinfo report: one simulator report (``users`` users, ``days`` days
    of events) is stored through the real writer for the first installation, then its rows are copied to
    all the others with SQL (``INSERT … SELECT``, one installation's rows after another, as the writer stores
    them), so building 10,000 installations takes a minute, not an hour of ingest. Returns the number of
    fact rows per installation."""
    now = utcnow()
    template_id = installations[0][0]
    report = parse_sysinfo(generate_xml(SysinfoProfile(installations[0][1], users=users, days=days, now=now)))
    with db.write() as s:
        inst = {r.id: r for r in s.execute(select(Installation)).scalars()}
        uploads = [
            {
                "id": inst_id,
                "dealer_id": inst[inst_id].dealer_id,
                "cabinet_id": inst[inst_id].cabinet_id,
                "client_id": inst[inst_id].client_id,
                "installation_id": inst_id,
                "filename": f"{name}.xml",
                "client_name": name,
                "kind": "sysinfo",
                "fmt": "xml",
                "size": 1,
                "sha256": f"{inst_id:064d}",
                "status": "done",
                "received_at": now,
                "last_received_at": now,
                "processed_at": now,
            }
            for inst_id, name in installations
        ]
        for start in range(0, len(uploads), 2000):
            s.execute(insert(Upload), uploads[start : start + 2000])
        first = inst[template_id]
        target = Target(template_id, first.dealer_id, first.cabinet_id, first.client_id, template_id, now)
        write_sysinfo(s, target, report, rebuild=True)
        per_installation = 0
        replaced = ("dealer_id", "cabinet_id", "client_id", "installation_id", "upload_id")
        for model in SYSINFO_FACTS:
            table = cast(Table, model.__table__)
            kept = [c for c in table.columns if c.name != "id" and c.name not in replaced]
            u = Upload.__table__.alias("u")
            stmt = table.insert().from_select(
                [*replaced, *(c.name for c in kept)],
                select(u.c.dealer_id, u.c.cabinet_id, u.c.client_id, u.c.installation_id, u.c.id, *kept)
                .select_from(table)
                .join(u, u.c.id != table.c.upload_id)
                .where(table.c.upload_id == template_id)
                # One installation's rows together, as the real writer stores a report: copied in template
                # order they were spread over as many pages as the report has rows, which made every
                # per-installation lookup of the conditions read tens of pages on PostgreSQL.
                .order_by(u.c.id, table.c.id),
            )
            s.execute(stmt)
            if model is SysinfoUser:
                # Steady state: the accounts have been known for a month (none of them is a "new user").
                s.execute(update(SysinfoUser).values(first_seen_at=now - timedelta(days=30)))
            per_installation += (
                s.scalar(select(func.count()).select_from(table).where(table.c.upload_id == template_id)) or 0
            )
    return per_installation


def add_reports(db: Database, installations: list[tuple[int, str]]) -> None:
    """A new sysinfo report, made now, for each of ``installations``: a copy of its first report's row under
    a new upload (the facts stay with the first report; the conditions still read them)."""
    now = utcnow()
    reports = cast(Table, SysinfoReportRow.__table__)
    with db.write() as s:
        next_id = (s.scalar(select(func.max(Upload.id))) or 0) + 1
        ids = [inst_id for inst_id, _ in installations]
        originals = s.execute(
            select(reports).where(
                reports.c.upload_id.in_(ids), reports.c.upload_id == reports.c.installation_id
            )
        ).mappings()
        uploads, rows = [], []
        for offset, row in enumerate(originals):
            upload_id = next_id + offset
            uploads.append(
                {
                    "id": upload_id,
                    "dealer_id": row["dealer_id"],
                    "cabinet_id": row["cabinet_id"],
                    "client_id": row["client_id"],
                    "installation_id": row["installation_id"],
                    "filename": f"new-{upload_id}.xml",
                    "client_name": "bench",
                    "kind": "sysinfo",
                    "fmt": "xml",
                    "size": 1,
                    "sha256": f"{upload_id:064d}",
                    "status": "done",
                    "received_at": now,
                    "last_received_at": now,
                    "processed_at": now,
                }
            )
            copied = {k: v for k, v in row.items() if k != "id"}
            copied.update(upload_id=upload_id, created_at=now)
            rows.append(copied)
        if uploads:
            s.execute(insert(Upload), uploads)
            s.execute(insert(reports), rows)
            # The new report lists the same users (seen up to it), as the agent's next report would.
            clients = [row["client_id"] for row in rows]
            s.execute(update(SysinfoUser).where(SysinfoUser.client_id.in_(clients)).values(last_seen_at=now))


def cycle(db: Database, evaluator: Evaluator, dispatcher: Dispatcher) -> bool:
    """One cycle; True if it was a full pass."""
    with db.write() as s:
        now = utcnow()
        w0 = time.perf_counter()
        result = evaluator.run(s, now)
        w1 = time.perf_counter()
        dispatcher.run(s, now)
        LAST_CYCLE[:] = [w1 - w0, time.perf_counter() - w1]
    return result.full


def backend_cpu(db: Database) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``db``'s connections (a server on this
    machine, read from /proc); 0 on SQLite, whose work is counted by this process's process_time. Client
    backends only: an autovacuum worker of the database is listed there too, and its work is not the
    evaluation's."""
    if db.engine.dialect.name != "postgresql":
        return 0.0
    with db.session() as s:
        pids = s.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND backend_type = 'client backend'"
            )
        ).all()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


CONDITION_CPU: dict[str, float] = {}
#: Wall seconds of the last cycle's evaluation and dispatch.
LAST_CYCLE: list[float] = [0.0, 0.0]


def _timed(name: str, condition: Condition) -> Condition:
    """The condition, with its CPU time per cycle added to CONDITION_CPU."""

    def timed(session: Session, now: datetime) -> Iterable[Instance]:
        t0 = time.process_time()
        found = list(condition(session, now))
        CONDITION_CPU[name] = CONDITION_CPU.get(name, 0.0) + time.process_time() - t0
        return found

    return timed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency_run(
    db: Database,
    box: SecretBox,
    targets: list[tuple[int, str]],
    sink: Sink,
    group_wait: float,
    evaluator: Evaluator,
    reporters: list[tuple[int, str]],
    installations: int,
) -> list[float]:
    dispatcher = Dispatcher(OutboxSink("http://bench"), group_wait=timedelta(seconds=group_wait))
    worker = DeliveryWorker(db, box)
    changed_at: dict[str, float] = {}
    done = asyncio.Event()
    per_second = max(1, round(installations / 3600))
    loop_times: list[tuple[float, float]] = []
    turn = 0

    async def change_states() -> None:
        for inst_id, name in targets:
            while True:  # SQLite: the evaluation cycle may hold the write lock longer than the busy timeout
                try:
                    with db.write() as s:
                        s.execute(
                            update(ProbeCheck)
                            .where(ProbeCheck.installation_id == inst_id, ProbeCheck.check_name == "limit")
                            .values(status="fail", since=utcnow(), value="0")
                        )
                    break
                except OperationalError:
                    await asyncio.sleep(0.05)
            changed_at[name] = time.monotonic()
            await asyncio.sleep(0.25)

    async def service_loop() -> None:
        nonlocal turn
        while not done.is_set():
            started = time.perf_counter()
            if reporters:  # new sysinfo reports keep arriving: hourly from every installation
                batch = [reporters[(turn + k) % len(reporters)] for k in range(per_second)]
                await asyncio.to_thread(add_reports, db, batch)
                turn += per_second
            CONDITION_CPU.clear()
            full = await asyncio.to_thread(cycle, db, evaluator, dispatcher)
            evaluated = time.perf_counter()
            if evaluated - started > 2.0:
                slowest = sorted(CONDITION_CPU.items(), key=lambda kv: -kv[1])[:3]
                print(
                    f"slow round: {evaluated - started:.2f} s ({'full pass' if full else 'partial'}; evaluation "
                    f"{LAST_CYCLE[0]:.2f} s, dispatch {LAST_CYCLE[1]:.2f} s; conditions "
                    f"{sum(CONDITION_CPU.values()):.2f} s; slowest "
                    + ", ".join(f"{n} {t:.3f}" for n, t in slowest)
                    + ")"
                )
            await worker.run_once()
            loop_times.append((evaluated - started, time.perf_counter() - evaluated))
            with sink.lock:
                seen = {n for _, text in sink.arrivals for n in changed_at if n in text}
            if len(changed_at) == len(targets) and seen >= set(changed_at):
                done.set()
            await asyncio.sleep(1.0)

    await asyncio.wait_for(asyncio.gather(change_states(), service_loop()), timeout=group_wait * 4 + 120)
    print(
        f"service loop, {len(loop_times)} rounds: new reports + cycle wall median "
        f"{statistics.median(t for t, _ in loop_times):.2f} s (max {max(t for t, _ in loop_times):.2f} s), "
        f"delivery median {statistics.median(d for _, d in loop_times):.2f} s (max "
        f"{max(d for _, d in loop_times):.2f} s), then 1 s of sleep"
    )
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
        "--sysinfo-users",
        type=int,
        default=0,
        help="give every installation a recent sysinfo report with this many users (0: none)",
    )
    parser.add_argument(
        "--reports-per-cycle",
        type=int,
        default=100,
        help="new sysinfo reports before each measured partial cycle (with --sysinfo-users)",
    )
    parser.add_argument(
        "--full-interval", type=float, default=300.0, help="SMART_ALERT_FULL_INTERVAL of the latency run"
    )
    parser.add_argument("--sysinfo-days", type=int, default=2, help="days of events in those reports")
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
    scratch = None
    if args.database_url:
        # A throwaway database on that server, dropped at the end.
        scratch = f"smart_bench_{uuid.uuid4().hex[:8]}"
        server = create_engine(normalize_url(args.database_url), isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = make_url(normalize_url(args.database_url)).set(database=scratch)
        db = Database(url.render_as_string(hide_password=False))
    else:
        db = Database(f"sqlite:///{Path(tmp.name) / 'bench.db'}")
    box = SecretBox([SecretBox.generate_key()])
    try:
        t0 = time.perf_counter()
        installations = build_store(db, box, args.installations, smtp_port, args.failing)
        print(
            f"store: {args.installations} installations in {CABINETS} cabinets "
            f"({db.engine.dialect.name}), built in {time.perf_counter() - t0:.1f} s"
        )

        if args.sysinfo_users:
            t0 = time.perf_counter()
            rows = add_sysinfo_facts(db, installations, args.sysinfo_users, args.sysinfo_days)
            if db.engine.dialect.name == "postgresql":
                # As autovacuum leaves a store that grows by a report at a time; right after a bulk copy of
                # millions of rows its catch-up work would run during the measured cycles instead.
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
            print(
                f"sysinfo: a report ({args.sysinfo_users} users, {args.sysinfo_days} days, {rows} fact rows) per "
                f"installation, copied in {time.perf_counter() - t0:.1f} s"
            )

        conditions = {name: _timed(name, c) for name, c in all_conditions().items()}
        # As in `smart serve`, but no full pass falls due by the clock while measuring: they are forced.
        evaluator = Evaluator(
            conditions, scoped=scoped_rules(), changes=changed_installations, full_interval=86400.0
        )
        dispatcher = Dispatcher(OutboxSink("http://bench"))
        reporters = installations[:: max(1, len(installations) // 1000)] if args.sysinfo_users else []
        kinds = [("first", 1), ("idle", args.cycles), ("reports", args.cycles if reporters else 0)]
        kinds.append(("full", args.cycles))
        measured: dict[str, list[tuple[float, float]]] = {}
        for kind, count in kinds:
            for i in range(count):
                if kind == "reports":
                    start = i * args.reports_per_cycle % len(reporters)
                    add_reports(db, (reporters * 2)[start : start + args.reports_per_cycle])
                if kind == "full":
                    evaluator.last_full = None
                CONDITION_CPU.clear()
                c0, w0, s0 = time.process_time(), time.perf_counter(), backend_cpu(db)
                full = cycle(db, evaluator, dispatcher)
                backend = backend_cpu(db) - s0
                cpu = time.process_time() - c0 + backend
                wall = time.perf_counter() - w0
                measured.setdefault(kind, []).append((cpu, wall))
                with db.session() as s:
                    states = dict(
                        s.execute(select(AlertState.status, func.count()).group_by(AlertState.status)).all()
                    )
                slowest = sorted(CONDITION_CPU.items(), key=lambda kv: -kv[1])[:3]
                print(
                    f"cycle {kind} {i} ({'full pass' if full else 'partial'}): CPU {cpu:.3f} s (database "
                    f"server {backend:.3f} s; conditions {sum(CONDITION_CPU.values()):.3f} s; slowest "
                    + ", ".join(f"{n} {t:.3f}" for n, t in slowest)
                    + f"), wall {wall:.3f} s; alerts {states}"
                )
                if kind == "first":
                    # The first notifications of the alerts just created fall due one group window later:
                    # send them now (a one-off, not the steady state), not in the middle of the measured
                    # cycles or of the latency run, where they made one "full pass" cost seconds more.
                    w0 = time.perf_counter()
                    with db.write() as s:
                        dispatcher.run(s, utcnow() + timedelta(minutes=1))
                    print(f"first notifications of those alerts: {time.perf_counter() - w0:.2f} s (wall)")
        print(
            f"evaluation cycles over {args.installations} installations ({args.failing} with a failing tcp "
            f"check), {len(evaluator.conditions)} rules (CPU median / max, wall median):"
        )
        for kind, values in measured.items():
            cpus, walls = [c for c, _ in values], [w for _, w in values]
            what = {
                "first": "first cycle (full pass, creates the alerts)",
                "idle": "partial cycle, no new reports",
                "reports": f"partial cycle after {args.reports_per_cycle} new reports",
                "full": "full pass (every --full-interval)",
            }[kind]
            print(
                f"  {what}: CPU {statistics.median(cpus):.3f} / {max(cpus):.3f} s, "
                f"wall {statistics.median(walls):.3f} s"
            )

        if args.changes <= 0:
            return 0
        step = max(1, len(installations) // args.changes)
        targets = installations[::step][: args.changes]  # index 0 mod step: never among the failing ones
        evaluator.full_interval = timedelta(seconds=args.full_interval)
        latencies = asyncio.run(
            latency_run(db, box, targets, sink, args.group_wait, evaluator, reporters, args.installations)
        )
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
        if scratch:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            server.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
