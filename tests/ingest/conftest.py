"""Fixtures of the ingest tests: services on the `db` backend with a temporary data directory, the app
without the scheduler (tests drain the queue themselves, so every step is deterministic) and helpers that
upload the way the agents do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from kodeks_smart.app import create_app
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from tests.conftest import Tenants

DEALER = "0599ROGAIKOPITA"
OTHER_DEALER = "rogaikopita599"


@pytest.fixture
def ctx(services: Services) -> IngestContext:
    return IngestContext.from_services(services)


@pytest.fixture
def http(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services, role="api")) as client:
        yield client


@dataclass
class Agent:
    """Uploads like smartupload/smartstatus: headers upload and dealer, ?token=, multipart field file."""

    http: TestClient
    dealer: str
    token: str

    def upload(self, filename: str, data: bytes, **headers: str) -> Response:
        sent = {"upload": "yes", "dealer": self.dealer, **headers}
        return self.http.post(
            "/upload", params={"token": self.token}, headers=sent, files={"file": (filename, data)}
        )

    def head(self, filename: str) -> Response:
        return self.http.head(
            f"/files/{filename}", params={"token": self.token}, headers={"dealer": self.dealer}
        )

    def get(self, filename: str) -> Response:
        return self.http.get(
            f"/files/{filename}", params={"token": self.token}, headers={"dealer": self.dealer}
        )


@pytest.fixture
def agent(http: TestClient, tenants: Tenants) -> Agent:
    """An agent of dealer 0599ROGAIKOPITA (clients alpha_client in cabinet A, beta_client in cabinet B)."""
    return Agent(http, DEALER, tenants.token)


@pytest.fixture
def other_agent(http: TestClient, tenants: Tenants) -> Agent:
    """An agent of the other dealer (client gamma_client)."""
    return Agent(http, OTHER_DEALER, tenants.other_token)


def process_all(ctx: IngestContext) -> int:
    return drain(ctx)


def status_body(sessions: int = 7, date: str = "") -> bytes:
    """A smartstatus file: the date line (now, unless given) and a sysmon-like body."""
    stamp = date or format_datetime(datetime.now(UTC), usegmt=True)
    return (
        f"date: {stamp}\r\n"
        "# Sysinfo metrics\r\n"
        'kserver_main_page{service="kodweb",path="/docs"} 0\r\n'
        'kserver_product_control{service="kodweb",path="/docs"} 0\r\n'
        'kserver_main_page{service="kodweb",path="/kodeks01",status="update DB"} 1\r\n'
        'kserver_product_control{service="kodweb",path="/kodeks01"} 0\r\n'
        f"kserver_sessions {sessions}\r\n"
        "# End\r\n"
    ).encode()


STATUS_BODY = (
    b"date: Thu, 16 Apr 2026 10:08:51 GMT\r\n"
    b"# Sysinfo metrics\r\n"
    b"# Path /docs\r\n"
    b'kserver_main_page{service="kodweb",path="/docs"} 0\r\n'
    b'kserver_product_control{service="kodweb",path="/docs"} 0\r\n'
    b"# Path /kodeks01\r\n"
    b'kserver_main_page{service="kodweb",path="/kodeks01",status="update DB"} 1\r\n'
    b'kserver_product_control{service="kodweb",path="/kodeks01"} 0\r\n'
    b"kserver_sessions 7\r\n"
    b"# End\r\n"
)
