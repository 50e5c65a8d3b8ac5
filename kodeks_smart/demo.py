"""`smart demo`: SMART with a demo distributor, simulated installations and a local mail sink.

The demo keeps its own data directory (default ``var/demo``), so it never touches the real store:
1. start the Kodeks simulator (installations and online accesses on fixed loopback ports) and put a
   few of them into abnormal states, so that every dashboard has something to show;
2. start a local SMTP sink that writes every message SMART sends into ``<dir>/mail/*.eml``;
3. register the demo dealer, cabinet, managers, clients, installations of all three kinds, online
   accesses, mailboxes and the outgoing mail server in the demo store (idempotent: a second start
   reuses them), and create the demo login, printing its password when it is new;
4. serve SMART until Ctrl+C, then stop everything.
"""

from __future__ import annotations

import email.policy
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.config import Settings
from kodeks_smart.lib.secrets import SecretBox, new_password
from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from kodeks_smart.store import admin
from kodeks_smart.store.models import Account, Cabinet, Client, Dealer, Mailbox, Manager, SmtpRelay

DEMO_DEALER = "0599DEMO"
DEMO_DEALER_NAME = "Демо-дистрибьютор «Рога и копыта»"
DEMO_CABINET = "Демо-кабинет"
DEMO_LOGIN = "demo"
MANAGERS = (("Иванова Анна", "ivanova@demo.smart.local"), ("Петров Сергей", "petrov@demo.smart.local"))

#: (installation index → state patch) for the simulator: a varied picture for the dashboards.
STATES: dict[int, dict[str, Any]] = {
    1: {"mode": "maintenance"},
    2: {"mode": "down"},
    3: {"key_error": 4113},
    4: {"seats_taken": True},
    5: {"need_support": True},
    6: {"stale_operup": True},
    7: {"mode": "proxy-only"},
    8: {"licman_down": True},
}
ONLINE_STATES: dict[int, dict[str, Any]] = {1: {"billing_nearly_exhausted": True}, 2: {"login_refused": True}}


@dataclass(frozen=True)
class DemoLayout:
    installations: int = 20
    online: int = 4
    port_base: int = 18100
    smtp_port: int = 18025

    def kind_of(self, index: int) -> str:
        """Every fifth installation is in a closed network, every fourth in the cloud."""
        if index % 5 == 4:
            return "closed"
        if index % 4 == 3:
            return "cloud"
        return "internet"


def demo_settings(directory: Path, port: int, host: str) -> Settings:
    return Settings.load(
        database_url=f"sqlite:///{directory / 'smart.db'}",
        data_dir=str(directory),
        secret_key_file=str(directory / "secret.key"),
        port=port,
        host=host,
        probes=True,
    )


class MailSink:
    """A local SMTP server (aiosmtpd) that stores each message as an .eml file."""

    def __init__(self, directory: Path, port: int) -> None:
        from aiosmtpd.controller import Controller

        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.count = len(list(directory.glob("*.eml")))
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.store(bytes(envelope.content))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def store(self, content: bytes) -> Path:
        with self._lock:
            self.count += 1
            path = self.directory / f"{self.count:05d}.eml"
        path.write_bytes(content)
        return path

    def subjects(self) -> list[str]:
        parser = BytesParser(policy=email.policy.default)
        return [
            str(parser.parsebytes(p.read_bytes())["subject"]) for p in sorted(self.directory.glob("*.eml"))
        ]

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def start_simulator(layout: DemoLayout) -> SimulatorThread:
    sim = SimulatorThread(
        SimulatorConfig(
            installations=layout.installations,
            online=layout.online,
            port_base=layout.port_base,
            control_port=layout.port_base - 1 if layout.port_base else 0,
            seed=599,
        )
    )
    sim.start()
    for index, patch in STATES.items():
        if index < layout.installations:
            sim.set_state(index, **patch)
    for index, patch in ONLINE_STATES.items():
        if index < layout.online:
            sim.set_online_state(index, **patch)
    return sim


def register(
    session: Session, box: SecretBox, sim: SimulatorThread, layout: DemoLayout, smtp_port: int
) -> None:
    """Step 3: the demo's objects in the store; safe to run on every start."""
    dealer = session.scalars(select(Dealer).where(Dealer.code == DEMO_DEALER)).first()
    if dealer is None:
        dealer, _token = admin.add_dealer(session, DEMO_DEALER, DEMO_DEALER_NAME)
    cabinet = session.scalars(
        select(Cabinet).where(Cabinet.dealer_id == dealer.id, Cabinet.name == DEMO_CABINET)
    ).first() or admin.add_cabinet(session, DEMO_DEALER, DEMO_CABINET)
    managers: list[Manager] = []
    for name, mail in MANAGERS:
        manager = session.scalars(
            select(Manager).where(Manager.cabinet_id == cabinet.id, Manager.name == name)
        ).first()
        managers.append(manager or admin.add_manager(session, cabinet, name, [mail]))
    existing = {c.short_name for c in session.scalars(select(Client).where(Client.dealer_id == dealer.id))}
    for index, site in enumerate(sim.simulator.installations):
        config = site.config
        if config.client in existing:
            continue
        client = admin.add_client(
            session, cabinet, config.client, config.owner, managers[index % len(managers)]
        )
        kind = layout.kind_of(index)
        reachable = kind != "closed"
        admin.add_installation(
            session,
            box,
            client,
            kind,
            sim.url(index).split("://", 1)[1].rstrip("/") if reachable else None,
            tz_offset_minutes=config.tz_offset_minutes,
            test_login=config.credentials.test_login if reachable else None,
            test_password=config.credentials.test_password if reachable else None,
        )
    for index, online in enumerate(sim.simulator.online):
        oconf = online.config
        short = f"online_{oconf.client}".lower()[:64]
        if short in existing:
            continue
        client = admin.add_client(session, cabinet, short, oconf.client, managers[index % len(managers)])
        host = sim.online_url(index).split("://", 1)[1].rstrip("/").split("/", 1)[0]
        admin.add_online_access(
            session,
            box,
            client,
            host=host,
            catalog=oconf.catalog,
            login=oconf.login,
            password=oconf.password,
            firm_name=oconf.client,
            scheme="http",
        )
    for address, categories, note in (
        ("support@demo.smart.local", ["critical", "technical"], "поддержка"),
        ("training@demo.smart.local", ["analytics"], "обучение"),
        ("online@demo.smart.local", ["online"], "онлайн-доступы"),
    ):
        known = session.scalars(
            select(Mailbox).where(Mailbox.cabinet_id == cabinet.id, Mailbox.address == address)
        ).first()
        if known is None:
            admin.add_mailbox(session, cabinet, address, categories, note)
    relay = session.scalars(select(SmtpRelay).where(SmtpRelay.dealer_id.is_(None))).first()
    if relay is None:
        session.add(
            SmtpRelay(
                dealer_id=None,
                host="127.0.0.1",
                port=smtp_port,
                security="plain",
                sender="smart@demo.smart.local",
            )
        )
    else:
        relay.host, relay.port, relay.security = "127.0.0.1", smtp_port, "plain"


def ensure_demo_login(session: Session, hashing: Any) -> str | None:
    """The demo's dealer-admin login; returns its password when it is created now."""
    if session.scalars(select(Account).where(Account.login == DEMO_LOGIN)).first() is not None:
        return None
    password = new_password(12)
    admin.add_account(session, hashing, DEMO_LOGIN, password, "dealer-admin", DEMO_DEALER)
    return password


def run_demo(directory: Path, port: int, host: str, layout: DemoLayout, echo: Callable[[str], None]) -> None:
    from kodeks_smart import server
    from kodeks_smart.app import create_app
    from kodeks_smart.lib.logs import setup_logging

    directory.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(directory, port, host)
    setup_logging(settings.log_format, settings.log_level)
    echo("Запускаю симулятор серверов Кодекс…")
    sim = start_simulator(layout)
    mail = MailSink(directory / "mail", layout.smtp_port)
    mail.start()
    try:
        services, initial = server.prepare(settings)
        with services.db.write() as s:
            register(s, services.box, sim, layout, layout.smtp_port)
            password = ensure_demo_login(s, services.hashing)
        password_file = directory / "demo-password"
        if password is not None:
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{DEMO_LOGIN}\n{password}\n")
        shown = password or password_file.read_text(encoding="utf-8").split()[1]
        echo(f"Демо SMART: {settings.effective_public_url}")
        echo(f"  вход: {DEMO_LOGIN} / {shown}")
        if initial is not None:
            echo(f"  оператор: {initial.login} / {initial.password}")
        echo(
            f"  симулятор: серверов — {layout.installations} (с порта {layout.port_base}), "
            f"онлайн-доступов — {layout.online}, "
            f"управление http://127.0.0.1:{layout.port_base - 1}/api/states"
        )
        echo(f"  письма SMART складываются в {directory / 'mail'} (SMTP 127.0.0.1:{layout.smtp_port})")
        echo("Остановить: Ctrl+C")
        server.run(create_app(services), settings)
    finally:
        mail.stop()
        sim.stop()
