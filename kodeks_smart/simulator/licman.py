"""The licence manager's TCP port ("МЛ", usually 8888).

Only the port is modelled: SMART's checks (``LicmanTcpStatus``) test that it accepts connections. The
real licence-manager protocol is not published, so a connection is accepted, anything received is
discarded, and the connection is closed after ``idle_timeout`` seconds or when the client closes it.
"Licence manager down" closes the listening socket: connections are refused.
"""

from __future__ import annotations

import asyncio

from kodeks_smart.simulator.http import TcpListener


class _LicmanProtocol(asyncio.Protocol):
    __slots__ = ("_owner", "_timer", "_transport")

    def __init__(self, owner: LicmanListener) -> None:
        self._owner = owner
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._owner.track(self)
        self._timer = asyncio.get_running_loop().call_later(self._owner.idle_timeout, transport.close)

    def data_received(self, data: bytes) -> None:
        """Input is discarded: the protocol is not modelled."""

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.untrack(self)
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class LicmanListener(TcpListener):
    """One licence manager port; ``open``/``close`` switch it on and off, keeping the port number."""

    __slots__ = ("idle_timeout",)

    def __init__(self, host: str, port: int, idle_timeout: float = 30.0) -> None:
        super().__init__(host, port, backlog=16)
        self.idle_timeout = idle_timeout

    def make_protocol(self) -> asyncio.Protocol:
        return _LicmanProtocol(self)
