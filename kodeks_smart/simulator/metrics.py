"""Prometheus text served at ``/sysinfo/metrics`` (legacy) and ``/sysmon/metrics`` (sysmon plugin).

``/sysinfo/metrics`` follows the only published example exactly (spec §5.1): one block per catalog
path with ``kserver_main_page`` and ``kserver_product_control``, 0 = OK, 1 = problem, plus a ``status``
label on ``kserver_main_page`` when there is a problem.

The ``/sysmon/metrics`` names are **assumed**: no public source lists them (spec §5.2, §11). The set
below keeps the two published ``kserver_*`` names, adds gauges for every state the simulator can be
switched into and the default process metrics a Node/Express plugin exposes, so that a parser written
against it must handle generic exposition text. It is documented in docs/simulator.md.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class ServerFacts:
    """What the metrics endpoints report about one installation at one moment."""

    now: float
    started_at: float
    version: str
    regnum: str
    catalogs: tuple[str, ...]
    running: bool  # the server core is up (not "not started")
    maintenance: bool
    need_support: bool
    server_error: bool
    key_error: int  # 0 = key OK
    licman_up: bool
    licman_address: str
    seats: int
    sessions: int
    busy_seats: int
    logins_total: int
    refused_seats_total: int
    refused_auth_total: int
    requests_total: int
    operup_timestamp: float
    licence_until: float
    seed: int


def _main_page_status(facts: ServerFacts) -> str:
    if facts.maintenance:
        return "update DB"
    if facts.server_error:
        return "no required volume DB"
    return ""


def sysinfo_metrics(facts: ServerFacts) -> bytes:
    """The legacy ``/sysinfo/metrics`` body (Prometheus text 0.0.4)."""
    status = _main_page_status(facts)
    lines = ["# Sysinfo metrics"]
    for path in facts.catalogs:
        lines.append(f"# Path {path}")
        labels = f'service="kodweb",path="{path}"'
        if status:
            lines.append(f'kserver_main_page{{{labels},status="{status}"}} 1')
        else:
            lines.append(f"kserver_main_page{{{labels}}} 0")
        lines.append(f"kserver_product_control{{{labels}}} {1 if facts.key_error else 0}")
    lines.append("# End")
    return ("\n".join(lines) + "\n").encode()


def _gauge(
    out: list[str], name: str, help_text: str, samples: list[tuple[str, float | int]], kind: str = "gauge"
) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        label_text = f"{{{labels}}}" if labels else ""
        out.append(f"{name}{label_text} {_number(value)}")


def _number(value: float | int) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def sysmon_metrics(facts: ServerFacts) -> bytes:
    """The ``/sysmon/metrics`` body; see the module docstring: metric names are assumed."""
    svc = 'service="kodweb"'
    out: list[str] = []
    status = _main_page_status(facts)
    used = min(facts.sessions + facts.busy_seats, facts.seats)
    _gauge(
        out,
        "kserver_info",
        "Kodeks server version and registration.",
        [(f'{svc},version="{facts.version}",regnum="{facts.regnum}"', 1)],
    )
    _gauge(out, "kserver_up", "1 if the server core is running.", [(svc, int(facts.running))])
    _gauge(
        out, "kserver_start_time_seconds", "Server start time, Unix seconds.", [(svc, int(facts.started_at))]
    )
    _gauge(
        out,
        "kserver_maintenance",
        "1 while the server is in maintenance mode.",
        [(svc, int(facts.maintenance))],
    )
    _gauge(
        out,
        "kserver_need_support",
        "1 while the main page shows the need-support message.",
        [(svc, int(facts.need_support))],
    )
    _gauge(
        out,
        "kserver_main_page",
        "1 if the main page of a catalog is not built correctly.",
        [
            (f'{svc},path="{p}"' + (f',status="{status}"' if status else ""), int(bool(status)))
            for p in facts.catalogs
        ],
    )
    _gauge(
        out,
        "kserver_product_control",
        "1 if the DB set of a catalog must be checked.",
        [(f'{svc},path="{p}"', int(bool(facts.key_error))) for p in facts.catalogs],
    )
    _gauge(
        out,
        "kserver_catalog_errors",
        "Errors in a virtual catalog.",
        [(f'{svc},path="{p}"', int(facts.server_error)) for p in facts.catalogs],
    )
    _gauge(
        out,
        "kserver_protection_ok",
        "1 if the protection key (SenseLock) is available.",
        [(f'{svc},type="senselock"', int(not facts.key_error))],
    )
    _gauge(out, "kserver_protection_error_code", "Protection error code, 0 = none.", [(svc, facts.key_error)])
    _gauge(
        out,
        "kserver_licman_up",
        "1 if the licence manager answers.",
        [(f'{svc},address="{facts.licman_address}"', int(facts.licman_up))],
    )
    _gauge(out, "kserver_licenses_total", "Seats in the reg file.", [(svc, facts.seats)])
    _gauge(out, "kserver_licenses_used", "Seats in use.", [(svc, used)])
    _gauge(out, "kserver_sessions", "Open user sessions.", [(svc, facts.sessions + facts.busy_seats)])
    _gauge(out, "kserver_logins_total", "Successful logins.", [(svc, facts.logins_total)], "counter")
    _gauge(
        out,
        "kserver_login_refused_total",
        "Refused logins by reason.",
        [
            (f'{svc},reason="toomanyusers"', facts.refused_seats_total),
            (f'{svc},reason="auth"', facts.refused_auth_total),
        ],
        "counter",
    )
    _gauge(
        out, "kserver_http_requests_total", "HTTP requests served.", [(svc, facts.requests_total)], "counter"
    )
    _gauge(
        out,
        "kserver_operup_last_timestamp_seconds",
        "Date of the newest OperUp package, Unix seconds.",
        [(f'{svc},path="{p}"', int(facts.operup_timestamp)) for p in facts.catalogs],
    )
    _gauge(
        out,
        "kserver_license_expiry_timestamp_seconds",
        "Reg-file time limit, Unix seconds.",
        [(svc, int(facts.licence_until))],
    )
    uptime = max(facts.now - facts.started_at, 0.0)
    rss = 180_000_000 + (facts.seed % 97) * 1_000_000
    _gauge(
        out,
        "process_cpu_user_seconds_total",
        "Total user CPU time spent in seconds.",
        [("", round(uptime * 0.01, 3))],
        "counter",
    )
    _gauge(
        out,
        "process_cpu_system_seconds_total",
        "Total system CPU time spent in seconds.",
        [("", round(uptime * 0.004, 3))],
        "counter",
    )
    _gauge(
        out,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        [("", int(facts.started_at))],
    )
    _gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", [("", rss)])
    _gauge(out, "nodejs_eventloop_lag_seconds", "Lag of event loop in seconds.", [("", 0.002)])
    _gauge(
        out, "nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", [("", rss // 4)]
    )
    _gauge(
        out,
        "nodejs_version_info",
        "Node.js version info.",
        [('version="v18.20.4",major="18",minor="20",patch="4"', 1)],
    )
    return ("\n".join(out) + "\n").encode()


def weak_etag(body: bytes) -> str:
    """An Express-style weak ETag: ``W/"<length hex>-<base64 sha1, 27 chars>"``."""
    digest = base64.b64encode(hashlib.sha1(body).digest()).decode()[:27]  # noqa: S324 - not security
    return f'W/"{len(body):x}-{digest}"'
