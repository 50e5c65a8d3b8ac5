"""Throughput, scheduler lag, CPU and memory of the probes against N simulated installations.

The simulator (`smart simulate`, the real CLI) runs in a child process on loopback; N installations are
registered in a fresh SQLite store, each probed every --interval seconds. After a warm-up of one interval
(every target has had its first, spread-out run) the benchmark measures for --seconds:

* installations fully checked per CPU-second of the probing process (cycles / CPU seconds);
* checks per second (individual check results) and cycles per second;
* scheduler lag between a cycle's due time and its start: p50 and p99;
* missed cycles (a target's cycle skipped because its previous one was still running);
* CPU share and RSS (current and peak) of the probing process.

Two ways to run the probes:

    # in this process (exact lag quantiles from the runner):
    .venv/bin/python bench/probes.py -n 1000 --seconds 120
    .venv/bin/python bench/probes.py -n 10000 --seconds 120
    # every check, with the test user's login/logout (auth, key, warning, limit, search):
    .venv/bin/python bench/probes.py -n 1000 --seconds 120 --login
    # `smart serve` as a child process, read back from its /metrics (lag quantiles from the histogram):
    .venv/bin/python bench/probes.py -n 1000 --seconds 300 --serve

Without --login an installation cycle is icmp + tcp + one main-page fetch (which answers http200,
maintenance, needsupport and proxy). Ports --port-base-1 … --port-base+N must be free; keep them below the
ephemeral range (cat /proc/sys/net/ipv4/ip_local_port_range). Everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from kodeks_smart.config import Settings
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.runner import ProbeRunner, RunnerConfig
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Installation

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_mem(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MiB."""
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def start_simulator(n: int, port_base: int) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "kodeks_smart.simulator.cli",
        "--installations",
        str(n),
        "--port-base",
        str(port_base),
        "--control-port",
        str(port_base - 1),
        "--no-licman",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if re.search(r"control API: http://\S+/api/health", line):
            return process
    process.wait()
    raise RuntimeError(f"simulator did not start: {process.stderr.read() if process.stderr else ''}")


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float = 60) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def register(home: Path, n: int, port_base: int, login: bool) -> tuple[str, SecretBox]:
    url = f"sqlite:///{home}/smart.db"
    db = Database(url)
    migrate.upgrade(db)
    box = SecretBox.from_file(home / "secret.key", create=True)
    password = box.encrypt("smartpass") if login else None
    with db.write() as s:
        dealer, _token = admin.add_dealer(s, "0599BENCH", "Бенчмарк")
        cabinet = admin.add_cabinet(s, dealer.code, "Все")
        s.execute(
            insert(Client),
            [
                {
                    "dealer_id": dealer.id,
                    "cabinet_id": cabinet.id,
                    "short_name": f"client{i:05d}",
                    "display_name": f"ООО «Клиент {i:05d}»",
                }
                for i in range(n)
            ],
        )
        clients = dict(s.execute(select(Client.short_name, Client.id)).all())
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
                    "ping": True,
                    "tz_offset_minutes": 180,
                    "test_login": "smartlogin" if login else None,
                    "test_password_enc": password,
                    "pull": False,
                }
                for i in range(n)
            ],
        )
    db.dispose()
    return url, box


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    args: argparse.Namespace,
    mode: str,
    cycles: float,
    checks: float,
    cpu: float,
    wall: float,
    p50: float,
    p99: float,
    missed: float,
    rss: float,
    hwm: float,
) -> None:
    kind = "all checks with login/logout" if args.login else "icmp + tcp + main page"
    print(f"\n== probes bench: N={args.n}, interval {args.interval:g} s, {kind}, {mode}")
    print(f"measured {wall:.0f} s after a {args.interval:g} s warm-up")
    print(
        f"installation cycles:              {cycles:.0f} ({cycles / wall:.1f}/s; due {args.n / args.interval:.1f}/s)"
    )
    print(f"check results:                    {checks:.0f} ({checks / wall:.0f}/s)")
    print(f"CPU of the probing process:       {cpu:.1f} s ({cpu / wall * 100:.1f} % of one core)")
    print(f"installations checked per CPU-s:  {cycles / cpu if cpu else float('inf'):.0f}")
    print(f"scheduler lag p50 / p99:          {p50 * 1000:.1f} ms / {p99 * 1000:.1f} ms")
    print(f"missed cycles:                    {missed:.0f}")
    print(f"RSS now / peak:                   {rss:.0f} MiB / {hwm:.0f} MiB")


async def in_process(args: argparse.Namespace, url: str, box: SecretBox, home: Path) -> None:
    settings = Settings.from_values(
        {"database_url": url, "data_dir": str(home / "data"), "secret_key_file": str(home / "secret.key")}
    )
    services = Services(settings=settings, db=Database(url), box=box)
    config = RunnerConfig(
        interval=args.interval,
        timeout=10.0,
        pull=False,
        concurrency=args.concurrency,
        host_concurrency=args.concurrency,
    )
    runner = ProbeRunner(services, config)
    await runner.start()
    try:
        await asyncio.sleep(args.interval)  # warm-up: every target had its first run
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        cycles0, checks0 = runner.stats.cycles["inst"], runner.stats.checks
        missed0 = sum(runner.stats.missed.values())
        runner.stats.lags.clear()
        t0 = time.monotonic()
        await asyncio.sleep(args.seconds)
        wall = time.monotonic() - t0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu0
        lags = list(runner.stats.lags)
        rss, hwm = proc_mem(os.getpid())
        report(
            args,
            "in-process ProbeRunner",
            runner.stats.cycles["inst"] - cycles0,
            runner.stats.checks - checks0,
            cpu,
            wall,
            quantile(lags, 0.5),
            quantile(lags, 0.99),
            sum(runner.stats.missed.values()) - missed0,
            rss,
            hwm,
        )
        print(
            f"peak cycles in flight:            {runner.stats.peak_inflight}; timeouts: {dict(runner.stats.timeouts)}"
        )
    finally:
        await runner.stop(grace=15)
        services.close()


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("smart_probe_") and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = values.get(name, 0.0) + float(value)
    return values


def histogram_quantile(metrics: dict[str, float], before: dict[str, float], q: float) -> float:
    buckets = []
    for name, value in metrics.items():
        found = re.match(r'smart_probe_lag_seconds_bucket\{le="([^"]+)"\}', name)
        if found:
            buckets.append((float(found[1]), value - before.get(name, 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return 0.0
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= q * total:
            if bound == float("inf"):
                return previous_bound
            share = (q * total - previous_count) / max(count - previous_count, 1e-9)
            return previous_bound + (bound - previous_bound) * share  # linear within the bucket
        previous_bound, previous_count = bound, count
    return previous_bound


def serve(args: argparse.Namespace, url: str, home: Path) -> None:
    port = args.port_base - 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMART_")}
    env.update(
        SMART_DATABASE_URL=url,
        SMART_DATA_DIR=str(home / "data"),
        SMART_SECRET_KEY_FILE=str(home / "secret.key"),
        SMART_HOST="127.0.0.1",
        SMART_PORT=str(port),
        SMART_LOG_FORMAT="json",
        SMART_LOG_LEVEL="WARNING",
        SMART_PROBES="true",
        SMART_PROBE_PULL="false",
        SMART_PROBE_INTERVAL=str(args.interval),
        SMART_PROBE_CONCURRENCY=str(args.concurrency),
        SMART_PROBE_HOST_CONCURRENCY=str(args.concurrency),
    )
    log = open(home / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [sys.executable, "-m", "kodeks_smart", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("smart serve did not start; see " + str(home / "serve.log"))
            time.sleep(0.2)
        time.sleep(args.interval)
        before, cpu0, t0 = scrape(base), proc_cpu(process.pid), time.monotonic()
        time.sleep(args.seconds)
        after, cpu, wall = scrape(base), proc_cpu(process.pid) - cpu0, time.monotonic() - t0
        rss, hwm = proc_mem(process.pid)

        def delta(name: str) -> float:
            return after.get(name, 0.0) - before.get(name, 0.0)

        checks = sum(
            v - before.get(k, 0.0) for k, v in after.items() if k.startswith("smart_probe_results_total")
        )
        missed = sum(
            v - before.get(k, 0.0)
            for k, v in after.items()
            if k.startswith("smart_probe_missed_cycles_total")
        )
        report(
            args,
            "`smart serve` (lag quantiles interpolated from the histogram)",
            delta('smart_probe_cycles_total{kind="inst"}'),
            checks,
            cpu,
            wall,
            histogram_quantile(after, before, 0.5),
            histogram_quantile(after, before, 0.99),
            missed,
            rss,
            hwm,
        )
        timeouts = delta('smart_probe_cycle_timeouts_total{kind="inst"}')
        print(f"cycle timeouts: {timeouts:.0f}")
    finally:
        stop(process)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1000, help="simulated installations")
    parser.add_argument(
        "--interval", type=float, default=60.0, help="seconds between two cycles of one installation"
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="measured time after the warm-up")
    parser.add_argument("--port-base", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--login", action="store_true", help="register the test user: all checks incl. login")
    parser.add_argument("--serve", action="store_true", help="probe with `smart serve` in a child process")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="smart-bench-probes-"))
    (home / "data").mkdir()
    simulator = start_simulator(args.n, args.port_base)
    try:
        url, box = register(home, args.n, args.port_base, args.login)
        if args.serve:
            serve(args, url, home)
        else:
            asyncio.run(in_process(args, url, box, home))
    finally:
        stop(simulator)


if __name__ == "__main__":
    main()
