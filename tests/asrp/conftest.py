"""Fixtures of the ASRP tests: services that may forward to 127.0.0.1 and write into a drop-folder root, the
fake ASRP server, a configured forwarder and a helper that takes a generated sysinfo report through ingest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from kodeks_smart.asrp import configure
from kodeks_smart.asrp.worker import ForwardConfig, ForwardWorker
from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from tests.asrp.server import FakeAsrp
from tests.conftest import Tenants

DEALER = "0599ROGAIKOPITA"
OTHER_DEALER = "rogaikopita599"


@pytest.fixture
def asrp_services(services: Services, tmp_path: Path) -> Services:
    (tmp_path / "drop").mkdir()
    settings = services.settings.with_overrides(
        asrp_allow_private=True, asrp_folder_root=str(tmp_path / "drop")
    )
    return Services(settings=settings, db=services.db, box=services.box, hashing=services.hashing)


@pytest.fixture
def fake_asrp() -> Iterator[FakeAsrp]:
    server = FakeAsrp()
    yield server
    server.close()


def http_input(url: str, **overrides: object) -> configure.ForwarderInput:
    data = configure.ForwarderInput(
        kind="http",
        url=url,
        file_field="sysinfo",
        fields={
            "dealer": "{dealer}",
            "client": "{client}",
            "reg": "{regnum}",
            "n": "{upload_id}",
            "sum": "{sha256}",
        },
        auth="bearer",
        secret="asrp-token-42",
        success_regex="Статус: Принят",
        duplicate_regex="Повтор",
        number_regex=r"Номер загрузки: ([0-9a-f]+)",
        ident_regex=r"Идентификатор: ([0-9a-f-]{36})",
        timeout=5.0,
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


@dataclass
class Harness:
    services: Services
    tenants: Tenants

    @property
    def ctx(self) -> IngestContext:
        return IngestContext.from_services(self.services)

    def configure(self, data: configure.ForwarderInput, dealer: str = DEALER) -> None:
        with self.services.db.write() as s:
            d = configure.dealer_by_code(s, dealer)
            configure.save(
                s, self.services.box, d.id, data, folder_root=self.services.settings.asrp_folder_root
            )

    def feed(self, client: str = "alpha_client", dealer: str = DEALER, seed: int = 0) -> bytes:
        """Upload a generated sysinfo report and process it; returns the raw bytes."""
        data = generate_zip(SysinfoProfile(client, users=3, days=1, seed=seed))
        service.ingest_file(self.ctx, dealer, client, data=data, fmt="zip")
        drain(self.ctx)
        return data

    def worker(self, **config: object) -> ForwardWorker:
        base = ForwardConfig.from_settings(self.services.settings)
        values = {**base.__dict__, **config}
        return ForwardWorker(self.services.db, self.services.box, ForwardConfig(**values))  # type: ignore[arg-type]

    def forward(self, now: datetime | None = None) -> int:
        return self.worker().run_until_idle(now)


@pytest.fixture
def h(asrp_services: Services, tenants: Tenants) -> Harness:
    return Harness(asrp_services, tenants)
