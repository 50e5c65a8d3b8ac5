"""Helpers shared by the probe tests and the probe-rule tests: simulated installations as probe targets
and as registered installations."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.address import parse_address
from kodeks_smart.probes.icmp import Pinger
from kodeks_smart.probes.installation import ProbeContext, probe_installation
from kodeks_smart.probes.model import Check, InstallationTarget, OnlineTarget, Report, Status
from kodeks_smart.probes.online import OnlineReport, check_online
from kodeks_smart.probes.writer import ResultWriter
from kodeks_smart.simulator import SimulatorThread
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Client, Installation, OnlineAccess

TEST_LOGIN = "smartlogin"
TEST_PASSWORD = "smartpass"


def sim_target(
    sim: SimulatorThread,
    index: int = 0,
    *,
    ident: int = 1,
    credentials: bool = True,
    licman: bool = True,
    ping: bool = True,
) -> InstallationTarget:
    """Simulated installation ``index`` as a probe target (not stored)."""
    described = sim.describe(index)
    return InstallationTarget(
        id=ident,
        dealer_id=1,
        cabinet_id=1,
        client_id=1,
        client=described["client"],
        dealer="0599ROGAIKOPITA",
        endpoint=parse_address(sim.url(index)),
        ping=ping,
        licman_host="127.0.0.1" if licman and described["licman_port"] else None,
        licman_port=described["licman_port"] or 8888,
        test_login=TEST_LOGIN if credentials else None,
        test_password=TEST_PASSWORD if credentials else None,
    )


def sim_online_target(
    sim: SimulatorThread, index: int = 0, *, ident: int = 1, password: str | None = None
) -> OnlineTarget:
    described = sim.describe_online(index)
    return OnlineTarget(
        id=ident,
        dealer_id=1,
        cabinet_id=1,
        client_id=1,
        client=described["client"],
        dealer="0599ROGAIKOPITA",
        scheme="http",
        host=sim.online_url(index).removeprefix("http://"),
        catalog=described["catalog"],
        login=described["login"],
        password=password if password is not None else described["password"],
    )


def run_probe(target: InstallationTarget, timeout: float = 3.0) -> Report:
    """One probe cycle of ``target`` on a fresh event loop."""

    async def go() -> Report:
        pinger = Pinger()
        try:
            return await probe_installation(target, ProbeContext(pinger, timeout=timeout, icmp_timeout=1.0))
        finally:
            pinger.close()

    return asyncio.run(go())


def run_online(target: OnlineTarget, timeout: float = 3.0) -> OnlineReport:
    import httpx

    async def go() -> OnlineReport:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await check_online(client, target, timeout)

    return asyncio.run(go())


def by_status(report: Report) -> dict[Status, set[Check]]:
    found: dict[Status, set[Check]] = {status: set() for status in Status}
    for check, result in report.results.items():
        found[result.status].add(check)
    return found


def register_installation(
    db: Database,
    box: SecretBox,
    sim: SimulatorThread,
    cabinet_id: int,
    index: int = 0,
    *,
    client_name: str | None = None,
    credentials: bool = True,
) -> int:
    """Register simulated installation ``index`` in a cabinet; returns the installation id."""
    described = sim.describe(index)
    with db.write() as s:
        cabinet = s.get(Cabinet, cabinet_id)
        assert cabinet is not None
        name = client_name or f"{described['client']}_{cabinet_id}"
        client = s.scalars(
            select(Client).where(Client.dealer_id == cabinet.dealer_id, Client.short_name == name)
        ).first()
        if client is None:
            client = admin.add_client(s, cabinet, name, f"ООО «{name}»", None)
        inst = admin.add_installation(
            s,
            box,
            client,
            "internet",
            sim.url(index).removeprefix("http://"),
            test_login=TEST_LOGIN if credentials else None,
            test_password=TEST_PASSWORD if credentials else None,
            licman_host="127.0.0.1" if described["licman_port"] else None,
            licman_port=described["licman_port"],
        )
        return inst.id


def register_online(
    db: Database, box: SecretBox, sim: SimulatorThread, cabinet_id: int, index: int = 0
) -> int:
    described = sim.describe_online(index)
    with db.write() as s:
        cabinet = s.get(Cabinet, cabinet_id)
        assert cabinet is not None
        client = admin.add_client(s, cabinet, f"{described['client']}_{cabinet_id}", "ООО «Онлайн»", None)
        access = admin.add_online_access(
            s,
            box,
            client,
            host=sim.online_url(index).removeprefix("http://"),
            catalog=described["catalog"],
            login=described["login"],
            password=described["password"],
            scheme="http",
        )
        return access.id


def stored_target(db: Database, box: SecretBox, installation_id: int) -> InstallationTarget:
    from kodeks_smart.probes.targets import SecretCache, installation_target
    from kodeks_smart.store.models import Dealer

    with db.session() as s:
        inst = s.get(Installation, installation_id)
        assert inst is not None
        client = s.get(Client, inst.client_id)
        dealer = s.get(Dealer, inst.dealer_id)
        assert client is not None and dealer is not None
        return installation_target(inst, client, dealer, SecretCache(box), 60.0)


def stored_online_target(db: Database, box: SecretBox, access_id: int) -> OnlineTarget:
    from kodeks_smart.probes.targets import SecretCache, load_targets

    with db.session() as s:
        assert s.get(OnlineAccess, access_id) is not None
        return load_targets(s, SecretCache(box)).online[access_id]


def save(writer: ResultWriter, target: InstallationTarget, report: Report, at: datetime) -> None:
    """Record one cycle and write it at once, as the runner's flush does."""
    writer.record_installation(target, report, at)
    writer.write(writer.take(at), at)
