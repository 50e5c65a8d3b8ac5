"""Real servers on 127.0.0.1 for delivery tests: SMTP (aiosmtpd), a Telegram Bot API, a webhook receiver."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.live import free_port

# -- TLS ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfSigned:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(directory: Path) -> SelfSigned:
    """A certificate for 127.0.0.1 that is its own CA: clients trust it by loading it as the CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SMART test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return SelfSigned(cert_path, key_path)


# -- SMTP -----------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class MailRecorder:
    """aiosmtpd handler: keeps every accepted message; refuses the recipients it is told to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        #: address → SMTP reply for RCPT TO, e.g. "550 5.1.1 No such user"
        self.refuse: dict[str, str] = {}
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        with self._lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return "250 OK queued"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]


class SmtpServer:
    """aiosmtpd on a fixed loopback port, which can be stopped and started again (an outage)."""

    def __init__(
        self,
        *,
        security: str = "plain",
        tls: SelfSigned | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.security = security
        self.tls = tls
        self.login = login
        self.handler = MailRecorder()
        self._controller: Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        def text(v: str | bytes) -> str:
            return v.decode() if isinstance(v, bytes) else v

        ok = (
            isinstance(data, LoginPassword)
            and self.login is not None
            and (text(data.login), text(data.password)) == self.login
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.login is not None:
            kwargs["authenticator"] = self._authenticate
        if self.security == "starttls":
            assert self.tls is not None
            kwargs.update(tls_context=self.tls.server_context(), require_starttls=True)
            if self.login is not None:
                kwargs["auth_required"] = True
        elif self.security == "ssl":
            assert self.tls is not None
            # aiosmtpd does not see implicit TLS as TLS when it decides whether to offer AUTH.
            kwargs.update(ssl_context=self.tls.server_context(), auth_require_tls=False)
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages


# -- HTTP servers ---------------------------------------------------------------------------------


@dataclass
class Request:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    #: The status the server answered with.
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (to provoke client timeouts).
    delay: float = 0.0


class RecordingServer:
    """A threaded HTTP server on 127.0.0.1 that records POST requests and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                request = Request(time.monotonic(), self.path, dict(self.headers.items()), body)
                with outer._lock:
                    outer.requests.append(request)
                    reply = outer.answer(request)
                    request.status = reply.status
                if reply.delay:
                    outer._release.wait(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout test) is expected

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def answer(self, request: Request) -> Reply:
        """The next scripted reply, or the default one; called under the lock."""
        return self.script.popleft() if self.script else self.default(request)

    def default(self, request: Request) -> Reply:
        return Reply(200, {"ok": True})

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


_ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
    "tg-spoiler", "blockquote", "tg-emoji",
}  # fmt: skip
_MARKUP = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>|&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<>&]")


def telegram_html_error(text: str) -> str | None:
    """What Telegram would say about this text in parse_mode HTML, or None if it parses."""
    stack: list[str] = []
    for m in _MARKUP.finditer(text):
        token = m.group(0)
        if m.group(2):
            name = m.group(2).lower()
            if name not in _ALLOWED_TAGS:
                return f'Unsupported start tag "{name}"'
            if m.group(1):
                if not stack or stack[-1] != name:
                    return f'Unexpected end tag "{name}"'
                stack.pop()
            else:
                stack.append(name)
        elif m.group(3) is None:
            return f"Unsupported character {token!r}"
    if stack:
        return f'Can\'t find end tag corresponding to start tag "{stack[-1]}"'
    return None


@dataclass
class BotMessage:
    at: float
    token: str
    chat_id: str
    text: str
    parse_mode: str | None


class FakeBotApi(RecordingServer):
    """The Bot API subset SMART uses: POST /bot<token>/sendMessage with a JSON body.

    Checks what Telegram checks (4096 characters, parseable HTML) and answers like Telegram.
    ``chat_script`` holds scripted replies per chat id; ``script`` applies to any chat.
    """

    def __init__(self) -> None:
        self.chat_script: dict[str, deque[Reply]] = {}
        self.message_id = 0
        super().__init__()

    def answer(self, request: Request) -> Reply:
        m = re.fullmatch(r"/bot([^/]+)/sendMessage", request.path)
        if m is None:
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        payload = request.json
        chat = str(payload.get("chat_id"))
        queue = self.chat_script.get(chat)
        if queue:
            return queue.popleft()
        if self.script:
            return self.script.popleft()
        text = payload.get("text", "")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _bad_request("Bad Request: message is too long")
        if payload.get("parse_mode") == "HTML":
            problem = telegram_html_error(text)
            if problem:
                return _bad_request(f"Bad Request: can't parse entities: {problem}")
        self.message_id += 1
        return Reply(200, {"ok": True, "result": {"message_id": self.message_id, "chat": {"id": chat}}})

    @property
    def delivered(self) -> list[BotMessage]:
        """Messages Telegram accepted (answered 200), in order."""
        with self._lock:
            accepted = [r for r in self.requests if r.status == 200]
        return [
            BotMessage(
                r.at,
                r.path.split("/")[1][3:],
                str(r.json["chat_id"]),
                r.json["text"],
                r.json.get("parse_mode"),
            )
            for r in accepted
        ]


def _bad_request(description: str) -> Reply:
    return Reply(400, {"ok": False, "error_code": 400, "description": description})


def telegram_error(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, body)


class WebhookReceiver(RecordingServer):
    """Accepts every POST with 200 unless a reply is scripted."""


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
