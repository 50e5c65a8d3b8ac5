"""Memory and CPU of `smart simulate` with many installations in one process.

Starts the simulator as a child process (the real CLI), reads the child's RSS and CPU time from /proc,
sweeps every installation once with GET /docs/ and once with a login (each login keeps a session), then
stops it with SIGTERM. The client runs in this process, so its cost does not pollute the numbers.

    .venv/bin/python bench/simulator_memory.py --installations 10000 --port-base 20000
    .venv/bin/python bench/simulator_memory.py --installations 10000 --port-base 20000 --vhosts

Ports port-base-1 … port-base+N (and the licence manager ports after them) must be free; keep them below
the ephemeral range (cat /proc/sys/net/ipv4/ip_local_port_range).
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
import time

import httpx

TICK = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def start(args: argparse.Namespace, installations: int) -> tuple[subprocess.Popen[str], str, float]:
    command = [
        sys.executable,
        "-m",
        "kodeks_smart.simulator.cli",
        "--installations",
        str(installations),
        "--port-base",
        str(args.port_base),
        "--control-port",
        str(args.port_base - 1),
    ]
    if args.vhosts:
        command.append("--vhosts")
    began = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"control API: (http://\S+)/api/health", line)
        if found:
            return process, found[1], time.perf_counter() - began
    process.wait()
    raise RuntimeError(f"simulator did not start: {process.stderr.read() if process.stderr else ''}")


def stop(process: subprocess.Popen[str]) -> float:
    began = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    return time.perf_counter() - began


async def sweep(urls: list[tuple[str, str]], concurrency: int, login: bool) -> tuple[int, float]:
    """GET /docs/ (or a login) once per installation; returns (successes, seconds)."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    ok = 0
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(url: str, host: str) -> None:
            nonlocal ok
            async with gate:
                headers = {"Host": host} if host else {}
                if login:
                    data = {"user": "smartlogin", "pass": "smartpass", "path": "/docs"}
                    response = await client.post(url + "/users/login.asp", data=data, headers=headers)
                    ok += response.status_code == 302
                else:
                    response = await client.get(url + "/docs/", headers=headers)
                    ok += response.status_code == 200

        began = time.perf_counter()
        await asyncio.gather(*(one(url, host) for url, host in urls))
        return ok, time.perf_counter() - began


def targets(control: str, vhosts: bool) -> list[tuple[str, str]]:
    rows = httpx.get(control + "/api/installations", params={"limit": 100_000}, timeout=60).json()["items"]
    if not vhosts:
        return [(row["url"], "") for row in rows]
    return [(f"http://127.0.0.1:{row['port']}", f"{row['client']}.localhost") for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--installations", type=int, default=10_000)
    parser.add_argument("--port-base", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--vhosts", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    baseline, control, _ = start(args, 1)
    base_rss = rss_mib(baseline.pid)
    stop(baseline)

    process, control, startup = start(args, args.installations)
    try:
        health = httpx.get(control + "/api/health", timeout=60).json()
        idle_rss = rss_mib(process.pid)
        idle_fds = fds(process.pid)
        urls = targets(control, args.vhosts)
        cpu0 = cpu_seconds(process.pid)
        got, get_seconds = asyncio.run(sweep(urls, args.concurrency, login=False))
        cpu1 = cpu_seconds(process.pid)
        get_rss = rss_mib(process.pid)
        logged, login_seconds = asyncio.run(sweep(urls, args.concurrency, login=True))
        cpu2 = cpu_seconds(process.pid)
        login_rss = rss_mib(process.pid)
    finally:
        shutdown = stop(process)

    n = args.installations
    mode = "one port per installation" if not args.vhosts else "virtual hosts on one port"
    print(f"## {n} installations, {mode}, licence manager ports: {health['licman']}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, RLIMIT_NOFILE {hard}")
    print()
    print("| measurement | value |")
    print("|---|---|")
    print(f"| RSS with 1 installation (interpreter + modules) | {base_rss:.1f} MiB |")
    print(f"| RSS with {n} installations, idle | {idle_rss:.1f} MiB |")
    print(f"| per installation, idle | {(idle_rss - base_rss) * 1024 / max(n - 1, 1):.2f} KiB |")
    print(f"| open file descriptors | {idle_fds} |")
    print(f"| start-up until addresses printed | {startup:.1f} s |")
    print(
        f"| GET /docs/ on every installation ({got} x 200) | {get_seconds:.1f} s wall, {cpu1 - cpu0:.1f} s CPU |"
    )
    print(f"| CPU per request in the simulator | {(cpu1 - cpu0) / max(got, 1) * 1e6:.0f} us |")
    print(f"| RSS after the GET sweep | {get_rss:.1f} MiB |")
    print(
        f"| login on every installation ({logged} x 302) | {login_seconds:.1f} s wall, {cpu2 - cpu1:.1f} s CPU |"
    )
    print(f"| RSS with {logged} open sessions | {login_rss:.1f} MiB |")
    print(f"| shutdown after SIGTERM | {shutdown:.1f} s |")
    del soft


if __name__ == "__main__":
    main()
