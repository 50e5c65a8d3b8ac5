"""Commands: ``smart import``, ``smart template``, ``smart agent kit``.

Registered in ``kodeks_smart/cli.py``; user-facing output is Russian.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, cast

import typer

from kodeks_smart.config import ConfigError
from kodeks_smart.onboarding import formats, kits
from kodeks_smart.onboarding.formats import KINDS, TEMPLATE_KINDS, Kind, TemplateFormat
from kodeks_smart.onboarding.plan import ImportOptions
from kodeks_smart.onboarding.report import render
from kodeks_smart.onboarding.service import Source, run_import
from kodeks_smart.runtime import open_services
from kodeks_smart.store import admin

agent_app = typer.Typer(
    help="Agent kits (smartupload, smartstatus) for the clients' installations.", no_args_is_help=True
)

MAX_LIST_BYTES = 50 * 1024 * 1024


_services = open_services


def parse_kind(value: str) -> Kind | None:
    if value == "auto":
        return None
    for kind in KINDS:
        if value == kind:
            return kind
    raise ConfigError(f"--kind: ожидается auto или один из: {', '.join(KINDS)}")


def import_lists(
    paths: Annotated[list[Path], typer.Argument(help="CSV or XLSX files with the lists (several allowed).")],
    dealer: Annotated[str, typer.Option("--dealer", help="Dealer code.")],
    cabinet: Annotated[
        str | None, typer.Option("--cabinet", help="Cabinet for rows that do not name one.")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="auto | installations | closed | online | mailboxes | cabinets")
    ] = "auto",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and the problems, change nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Remove objects of the imported kinds that the lists no longer name."),
    ] = False,
    allow_shared_email: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-shared-email", help="An address several isolated cabinets may share (repeatable)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a distributor's lists: validate everything, then apply all of it in one transaction or none."""
    sources: list[Source] = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"файл {path} не найден")
        if path.stat().st_size > MAX_LIST_BYTES:
            raise ConfigError(
                f"файл {path} больше {MAX_LIST_BYTES // (1024 * 1024)} МБ — это не похоже на список"
            )
        sources.append(Source(path.name, path.read_bytes()))
    options = ImportOptions(
        dealer=dealer,
        cabinet=cabinet,
        kind=parse_kind(kind),
        dry_run=dry_run,
        prune=prune,
        allow_shared_emails=frozenset(a.strip().lower() for a in allow_shared_email or []),
    )
    with _services() as services:
        report = run_import(services.db, services.box, sources, options)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render(report))
    if not report.ok:
        raise typer.Exit(1)


def template(
    kind: Annotated[str, typer.Argument(help="One of: " + ", ".join(TEMPLATE_KINDS))],
    fmt: Annotated[str, typer.Option("--format", help="csv | xlsx")] = "xlsx",
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: the template's name).")
    ] = None,
) -> None:
    """Write a template of a list to fill in (SMART's own with Russian headers, or the original format)."""
    if kind not in TEMPLATE_KINDS:
        raise ConfigError(f"неизвестный шаблон {kind!r}: ожидается один из {', '.join(TEMPLATE_KINDS)}")
    if kind.startswith("original-"):
        fmt = "csv"
    if fmt not in ("csv", "xlsx"):
        raise ConfigError("--format: ожидается csv или xlsx")
    try:
        data = formats.template(kind, cast(TemplateFormat, fmt))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    path = out or Path(formats.template_filename(kind, cast(TemplateFormat, fmt)))
    path.write_bytes(data)
    typer.echo(f"Шаблон записан: {path}")


@agent_app.command("kit")
def agent_kit(
    client: Annotated[str, typer.Argument(help="Client short name, as registered by the import.")],
    dealer: Annotated[str, typer.Option("--dealer", help="Dealer code.")],
    os: Annotated[str, typer.Option("--os", help="windows | linux")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the kit into.")],
    server_url: Annotated[
        str | None, typer.Option("--server-url", help="URL the agents upload to (default: SMART_PUBLIC_URL).")
    ] = None,
    proxy: Annotated[
        str | None, typer.Option("--proxy", help="HTTP proxy HOST:PORT for the uploads.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="The dealer's upload token (else a placeholder to fill in).")
    ] = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the upload token from stdin.")
    ] = False,
    pk: Annotated[
        str | None,
        typer.Option("--pk", help="Address of the installation as seen by the agent (127.0.0.1:80)."),
    ] = None,
    install_dir: Annotated[
        str | None, typer.Option("--install-dir", help="Where the kit will live (C:\\smart, /opt/smart).")
    ] = None,
    quiet_window: Annotated[
        str | None, typer.Option("--quiet-window", help="Backup/restart window to avoid, HH:MM-HH:MM.")
    ] = None,
) -> None:
    """Write a ready-to-run agent kit (scripts, schedules, README-ru.txt) for one client."""
    if os not in ("windows", "linux"):
        raise ConfigError("--os: ожидается windows или linux")
    if token_stdin:
        token = sys.stdin.readline().strip()
    with _services() as services, services.db.session() as session:
        dealer_row = admin.find_dealer(session, dealer)
        request = kits.request_for_client(
            session,
            services.box,
            dealer_row,
            client,
            cast(kits.OS, os),
            server_url=server_url or services.settings.effective_public_url,
            token=token,
            pk_url=pk,
            proxy=proxy,
            install_dir=install_dir,
            quiet_window=quiet_window,
        )
    files = kits.build_kit(request)
    written = kits.write_kit(files, out)
    typer.echo(f"Комплект агентов для клиента {client} ({os}) записан в {out}:")
    for path in written:
        typer.echo(f"  {path.name}")
    typer.echo("Дальше — по шагам из README-ru.txt.")
    if not request.token:
        typer.echo(
            f"Впишите токен загрузки вместо {kits.TOKEN_PLACEHOLDER} (или сформируйте комплект с --token)."
        )
