"""Ingest benchmark: uploads per second and HTTP-200-to-queryable latency, and parser memory.

    .venv/bin/python bench/ingest.py                       # SQLite (the embedded default)
    .venv/bin/python bench/ingest.py --pg-url postgresql://postgres@127.0.0.1:5432/test

What it does, against a real `smart serve` subprocess (one process: HTTP + one queue consumer, so the
throughput is per core):
1. registers a dealer with --clients clients (one closed-contour installation each);
2. sysinfo, cold: the first report of every client (a "typical" report: 100 users, 30 days of history,
   about 290 KB zipped / 2.8 MB XML, docs/sysinfo-format.md §7.3) - everything in it is new;
3. sysinfo, steady: the next hourly report of every client, sent as fast as possible (throughput), then
   once more paced at 80 % of that throughput (latency at that rate). This is the normal stream: each
   hourly report repeats 30 days of events that are already stored;
4. status files of about 16 KB (sysmon metrics), the same two ways;
5. one more steady round queued through an API-only server and drained by one `--role worker` process
   (the processing rate of one consumer, without HTTP in its process);
6. --target-rounds more steady rounds sent at --target-rate (20/s, the issue's target) to an API-only
   server with one `--role worker` process draining: the latency at the target rate with one core of
   processing;
7. peak RSS growth while parsing a 20 MB XML report (1,000 users, 30 days) in a fresh process.

Before that, unless ``--cpu-clients 0``: the processing CPU per report measured in this process (no HTTP
server, `drain` of the queue; ``time.process_time`` plus, on PostgreSQL, the CPU of the server backends
read from /proc), so that other load on the machine does not distort the per-core rate. ``--cpu-only``
stops after it.

The reports are made at a fixed time of day (11:48 UTC of the latest weekday, `_bench_now`), so every run
measures the same kind of steady report whenever it is started: one with the new hour of a working day.

"Queryable" = the upload's processing transaction committed (``uploads.processed_at``); the latency is
that time minus the moment the client received the 200. Results are printed as a table (and with --json).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import describe as machine_reference  # noqa: E402
from kodeks_smart.ingest.consumer import drain  # noqa: E402
from kodeks_smart.ingest.context import IngestContext  # noqa: E402
from kodeks_smart.ingest.service import ingest_file  # noqa: E402
from kodeks_smart.ingest.sysinfo_store import coverage_windows  # noqa: E402
from kodeks_smart.lib.secrets import SecretBox  # noqa: E402
from kodeks_smart.parsers.limits import Limits  # noqa: E402
from kodeks_smart.parsers.sysinfo import parse_sysinfo  # noqa: E402
from kodeks_smart.simulator.metrics import ServerFacts, sysmon_metrics  # noqa: E402
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml, generate_zip  # noqa: E402
from kodeks_smart.store import admin, migrate  # noqa: E402
from kodeks_smart.store.db import Database, normalize_url  # noqa: E402
from kodeks_smart.store.ingest_models import Upload  # noqa: E402
from kodeks_smart.store.models import Client  # noqa: E402
from tests.live import free_port, smart_env, wait_until_healthy  # noqa: E402

DEALER = "0001BENCH"


def _bench_now() -> datetime:
    """The time of the first report: 11:48 UTC (14:48 in Moscow, a working hour) of the latest weekday at
    least six hours ago. A fixed time of day makes every run measure the same kind of steady report — one
    with the new hour of searches, logins and usage a working day brings; reports made at night carry no
    new events at all and are cheaper. Recent enough for the consumer's 45-day look-back."""
    moment = datetime.now(UTC).replace(hour=11, minute=48, second=3, microsecond=0)
    while moment > datetime.now(UTC) - timedelta(hours=6) or moment.weekday() >= 5:
        moment -= timedelta(days=1)
    return moment


NOW = _bench_now()


@dataclass
class Run:
    name: str
    files: int
    mean_size: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def row(self) -> dict[str, object]:
        return {
            "run": self.name,
            "files": self.files,
            "size_kb": round(self.mean_size / 1024),
            "files_per_s": round(self.rate, 1),
            "p50_s": round(self.pct(0.5), 3),
            "p99_s": round(self.pct(0.99), 3),
            "failed": self.failed,
        }


# -- payloads --------------------------------------------------------------------------------------


def sysinfo_zip(client: str, hour: int) -> bytes:
    profile = SysinfoProfile(client, users=100, days=30, now=NOW + timedelta(hours=hour))
    return generate_zip(profile)


def status_file(client: str, i: int) -> bytes:
    now = time.time()
    facts = ServerFacts(
        now=now,
        started_at=now - 86400,
        version="6.4.5.127",
        regnum="0001_100001",
        catalogs=tuple(f"/cat{n:02d}" for n in range(48)),
        running=True,
        maintenance=False,
        need_support=False,
        server_error=False,
        key_error=0,
        licman_up=True,
        licman_address="10.0.0.5:8888",
        seats=50,
        sessions=i % 40,
        busy_seats=1,
        logins_total=1000 + i,
        refused_seats_total=i // 7,
        refused_auth_total=i // 11,
        requests_total=100000 + 37 * i,
        operup_timestamp=now - 7200,
        licence_until=now + 1e7,
        seed=i,
    )
    stamp = format_datetime(datetime.now(UTC) - timedelta(seconds=i), usegmt=True)
    return f"date: {stamp}\r\n".encode() + sysmon_metrics(facts)


# -- store and server ------------------------------------------------------------------------------


def make_database(pg_url: str | None, home: Path) -> tuple[str, object]:
    if not pg_url:
        return f"sqlite:///{home}/smart.db", None
    name = f"smart_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(pg_url)).set(database=name).render_as_string(hide_password=False)
    return url, (engine, name)


def drop_database(handle: object) -> None:
    if handle is None:
        return
    engine, name = handle  # type: ignore[misc]
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def register(url: str, clients: list[str]) -> str:
    db = Database(url)
    migrate.upgrade(db)
    box = SecretBox([SecretBox.generate_key()])
    with db.write() as s:
        dealer, token = admin.add_dealer(s, DEALER, "Бенчмарк")
        cabinet = admin.add_cabinet(s, dealer.code, "Все")
        for name in clients:
            client = admin.add_client(s, cabinet, name)
            admin.add_installation(s, box, client, "closed", tz_offset_minutes=180)
    db.dispose()
    return token


def start_server(home: Path, url: str, role: str = "all") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = smart_env(home, port, url, SMART_LOG_LEVEL="WARNING")
    log = (home / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "kodeks_smart", "serve", "--role", role],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base, process)
    return process, base


# -- measuring -------------------------------------------------------------------------------------


@dataclass
class Sent:
    files: int
    mean_size: float
    started: datetime
    #: (sha256, time the 200 arrived) per acknowledged upload
    acks: list[tuple[str, datetime]]
    failed: int


def send_all(base: str, token: str, files: list[tuple[str, bytes]], rate: float | None, workers: int) -> Sent:
    """Upload ``files`` at ``rate`` per second (None: as fast as ``workers`` threads can)."""
    acks: list[tuple[str, datetime]] = []
    lock = threading.Lock()
    failed = 0
    local = threading.local()
    started_wall = datetime.now(UTC)
    started = time.monotonic()

    def send(item: tuple[int, tuple[str, bytes]]) -> None:
        nonlocal failed
        index, (name, data) = item
        if rate:
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=120)
        response = client.post(
            f"{base}/upload",
            params={"token": token},
            headers={"upload": "yes", "dealer": DEALER},
            files={"file": (name, data)},
        )
        acked = datetime.now(UTC)
        with lock:
            if response.status_code == 200:
                acks.append((hashlib.sha256(data).hexdigest(), acked))
            else:
                failed += 1

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(send, enumerate(files)))
    return Sent(len(files), statistics.mean(len(d) for _, d in files), started_wall, acks, failed)


def wait_processed(url: str, sent: Sent, name: str, timeout: float = 3600) -> Run:
    """Wait until every acknowledged upload is processed; throughput and 200-to-queryable latencies."""
    db = Database(url)
    wanted = {sha for sha, _ in sent.acks}
    deadline = time.monotonic() + timeout
    try:
        while True:
            with db.session() as s:
                rows = s.execute(
                    select(Upload.sha256, Upload.status, Upload.processed_at).where(Upload.sha256.in_(wanted))
                ).all()
            if sum(1 for r in rows if r.status in ("done", "failed")) == len(wanted):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: uploads not processed in {timeout} s")
            time.sleep(0.1)
    finally:
        db.dispose()
    by_sha = {r.sha256: r for r in rows}
    failed = sent.failed + sum(1 for r in rows if r.status == "failed")
    last = max(r.processed_at for r in rows)
    latencies = [max(0.0, (by_sha[sha].processed_at - at).total_seconds()) for sha, at in sent.acks]
    return Run(name, sent.files, sent.mean_size, (last - sent.started).total_seconds(), latencies, failed)


def measure(
    url: str, base: str, token: str, name: str, files: list[tuple[str, bytes]], rate: float | None
) -> Run:
    sent = send_all(base, token, files, rate, workers=8 if rate is None else 16)
    return wait_processed(url, sent, name)


def processing_only(home: Path, url: str, token: str, files: list[tuple[str, bytes]]) -> Run:
    """Queue the files through an API-only server, then let one worker process drain them: the processing
    rate per core, without the HTTP server in the same process. Rate = files over the span of their
    processing commits."""
    api, base = start_server(home, url, role="api")
    try:
        sent = send_all(base, token, files, None, workers=8)
    finally:
        api.terminate()
        api.wait(timeout=60)
    worker, _ = start_server(home, url, role="worker")
    try:
        run = wait_processed(url, sent, "sysinfo zip, steady, processing only (worker)")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    db = Database(url)
    with db.session() as s:
        stamps = sorted(
            s.scalars(select(Upload.processed_at).where(Upload.sha256.in_([sha for sha, _ in sent.acks])))
        )
    db.dispose()
    span = (stamps[-1] - stamps[0]).total_seconds()
    # The first commit marks the start; its own processing time is the mean of the others.
    run.seconds = span * len(stamps) / max(1, len(stamps) - 1)
    run.latencies = []
    return run


def at_target_rate(home: Path, url: str, token: str, files: list[tuple[str, bytes]], rate: float) -> Run:
    """Upload ``files`` at ``rate`` per second to an API-only server while one worker process (one core of
    processing, the deployment of docs/deployment.md) drains the queue: the 200-to-queryable latency at the
    issue's target rate. On PostgreSQL the API process's uploads wake the worker (LISTEN / NOTIFY); on SQLite
    it finds them when it polls (at once while there is work, after at most a second when idle), and that
    wait is in the latency."""
    worker, _ = start_server(home, url, role="worker")
    try:
        api, base = start_server(home, url, role="api")
        try:
            return measure(
                url,
                base,
                token,
                f"sysinfo zip, steady, paced {rate:g}/s: api + one worker process",
                files,
                rate,
            )
        finally:
            api.terminate()
            api.wait(timeout=60)
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _backend_cpu(db: Database) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``db`` (the server runs on this machine;
    read from /proc). 0 on SQLite, whose work is done in this process and counted by process_time."""
    if db.engine.dialect.name != "postgresql":
        return 0.0
    with db.session() as s:
        pids = s.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def cpu_per_report(
    pg_url: str | None, n: int, steady: int = 2, profile: Path | None = None
) -> list[dict[str, object]]:
    """Processing CPU per sysinfo report, in this process (no HTTP server): ``n`` clients, their first
    report (cold), then ``steady`` steady rounds. Parsing is timed on its own as well (with the skip windows the
    consumer would use). On PostgreSQL the server backends' CPU is added (read from /proc). ``profile``: a
    cProfile of the steady rounds' drains is written there (their CPU figures then include the profiler's
    overhead)."""
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits for the server
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="smart-bench-cpu-") as tmp:
        home = Path(tmp)
        url, handle = make_database(pg_url, home)
        try:
            clients = [f"cpu{i:03d}" for i in range(n)]
            register(url, clients)
            db = Database(url)
            ctx = IngestContext(db, home, 50_000_000, Limits(), 30, 30)
            for hour in range(1 + steady):
                name = "steady" if hour else "cold"
                files = [(c, sysinfo_zip(c, hour)) for c in clients]
                for client, data in files:
                    ingest_file(ctx, DEALER, client, data=data, fmt="zip")
                parse_cpu = 0.0
                with db.session() as s:
                    ids = {name: cid for name, cid in s.execute(select(Client.short_name, Client.id))}
                    for client, data in files:
                        windows = coverage_windows(s, ids[client], datetime.now(UTC))
                        t0 = time.process_time()
                        parse_sysinfo(data, skip=windows)
                        parse_cpu += time.process_time() - t0
                server0 = _backend_cpu(db)
                t0 = time.process_time()
                done = profiler.runcall(drain, ctx) if profiler is not None and hour else drain(ctx)
                client_cpu = time.process_time() - t0
                server_cpu = _backend_cpu(db) - server0
                total = (client_cpu + server_cpu) / done
                rows.append(
                    {
                        "round": f"{name} (report {hour + 1})",
                        "reports": done,
                        "cpu_ms": round(1000 * total, 1),
                        "parse_ms": round(1000 * parse_cpu / len(files), 1),
                        "server_ms": round(1000 * server_cpu / done, 1),
                        "reports_per_core_s": round(1 / total, 1),
                    }
                )
            db.dispose()
        finally:
            drop_database(handle)
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(40)
    return rows


def parse_rss(xml_path: Path) -> dict[str, float]:
    code = f"""
import gc, sys, time, json
from pathlib import Path
def status(key):
    # VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak.
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
from kodeks_smart.parsers.sysinfo import parse_sysinfo
data = Path({str(xml_path)!r}).read_bytes()
gc.collect()
base = status('VmRSS')
t = time.perf_counter(); report = parse_sysinfo(data); took = time.perf_counter() - t
peak = status('VmHWM')
print(json.dumps({{"xml_mb": len(data) / 1e6, "parse_s": took, "rss_before_mb": base, "peak_rss_mb": peak,
                  "growth_mb": peak - base, "records": len(report.searches) + len(report.usage) + len(report.logins)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-url", help="PostgreSQL server URL (a scratch database is created and dropped)")
    parser.add_argument("--clients", type=int, default=40, help="clients, one sysinfo report each per round")
    parser.add_argument("--status", type=int, default=400, help="status files per round")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 20 MB memory measurement")
    parser.add_argument(
        "--cpu-clients", type=int, default=10, help="clients of the in-process CPU measurement (0: skip it)"
    )
    parser.add_argument("--cpu-only", action="store_true", help="only the in-process CPU measurement")
    parser.add_argument(
        "--steady-rounds", type=int, default=2, help="steady rounds of the in-process CPU measurement"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a cProfile of the steady drains of the CPU measurement to this file",
    )
    parser.add_argument(
        "--target-rate",
        type=float,
        default=20.0,
        help="steady reports per second of the api + one worker run (the issue's target; 0: skip that run)",
    )
    parser.add_argument(
        "--target-rounds",
        type=int,
        default=3,
        help="steady rounds (of --clients reports) sent at --target-rate",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON too")
    args = parser.parse_args()

    backend = "PostgreSQL" if args.pg_url else "SQLite"
    reference = machine_reference()
    print(reference)
    cpu = (
        cpu_per_report(args.pg_url, args.cpu_clients, args.steady_rounds, args.profile)
        if args.cpu_clients
        else []
    )
    if cpu:
        print(f"\nprocessing CPU per sysinfo report, in-process ({backend}; process_time + server backends)")
        print(
            f"{'round':22} {'reports':>7} {'CPU ms':>7} {'parse ms':>8} {'server ms':>9} {'reports/s/core':>14}"
        )
        for row in cpu:
            print(
                f"{row['round']:22} {row['reports']:>7} {row['cpu_ms']:>7} {row['parse_ms']:>8}"
                f" {row['server_ms']:>9} {row['reports_per_core_s']:>14}"
            )
    if args.cpu_only:
        return
    clients = [f"client{i:03d}" for i in range(args.clients)]
    hours = 4 + (args.target_rounds if args.target_rate > 0 else 0)
    print(f"generating {hours * len(clients)} sysinfo reports (100 users, 30 days)…", file=sys.stderr)
    rounds = [[(f"{c}.zip", sysinfo_zip(c, hour)) for c in clients] for hour in range(hours)]
    status = [
        [
            (f"{clients[i % len(clients)]}.status", status_file(clients[0], r * 10_000 + i))
            for i in range(args.status)
        ]
        for r in range(2)
    ]

    results: list[Run] = []
    memory: dict[str, float] | None = None
    with tempfile.TemporaryDirectory(prefix="smart-bench-") as tmp:
        home = Path(tmp)
        url, handle = make_database(args.pg_url, home)
        try:
            token = register(url, clients)
            process, base = start_server(home, url)
            try:
                results.append(
                    measure(url, base, token, "sysinfo zip, cold (first report of a client)", rounds[0], None)
                )
                burst = measure(url, base, token, "sysinfo zip, steady, burst", rounds[1], None)
                results.append(burst)
                results.append(
                    measure(
                        url,
                        base,
                        token,
                        f"sysinfo zip, steady, paced {0.8 * burst.rate:.1f}/s",
                        rounds[2],
                        0.8 * burst.rate,
                    )
                )
                sburst = measure(url, base, token, "status 16 KB, burst", status[0], None)
                results.append(sburst)
                results.append(
                    measure(
                        url,
                        base,
                        token,
                        f"status 16 KB, paced {0.8 * sburst.rate:.0f}/s",
                        status[1],
                        0.8 * sburst.rate,
                    )
                )
            finally:
                process.terminate()
                process.wait(timeout=60)
            results.append(processing_only(home, url, token, rounds[3]))
            if args.target_rate > 0:
                target = [item for r in rounds[4:] for item in r]
                results.append(at_target_rate(home, url, token, target, args.target_rate))
            if not args.skip_rss:
                xml = home / "big.xml"
                xml.write_bytes(generate_xml(SysinfoProfile("bigclient", users=1000, days=30)))
                memory = parse_rss(xml)
        finally:
            drop_database(handle)

    print(f"\nbackend: {backend}; one `smart serve` process; cpu: {os.cpu_count()} logical")
    print(f"{'run':58} {'files':>5} {'KB':>5} {'files/s':>8} {'p50 s':>7} {'p99 s':>7} {'failed':>6}")
    for run in results:
        r = run.row()
        print(
            f"{r['run']:58} {r['files']:>5} {r['size_kb']:>5} {r['files_per_s']:>8} {r['p50_s']:>7} {r['p99_s']:>7}"
            f" {r['failed']:>6}"
        )
    if memory:
        print(
            f"parse {memory['xml_mb']:.1f} MB XML: {memory['parse_s']:.2f} s, RSS {memory['rss_before_mb']:.0f} → "
            f"peak {memory['peak_rss_mb']:.0f} MB (growth {memory['growth_mb']:.0f} MB)"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "backend": backend,
                    "machine": reference,
                    "cpu": cpu,
                    "runs": [r.row() for r in results],
                    "memory": memory,
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
