"""ICMP: classification of icmplib's reply objects, reply parsing on the shared socket, and a real ping of
the loopback address."""

from __future__ import annotations

import asyncio
import struct

from icmplib import ICMPReply

from kodeks_smart.probes.icmp import Pinger, PingOutcome, PingUnavailable, _Family, check_ping, classify
from kodeks_smart.probes.model import Check, Status


def outcome(reply: ICMPReply | None, rtt: float | None = 0.0123) -> PingOutcome:
    return PingOutcome("10.1.2.3", reply, rtt, 1 if reply else 2, 2.0)


def reply(kind: int, code: int = 0, family: int = 4) -> ICMPReply:
    return ICMPReply("10.1.2.3", family, 7, 1, kind, code, 64, 0.0)


def test_an_echo_reply_passes_with_its_round_trip() -> None:
    result = classify(Check.ICMP, outcome(reply(0)))
    assert result.status is Status.OK
    assert result.value == "12.3 ms"
    assert result.latency == 0.0123


def test_no_reply_fails_after_the_attempts() -> None:
    result = classify(Check.ICMP, outcome(None, None))
    assert result.status is Status.FAIL
    assert result.value == "timeout"
    assert result.detail == "нет ответа на ping от 10.1.2.3 (2 попытки по 2 с)"


def test_destination_unreachable_and_time_exceeded_fail_with_the_reason() -> None:
    unreachable = classify(Check.LICMAN_ICMP, outcome(reply(3, 1)))
    assert unreachable.status is Status.FAIL
    assert unreachable.value == "icmp-3/1"
    assert unreachable.detail.startswith("узел недоступен")
    exceeded = classify(Check.ICMP, outcome(reply(11)))
    assert exceeded.value == "icmp-11/0"
    assert exceeded.detail.startswith("истекло время жизни пакета")
    v6 = classify(Check.ICMP, outcome(reply(1, 3, family=6)))
    assert v6.detail.startswith("узел недоступен")


def test_a_process_without_icmp_rights_leaves_the_check_unknown() -> None:
    class NoRights(Pinger):
        async def ping(self, address: str, *, timeout: float = 2.0, attempts: int = 2) -> PingOutcome:
            raise PingUnavailable("ping недоступен серверу СМАРТ: нет прав на ICMP-сокет")

    result = asyncio.run(check_ping(NoRights(), Check.ICMP, "127.0.0.1", 1.0))
    assert result.status is Status.UNKNOWN
    assert "нет прав" in result.detail


class _FakeSock:
    is_privileged = True


def raw_family() -> _Family:
    fam = _Family.__new__(_Family)
    fam.raw, fam.v6, fam.ident, fam.seq, fam.waiting = True, False, 0x1234, 0, {}
    return fam


def ip_header(protocol: int = 1) -> bytes:
    return bytes([0x45, 0, 0, 0, 0, 0, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])


def icmp(kind: int, ident: int, seq: int, code: int = 0) -> bytes:
    return struct.pack("!BBHHH", kind, code, 0, ident, seq) + b"SMART-monitoring"


def test_replies_and_errors_on_a_raw_socket_are_matched_to_our_request() -> None:
    fam = raw_family()
    assert fam.parse(ip_header() + icmp(0, 0x1234, 5)) == (0x1234, 5, 0, 0)
    # Destination unreachable carries the IP header and the first bytes of our echo request.
    error = ip_header() + struct.pack("!BBHI", 3, 1, 0, 0) + ip_header() + icmp(8, 0x1234, 6)
    assert fam.parse(error) == (0x1234, 6, 3, 1)
    # Our own outgoing request (seen on loopback) and other ICMP traffic are not replies.
    assert fam.parse(ip_header() + icmp(8, 0x1234, 5)) is None
    assert fam.parse(ip_header() + icmp(13, 0x1234, 5)) is None
    assert fam.parse(b"\x45\x00") is None


def test_the_loopback_address_answers_a_real_ping() -> None:
    async def go() -> tuple[PingOutcome, PingOutcome]:
        pinger = Pinger()
        try:
            return await pinger.ping("127.0.0.1", timeout=2.0), await pinger.ping("::1", timeout=2.0)
        finally:
            pinger.close()

    v4, v6 = asyncio.run(go())
    assert classify(Check.ICMP, v4).status is Status.OK
    assert classify(Check.ICMP, v6).status is Status.OK
    assert v4.reply is not None and v4.reply.type == 0
    assert v6.reply is not None and v6.reply.type == 129


def test_many_pings_at_once_share_one_socket_and_all_get_their_reply() -> None:
    async def go() -> list[PingOutcome]:
        pinger = Pinger()
        try:
            results = await asyncio.gather(*(pinger.ping("127.0.0.1", timeout=5.0) for _ in range(500)))
            assert len(pinger._families) == 1
            return list(results)
        finally:
            pinger.close()

    outcomes = asyncio.run(go())
    assert all(o.reply is not None for o in outcomes)
    assert len({o.reply.sequence for o in outcomes if o.reply}) == 500
