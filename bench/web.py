"""Dashboard benchmark: server time per dashboard for a big cabinet, on SQLite or PostgreSQL.

    .venv/bin/python bench/web.py [--installations 1000] [--months 13] [--users 5] [--requests 7]
                                  [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                  [--ranges default,13M] [--only analytics,managers]

1. builds one cabinet with N installations (clients, managers, online accesses) and `--months` of data with
   bulk inserts: a sysinfo report per installation per day (seats, connected sessions), hourly usage of the
   working hours (one user row per installation and hour), users, weekly empty searches and refusals,
   DB errors and OperUp files for the last 30 days, abnormal-state intervals and check states, failed
   online logins, and free-disk gauges (hourly rollups for 13 months, raw samples for 2 days) on 10 % of
   the installations (disk metrics need an individual setup on the client's server);
2. logs in as a cabinet user and requests every registered dashboard in-process through the ASGI app
   (TestClient: routing, dependencies, queries, template), once to warm up and then `--requests` times
   per time range, then the cabinet's other pages the same way (`PAGES`: alerts, upload log, ASRP log,
   the prolongation reports), and prints p50 / p99 / max of the wall time per request (and the minimum: on a machine
   shared with other load it is the steadiest figure to compare two versions by).
With a PostgreSQL URL a throwaway database is created on that server and dropped at the end.
Numbers are measured, never assumed; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Table, create_engine, event, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe as machine_reference
from kodeks_smart.app import create_app
from kodeks_smart.config import Settings
from kodeks_smart.ingest import metric_daily, operup_latest, seats_rollup, usage_rollup, user_rollup
from kodeks_smart.ingest.writers import labels_key
from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.server import freeze_heap
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database, normalize_url
from kodeks_smart.store.ingest_models import (
    HourlyRollup,
    MetricSeries,
    Sample,
    SysinfoComponent,
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoKassistDay,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
    Upload,
)
from kodeks_smart.store.models import Cabinet, Client, Installation, Manager, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeStateInterval
from kodeks_smart.web.dashboards import REGISTRY

CHUNK = 20_000
GB = 1024**3
DEALER = "0599BENCHWEB01"


def table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def bulk(db: Database, model: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows in chunks, one transaction per chunk; returns the count."""
    n = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with db.write() as s:
            s.execute(insert(table(model)), batch)

    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
            n += len(batch)
            batch = []
    if batch:
        flush()
        n += len(batch)
    return n


def build(db: Database, hashing: PasswordHashing, box: SecretBox, args: argparse.Namespace) -> dict[str, int]:
    rnd = random.Random(7)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    days = int(args.months * 30.5)
    start = now - timedelta(days=days)
    counts: dict[str, int] = {}
    with db.write() as s:
        dealer, _ = admin.add_dealer(s, DEALER, "Бенчмарк")
        cabinet = admin.add_cabinet(s, DEALER, "Большой кабинет")
        admin.add_account(s, hashing, "bench", "bench-password", "cabinet", DEALER, ["Большой кабинет"])
        tenant = {"dealer_id": dealer.id, "cabinet_id": cabinet.id}
    bulk(db, Manager, ({**tenant, "name": f"Менеджер {m:02d}", "emails": []} for m in range(20)))
    with db.session() as s:
        managers = list(s.scalars(select(Manager.id).where(Manager.cabinet_id == tenant["cabinet_id"])))
    n = args.installations
    bulk(
        db,
        Client,
        (
            {
                **tenant,
                "manager_id": managers[i % len(managers)],
                "short_name": f"client{i:04d}",
                "display_name": f"ООО «Клиент {i}»",
                "created_at": start,
            }
            for i in range(n)
        ),
    )
    with db.session() as s:
        clients = list(
            s.scalars(select(Client.id).where(Client.cabinet_id == tenant["cabinet_id"]).order_by(Client.id))
        )
    bulk(
        db,
        Installation,
        (
            {
                **tenant,
                "client_id": c,
                "kind": "internet",
                "address": f"kodeks{i:04d}.example.ru:80",
                "protocol": "http",
                "ping": True,
                "tz_offset_minutes": 180,
                "pull": False,
                "created_at": start,
            }
            for i, c in enumerate(clients)
        ),
    )
    with db.session() as s:
        insts = list(
            s.execute(
                select(Installation.id, Installation.client_id)
                .where(Installation.cabinet_id == tenant["cabinet_id"])
                .order_by(Installation.id)
            )
        )
    password = box.encrypt("x")
    bulk(
        db,
        OnlineAccess,
        (
            {
                **tenant,
                "client_id": c,
                "firm_name": f"Клиент {i}",
                "host": ("buh1.kodeks.ru", "fs.kodeks.ru", "nps.cntd.ru")[i % 3],
                "catalog": "kodeks02",
                "login": f"online{i}",
                "password_enc": password,
                "created_at": start,
            }
            for i, c in enumerate(clients[: n // 5])
        ),
    )

    # One upload + report per installation per day (every hour in the last --hourly-days, as agents upload);
    # sessions, DB errors and OperUp files hang on it.
    hourly_from = now - timedelta(days=args.hourly_days)
    report_days = [at for d in range(days) if (at := start + timedelta(days=d, hours=12)) < hourly_from] + [
        hourly_from + timedelta(hours=h) for h in range(24 * args.hourly_days)
    ]
    counts["uploads"] = bulk(
        db,
        Upload,
        (
            {
                **tenant,
                "client_id": c,
                "installation_id": i,
                "filename": f"client{i}.xml",
                "client_name": f"client{i}",
                "kind": "sysinfo",
                "fmt": "xml",
                "size": 1,
                "sha256": hashlib.sha256(f"{i}:{d}".encode()).hexdigest(),
                "status": "done",
                "source": "agent",
                "received_at": at,
                "last_received_at": at,
                "report_time": at,
            }
            for d, at in enumerate(report_days)
            for i, c in insts
        ),
    )
    with db.session() as s:
        uploads = {
            (inst, at.replace(tzinfo=UTC) if at.tzinfo is None else at): uid
            for uid, inst, at in s.execute(
                select(Upload.id, Upload.installation_id, Upload.report_time).where(
                    Upload.cabinet_id == tenant["cabinet_id"]
                )
            )
        }

    seats = {i: 5 + (i % 20) for i, _ in insts}

    def fact(i: int, c: int, at: datetime) -> dict[str, Any]:
        return {**tenant, "client_id": c, "installation_id": i, "upload_id": uploads[(i, at)], "extra": {}}

    counts["reports"] = bulk(
        db,
        SysinfoReportRow,
        (
            {
                **fact(i, c, at),
                "created_at": at,
                "utc_offset_minutes": 180,
                "seats": seats[i],
                "regnum": f"0599_{i:06d}",
                "sections": {},
                "unknown_paths": [],
            }
            for at in report_days
            for i, c in insts
        ),
    )
    counts["sessions"] = bulk(
        db,
        SysinfoSession,
        (
            {
                **fact(i, c, at),
                "report_at": at,
                "login": f"u{k}",
                "ip": "10.0.0.1",
                "domain": "BUH" if k == 0 else None,
            }
            for at in report_days
            for i, c in insts
            for k in range(rnd.randint(0, min(args.users, seats[i])))
        ),
    )
    recent = [at for at in report_days if at >= now - timedelta(days=30)]
    latest = report_days[-1]
    counts["databases"] = bulk(
        db,
        SysinfoDatabase,
        (
            {
                **fact(i, c, latest),
                "report_at": latest,
                "code": "KOD",
                "license_to": (now + timedelta(days=10 + i % 300)).date(),
            }
            for i, c in insts
        ),
    )
    counts["db_errors"] = bulk(
        db,
        SysinfoDbError,
        (
            {
                **fact(i, c, at),
                "report_at": at,
                "database": "KOD",
                "volume": f"vol{v}",
                "code": 603,
                "text": "Invalid protect string",
            }
            for at in recent
            for i, c in insts
            if i % 10 == 0
            for v in range(3)
        ),
    )
    counts["operup"] = bulk(
        db,
        SysinfoOperUpFile,
        (
            {
                **fact(i, c, at),
                "report_at": at,
                "path": f"OperUp\\{f}.ud6",
                "modified_at": at - timedelta(hours=rnd.randint(1, 100)),
            }
            for at in recent
            for i, c in insts
            for f in ("2330nvd", "2330thes")
        ),
    )
    first_upload = {i: uploads[(i, report_days[0])] for i, _ in insts}
    counts["users"] = bulk(
        db,
        SysinfoUser,
        (
            {
                **tenant,
                "client_id": c,
                "installation_id": i,
                "upload_id": first_upload[i],
                "login": f"u{k}",
                "first_seen_at": start,
                "last_seen_at": now,
                "last_login_at": now - timedelta(days=rnd.randint(0, 120)),
                "domain": "BUH" if k == 0 else None,
                "full_name": f"Пользователь {k}" if k % 2 else None,
                "month_from": now.replace(day=1).date(),
                "month_db_requests": rnd.randint(0, 300),
                "month_docs": rnd.randint(0, 100),
                "extra": {},
            }
            for i, c in insts
            for k in range(args.users)
        ),
    )
    work_hours = [
        start + timedelta(days=d, hours=h)
        for d in range(days)
        if (start + timedelta(days=d)).weekday() < 5
        for h in range(6, 6 + args.hours_per_day)
    ]
    counts["usage"] = bulk(
        db,
        SysinfoUsageHour,
        (
            {
                **tenant,
                "client_id": c,
                "installation_id": i,
                "upload_id": first_upload[i],
                "extra": {},
                "hour": h,
                "login": f"u{(n_h + i) % args.users}",
                "report_at": h,
                "db_requests": (n_h * 7 + i) % 40,
                "docs": (n_h + i) % 9,
                "saved": (n_h + i) % 3,
                "printed": (n_h + i) % 2,
                "kassist": (n_h + i) % 4,
                "services": 1,
                "searches": (n_h + i) % 11,
            }
            for n_h, h in enumerate(work_hours)
            for i, c in insts
        ),
    )
    counts["searches"] = bulk(
        db,
        SysinfoSearch,
        (
            {
                **tenant,
                "client_id": c,
                "installation_id": i,
                "upload_id": first_upload[i],
                "extra": {},
                "occurred_at": start + timedelta(days=d, hours=10),
                "login": "u1",
                "query_key": f"{d:032d}",
                "query": "договор аренды",
                "type": "i",
                "result": "empty",
            }
            for d in range(0, days, 7)
            for i, c in insts
        ),
    )
    counts["refusals"] = bulk(
        db,
        SysinfoRefusal,
        (
            {
                **tenant,
                "client_id": c,
                "installation_id": i,
                "upload_id": first_upload[i],
                "extra": {},
                "occurred_at": start + timedelta(days=d, hours=11),
                "login": "u2",
                "reason": "no-seats",
                "code": 2008,
            }
            for d in range(3, days, 7)
            for i, c in insts
        ),
    )
    counts["state_intervals"] = bulk(
        db,
        ProbeStateInterval,
        (
            {
                **tenant,
                "installation_id": i,
                "state": ("server_down", "maintenance")[d % 2],
                "http_code": None if d % 2 == 0 else 503,
                "started_at": start + timedelta(days=d, hours=i % 24),
                "ended_at": start + timedelta(days=d, hours=i % 24, minutes=20 + i % 40),
                "detail": "",
            }
            for d in range(0, days, 15)
            for i, _ in insts
        ),
    )
    counts["checks"] = bulk(
        db,
        ProbeCheck,
        (
            {
                **tenant,
                "installation_id": i,
                "check_name": check,
                "status": "ok" if (i + k) % 17 else "fail",
                "since": now - timedelta(hours=i % 48),
                "checked_at": now,
                "value": "",
                "detail": "",
            }
            for i, _ in insts
            for k, check in enumerate(("tcp", "http200", "auth"))
        ),
    )
    with db.session() as s:
        accesses = list(
            s.execute(
                select(OnlineAccess.id, OnlineAccess.client_id).where(
                    OnlineAccess.cabinet_id == tenant["cabinet_id"]
                )
            )
        )
    counts["online_alerts"] = bulk(
        db,
        AlertState,
        (
            {
                **tenant,
                "client_id": c,
                "online_access_id": a,
                "rule": "OnlineLoginFailed",
                "key": f"online:{a}:{d}",
                "status": "resolved",
                "severity": "critical",
                "priority": 2,
                "category": "online",
                "labels": {},
                "summary": "",
                "started_at": start + timedelta(days=d),
                "resolved_at": start + timedelta(days=d, hours=1),
                "last_seen_at": start + timedelta(days=d, hours=1),
            }
            for a, c in accesses
            for d in range(a % 10, days, 20)
        ),
    )
    # issue #8 dashboards: online billing (daily readings, hourly for the last 2 days), kAssist days,
    # component versions of the last 30 days' reports
    reading_times = [start + timedelta(days=d, hours=9) for d in range(days)] + [
        now - timedelta(hours=h) for h in range(48, 0, -1)
    ]
    counts["billing_readings"] = bulk(
        db,
        OnlineBillingReading,
        (
            {
                **tenant,
                "online_access_id": a,
                "read_at": at,
                "source": "soap",
                "docs_max": 400,
                "docs_used": min(400, at.day * (3 + a % 10)),
                "search_max": 4000,
                "search_used": min(4000, at.day * 40),
                "print_max": 100,
                "print_used": at.day % 100,
                "upload_max": 100,
                "upload_used": at.day % 50,
            }
            for at in reading_times
            for a, _ in accesses
        ),
    )
    counts["kassist_days"] = bulk(
        db,
        SysinfoKassistDay,
        (
            {
                **fact(i, c, at),
                "day": at.date(),
                "report_at": at,
                "links_added": (i + n_d) % 30,
                "unique_links": (i + n_d) % 12,
                "not_matched": (i + n_d) % 3,
                "active_checked": (i + n_d) % 50,
            }
            # a row per installation and day: the day's last report
            for n_d, at in enumerate({at.date(): at for at in report_days}.values())
            for i, c in insts
        ),
    )
    counts["components"] = bulk(
        db,
        SysinfoComponent,
        (
            {
                **fact(i, c, at),
                "report_at": at,
                "type": kind,
                "name": kind,
                "version": f"6.4.{4 + i % 2}.{100 + i % 50}" if kind == "ksrv" else "1.2.3",
            }
            for at in report_days[-30:]
            for i, c in insts
            for kind in ("ksrv", "kassist")
        ),
    )
    disk_insts = [(i, c) for i, c in insts if i % 10 == 0]
    bulk(
        db,
        MetricSeries,
        (
            {
                **tenant,
                "client_id": c,
                "installation_id": i,
                "name": "disk_free",
                "labels": {"path": "/"},
                "labels_key": labels_key((("path", "/"),)),
                "source": "metrics",
                "created_at": start,
            }
            for i, c in disk_insts
        ),
    )
    with db.session() as s:
        series = list(
            s.scalars(select(MetricSeries.id).where(MetricSeries.cabinet_id == tenant["cabinet_id"]))
        )
    hours = [start + timedelta(hours=h) for h in range(days * 24)]
    counts["rollups"] = bulk(
        db,
        HourlyRollup,
        (
            {
                **tenant,
                "series_id": sid,
                "hour": h,
                "count": 4,
                "sum": 4 * (5 + sid % 50) * GB,
                "min": (5 + sid % 50) * GB,
                "max": (5 + sid % 50) * GB,
                "last": (5 + sid % 50) * GB,
                "last_ts": h,
            }
            for h in hours
            for sid in series
        ),
    )
    counts["samples"] = bulk(
        db,
        Sample,
        (
            {
                **tenant,
                "series_id": sid,
                "ts": now - timedelta(minutes=15 * k),
                "value": (5 + sid % 50) * GB,
                "upload_id": 0,
            }
            for sid in series
            for k in range(192)
        ),
    )
    return counts


#: Indexes this benchmark proposes (``--proposed-indexes`` creates them before measuring): each dashboard
#: query filters a cabinet's facts by time, and the existing single-column ``cabinet_id`` indexes make the
#: database read the cabinet's whole 13 months.
PROPOSED_INDEXES = {
    "ix_bench_usage_cabinet_hour": ("sysinfo_usage", "cabinet_id, hour"),
    "ix_bench_sessions_cabinet_report": ("sysinfo_sessions", "cabinet_id, report_at"),
    "ix_bench_reports_cabinet_created": ("sysinfo_reports", "cabinet_id, created_at"),
    "ix_bench_searches_cabinet_time": ("sysinfo_searches", "cabinet_id, occurred_at"),
    "ix_bench_refusals_cabinet_time": ("sysinfo_refusals", "cabinet_id, occurred_at"),
    "ix_bench_operup_cabinet_report": ("sysinfo_operup_files", "cabinet_id, report_at"),
    "ix_bench_db_errors_cabinet_report": ("sysinfo_db_errors", "cabinet_id, report_at"),
}


#: The cabinet's other pages, measured after the dashboards of the registry (no time range): the firing
#: alerts, the upload log, the ASRP forwarding log (first page of each) and the two prolongation reports
#: (the first client, the current year).
PAGES = {
    "alerts": "alerts",
    "uploads": "uploads",
    "asrp": "asrp",
    "prolongation": "d/prolongation",
    "prolongation-online": "d/prolongation-online",
}


def login(client: TestClient) -> None:
    form = client.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/login", data={"login": "bench", "password": "bench-password", "csrf_token": token.group(1)}
    )
    assert r.status_code == 303, r.text


def server_cpu(db: Database) -> float:
    """CPU seconds used so far by this process (the app and SQLite) and, on PostgreSQL, by the backends of
    the benchmark's database (read from /proc: the server runs on this machine). Other work on a shared
    machine inflates the wall time of a request far more than this."""
    total = time.process_time()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
            tick = os.sysconf("SC_CLK_TCK")
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(
    client: TestClient, path: str, requests: int, db: Database | None = None
) -> tuple[list[float], list[float]]:
    """Wall ms of each request and, given the database, server CPU ms (`server_cpu`)."""
    r = client.get(path, headers={"accept": "text/html"})
    if r.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {r.status_code}: {r.text[:300]}")
    times, cpu = [], []
    for _ in range(requests):
        c0 = server_cpu(db) if db else 0.0
        t0 = time.perf_counter()
        r = client.get(path, headers={"accept": "text/html"})
        times.append((time.perf_counter() - t0) * 1000)
        if db:
            cpu.append((server_cpu(db) - c0) * 1000)
        assert r.status_code == 200
    return times, cpu


def statements(client: TestClient, path: str, db: Database, top: int = 15, explain: int = 0) -> None:
    """The statements of one request, each run again alone: CPU and wall ms of executing it and fetching
    every row (on PostgreSQL the server's CPU is not in the CPU column), rows, and the start of its SQL —
    where a page's database time goes, slowest first. ``explain``: then the plans of that many of the
    slowest (``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite) with their
    whole SQL."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    )
    timed = []
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None

        def fetch(sql: str, parameters: Any) -> list[Any]:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, parameters)
                return list(cursor.fetchall())
            finally:
                cursor.close()

        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            c0, w0 = time.process_time(), time.perf_counter()
            rows = len(fetch(statement, parameters))
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            timed.append((wall, cpu, rows, " ".join(statement.split()), statement, parameters))
        timed.sort(key=lambda t: t[0], reverse=True)
        print(f"\n{len(timed)} statements of {path}, {sum(t[0] for t in timed) * 1000:.0f} ms wall in all")
        print(f"{'wall ms':>8} {'CPU ms':>7} {'rows':>8}  SQL")
        for wall, cpu, rows, sql, *_ in timed[:top]:
            print(f"{wall * 1000:8.1f} {cpu * 1000:7.1f} {rows:8}  {sql[:150]}")
        for k, (wall, _cpu, _rows, sql, statement, parameters) in enumerate(timed[:explain], start=1):
            plan = ["  ".join(str(v) for v in row) for row in fetch(prefix + statement, parameters)]
            print(f"\n-- {k}. {wall * 1000:.1f} ms: {sql}\n  parameters: {parameters}")
            print("\n".join(plan))


def profile(client: TestClient, path: str, slug: str) -> None:
    """cProfile of one request's dashboard function and rendering (they run in the server's thread),
    after one request unprofiled (SQLAlchemy's statement cache and the database's pages warm, as in the
    measured requests)."""
    import cProfile
    import pstats

    from kodeks_smart.web.dashboards import framework

    measure(client, path, 0)
    profiler = cProfile.Profile()
    spec = REGISTRY[slug]
    build, respond = spec.build, framework.View.respond

    def profiled_build(view: framework.View) -> list[framework.Panel]:
        profiler.enable()
        try:
            return build(view)
        finally:
            profiler.disable()

    def profiled_respond(view: framework.View, panels: list[framework.Panel]) -> Any:
        profiler.enable()
        try:
            return respond(view, panels)
        finally:
            profiler.disable()

    object.__setattr__(spec, "build", profiled_build)
    framework.View.respond = profiled_respond  # type: ignore[method-assign]
    try:
        measure(client, path, 0)
    finally:
        object.__setattr__(spec, "build", build)
        framework.View.respond = respond  # type: ignore[method-assign]
    pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(
        int(os.environ.get("BENCH_PROFILE_LINES", "40"))
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def temp_pg(base: str) -> Iterator[str]:
    name = f"smart_benchweb_{uuid.uuid4().hex[:10]}"
    server = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def kept_pg(base: str, name: str) -> tuple[str, bool]:
    """The URL of database ``name`` on the server of ``base`` (created when missing) and whether it existed."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"--pg-database: {name!r} is not a plain lower-case identifier")
    server = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        existed = bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}))
        if not existed:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False), existed


def run(url: str, args: argparse.Namespace, tmp: Path, reuse: bool = False) -> int:
    db = Database(url)
    hashing = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    box = SecretBox([SecretBox.generate_key()])
    print(machine_reference())
    if reuse:
        print(f"store: reusing {url}")
        migrate.upgrade(db)  # a store built before the newest migration gets its new tables filled
    else:
        migrate.upgrade(db)
        t0 = time.perf_counter()
        counts = build(db, hashing, box, args)
        print(
            f"store ({db.engine.dialect.name}): {args.installations} installations, {args.months} months, "
            f"{sum(counts.values()):,} rows in {time.perf_counter() - t0:.0f} s — "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )
        t0 = time.perf_counter()
        with db.write() as s:
            usage_rollup.backfill(s)  # the bulk inserts bypass the writer that keeps the rollups
            seats_rollup.backfill(s)  # daily seats, from the per-report seats just filled
            user_rollup.backfill(s)  # per-user daily and monthly usage
            operup_latest.backfill(s)  # the newest report per OperUp file
            s.execute(text(metric_daily.BACKFILL_SQL[db.engine.dialect.name]))  # daily metric rollups
        print(f"usage rollups filled in {time.perf_counter() - t0:.0f} s")
        if args.build_only:
            return 0
    if args.proposed_indexes:
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            for name, (tbl, cols) in PROPOSED_INDEXES.items():
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {tbl} ({cols})"))
        print(f"proposed indexes created in {time.perf_counter() - t0:.0f} s")
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    (tmp / "data").mkdir(exist_ok=True)
    settings = Settings.from_values(
        {
            "database_url": url,
            "data_dir": str(tmp / "data"),
            "secret_key_file": str(tmp / "secret.key"),
            "scheduler": False,
            "probes": False,
            "dashboard_threads": args.threads,
        }
    )
    services = Services(settings=settings, db=db, box=box, hashing=hashing)
    with db.session() as s:
        cabinet_id = s.scalar(select(Cabinet.id).where(Cabinet.name == "Большой кабинет"))
    slugs = [s for s in REGISTRY if not args.only or s in args.only.split(",")]
    ranges = args.ranges.split(",")
    worst = 0.0
    print(f"dashboard threads (SMART_DASHBOARD_THREADS): {args.threads}")
    print(
        f"\n{'dashboard':<22} {'range':<8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU p50':>8} {'min ms':>8}"
    )
    with TestClient(create_app(services), follow_redirects=False) as client:
        login(client)
        if not args.no_gc_freeze:
            freeze_heap()  # as `smart serve` does before it serves
        for slug in slugs:
            for rng in ranges:
                preset = REGISTRY[slug].default_range if rng == "default" else rng
                times, cpu = measure(client, f"/c/{cabinet_id}/d/{slug}?range={preset}", args.requests, db)
                worst = max(worst, pct(times, 0.5))
                print(
                    f"{slug:<22} {preset:<8} {pct(times, 0.5):8.0f} {pct(times, 0.99):8.0f} {max(times):8.0f}"
                    f" {pct(cpu, 0.5) if cpu else 0:8.0f} {min(times):8.0f}"
                )
        for name, page in PAGES.items():
            if args.only and name not in args.only.split(","):
                continue
            times, cpu = measure(client, f"/c/{cabinet_id}/{page}", args.requests, db)
            worst = max(worst, pct(times, 0.5))
            print(
                f"{name:<22} {'—':<8} {pct(times, 0.5):8.0f} {pct(times, 0.99):8.0f} {max(times):8.0f}"
                f" {pct(cpu, 0.5) if cpu else 0:8.0f} {min(times):8.0f}"
            )
        if args.profile:
            slug = args.profile.split("?")[0]
            profile(client, f"/c/{cabinet_id}/d/{args.profile}", slug)
        if args.statements:
            statements(client, f"/c/{cabinet_id}/d/{args.statements}", db, explain=args.explain)
    print(f"\nslowest p50: {worst:.0f} ms")
    db.dispose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--installations", type=int, default=1000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--users", type=int, default=5, help="accounts per installation")
    parser.add_argument(
        "--hourly-days",
        type=int,
        default=0,
        help="the last N days get a sysinfo report every hour (as agents upload) instead of one a day",
    )
    parser.add_argument("--hours-per-day", type=int, default=9, help="working hours with usage per weekday")
    parser.add_argument("--requests", type=int, default=7, help="measured requests per dashboard and range")
    parser.add_argument(
        "--ranges", default="default,13M", help="'default' = the dashboard's own default range"
    )
    parser.add_argument("--only", default="", help="comma-separated dashboard slugs")
    parser.add_argument(
        "--proposed-indexes", action="store_true", help="create PROPOSED_INDEXES before measuring"
    )
    parser.add_argument(
        "--sqlite-path",
        default="",
        help="keep the SQLite store in this file; an existing file is measured again without rebuilding",
    )
    parser.add_argument("--build-only", action="store_true", help="build the store and stop")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="measure without `smart serve`'s gc.freeze() after start-up",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=Settings.dashboard_threads,
        help="SMART_DASHBOARD_THREADS of the measured app (1: every page built by one thread)",
    )
    parser.add_argument(
        "--profile", default="", help="print a cProfile of one request to this path (e.g. managers)"
    )
    parser.add_argument(
        "--statements",
        default="",
        help="time each SQL statement of one request to this path, run again alone (e.g. 'managers?range=30d')",
    )
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        help="with --statements: print the plans of this many of the slowest statements",
    )
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL server URL (a temporary database is made)"
    )
    parser.add_argument(
        "--pg-database",
        default="",
        help="with --database-url: keep the store in this database; an existing one is measured again",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url and args.pg_database:
            url, existed = kept_pg(args.database_url, args.pg_database)
            return run(url, args, Path(tmp), reuse=existed)
        if args.database_url:
            with temp_pg(args.database_url) as url:
                return run(url, args, Path(tmp))
        path = Path(args.sqlite_path) if args.sqlite_path else Path(tmp) / "bench.db"
        return run(f"sqlite:///{path}", args, Path(tmp), reuse=path.exists())


if __name__ == "__main__":
    sys.exit(main())
