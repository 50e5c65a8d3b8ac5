"""A live SMART (real uvicorn) fed by the Kodeks simulator, and Debian's Chromium driven by Playwright.

The UI tests run only where ``/usr/bin/chromium`` exists (`.ci/run` installs it); elsewhere they are
skipped with the reason. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from kodeks_smart.config import Settings
from kodeks_smart.demo import DEMO_CABINET, DEMO_DEALER, DemoLayout, MailSink, register, start_simulator
from kodeks_smart.lib.secrets import PasswordHashing
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store import admin
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.models import Cabinet, Client
from kodeks_smart.store.types import utcnow
from tests.live import LiveServer, free_port, live_server, smart_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
#: Screenshots go to SMART_SCREENSHOTS_DIR when set (``make screenshots`` points it at docs/screenshots
#: to refresh the user guide's pictures); otherwise to a scratch directory, so a test run leaves the
#: checkout unchanged.
SCREENSHOTS = Path(
    os.environ.get("SMART_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "smart-ui-screenshots"
)
ADMIN, ADMIN_PASSWORD = "demo", "demo-password-1"
USER, USER_PASSWORD = "ivanov", "ivanov-password-1"
OTHER_CABINET = "Второй кабинет"
#: Sysinfo scenarios of the first demo clients' reports, so that the analytic dashboards have something.
SCENARIOS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"stale-operup", "db-errors"}),
    frozenset({"licence-expiring-7d", "new-user"}),
    frozenset({"seats-exhausted", "search-errors"}),
    frozenset({"low-activity"}),
)


def skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"UI tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "UI tests need the playwright package (pip install -e '.[dev]')"
    return None


@dataclass
class Demo:
    server: LiveServer
    cabinet_id: int
    other_cabinet_id: int
    other_mailbox_id: int
    mail: MailSink
    reports: int

    @property
    def url(self) -> str:
        return self.server.url


@dataclass
class Prepared:
    cabinet_id: int
    other_cabinet_id: int
    other_mailbox_id: int
    token: str
    clients: list[str]


def _prepare(
    services: Services, hashing: PasswordHashing, layout: DemoLayout, sim: Any, smtp_port: int
) -> Prepared:
    """The demo's objects, two accounts, a second cabinet, and two alerts that a filter can tell apart."""
    with services.db.write() as s:
        register(s, services.box, sim, layout, smtp_port)
        token = admin.rotate_token(s, DEMO_DEALER)
        admin.add_account(s, hashing, ADMIN, ADMIN_PASSWORD, "dealer-admin", DEMO_DEALER)
        admin.add_account(s, hashing, USER, USER_PASSWORD, "cabinet", DEMO_DEALER, [DEMO_CABINET])
        other = admin.add_cabinet(s, DEMO_DEALER, OTHER_CABINET)
        manager = admin.add_manager(s, other, "Сидоров Олег", ["sidorov@demo.smart.local"])
        admin.add_client(s, other, "vtoroi_client", "ООО «Второй»", manager)
        mailbox = admin.add_mailbox(s, other, "vtoroi@demo.smart.local", ["critical"], "второй кабинет")
        cabinet = s.scalars(select(Cabinet).where(Cabinet.name == DEMO_CABINET)).one()
        now = utcnow()
        clients = list(s.scalars(select(Client).where(Client.cabinet_id == cabinet.id).order_by(Client.id)))
        for client, (rule, priority, severity) in zip(
            clients, (("KodeksTcpStatus", 1, "critical"), ("KodeksSearchIsEmpty", 4, "warning")), strict=False
        ):
            s.add(
                AlertState(
                    dealer_id=cabinet.dealer_id,
                    cabinet_id=cabinet.id,
                    client_id=client.id,
                    rule=rule,
                    key=f"ui-test:{client.id}",
                    status="firing",
                    severity=severity,
                    priority=priority,
                    category="critical",
                    labels={"client": client.short_name},
                    summary=f"{client.short_name}: {rule}",
                    started_at=now - timedelta(minutes=5),
                    fired_at=now - timedelta(minutes=3),
                    last_seen_at=now,
                )
            )
        names = [c.short_name for c in clients if not c.short_name.startswith("online_")]
        return Prepared(cabinet.id, other.id, mailbox.id, token, names)


def _upload_reports(url: str, token: str, clients: list[str]) -> int:
    """Simulated sysinfo reports of the first clients, sent like the agent does (POST /upload)."""
    now = datetime.now(UTC).replace(microsecond=0)
    for client, scenarios in zip(clients, SCENARIOS, strict=False):
        report = generate_zip(SysinfoProfile(client=client, users=12, days=7, scenarios=scenarios, now=now))
        response = httpx.post(
            f"{url}/upload",
            params={"token": token},
            headers={"dealer": DEMO_DEALER, "upload": "yes"},
            files={"file": (f"{client}.zip", report, "application/zip")},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    return min(len(clients), len(SCENARIOS))


@pytest.fixture(scope="package")
def demo(
    tmp_path_factory: pytest.TempPathFactory, hashing: PasswordHashing, sqlite_template: Path
) -> Iterator[Demo]:
    if skip_reason():
        pytest.skip(skip_reason() or "")
    home = tmp_path_factory.mktemp("ui")
    port, smtp_port = free_port(), free_port()
    env = smart_env(
        home,
        port,
        SMART_PROBES="true",
        SMART_PROBE_INTERVAL="5",
        SMART_ALERT_INTERVAL="2",
        SMART_PROBE_TIMEOUT="2",
    )
    layout = DemoLayout(installations=8, online=2, port_base=0, smtp_port=smtp_port)
    sim = start_simulator(layout)
    mail = MailSink(home / "mail", smtp_port)
    mail.start()
    try:
        settings = Settings.from_values(
            {
                "database_url": env["SMART_DATABASE_URL"],
                "data_dir": env["SMART_DATA_DIR"],
                "secret_key_file": env["SMART_SECRET_KEY_FILE"],
            }
        )
        shutil.copy(sqlite_template, home / "smart.db")  # migrated once per test session
        services = Services.open(settings)
        try:
            prepared = _prepare(services, hashing, layout, sim, smtp_port)
        finally:
            services.close()
        with live_server(home, env=env, port=port) as server:
            reports = _upload_reports(server.url, prepared.token, prepared.clients)
            yield Demo(
                server,
                prepared.cabinet_id,
                prepared.other_cabinet_id,
                prepared.other_mailbox_id,
                mail,
                reports,
            )
            server.terminate()
    finally:
        mail.stop()
        sim.stop()


@pytest.fixture(scope="package")
def browser(demo: Demo) -> Iterator[Browser]:
    # Package scope: Playwright's sync API allows one running instance per thread, and other test
    # packages (tests/web) start their own after this one has stopped.
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()
    finally:
        pw.stop()
