"""`smart asrp …`: configure a dealer's forwarder, show it, read the log, retry, send a test file."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kodeks_smart.asrp import configure, queue
from kodeks_smart.asrp.forwarders import ForwardError
from kodeks_smart.asrp.service import STATE_RU, log_lines, send_sample
from kodeks_smart.asrp.worker import ForwardConfig, ForwardWorker
from kodeks_smart.runtime import open_services
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.scope import Scope, Tenant
from kodeks_smart.store.types import utcnow

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

app = typer.Typer(help="Forwarding of sysinfo reports to ASRP.", no_args_is_help=True)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="asrp")


_services = open_services


@app.command("configure")
def configure_cmd(
    dealer: Annotated[str, typer.Option(help="Dealer code.")],
    kind: Annotated[str, typer.Option(help="http or folder.")] = "http",
    url: Annotated[str, typer.Option(help="ASRP URL (http/https).")] = "",
    method: Annotated[str, typer.Option(help="POST or PUT.")] = "POST",
    file_field: Annotated[str, typer.Option(help="Form field of the report file.")] = "file",
    field: Annotated[
        list[str] | None, typer.Option("--field", help="Extra form field NAME=VALUE (placeholders allowed).")
    ] = None,
    auth: Annotated[str, typer.Option(help="none, basic, bearer or header.")] = "none",
    auth_name: Annotated[str, typer.Option(help="Login (basic) or header name (header).")] = "",
    secret_env: Annotated[
        str, typer.Option(help="Read the password / token from this environment variable.")
    ] = "",
    secret_stdin: Annotated[
        bool, typer.Option(help="Read the password / token from standard input.")
    ] = False,
    success_status: Annotated[
        str, typer.Option(help="Acceptable HTTP statuses, comma separated.")
    ] = "200,201,202",
    success_regex: Annotated[str, typer.Option(help="Regex the body must match to count as accepted.")] = "",
    duplicate_regex: Annotated[str, typer.Option(help="Regex of an answer meaning «already loaded».")] = "",
    number_regex: Annotated[str, typer.Option(help="Regex extracting the upload number (group 1).")] = "",
    ident_regex: Annotated[str, typer.Option(help="Regex extracting the upload id (group 1).")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 60.0,
    directory: Annotated[str, typer.Option(help="folder: directory under SMART_ASRP_FOLDER_ROOT.")] = "",
    filename: Annotated[
        str, typer.Option(help="folder: file name pattern.")
    ] = "{dealer}_{client}_{upload_id}.zip",
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Store the settings but do not forward.")
    ] = False,
) -> None:
    """Set the dealer's forwarder (replaces the previous settings; the stored secret stays unless given)."""
    secret: str | None = None
    if secret_env:
        secret = os.environ.get(secret_env)
        if secret is None:
            raise AdminError(f"переменная окружения {secret_env} не задана")
    elif secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    data = configure.ForwarderInput(
        kind=kind,
        enabled=not disabled,
        url=url,
        method=method,
        file_field=file_field,
        fields=configure.parse_fields(field or []),
        auth=auth,
        auth_name=auth_name,
        secret=secret,
        success_statuses=configure.parse_statuses(success_status),
        success_regex=success_regex,
        duplicate_regex=duplicate_regex,
        number_regex=number_regex,
        ident_regex=ident_regex,
        timeout=timeout,
        directory=directory,
        filename_pattern=filename,
    )
    with _services() as services, services.db.write() as s:
        d = configure.dealer_by_code(s, dealer)
        configure.save(s, services.box, d.id, data, folder_root=services.settings.asrp_folder_root)
    console.print(f"Передача в АСРП для {escape(dealer)} настроена")


@app.command("show")
def show(dealer: Annotated[str, typer.Option(help="Dealer code.")]) -> None:
    """The dealer's forwarder settings (the secret only as set / not set)."""
    with _services() as services, services.db.session() as s:
        d = configure.dealer_by_code(s, dealer)
        row = configure.forwarder_of(s, d.id)
        if row is None:
            console.print(f"Передача в АСРП для {escape(dealer)} не настроена")
            return
        table = Table("Параметр", "Значение")
        for key, value in configure.describe(row).items():
            table.add_row(key, escape(str(value)))
        console.print(table)


@app.command("log")
def log(
    dealer: Annotated[str | None, typer.Option(help="Only this dealer.")] = None,
    client: Annotated[str | None, typer.Option(help="Only this client (short name).")] = None,
    state: Annotated[str | None, typer.Option(help="queued, accepted, duplicate or failed.")] = None,
    limit: Annotated[int, typer.Option(help="Most lines shown.")] = 50,
) -> None:
    """The forwarding log, newest first."""
    if state and state not in STATE_RU:
        raise AdminError("состояние: ожидается queued, accepted, duplicate или failed")
    with _services() as services, services.db.session() as s:
        scope = Scope.dealer(configure.dealer_by_code(s, dealer).id) if dealer else Scope.operator()
        lines = log_lines(Tenant(s, scope), client=client, state=state, limit=limit)
    table = Table(
        "id", "Время", "Клиент", "Состояние", "Ответ сервера", "Номер загрузки", "Идентификатор", "Попыток"
    )
    for ln in lines:
        table.add_row(
            str(ln.id),
            ln.time.strftime("%Y-%m-%d %H:%M:%S"),
            escape(ln.client),
            ln.state_ru,
            escape(ln.answer),
            escape(ln.number),
            escape(ln.ident),
            str(ln.attempts),
        )
    console.print(table)


@app.command("retry")
def retry(
    dealer: Annotated[str | None, typer.Option(help="Only this dealer.")] = None,
    ident: Annotated[list[int] | None, typer.Option("--id", help="Only these log lines.")] = None,
    send: Annotated[bool, typer.Option(help="Forward the queued reports now.")] = True,
) -> None:
    """Queue failed reports again (all, or the given ids), and forward what is due."""
    with _services() as services:
        with services.db.write() as s:
            scope = Scope.dealer(configure.dealer_by_code(s, dealer).id) if dealer else Scope.operator()
            count = queue.retry(Tenant(s, scope), utcnow(), ident or None)
        console.print(f"Снова в очереди: {count}")
        if send:
            worker = ForwardWorker(services.db, services.box, ForwardConfig.from_settings(services.settings))
            console.print(f"Передано попыток: {worker.run_until_idle()}")


@app.command("test")
def test(dealer: Annotated[str, typer.Option(help="Dealer code.")]) -> None:
    """Send a small sample file with the dealer's settings and show the answer (nothing is logged)."""
    with _services() as services:
        with services.db.session() as s:
            d = configure.dealer_by_code(s, dealer)
            row = configure.forwarder_of(s, d.id)
            if row is None:
                raise AdminError(f"передача в АСРП для {dealer} не настроена")
            settings = services.settings
            forwarder = configure.build(
                row,
                services.box,
                folder_root=settings.asrp_folder_root,
                allow_private=settings.asrp_allow_private,
            )
        try:
            answer = send_sample(forwarder, d)
        except ForwardError as exc:
            err.print(f"[bold red]Ошибка:[/] {escape(exc.message)}")
            if exc.answer:
                err.print(f"Ответ сервера: {escape(exc.answer)}")
            raise typer.Exit(1) from None
    console.print(f"{STATE_RU[answer.outcome]}: HTTP {answer.status or '—'}")
    console.print(f"Ответ сервера: {escape(answer.answer)}")
    if answer.number or answer.ident:
        console.print(
            f"Номер загрузки: {escape(answer.number or '—')}, идентификатор: {escape(answer.ident or '—')}"
        )
