"""The ``tcp`` check (the Kodeks web server's port) and ``licman_tcp`` (the licence manager's port, 8888).

The ``tcp`` check opens the connection that the main page is then requested on (`probes.http.Connection`),
so a cycle connects once for both. ``licman_tcp`` connects and closes: the licence-manager protocol is not
published (spec §2.3), an accepted connection is all that is checked.
"""

from __future__ import annotations

import asyncio
import time

from kodeks_smart.probes.http import Connection, HttpError, classify_os_error, describe
from kodeks_smart.probes.model import Check, CheckResult, fail, ok


def classify_connect(
    check: Check, address: str, seconds: float | None, error: HttpError | None
) -> CheckResult:
    if error is None:
        ms = (seconds or 0.0) * 1000
        return ok(check, f"{ms:.1f} ms", f"порт {address} принимает соединения ({ms:.1f} мс)", seconds)
    return fail(check, error.kind, f"порт {address}: {describe(error)}")


async def check_web_port(conn: Connection) -> CheckResult:
    """Connect to the installation's web port; on success ``conn`` stays open for the main page."""
    address = f"{conn.endpoint.host}:{conn.endpoint.port}"
    try:
        seconds = await conn.connect()
    except HttpError as exc:
        if exc.kind == "tls":
            # TCP itself worked; the page request will report the TLS failure.
            return ok(Check.TCP, "tls", f"порт {address} принимает соединения, ошибка TLS: {exc}")
        return classify_connect(Check.TCP, address, None, exc)
    return classify_connect(Check.TCP, address, seconds, None)


async def check_port(check: Check, host: str, port: int, timeout: float) -> CheckResult:
    """Connect to ``host:port`` and close at once."""
    address = f"{host}:{port}"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        return classify_connect(check, address, None, classify_os_error(exc))
    seconds = time.perf_counter() - started
    writer.close()
    return classify_connect(check, address, seconds, None)
