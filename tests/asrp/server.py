"""A local stand-in for ASRP on 127.0.0.1: records every request (headers, form fields, file) and answers
according to its current mode, which a test switches while the server runs."""

from __future__ import annotations

import email.parser
import email.policy
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NUMBER = "64bca78c18293630291446"
IDENT = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
ANSWERS: dict[str, tuple[int, bytes]] = {
    "accept": (200, f"<p>Статус: Принят. Номер загрузки: {NUMBER}; Идентификатор: {IDENT}</p>".encode()),
    "duplicate": (200, f"Статус: Повтор — файл уже загружен. Номер загрузки: {NUMBER}".encode()),
    "error": (500, b"Internal Server Error"),
    "garbage": (200, bytes(range(256)) * 4),
    "reject": (400, "Неверный формат запроса\x00\x1b[31m".encode()),
}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


class FakeAsrp:
    def __init__(self) -> None:
        self.mode = "accept"
        self.delay = 0.0
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                received = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode() + body
                )
                if message.is_multipart():
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        payload = part.get_payload(decode=True) or b""
                        filename = part.get_filename()
                        if filename is not None:
                            received.files[str(name)] = (filename, payload)
                        else:
                            received.fields[str(name)] = payload.decode("utf-8")
                with owner._lock:
                    owner.requests.append(received)
                    mode, delay = owner.mode, owner.delay
                if delay:
                    time.sleep(delay)
                status, answer = ANSWERS[mode]
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up (timeout test)

            do_POST = _handle
            do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/upload"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
