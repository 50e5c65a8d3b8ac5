"""How many simulated installations one worker process keeps up with, on PostgreSQL.

For each N of --steps: a fresh PostgreSQL database (migrated, so the partitioned tables are in place), N
internet installations registered, the simulator (`smart simulate`, child process) serving them on
loopback, and ONE probe runner with dynamic membership (as `smart serve --role worker` runs it) probing
every installation every --interval seconds (60 in production; shorter values compress the run and make
the test harder, since the same N is due in less time). After a warm-up of one interval it measures for
--seconds: completed cycles vs due cycles, missed cycles, p50/p99 lag between due time and start, CPU.

A step keeps up when no cycle was missed, p99 lag < 2 s and ≥ 97 % of the due cycles completed. The search
stops at the first N that does not keep up. Writes a table to stdout:

    SMART_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/scale.py --interval 60 --steps 500,1000,2000,4000 --seconds 60

Without --login a cycle is tcp + one main-page fetch (icmp off: unprivileged loopback); see bench/probes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.probes import proc_mem, quantile, start_simulator, stop
from kodeks_smart.cluster import Membership
from kodeks_smart.config import Settings
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.runner import ProbeRunner, RunnerConfig
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin, migrate, partitions
from kodeks_smart.store.db import Database, normalize_url
from kodeks_smart.store.models import Client, Installation


@dataclass
class Step:
    n: int
    due: float
    cycles: int
    missed: int
    p50: float
    p99: float
    cpu: float
    wall: float
    rss: float

    @property
    def keeps_up(self) -> bool:
        return self.missed == 0 and self.p99 < 2.0 and self.cycles >= 0.97 * self.due


def create_database(base: str) -> tuple[str, str]:
    name = f"smart_scale_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin_engine.dispose()
    return make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False), name


def drop_database(base: str, name: str) -> None:
    admin_engine = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


def register(url: str, n: int, port_base: int) -> None:
    db = Database(url)
    migrate.upgrade(db)
    with db.write() as s:
        dealer, _token = admin.add_dealer(s, "0599SCALE", "Масштаб")
        cabinet = admin.add_cabinet(s, dealer.code, "Все")
        s.execute(
            insert(Client),
            [
                {
                    "dealer_id": dealer.id,
                    "cabinet_id": cabinet.id,
                    "short_name": f"client{i:05d}",
                    "display_name": f"Клиент {i:05d}",
                }
                for i in range(n)
            ],
        )
        clients = {name: ident for name, ident in s.execute(select(Client.short_name, Client.id))}
        s.execute(
            insert(Installation),
            [
                {
                    "dealer_id": dealer.id,
                    "cabinet_id": cabinet.id,
                    "client_id": clients[f"client{i:05d}"],
                    "kind": "internet",
                    "address": f"127.0.0.1:{port_base + i}",
                    "protocol": "http",
                    "ping": False,
                    "tz_offset_minutes": 180,
                    "pull": False,
                }
                for i in range(n)
            ],
        )
    db.dispose()


async def measure(url: str, n: int, args: argparse.Namespace, home: Path) -> Step:
    box = SecretBox.from_file(home / "secret.key", create=True)
    settings = Settings.from_values(
        {"database_url": url, "data_dir": str(home / "data"), "secret_key_file": str(home / "secret.key")}
    )
    services = Services(settings=settings, db=Database(url, pool_size=5, max_overflow=5), box=box)
    config = RunnerConfig(
        interval=args.interval, timeout=10.0, pull=False, concurrency=500, host_concurrency=500
    )
    runner = ProbeRunner(services, config, membership=Membership(services.db, "bench-worker"))
    await runner.start()
    try:
        await asyncio.sleep(args.interval)  # warm-up: every target had its first, spread-out run
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        cycles0 = runner.stats.cycles["inst"]
        missed0 = sum(runner.stats.missed.values())
        runner.stats.lags.clear()
        t0 = time.monotonic()
        await asyncio.sleep(args.seconds)
        wall = time.monotonic() - t0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        lags = list(runner.stats.lags)
        return Step(
            n=n,
            due=n * wall / args.interval,
            cycles=runner.stats.cycles["inst"] - cycles0,
            missed=sum(runner.stats.missed.values()) - missed0,
            p50=quantile(lags, 0.5),
            p99=quantile(lags, 0.99),
            cpu=usage.ru_utime + usage.ru_stime - cpu0,
            wall=wall,
            rss=proc_mem(os.getpid())[0],
        )
    finally:
        await runner.stop(grace=15)
        services.close()


# -- query plans with realistic row counts -----------------------------------------------------------

#: Synthetic history: CLIENTS clients with one installation each, SERIES sysmon series per client sampled
#: every 15 min (SMART_PROBE_SYSMON_INTERVAL) for DAYS days, 4 latency rows per installation and 15-min
#: window, 20 active logins x 10 hours a day of usage rows.
CLIENTS, SERIES, DAYS, LOGINS = 100, 10, 45, 20

FILL = [
    "INSERT INTO cabinets (id, dealer_id, name, created_at)"
    " SELECT c, 1, 'Кабинет ' || c, now() FROM generate_series(1, 10) c",
    "INSERT INTO clients (id, dealer_id, cabinet_id, short_name, display_name, created_at)"
    " SELECT c, 1, 1 + c % 10, 'client' || c, 'Клиент ' || c, now() FROM generate_series(1, {clients}) c",
    "INSERT INTO installations (id, dealer_id, cabinet_id, client_id, kind, address, protocol, ping,"
    " tz_offset_minutes, pull, created_at) SELECT c, 1, 1 + c % 10, c, 'internet', '10.0.0.1:' || c, 'http',"
    " true, 180, true, now() FROM generate_series(1, {clients}) c",
    "INSERT INTO metric_series (id, dealer_id, cabinet_id, client_id, installation_id, name, labels, labels_key,"
    " source, created_at) SELECT (c - 1) * {series} + k, 1, 1 + c % 10, c, c, 'kserver_metric_' || k, '{{}}',"
    " '', 'metrics', now() FROM generate_series(1, {clients}) c, generate_series(1, {series}) k",
    "INSERT INTO metric_samples (series_id, ts, value, upload_id, dealer_id, cabinet_id)"
    " SELECT s.id, t, random() * 100, 1, 1, s.cabinet_id FROM metric_series s,"
    " generate_series(now() - interval '{days} days', now(), interval '15 minutes') t",
    "INSERT INTO metric_rollups_hourly (series_id, hour, count, sum, min, max, last, last_ts, dealer_id, cabinet_id)"
    " SELECT series_id, date_trunc('hour', ts), count(*), sum(value), min(value), max(value), max(value),"
    " max(ts), 1, min(cabinet_id) FROM metric_samples GROUP BY 1, 2",
    "INSERT INTO probe_latency (dealer_id, cabinet_id, installation_id, check_name, at, samples, mean_ms, max_ms)"
    " SELECT 1, 1 + c % 10, c, ch, t, 15, random() * 50, random() * 200 FROM generate_series(1, {clients}) c,"
    " unnest(ARRAY['icmp', 'tcp', 'http200', 'auth']) ch,"
    " generate_series(now() - interval '{days} days', now(), interval '15 minutes') t",
    "INSERT INTO uploads (id, dealer_id, cabinet_id, client_id, filename, client_name, kind, fmt, size, sha256,"
    " source, received_at, last_received_at, received_count, status, warnings, stats, processed_count)"
    " VALUES (1, 1, 1, 1, 'client1.zip', 'client1', 'sysinfo', 'zip', 1, 'x', 'agent', now(), now(), 1, 'done',"
    " '[]', '{{}}', 1)",
    "INSERT INTO sysinfo_usage (dealer_id, cabinet_id, client_id, installation_id, upload_id, extra, hour, login,"
    " report_at, db_requests, docs, free_docs, saved, printed, kassist, services, searches)"
    " SELECT 1, 1 + c % 10, c, c, 1, '{{}}', h, 'user' || u, now(), 40, 12, 0, 2, 1, 0, 3, 9"
    " FROM generate_series(1, {clients}) c, generate_series(1, {logins}) u,"
    " generate_series(date_trunc('day', now()) - interval '{days} days', now(), interval '1 hour') h"
    " WHERE extract(hour FROM h) BETWEEN 6 AND 15",
    "ANALYZE",
]

#: The hot queries of the dashboards and the probe pages, as the ORM emits them (values inlined).
PLANS = {
    "Disk space chart, 7 days of one client's series from hourly rollups (dashboards/disk_space.py)": (
        "SELECT series_id, CAST(floor(extract(epoch FROM hour) / 3600) * 3600 AS INTEGER) AS p, min(min)"
        " FROM metric_rollups_hourly WHERE cabinet_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"
        " AND series_id IN (11, 12, 13, 14, 15, 16, 17, 18, 19, 20)"
        " AND hour >= now() - interval '7 days' AND hour < now() GROUP BY series_id, p"
    ),
    "Disk space chart, last 24 h of one client's series from raw samples": (
        "SELECT series_id, CAST(floor(extract(epoch FROM ts) / 300) * 300 AS INTEGER) AS p, min(value)"
        " FROM metric_samples WHERE cabinet_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"
        " AND series_id IN (11, 12, 13, 14, 15, 16, 17, 18, 19, 20)"
        " AND ts >= now() - interval '1 day' AND ts < now() GROUP BY series_id, p"
    ),
    "Newest sample of each series of a client (disk space table)": (
        "SELECT s.series_id, s.ts, s.value FROM metric_samples s JOIN (SELECT series_id, max(ts) AS ts"
        " FROM metric_samples WHERE cabinet_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"
        " AND series_id IN (11, 12, 13, 14, 15, 16, 17, 18, 19, 20) AND ts < now() GROUP BY series_id) n"
        " ON n.series_id = s.series_id AND n.ts = s.ts"
    ),
    "The same, rewritten: newest sample per series by a backward index scan (LATERAL … LIMIT 1)": (
        "SELECT s.id AS series_id, n.ts, n.value FROM metric_series s CROSS JOIN LATERAL (SELECT ts, value"
        " FROM metric_samples m WHERE m.series_id = s.id AND m.ts < now() ORDER BY m.ts DESC LIMIT 1) n"
        " WHERE s.cabinet_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) AND s.id IN (11, 12, 13, 14, 15, 16, 17, 18, 19, 20)"
    ),
    "Probe latency of one installation, 24 h (installation page)": (
        "SELECT check_name, at, mean_ms, max_ms FROM probe_latency WHERE installation_id = 42"
        " AND at >= now() - interval '1 day' ORDER BY at"
    ),
    "Usage dashboard: daily sums of 30 days for one cabinet's installations (dashboards/usage.py)": (
        "SELECT installation_id, CAST(floor(extract(epoch FROM hour) / 86400) * 86400 AS INTEGER) AS p,"
        " sum(db_requests), sum(docs), sum(searches) FROM sysinfo_usage WHERE cabinet_id IN (3)"
        " AND hour >= now() - interval '30 days' AND hour < now() GROUP BY installation_id, p"
    ),
}

SIZED = ("metric_samples", "metric_rollups_hourly", "probe_latency", "sysinfo_usage")


def explain(base: str) -> None:
    url, name = create_database(base)
    try:
        db = Database(url)
        migrate.upgrade(db)
        started = time.monotonic()
        with db.write() as s:
            admin.add_dealer(s, "0599PLAN", "План")  # id 1 in the fresh database
        # The monthly partitions the `partitions` job would have created while the history accumulated.
        partitions.maintain(db, retention_days=10_000, now=datetime.now(UTC) - timedelta(days=DAYS))
        with db.engine.begin() as conn:
            for statement in FILL:
                conn.execute(text(statement.format(clients=CLIENTS, series=SERIES, days=DAYS, logins=LOGINS)))
        print(f"filled in {time.monotonic() - started:.0f} s\n")
        with db.engine.connect() as conn:
            print("| table | rows | bytes on disk (heap + indexes) | bytes per row |")
            print("|---|---:|---:|---:|")
            for table in SIZED:
                rows = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar() or 0
                size = conn.execute(
                    text(
                        "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(:t)"
                        " WHERE isleaf), pg_total_relation_size(:t))"
                    ),
                    {"t": table},
                ).scalar()
                size = int(size or 0)
                print(f"| {table} | {rows} | {size} | {size / max(rows, 1):.0f} |")
            for title, query in PLANS.items():
                conn.execute(text(query)).all()  # warm the cache: the plans show the steady state
                plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query)).scalars().all()
                print(f"\n#### {title}\n\n```sql\n{query}\n```\n\n```\n" + "\n".join(plan) + "\n```")
        db.dispose()
    finally:
        drop_database(base, name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("SMART_TEST_DATABASE_URL", ""))
    parser.add_argument(
        "--interval", type=float, default=60.0, help="probe interval, seconds (production: 60)"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per step")
    parser.add_argument("--steps", default="500,1000,2000,4000")
    parser.add_argument("--port-base", type=int, default=20000)
    parser.add_argument(
        "--explain", action="store_true", help="instead: query plans and bytes per row with synthetic history"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url (or SMART_TEST_DATABASE_URL) must name a PostgreSQL server")
    if args.explain:
        explain(args.database_url)
        return
    steps: list[Step] = []
    for n in (int(x) for x in args.steps.split(",")):
        url, name = create_database(args.database_url)
        simulator = None
        try:
            with tempfile.TemporaryDirectory() as tmp:
                register(url, n, args.port_base)
                simulator = start_simulator(n, args.port_base)
                step = asyncio.run(measure(url, n, args, Path(tmp)))
        finally:
            if simulator is not None:
                stop(simulator)
            drop_database(args.database_url, name)
        steps.append(step)
        print(
            f"N={n}: {step.cycles} of {step.due:.0f} due cycles, missed {step.missed}, lag p50 {step.p50 * 1000:.0f} ms"
            f" p99 {step.p99 * 1000:.0f} ms, CPU {step.cpu / step.wall * 100:.0f} % of a core,"
            f" RSS {step.rss:.0f} MiB -> {'keeps up' if step.keeps_up else 'FALLS BEHIND'}",
            flush=True,
        )
        if not step.keeps_up:
            break
    print(f"\n== one worker, PostgreSQL, interval {args.interval:g} s, measured {args.seconds:g} s per step")
    print(
        "| installations | cycles/s due | cycles done / due | missed | lag p50 | lag p99 | CPU (1 core) | RSS |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in steps:
        print(
            f"| {s.n} | {s.n / args.interval:.1f} | {s.cycles} / {s.due:.0f} | {s.missed} | {s.p50 * 1000:.0f} ms"
            f" | {s.p99 * 1000:.0f} ms | {s.cpu / s.wall * 100:.0f} % | {s.rss:.0f} MiB |"
        )
    kept = [s.n for s in steps if s.keeps_up]
    print(f"\nlargest N kept up with: {max(kept) if kept else 0}")


if __name__ == "__main__":
    main()
