"""A minimal HTTP/1.1 server on asyncio protocols.

Why not aiohttp: the simulator must reproduce header bytes exactly (the sysmon plugin sends lowercase
``date:``/``content-type:`` lines and no ``Server`` header, the legacy server writes ``Date: … UTC``),
answer with ``Connection: close`` like the real server, and keep 10,000 listening ports cheap. A
listener here is one socket registered with the event loop; a connection is one small protocol object.

Each connection carries one request: the server always answers ``Connection: close`` and closes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

MAX_HEADER_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 4 * 1024 * 1024

REASONS: Final = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(when: float | None = None, zone: str = "GMT") -> str:
    """RFC 1123 date; the legacy Kodeks server writes the zone as ``UTC``, Express as ``GMT``."""
    t = time.gmtime(time.time() if when is None else when)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {zone}"
    )


class Request:
    """One parsed request. Header names are lowercased; values are latin-1 decoded as on the wire."""

    __slots__ = ("body", "headers", "method", "path", "peer", "query", "target", "version")

    def __init__(
        self, method: str, target: str, version: str, headers: dict[str, str], body: bytes, peer: str
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.peer = peer
        parts = urlsplit(target)
        self.path = unquote(parts.path) or "/"
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for item in self.header("cookie").split(";"):
            name, sep, value = item.strip().partition("=")
            if sep and name:
                jar[name] = value
        return jar

    def form(self) -> dict[str, str]:
        """Fields of an ``application/x-www-form-urlencoded`` body (UTF-8), falling back to the query."""
        fields = dict(self.query)
        if self.body and "multipart" not in self.header("content-type"):
            text = self.body.decode("utf-8", errors="replace")
            fields.update(parse_qsl(text, keep_blank_values=True))
        return fields

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, value = self.header("authorization").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        login, sep, password = decoded.partition(":")
        return (login, password) if sep else None


class Response:
    """An answer; ``headers`` keep their exact spelling and order on the wire.

    ``abort`` resets the connection without any answer (a closed port seen on a shared listener).
    """

    __slots__ = ("abort", "body", "chunked", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        chunked: bool = False,
        abort: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers if headers is not None else []
        self.chunked = chunked
        self.abort = abort

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def encode(self, head_only: bool = False) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}"]
        lines.extend(f"{key}: {value}" for key, value in self.headers)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head_only:
            return head
        if not self.chunked:
            return head + self.body
        if not self.body:
            return head + b"0\r\n\r\n"
        return head + f"{len(self.body):x}\r\n".encode() + self.body + b"\r\n0\r\n\r\n"


Handler = Callable[[Request], Awaitable[Response]]


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    body = text.encode("utf-8")
    return Response(
        status,
        body,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Connection", "close")],
    )


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise _BadRequest(400, "undecodable header") from exc
    request_line, *header_lines = text.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, f"bad request line {request_line[:80]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(400, f"bad header line {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        if key in headers:
            joiner = "; " if key == "cookie" else ", "
            headers[key] = headers[key] + joiner + value
        else:
            headers[key] = value
    return method, target, version, headers


def _dechunk(data: bytes | bytearray) -> tuple[bytes, int] | None:
    """Decode a chunked body; ``None`` while incomplete, else (body, bytes consumed)."""
    body = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return None
        size_text = bytes(data[pos:end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _BadRequest(400, "bad chunk size") from None
        pos = end + 2
        if size == 0:
            trailer_end = data.find(b"\r\n\r\n", pos - 2)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(data) < pos + size + 2:
            return None
        body += data[pos : pos + size]
        if len(body) > MAX_BODY_BYTES:
            raise _BadRequest(413, "body too large")
        pos += size + 2


class HttpProtocol(asyncio.Protocol):
    """One connection: read one request, run the listener's handler, write the answer, close."""

    __slots__ = ("_buffer", "_continue_sent", "_listener", "_peer", "_task", "_transport")

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._continue_sent = False
        self._peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._listener.track(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener.untrack(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._transport = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), the closest a shared port gets to "connection refused"."""
        if self._transport is None:
            return
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._task is not None:
            return  # one request per connection; ignore anything after it
        self._buffer += data
        try:
            request = self._try_parse()
        except _BadRequest as exc:
            self._send(text_response(exc.status, f"{exc}\n"))
            return
        if request is not None:
            assert self._transport is not None
            self._transport.pause_reading()
            self._task = asyncio.get_running_loop().create_task(self._respond(request))

    def _try_parse(self) -> Request | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise _BadRequest(431, "header too large")
            return None
        method, target, version, headers = _parse_head(bytes(self._buffer[:end]))
        rest = self._buffer[end + 4 :]
        if headers.get("expect", "").lower() == "100-continue" and not self._continue_sent:
            self._continue_sent = True
            assert self._transport is not None
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _dechunk(rest)
            if decoded is None:
                return None
            body = decoded[0]
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise _BadRequest(400, "bad Content-Length") from None
            if length < 0 or length > MAX_BODY_BYTES:
                raise _BadRequest(413, "body too large")
            if len(rest) < length:
                return None
            body = bytes(rest[:length])
        return Request(method, target, version, headers, body, self._peer)

    async def _respond(self, request: Request) -> None:
        try:
            response = await self._listener.handler(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulator handler failed for %s %s", request.method, request.path)
            response = text_response(500, "internal simulator error\n")
        if response.abort:
            self._reset()
            return
        self._send(response, head_only=request.method == "HEAD")

    def _send(self, response: Response, head_only: bool = False) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(response.encode(head_only))
        self._transport.close()


class Connection(Protocol):
    """What a listener needs from the protocol of one of its connections."""

    def abort(self) -> None: ...


class TcpListener:
    """A listening TCP socket, switchable on and off, keeping its port number.

    Accepting is done with ``loop.add_reader`` and ``loop.connect_accepted_socket`` rather than
    ``loop.create_server``: there is no ``asyncio.Server`` per port (10,000 ports stay cheap), and
    closing a port while a connection is being accepted cannot trip ``Server._attach`` (Python 3.11).
    Port 0 asks the OS for a free port on the first ``open``; later re-opens reuse that port.
    Protocols register themselves with ``track``/``untrack`` so ``close`` can reset open connections.
    """

    __slots__ = ("_connections", "_sock", "_starting", "backlog", "host", "port")

    def __init__(self, host: str, port: int, backlog: int = 128) -> None:
        self.host = host
        self.port = port
        self.backlog = backlog
        self._sock: socket.socket | None = None
        self._connections: set[Connection] | None = None
        self._starting: dict[socket.socket, asyncio.Task[None]] | None = None

    def make_protocol(self) -> asyncio.Protocol:
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def track(self, connection: Connection) -> None:
        if self._connections is None:
            self._connections = set()
        self._connections.add(connection)

    def untrack(self, connection: Connection) -> None:
        if self._connections is not None:
            self._connections.discard(connection)
            if not self._connections:
                self._connections = None

    async def open(self) -> None:
        if self._sock is not None:
            return
        sock = bind_socket(self.host, self.port, self.backlog)
        self.port = sock.getsockname()[1]
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)
        self._sock = sock

    def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(64):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE, ECONNABORTED…: try again on the next readiness event
                log.warning("accept on %s failed: %s", self.address, exc)
                return
            conn.setblocking(False)
            if self._starting is None:
                self._starting = {}
            self._starting[conn] = loop.create_task(self._start(conn))

    async def _start(self, conn: socket.socket) -> None:
        if self._starting is not None:
            self._starting.pop(conn, None)
        if conn.fileno() < 0:  # closed by close() before this task ran
            return
        try:
            await asyncio.get_running_loop().connect_accepted_socket(self.make_protocol, sock=conn)
        except OSError:
            conn.close()

    def close(self, abort_connections: bool = True) -> None:
        """Stop listening (new connections are refused) and, by default, reset open connections."""
        if self._sock is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._starting:
            for conn in self._starting:  # accepted, but their transports were not created yet
                conn.close()
            self._starting = None
        if abort_connections and self._connections:
            for connection in list(self._connections):
                connection.abort()


class Listener(TcpListener):
    """An HTTP listener: every connection is answered by ``handler``."""

    __slots__ = ("handler",)

    def __init__(self, host: str, port: int, handler: Handler, backlog: int = 128) -> None:
        super().__init__(host, port, backlog)
        self.handler = handler

    def make_protocol(self) -> asyncio.Protocol:
        return HttpProtocol(self)

    def pending_tasks(self) -> list[asyncio.Task[None]]:
        """Handler tasks still running on this listener's connections."""
        if not self._connections:
            return []
        tasks = [c.task for c in self._connections if isinstance(c, HttpProtocol)]
        return [t for t in tasks if t is not None and not t.done()]


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
