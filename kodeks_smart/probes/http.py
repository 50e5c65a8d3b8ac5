"""A small HTTP/1.1 client for the probes' hot path.

Why not httpx or aiohttp here: a probe cycle is a handful of tiny requests to a server that closes every
connection (kodwebd answers ``Connection: close``), and at 10,000 installations a minute the client's
own CPU cost decides how many installations one core can watch. This client does exactly what the probes
need and nothing else:

* the connection opened by the ``tcp`` check is the one the main page is requested on, and later
  requests of the cycle reuse it while the server keeps it open (``Connection: keep-alive``);
* a cookie jar per cycle (``Kodeks``, ``KodeksData`` — the session of the test user);
* Content-Length, chunked and read-until-close bodies, with a size cap;
* every failure becomes `HttpError` with a ``kind`` the checks classify (refused, timeout, reset, tls…).

It does not follow redirects (the login's 302 is a result), and it does not verify TLS certificates unless
asked (the agents use ``curl -k``; SMART_PROBE_TLS_VERIFY turns verification on).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field

from kodeks_smart.probes.model import Endpoint

USER_AGENT = "smartdownload"  # the User-Agent of the original agents (spec §3.2)
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_BODY = 2 * 1024 * 1024


class HttpError(Exception):
    """A request failed before a complete response arrived.

    ``kind``: ``dns``, ``refused``, ``unreachable``, ``timeout``, ``reset``, ``empty`` (closed without an
    answer), ``tls``, ``protocol`` (not HTTP), ``too-large``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: Russian wording of each failure kind, for check details.
KIND_TEXT = {
    "dns": "имя сервера не найдено",
    "refused": "соединение отвергнуто",
    "unreachable": "сервер недоступен",
    "timeout": "нет ответа (таймаут)",
    "reset": "соединение сброшено",
    "empty": "соединение закрыто без ответа",
    "tls": "ошибка TLS",
    "protocol": "ответ не по протоколу HTTP",
    "too-large": "слишком большой ответ",
}


def describe(exc: HttpError) -> str:
    return KIND_TEXT.get(exc.kind, exc.kind)


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    #: Header names in lower case, in order.
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float
    keep_alive: bool = False

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def ssl_context(verify: bool) -> ssl.SSLContext:
    if verify:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def classify_os_error(exc: BaseException) -> HttpError:
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, TimeoutError):
        return HttpError("timeout", "timed out")
    if isinstance(exc, socket.gaierror):
        return HttpError("dns", str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return HttpError("refused", str(exc))
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return HttpError("tls", str(exc))
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return HttpError("reset", str(exc))
    if isinstance(exc, asyncio.IncompleteReadError):
        return HttpError("empty" if not exc.partial else "reset", "connection closed mid-response")
    if isinstance(exc, OSError):
        return HttpError("unreachable", str(exc))
    return HttpError("protocol", f"{type(exc).__name__}: {exc}")


@dataclass(slots=True)
class Connection:
    """HTTP to one endpoint: a connection that is reopened when the server closes it, and a cookie jar."""

    endpoint: Endpoint
    timeout: float
    tls: ssl.SSLContext | None = None
    #: Address to connect to instead of resolving the endpoint's host again (the tcp check's result).
    connect_host: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    connects: int = 0

    async def connect(self) -> float:
        """Open the TCP connection (and TLS for https); returns the seconds the TCP connect took."""
        self.close()
        host = self.connect_host or self.endpoint.host
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(host, self.endpoint.port)
        except (OSError, TimeoutError) as exc:
            raise classify_os_error(exc) from None
        connected = time.perf_counter() - started
        self.reader, self.writer = reader, writer
        self.connects += 1
        if self.endpoint.scheme == "https":
            try:
                async with asyncio.timeout(self.timeout):
                    await writer.start_tls(self.tls or ssl_context(False), server_hostname=self.endpoint.host)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                self.close()
                raise classify_os_error(exc) from None
        return connected

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        max_body: int = DEFAULT_MAX_BODY,
        timeout: float | None = None,
    ) -> Response:
        """Send one request (connecting first if needed) and read the whole response."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout or self.timeout):
                if self.writer is None or self.writer.is_closing():
                    await self.connect()
                assert self.reader is not None and self.writer is not None
                self.writer.write(self._head(method, path, headers, body) + body)
                response = await self._read(self.reader, method, max_body)
        except (
            OSError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ) as exc:
            self.close()
            raise classify_os_error(exc) from None
        except HttpError:
            self.close()
            raise
        response.elapsed = time.perf_counter() - started
        for value in response.header_all("set-cookie"):
            name, _, rest = value.partition("=")
            if name.strip():
                self.cookies[name.strip()] = rest.split(";", 1)[0].strip()
        if not response.keep_alive:
            self.close()
        return response

    def _head(self, method: str, path: str, headers: list[tuple[str, str]] | None, body: bytes) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.endpoint.hostport}",
            f"User-Agent: {USER_AGENT}",
            "Accept: */*",
        ]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if headers:
            lines.extend(f"{k}: {v}" for k, v in headers)
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")

    @staticmethod
    async def _read(reader: asyncio.StreamReader, method: str, max_body: int) -> Response:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise HttpError("empty" if not exc.partial else "protocol", "no complete response head") from None
        except asyncio.LimitOverrunError:
            raise HttpError("protocol", "response head too long") from None
        if len(head) > MAX_HEADER_BYTES:
            raise HttpError("protocol", "response head too long")
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/") or not status_line[1].isdigit():
            raise HttpError("protocol", f"not an HTTP status line: {lines[0][:80]!r}")
        version = status_line[0]
        status = int(status_line[1])
        reason = status_line[2] if len(status_line) > 2 else ""
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError("protocol", f"bad header line {line[:80]!r}")
            headers.append((name.strip().lower(), value.strip()))
        response = Response(status, reason, headers, b"", 0.0)
        connection = (response.header("connection") or "").lower()
        keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            response.keep_alive = keep_alive
            return response
        encoding = (response.header("transfer-encoding") or "").lower()
        length = response.header("content-length")
        if "chunked" in encoding:
            response.body = await _read_chunked(reader, max_body)
        elif length is not None:
            if not length.strip().isdigit():
                raise HttpError("protocol", f"bad Content-Length {length!r}")
            size = int(length)
            if size > max_body:
                raise HttpError("too-large", f"body of {size} bytes")
            response.body = await reader.readexactly(size)
        else:
            response.body = await _read_to_end(reader, max_body)
            keep_alive = False
        response.keep_alive = keep_alive
        return response


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HttpError("protocol", f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            # Trailer fields, then the empty line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        total += size
        if total > max_body:
            raise HttpError("too-large", f"chunked body over {max_body} bytes")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _read_to_end(reader: asyncio.StreamReader, max_body: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > max_body:
            raise HttpError("too-large", f"body over {max_body} bytes")
        parts.append(chunk)
