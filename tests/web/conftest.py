"""Fixtures shared by the cabinet tests: an ingest context and a web client logged in as alice (cabinet A's
user). A module that needs another client defines its own ``web``, which takes precedence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kodeks_smart.app import create_app
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from tests.conftest import Tenants
from tests.web.test_cabinet import login


@pytest.fixture
def ctx(services: Services, tenants: Tenants) -> IngestContext:
    return IngestContext.from_services(services)


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        login(c, "alice", "alice-password")
        yield c
