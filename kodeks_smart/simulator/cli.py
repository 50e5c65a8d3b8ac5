"""``smart simulate``: run simulated Kodeks servers, or write one synthetic sysinfo report.

    smart simulate --installations 3 --online 1 --port-base 18000
    smart simulate sysinfo --client client00000 --users 20 --days 7 --out client00000.zip
    smart simulate scenarios

A test and demo tool: it keeps everything in memory and never writes into SMART's database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kodeks_smart.simulator.core import Simulator, SimulatorConfig, SimulatorError
from kodeks_smart.simulator.state import Credentials

console = Console()

app = typer.Typer(
    name="simulate",
    help="Simulated Kodeks / Techexpert servers and online accesses for tests and demos.",
    pretty_exceptions_enable=False,
)

SHOWN = 10  # installations listed at start-up; the control API lists the rest


@app.callback(invoke_without_command=True)
def simulate(
    ctx: typer.Context,
    installations: Annotated[int, typer.Option(help="Simulated server installations.")] = 3,
    online: Annotated[int, typer.Option(help="Simulated online accesses.")] = 0,
    port_base: Annotated[
        int,
        typer.Option(help="First HTTP port; installation i listens on port-base + i (0 = any free port)."),
    ] = 18000,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    control_port: Annotated[
        int | None, typer.Option(help="Control API port (default: port-base - 1, or any free port).")
    ] = None,
    vhosts: Annotated[
        bool, typer.Option(help="One port for all: the Host header (client00001.localhost) picks the server.")
    ] = False,
    licman: Annotated[
        bool | None,
        typer.Option("--licman/--no-licman", help="Licence manager ports (default: when descriptors allow)."),
    ] = None,
    licman_port_base: Annotated[int | None, typer.Option(help="First licence manager port.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated configs (same seed, same servers).")] = 0,
    distributor: Annotated[str, typer.Option(help="Distributor code in registration numbers.")] = "460",
    session_hours: Annotated[float, typer.Option(help="How long a login holds a seat.")] = 24.0,
    test_password: Annotated[
        str | None, typer.Option(help="Password of the test user smartlogin (default smartpass).")
    ] = None,
    admin_password: Annotated[
        str | None, typer.Option(help="Password of the admin account of /admin (default adminpass).")
    ] = None,
) -> None:
    """Run the simulator until Ctrl+C or SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    if control_port is None:
        control_port = port_base - 1 if port_base > 0 else 0
    config = SimulatorConfig(
        installations=installations,
        online=online,
        host=host,
        port_base=port_base,
        control_port=control_port,
        vhosts=vhosts,
        licman=licman,
        licman_port_base=licman_port_base,
        seed=seed,
        distributor=distributor,
        session_ttl=session_hours * 3600,
        credentials=_credentials(test_password, admin_password),
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(config))
    except SimulatorError as exc:
        console.print(f"[red]simulator: {exc}[/red]")
        raise typer.Exit(1) from exc


def _credentials(test_password: str | None, admin_password: str | None) -> Credentials:
    credentials = Credentials()
    if test_password is not None:
        credentials.test_password = test_password
    if admin_password is not None:
        credentials.admin_password = admin_password
    return credentials


async def _serve(config: SimulatorConfig) -> None:
    sim = Simulator(config)
    await sim.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        _print_summary(sim)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await sim.stop()
        console.print("simulator stopped")


def _print_summary(sim: Simulator) -> None:
    c = sim.config
    table = Table(title=f"{len(sim.installations)} simulated installations")
    for column in ("id", "client", "URL", "licman", "seats", "regnum"):
        table.add_column(column)
    for site in sim.installations[:SHOWN]:
        table.add_row(
            str(site.config.index),
            site.config.client,
            sim.url(site.config.index),
            site.licman.address if site.licman is not None else "-",
            str(site.config.seats),
            site.config.regnum,
        )
    if len(sim.installations) > SHOWN:
        last = sim.installations[-1]
        table.add_row("…", "…", "…", "…", "…", "…")
        table.add_row(str(last.config.index), last.config.client, sim.url(last.config.index), "", "", "")
    console.print(table)
    if sim.online:
        online = Table(title=f"{len(sim.online)} simulated online accesses")
        for column in ("id", "URL", "catalog", "login", "password"):
            online.add_column(column)
        for access in sim.online[:SHOWN]:
            o = access.config
            online.add_row(str(o.index), sim.online_url(o.index), o.catalog, o.login, o.password)
        console.print(online)
    cred = c.credentials
    console.print(
        f"test user [b]{cred.test_login}[/b] / {cred.test_password} (also Basic auth of /sysmon/metrics); "
        f"admin [b]{cred.admin_login}[/b] / {cred.admin_password} (Basic auth of /admin)"
    )
    console.print(f"control API: [b]{sim.control_url}[/b]/api/health   (Ctrl+C stops)")
    console.file.flush()  # a pipe is block-buffered; whoever reads the addresses needs them now


@app.command("sysinfo")
def sysinfo_report(
    client: Annotated[str, typer.Option(help="Client short name (Latin), as in the agent scripts.")],
    out: Annotated[Path, typer.Option(help="Output file: .zip (as with type=zip) or .xml.")],
    users: Annotated[int, typer.Option(help="User accounts in the report.")] = 20,
    days: Annotated[int, typer.Option(help="Days of history.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same report).")] = 0,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Fault scenario, repeatable; see `smart simulate scenarios`.")
    ] = None,
    seats: Annotated[int | None, typer.Option(help="Licensed seats (default: derived from users).")] = None,
    regnum: Annotated[str | None, typer.Option(help="Registration number DDDD_CCCCCC.")] = None,
    tz_offset_minutes: Annotated[int, typer.Option(help="Server's UTC offset in minutes.")] = 180,
    now: Annotated[
        str | None,
        typer.Option(
            help="Report time: 'now' or ISO 8601 (UTC if no offset); default: the generator's fixed time."
        ),
    ] = None,
) -> None:
    """Write one synthetic sysinfo report."""
    from kodeks_smart.simulator.sysinfo import SCENARIOS, SysinfoProfile, write_report

    chosen = frozenset(scenario or ())
    unknown = sorted(chosen - set(SCENARIOS))
    if unknown:
        console.print(
            f"[red]unknown scenario(s): {', '.join(unknown)}[/red]; known: {', '.join(sorted(SCENARIOS))}"
        )
        raise typer.Exit(2)
    kwargs: dict[str, Any] = {}
    if seats is not None:
        kwargs["seats"] = seats
    if regnum is not None:
        kwargs["regnum"] = regnum
    if now is not None:
        kwargs["now"] = _parse_now(now)
    try:
        profile = SysinfoProfile(
            client=client,
            users=users,
            days=days,
            seed=seed,
            scenarios=chosen,
            tz_offset_minutes=tz_offset_minutes,
            **kwargs,
        )
        size = write_report(profile, out)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    typer.echo(f"{out}: {size} bytes")


def _parse_now(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected 'now' or an ISO 8601 time, got {text!r}", param_hint="--now"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command("scenarios")
def list_scenarios() -> None:
    """List the fault scenarios of the sysinfo generator."""
    from kodeks_smart.simulator.sysinfo import SCENARIO_DESCRIPTIONS, SCENARIOS

    table = Table()
    table.add_column("scenario")
    table.add_column("what it puts into the report")
    for name in sorted(SCENARIOS):
        table.add_row(name, SCENARIO_DESCRIPTIONS.get(name, ""))
    console.print(table)


def main() -> None:  # pragma: no cover - for `python -m kodeks_smart.simulator.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
