"""One probe cycle of an installation: every check, in dependency order, with the dependency rules.

Order and rules (spec §7.3; the alert engine's inhibition relies on them):

1. ``icmp`` (if the installation is pinged), ``licman_icmp`` and ``licman_tcp`` (if a licence manager is
   configured) run alongside the web checks; they depend on nothing.
2. ``tcp``: connect to the web port. **Fails → every check above it is unknown** (``http200``, ``proxy``,
   ``maintenance``, ``needsupport``, ``auth``, ``key``, ``warning``, ``limit``, ``search``).
3. The main page on that connection answers ``http200``, ``proxy``, ``maintenance``, ``needsupport``.
   No answer, or the reverse proxy answers instead of Kodeks → the session checks are unknown.
   **Maintenance → ``http200`` and ``auth`` are ``expected`` (failing, as documented), the others unknown;**
   SMART does not even try to log in.
4. The test user logs in (``auth``, ``limit``). A seat refusal fails ``limit`` and leaves ``auth`` unknown.
   **A failed login makes ``key``, ``warning`` and ``search`` unknown.**
5. Logged in: ``key`` (the catalog page), ``warning`` (``/sysinfo/metrics``), ``search`` (``check_iquery``),
   then ``/users/logout.asp`` — always, so the test user never keeps a seat.

No test-user credentials: the session checks are unknown ("учётные данные не заданы").
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field

from kodeks_smart.probes import auth
from kodeks_smart.probes.http import Connection
from kodeks_smart.probes.icmp import Pinger, Resolver, check_ping
from kodeks_smart.probes.key import check_key
from kodeks_smart.probes.mainpage import check_main_page
from kodeks_smart.probes.model import (
    SESSION_CHECKS,
    AbnormalState,
    Check,
    CheckResult,
    InstallationTarget,
    Report,
    Status,
    expected,
    fail,
    unknown,
)
from kodeks_smart.probes.search import check_search
from kodeks_smart.probes.tcp import check_port, check_web_port
from kodeks_smart.probes.warning import check_warning

ABOVE_TCP = (Check.HTTP200, Check.PROXY, Check.MAINTENANCE, Check.NEEDSUPPORT, *SESSION_CHECKS)


@dataclass
class ProbeContext:
    """What a cycle needs besides the target: shared sockets and the limits."""

    pinger: Pinger
    resolver: Resolver = field(default_factory=Resolver)
    timeout: float = 10.0
    icmp_timeout: float = 2.0
    tls: ssl.SSLContext | None = None


def mark_unknown(report: Report, checks: tuple[Check, ...], because: str) -> None:
    """Set ``checks`` that have no result yet to unknown."""
    for check in checks:
        if check not in report.results:
            report.add(unknown(check, because))


async def probe_installation(target: InstallationTarget, ctx: ProbeContext) -> Report:
    """Run every check of one installation once; never raises for a server-side problem."""
    report = Report()
    side: list[asyncio.Task[CheckResult]] = []
    address: str | None = None
    try:
        address = await ctx.resolver.resolve(target.endpoint.host)
    except (socket.gaierror, UnicodeError) as exc:
        why = f"имя {target.endpoint.host} не найдено в DNS: {exc}"
        report.add(fail(Check.TCP, "dns", why))
        report.enter(AbnormalState.SERVER_DOWN, None, why)
        if target.ping:
            report.add(fail(Check.ICMP, "dns", why))
    if address is not None and target.ping:
        side.append(asyncio.create_task(check_ping(ctx.pinger, Check.ICMP, address, ctx.icmp_timeout)))
    if target.licman_host:
        side.append(asyncio.create_task(_licman_ping(ctx, target.licman_host)))
        side.append(
            asyncio.create_task(
                check_port(Check.LICMAN_TCP, target.licman_host, target.licman_port, ctx.timeout)
            )
        )
    try:
        if address is not None:
            await _web_checks(report, target, ctx, address)
        else:
            mark_unknown(report, ABOVE_TCP, "порт ПК недоступен (tcp)")
    finally:
        for result in await asyncio.gather(*side, return_exceptions=True):
            if isinstance(result, CheckResult):
                report.add(result)
            elif isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
    return report


async def _licman_ping(ctx: ProbeContext, host: str) -> CheckResult:
    try:
        address = await ctx.resolver.resolve(host)
    except (socket.gaierror, UnicodeError) as exc:
        return fail(Check.LICMAN_ICMP, "dns", f"имя {host} не найдено в DNS: {exc}")
    return await check_ping(ctx.pinger, Check.LICMAN_ICMP, address, ctx.icmp_timeout)


async def _web_checks(report: Report, target: InstallationTarget, ctx: ProbeContext, address: str) -> None:
    conn = Connection(target.endpoint, ctx.timeout, ctx.tls, connect_host=address)
    try:
        tcp = await check_web_port(conn)
        report.add(tcp)
        if tcp.status is not Status.OK:
            report.enter(AbnormalState.SERVER_DOWN, None, tcp.detail)
            mark_unknown(report, ABOVE_TCP, "порт ПК недоступен (tcp)")
            return
        page = await check_main_page(report, conn)
        if page.maintenance:
            report.add(expected(Check.AUTH, str(page.status), "вход закрыт: режим тех.обслуживания"))
            mark_unknown(report, SESSION_CHECKS, "режим тех.обслуживания")
            return
        if not page.kodeks_answers:
            mark_unknown(report, SESSION_CHECKS, "сервер ПК не отвечает")
            return
        if not target.has_credentials:
            mark_unknown(report, SESSION_CHECKS, "учётные данные тестового пользователя не заданы")
            return
        await _session_checks(report, target, conn)
    finally:
        conn.close()


async def _session_checks(report: Report, target: InstallationTarget, conn: Connection) -> None:
    assert target.test_login is not None and target.test_password is not None
    login = await auth.login(report, conn, target.test_login, target.test_password)
    if not login.logged_in:
        mark_unknown(report, SESSION_CHECKS, "тестовый пользователь не вошёл")
        return
    try:
        await check_key(report, conn, auth.user_page_path(conn, login.location))
        await check_warning(report, conn)
        await check_search(report, conn)
    finally:
        await _logout(conn)


_LOGOUTS: set[asyncio.Task[bool]] = set()


async def _logout(conn: Connection) -> None:
    """Log the test user out on a connection of its own, shielded: even when the cycle is cancelled
    (its timeout, shutdown) the logout completes and the seat is given back."""
    session = Connection(conn.endpoint, conn.timeout, conn.tls, conn.connect_host, dict(conn.cookies))
    task = asyncio.ensure_future(auth.logout(session))
    _LOGOUTS.add(task)

    def done(finished: asyncio.Task[bool]) -> None:
        _LOGOUTS.discard(finished)
        session.close()

    task.add_done_callback(done)
    await asyncio.shield(task)
