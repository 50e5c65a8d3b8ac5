"""ICMP echo ("ping") for the ``icmp`` and ``licman_icmp`` checks, with icmplib sockets.

One `Pinger` per process owns one ICMP socket per address family and multiplexes every ping over it:
requests carry the pinger's identifier and a running sequence number, and one reader callback matches
replies to the waiting pings. That is far cheaper than a socket per ping (icmplib's ``async_ping``) when
thousands of installations are pinged every minute.

Sockets: a raw socket when the process may open one (root, CAP_NET_RAW), otherwise the unprivileged
datagram ICMP socket Linux allows to the groups in ``net.ipv4.ping_group_range``; if neither is allowed the
check is ``unknown`` with a message saying so. On a datagram socket the kernel picks the identifier and
delivers only our replies; ICMP errors (destination unreachable) are not delivered there, so such a ping
simply times out.

`classify` turns icmplib's reply objects (or their absence) into a check result.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import struct
import time
from dataclasses import dataclass

from icmplib import ICMPReply, ICMPRequest, ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import DestinationUnreachable, ICMPError, ICMPLibError, TimeExceeded

from kodeks_smart.probes.model import Check, CheckResult, fail, ok, unknown

log = logging.getLogger(__name__)

PAYLOAD = b"SMART-monitoring"  # 16 bytes; fixed, so no random bytes are drawn per ping
RECEIVE_BUFFER = 4 * 1024 * 1024


class PingUnavailable(RuntimeError):
    """This process may not send ICMP (no raw socket, unprivileged ICMP not allowed)."""


@dataclass(slots=True)
class PingOutcome:
    """What became of one ping: the reply (None: none in time), the round trip, the attempts made."""

    address: str
    reply: ICMPReply | None
    rtt: float | None
    attempts: int
    timeout: float


def classify(check: Check, outcome: PingOutcome) -> CheckResult:
    """``ok`` on an echo reply; ``fail`` on an ICMP error or no reply at all."""
    reply = outcome.reply
    if reply is None:
        return fail(
            check,
            "timeout",
            f"нет ответа на ping от {outcome.address} ({outcome.attempts} попытки по {outcome.timeout:g} с)",
        )
    try:
        reply.raise_for_status()
    except DestinationUnreachable as exc:
        return fail(check, f"icmp-{reply.type}/{reply.code}", f"узел недоступен: {exc}")
    except TimeExceeded as exc:
        return fail(check, f"icmp-{reply.type}/{reply.code}", f"истекло время жизни пакета: {exc}")
    except ICMPError as exc:
        return fail(check, f"icmp-{reply.type}/{reply.code}", f"ошибка ICMP: {exc}")
    rtt = outcome.rtt or 0.0
    return ok(check, f"{rtt * 1000:.1f} ms", f"ответ от {outcome.address} за {rtt * 1000:.1f} мс", rtt)


class _Family:
    """One shared socket of one address family and the pings waiting on it."""

    def __init__(self, sock: ICMPv4Socket | ICMPv6Socket, ident: int) -> None:
        self.sock = sock
        self.raw = sock.is_privileged
        self.v6 = isinstance(sock, ICMPv6Socket)
        self.ident = ident
        self.seq = 0
        self.waiting: dict[int, tuple[asyncio.Future[ICMPReply], float]] = {}

    def next_seq(self) -> int:
        for _ in range(0x10000):
            self.seq = (self.seq + 1) & 0xFFFF
            if self.seq not in self.waiting:
                return self.seq
        raise PingUnavailable("все 65536 номеров ICMP заняты")

    def on_readable(self) -> None:
        raw_socket = self.sock.sock
        while True:
            try:
                packet, source = raw_socket.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket; keep reading
                log.debug("icmp recv: %s", exc)
                return
            parsed = self.parse(packet)
            if parsed is None:
                continue
            ident, seq, kind, code = parsed
            if self.raw and ident != self.ident:
                continue  # another process's ping on the same host
            entry = self.waiting.get(seq)
            if entry is None or entry[0].done():
                continue
            now = time.time()
            reply = ICMPReply(source[0], 6 if self.v6 else 4, ident, seq, kind, code, len(packet), now)
            entry[0].set_result(reply)

    def parse(self, packet: bytes) -> tuple[int, int, int, int] | None:
        """(identifier, sequence, type, code) of an echo reply or of the echo request inside an ICMP error."""
        icmp = packet
        if self.raw and not self.v6:
            if len(packet) < 20:
                return None
            icmp = packet[(packet[0] & 0x0F) * 4 :]
        if len(icmp) < 8:
            return None
        kind, code = icmp[0], icmp[1]
        reply_type, request_type = (129, 128) if self.v6 else (0, 8)
        errors = (1, 3) if self.v6 else (3, 11)
        if kind == reply_type:
            ident, seq = struct.unpack("!HH", icmp[4:8])
            return ident, seq, kind, code
        if kind in errors:
            inner = icmp[8:]
            if self.v6:
                inner_icmp = inner[40:]
            else:
                if len(inner) < 20:
                    return None
                inner_icmp = inner[(inner[0] & 0x0F) * 4 :]
            if len(inner_icmp) < 8 or inner_icmp[0] != request_type:
                return None
            ident, seq = struct.unpack("!HH", inner_icmp[4:8])
            return ident, seq, kind, code
        return None


class Pinger:
    """Shared ICMP sockets for the whole process; create it inside the event loop that uses it."""

    def __init__(self, privileged: bool | None = None) -> None:
        self._privileged = privileged
        self._families: dict[int, _Family] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ident = (os.getpid() ^ id(self)) & 0xFFFF

    def _family(self, v6: bool) -> _Family:
        key = 6 if v6 else 4
        fam = self._families.get(key)
        if fam is not None:
            return fam
        cls = ICMPv6Socket if v6 else ICMPv4Socket
        choices = [True, False] if self._privileged is None else [self._privileged]
        sock = None
        errors = []
        for privileged in choices:
            try:
                sock = cls(privileged=privileged)
                break
            except ICMPLibError as exc:
                errors.append(str(exc))
        if sock is None:
            raise PingUnavailable(
                "ping недоступен серверу СМАРТ: нет прав на ICMP-сокет (" + "; ".join(errors) + ")"
            )
        sock.blocking = False
        # Replies of many pings can arrive together (and a raw socket also sees every other ICMP
        # packet of the host): a roomy receive buffer keeps bursts from being dropped.
        with contextlib.suppress(OSError):
            sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        fam = _Family(sock, self._ident)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.sock.fileno(), fam.on_readable)
        self._families[key] = fam
        return fam

    async def ping(self, address: str, *, timeout: float = 2.0, attempts: int = 2) -> PingOutcome:
        """Ping an IP address: up to ``attempts`` echo requests, each waited for ``timeout`` seconds.

        Raises PingUnavailable when the process may not send ICMP at all.
        """
        v6 = ipaddress.ip_address(address).version == 6
        fam = self._family(v6)
        loop = asyncio.get_running_loop()
        for attempt in range(1, attempts + 1):
            seq = fam.next_seq()
            future: asyncio.Future[ICMPReply] = loop.create_future()
            sent = time.perf_counter()
            fam.waiting[seq] = (future, sent)
            try:
                fam.sock.send(ICMPRequest(address, fam.ident, seq, payload=PAYLOAD))
                reply = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                continue
            except ICMPLibError as exc:
                # The send itself failed (no route): the kernel's answer is the result.
                log.debug("icmp send to %s: %s", address, exc)
                return PingOutcome(address, None, None, attempt, timeout)
            finally:
                fam.waiting.pop(seq, None)
            return PingOutcome(address, reply, time.perf_counter() - sent, attempt, timeout)
        return PingOutcome(address, None, None, attempts, timeout)

    def close(self) -> None:
        for fam in self._families.values():
            if self._loop is not None and not self._loop.is_closed():
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_reader(fam.sock.sock.fileno())
            fam.sock.close()
        self._families.clear()


async def check_ping(pinger: Pinger, check: Check, address: str, timeout: float) -> CheckResult:
    """The ``icmp`` / ``licman_icmp`` check of one IP address."""
    try:
        outcome = await pinger.ping(address, timeout=timeout)
    except PingUnavailable as exc:
        return unknown(check, str(exc))
    return classify(check, outcome)


class Resolver:
    """Host name → IP address with a small cache (names of installations rarely change)."""

    def __init__(self, ttl: float = 300.0, negative_ttl: float = 60.0) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self._cache: dict[str, tuple[float, str | None, str]] = {}

    async def resolve(self, host: str) -> str:
        """The first address of ``host``; raises socket.gaierror (cached for a minute)."""
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        if host == "localhost" or host.endswith(".localhost"):
            return "127.0.0.1"  # RFC 6761: loopback, whatever the system resolver says
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                raise socket.gaierror(socket.EAI_NONAME, cached[2])
            return cached[1]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            self._cache[host] = (now + self.negative_ttl, None, str(exc))
            raise
        address = str(infos[0][4][0])
        self._cache[host] = (now + self.ttl, address, "")
        return address
