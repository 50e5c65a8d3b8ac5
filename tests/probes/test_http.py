"""The probes' HTTP client against small loopback servers: bodies, keep-alive, cookies, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from kodeks_smart.probes.http import Connection, HttpError
from kodeks_smart.probes.model import Endpoint

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, Endpoint]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, Endpoint("http", "127.0.0.1", port)


def run(handler: Handler, work: Callable[[Connection], Awaitable[object]]) -> object:
    async def go() -> object:
        server, endpoint = await serve(handler)
        conn = Connection(endpoint, timeout=2.0)
        try:
            return await work(conn)
        finally:
            conn.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(go())


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


def test_a_keep_alive_server_answers_several_requests_on_one_connection() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for body in (b"first", b"second"):
            seen.append(await read_request(reader))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nSet-Cookie: KodeksData=abc; path=/\r\n\r\n%s"
                % (len(body), body)
            )
            await writer.drain()
        writer.close()

    async def work(conn: Connection) -> list[bytes]:
        first = await conn.request("GET", "/")
        second = await conn.request("GET", "/docs/")
        assert conn.connects == 1
        return [first.body, second.body]

    assert run(handler, work) == [b"first", b"second"]
    assert b"Cookie: KodeksData=abc" in seen[1]
    assert b"User-Agent: smartdownload" in seen[0]


def test_a_server_that_closes_each_connection_gets_a_new_one_per_request() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def work(conn: Connection) -> int:
        await conn.request("GET", "/")
        await conn.request("GET", "/")
        return conn.connects

    assert run(handler, work) == 2


def test_chunked_and_read_until_close_bodies_are_read_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        writer.write(b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n")
        await writer.drain()
        writer.close()

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    async def body(conn: Connection) -> bytes:
        return (await conn.request("GET", "/")).body

    assert run(chunked, body) == b"hello, world"
    assert run(until_close, body) == b"all of it"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (b"", "empty"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "protocol"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", "too-large"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "reset"),
    ],
)
def test_broken_answers_become_http_errors_of_a_known_kind(answer: bytes, kind: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def work(conn: Connection) -> str:
        with pytest.raises(HttpError) as caught:
            await conn.request("GET", "/")
        return caught.value.kind

    assert run(handler, work) == kind


def test_a_silent_server_is_a_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(5)
        finally:
            writer.close()

    async def work(conn: Connection) -> str:
        with pytest.raises(HttpError) as caught:
            await conn.request("GET", "/", timeout=0.2)
        return caught.value.kind

    assert run(handler, work) == "timeout"


def test_a_closed_port_is_refused() -> None:
    async def go() -> str:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server, endpoint = await serve(handler)
        server.close()
        await server.wait_closed()
        with pytest.raises(HttpError) as caught:
            await Connection(endpoint, timeout=2.0).connect()
        return caught.value.kind

    assert asyncio.run(go()) == "refused"
