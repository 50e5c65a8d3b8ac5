"""``smart probe ID``: run every check of one installation (or, with ``--online``, one online access) now
and print what each check saw — the first thing a distributor's engineer runs when an alert arrives.

Nothing is written to the store: the running service keeps its own schedule and states.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.probes.address import AddressError
from kodeks_smart.probes.http import ssl_context
from kodeks_smart.probes.icmp import Pinger, Resolver
from kodeks_smart.probes.installation import ProbeContext, probe_installation
from kodeks_smart.probes.model import (
    INSTALLATION_CHECKS,
    STATE_LABELS,
    STATUS_LABELS,
    CheckResult,
    InstallationTarget,
    OnlineTarget,
    Report,
    Status,
)
from kodeks_smart.probes.online import KIND_LABELS, OnlineReport, check_online
from kodeks_smart.probes.targets import SecretCache, installation_target, load_targets
from kodeks_smart.runtime import Services
from kodeks_smart.store.models import Client, Dealer, Installation

console = Console(soft_wrap=True)
STYLE = {Status.OK: "green", Status.FAIL: "bold red", Status.EXPECTED: "yellow", Status.UNKNOWN: "dim"}


def probe(
    ident: Annotated[
        int, typer.Argument(metavar="ID", help="Installation id (with --online: online access id)")
    ],
    online: Annotated[bool, typer.Option("--online", help="Check an online access instead")] = False,
) -> None:
    """Run every check of one installation (or online access) once and print the results."""
    services = Services.open(Settings.load())
    try:
        if online:
            access = _online_target(services, ident)
            result = asyncio.run(_check_online(services, access))
            _print_online(access, result)
        else:
            target = _installation_target(services, ident)
            report = asyncio.run(_probe(services, target))
            _print_installation(target, report)
    finally:
        services.close()


def _installation_target(services: Services, ident: int) -> InstallationTarget:
    with services.db.session() as s:
        inst = s.get(Installation, ident)
        if inst is None:
            raise ConfigError(f"инсталляция {ident} не найдена")
        if not inst.address:
            raise ConfigError(
                f"у инсталляции {ident} нет адреса: закрытый контур проверяется только по sysinfo"
            )
        client = s.get(Client, inst.client_id)
        dealer = s.get(Dealer, inst.dealer_id)
        assert client is not None and dealer is not None
        try:
            return installation_target(
                inst, client, dealer, SecretCache(services.box), services.settings.probe_interval
            )
        except AddressError as exc:
            raise ConfigError(str(exc)) from None


def _online_target(services: Services, ident: int) -> OnlineTarget:
    with services.db.session() as s:
        found = load_targets(s, SecretCache(services.box)).online.get(ident)
    if found is None:
        raise ConfigError(f"онлайн-доступ {ident} не найден")
    return found


async def _probe(services: Services, target: InstallationTarget) -> Report:
    settings = services.settings
    pinger = Pinger()
    try:
        ctx = ProbeContext(
            pinger, Resolver(), settings.probe_timeout, 2.0, ssl_context(settings.probe_tls_verify)
        )
        return await probe_installation(target, ctx)
    finally:
        pinger.close()


async def _check_online(services: Services, target: OnlineTarget) -> OnlineReport:
    settings = services.settings
    async with httpx.AsyncClient(verify=ssl_context(settings.probe_tls_verify), trust_env=False) as client:
        return await check_online(client, target, settings.probe_timeout)


def _row(table: Table, result: CheckResult) -> None:
    style = STYLE[result.status]
    latency = f"{result.latency * 1000:.1f}" if result.latency is not None else ""
    table.add_row(
        result.check.value,
        f"[{style}]{STATUS_LABELS[result.status]}[/]",
        result.value,
        latency,
        result.detail,
    )


def _print_installation(target: InstallationTarget, report: Report) -> None:
    console.print(
        f"Инсталляция {target.id}: [bold]{target.client}[/] ({target.dealer}), {target.endpoint.base_url}"
        f"{target.endpoint.path}"
    )
    table = Table("проверка", "результат", "значение", "мс", "что видно")
    for check in INSTALLATION_CHECKS:
        result = report.results.get(check)
        if result is not None:
            _row(table, result)
    console.print(table)
    if report.states:
        for state, code in report.states.items():
            shown = f"код {code}" if code is not None else "нет ответа"
            console.print(f"Нештатное состояние: [bold red]{STATE_LABELS[state]}[/] ({shown})")
    else:
        console.print("Нештатных состояний нет.")


def _print_online(target: OnlineTarget, report: OnlineReport) -> None:
    console.print(
        f"Онлайн-доступ {target.id}: [bold]{target.login}[/]@{target.host}/{target.catalog} ({target.client})"
    )
    table = Table("проверка", "результат", "значение", "мс", "что видно")
    _row(table, report.result)
    console.print(table)
    if report.read:
        billing = Table("счётчик", "лимит", "использовано", "осталось")
        for kind, (top, used) in report.billing.items():
            billing.add_row(KIND_LABELS[kind], str(top), str(used), str(max(top - used, 0)))
        console.print(billing)
