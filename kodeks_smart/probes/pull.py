"""Server-side pull of sysinfo and sysmon metrics from internet-reachable installations (spec §3.12).

What the agents do on premises, SMART does itself for installations it can reach:

* hourly ``POST /sysinfo/si_save_request`` with ``type=zip`` (User-Agent ``smartdownload``, a cookie jar,
  following the redirect the server may answer with and re-sending the POST, spec §3.2) → ``CLIENT.zip``;
* every 15 minutes ``GET /sysmon/metrics`` with the test user's Basic auth → ``CLIENT.status`` written as
  the smartstatus agent writes it: the response's ``date:`` line, then the body.

Both go into the ingest pipeline exactly like an agent's upload (`kodeks_smart.ingest.service.ingest_file`,
source ``pull``). Neither runs inside the installation's backup or restart window: the server is busy
then and the report would be incomplete ([051]). The times come from ``/admin/pref`` when the test user
may read it, else from the installation's settings.
"""

from __future__ import annotations

import re
import ssl
from datetime import UTC, datetime, timedelta

import httpx

from kodeks_smart.ingest.consumer import wakeup_for
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.errors import IngestError
from kodeks_smart.ingest.service import Accepted, ingest_file
from kodeks_smart.probes.http import USER_AGENT
from kodeks_smart.probes.model import Check, CheckResult, InstallationTarget, fail, ok

MAX_REPORT_BYTES = 64 * 1024 * 1024
_TIME = r"([0-2]?\d:[0-5]\d)"
_RESERV = re.compile(r'NAME="reservtime"[^>]*VALUE="' + _TIME, re.IGNORECASE)
_RESTART = re.compile(r'NAME="restarttime"[^>]*VALUE="' + _TIME, re.IGNORECASE)
_RESERV_TEXT = re.compile(r"резервное копирование:\s*" + _TIME, re.IGNORECASE)
_RESTART_TEXT = re.compile(r"перезапуск сервера\s*" + _TIME, re.IGNORECASE)


def _client(tls: ssl.SSLContext | bool, timeout: float) -> httpx.AsyncClient:
    # A client per pull: its cookie jar belongs to this installation only.
    return httpx.AsyncClient(verify=tls, timeout=timeout, headers={"User-Agent": USER_AGENT}, trust_env=False)


def _auth(target: InstallationTarget) -> httpx.BasicAuth | None:
    if target.has_credentials:
        assert target.test_login is not None and target.test_password is not None
        return httpx.BasicAuth(target.test_login, target.test_password)
    return None


def parse_admin_pref(text: str) -> tuple[str | None, str | None]:
    """(backup time, restart time) as "HH:MM" from the ``/admin/pref`` page (spec §6)."""

    def first(*patterns: re.Pattern[str]) -> str | None:
        for pattern in patterns:
            found = pattern.search(text)
            if found:
                hours, minutes = found.group(1).split(":")
                return f"{int(hours):02d}:{minutes}"
        return None

    return first(_RESERV, _RESERV_TEXT), first(_RESTART, _RESTART_TEXT)


async def read_admin_pref(
    target: InstallationTarget, tls: ssl.SSLContext | bool, timeout: float
) -> tuple[str | None, str | None] | None:
    """The backup and restart times if the test user may read ``/admin/pref``; None otherwise."""
    auth = _auth(target)
    if auth is None:
        return None
    async with _client(tls, timeout) as client:
        try:
            response = await client.get(target.endpoint.base_url + "/admin/pref", auth=auth)
        except httpx.HTTPError:
            return None
    if response.status_code != 200:
        return None
    times = parse_admin_pref(response.text)
    return times if any(times) else None


def _minutes(hhmm: str) -> int | None:
    try:
        hours, minutes = hhmm.split(":")
        return (int(hours) % 24) * 60 + int(minutes) % 60
    except ValueError:
        return None


def window_end(
    target: InstallationTarget, now: datetime, window_minutes: int, before_minutes: int = 5
) -> datetime | None:
    """If ``now`` is inside the backup or restart window (local time), the UTC time the window ends."""
    local = now.astimezone(UTC) + timedelta(minutes=target.tz_offset_minutes)
    of_day = local.hour * 60 + local.minute + local.second / 60
    latest: float | None = None
    for hhmm in (target.backup_time, target.restart_time):
        start = _minutes(hhmm) if hhmm else None
        if start is None:
            continue
        # Minutes since the window opened, across midnight.
        since = (of_day - (start - before_minutes)) % 1440
        if since < before_minutes + window_minutes:
            remaining = before_minutes + window_minutes - since
            latest = remaining if latest is None else max(latest, remaining)
    if latest is None:
        return None
    return now + timedelta(minutes=latest)


async def fetch_sysinfo(
    target: InstallationTarget, tls: ssl.SSLContext | bool, timeout: float
) -> tuple[CheckResult, bytes | None]:
    url = target.endpoint.base_url + "/sysinfo/si_save_request"
    async with _client(tls, timeout) as client:
        try:
            auth = _auth(target)
            response = await client.post(
                url,
                data={"type": "zip"},
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                follow_redirects=True,
            )
        except httpx.HTTPError as exc:
            return fail(
                Check.SYSINFO_PULL, type(exc).__name__, f"sysinfo не получен: {exc or type(exc).__name__}"
            ), None
    if response.status_code != 200:
        return fail(
            Check.SYSINFO_PULL, str(response.status_code), f"sysinfo не получен: код {response.status_code}"
        ), None
    data = response.content
    if len(data) > MAX_REPORT_BYTES:
        return fail(Check.SYSINFO_PULL, "too-large", f"sysinfo слишком большой: {len(data)} байт"), None
    if not data.startswith(b"PK"):
        kind = response.headers.get("content-type", "?")
        return fail(Check.SYSINFO_PULL, "not-zip", f"вместо ZIP-архива sysinfo получен {kind}"), None
    seconds = response.elapsed.total_seconds()
    return ok(Check.SYSINFO_PULL, str(len(data)), f"sysinfo получен: {len(data)} байт", seconds), data


async def fetch_sysmon(
    target: InstallationTarget, tls: ssl.SSLContext | bool, timeout: float
) -> tuple[CheckResult, bytes | None]:
    auth = _auth(target)
    if auth is None:
        return fail(
            Check.SYSMON_PULL, "no-credentials", "для /sysmon/metrics нужен тестовый пользователь"
        ), None
    url = target.endpoint.base_url + "/sysmon/metrics"
    async with _client(tls, timeout) as client:
        try:
            response = await client.get(url, auth=auth, follow_redirects=True)
        except httpx.HTTPError as exc:
            return fail(
                Check.SYSMON_PULL, type(exc).__name__, f"метрики не получены: {exc or type(exc).__name__}"
            ), None
    code = response.status_code
    if code in (401, 403):
        why = "нет доступа к /sysmon/metrics: тестовому пользователю нужна группа metrics"
        return fail(Check.SYSMON_PULL, str(code), why), None
    if code == 404:
        why = "/sysmon/metrics не найден: нужен ПК 6.4.5.127 или новее с модулем sysmon"
        return fail(Check.SYSMON_PULL, "404", why), None
    if code != 200:
        return fail(Check.SYSMON_PULL, str(code), f"метрики не получены: код {code}"), None
    date = response.headers.get("date") or datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    data = f"date: {date}\n".encode() + response.content
    seconds = response.elapsed.total_seconds()
    return ok(
        Check.SYSMON_PULL, str(len(response.content)), f"метрики получены: {len(data)} байт", seconds
    ), data


def hand_to_ingest(ctx: IngestContext, target: InstallationTarget, data: bytes, fmt: str) -> Accepted:
    """Put a pulled file into the ingest pipeline as ``CLIENT.<fmt>`` and wake its consumer.

    Blocking (spools to disk, commits): call it in a worker thread. Raises IngestError.
    """
    accepted = ingest_file(ctx, target.dealer, target.client, data=data, fmt=fmt, source="pull")
    wakeup_for(ctx.db).notify()
    return accepted


__all__ = [
    "IngestError",
    "fetch_sysinfo",
    "fetch_sysmon",
    "hand_to_ingest",
    "parse_admin_pref",
    "read_admin_pref",
    "window_end",
]
