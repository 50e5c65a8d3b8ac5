"""Commands of the ingest package: ``smart upload``, ``smart reprocess``, ``smart uploads``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.errors import IngestError
from kodeks_smart.ingest.reprocess import enqueue_reprocess
from kodeks_smart.runtime import Services
from kodeks_smart.store import migrate
from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Dealer

console = Console()
err = Console(stderr=True)
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@contextmanager
def _context() -> Iterator[IngestContext]:
    services = Services.open(Settings.load())
    try:
        if not migrate.is_current(services.db):
            if not services.settings.auto_migrate:
                raise ConfigError("схема базы данных устарела: выполните `smart db upgrade`")
            migrate.upgrade(services.db)
        yield IngestContext.from_services(services)
    finally:
        services.close()


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]Ошибка:[/] {message}")
    return typer.Exit(2)


def upload(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="sysinfo .zip/.xml or .status")
    ],
    dealer: Annotated[str, typer.Option("--dealer", help="Dealer code")],
    client: Annotated[str, typer.Option("--client", help="Client short name, as registered")],
    process: Annotated[
        bool, typer.Option("--process/--no-process", help="Process the queue now in this process")
    ] = True,
) -> None:
    """Upload a report carried out of a closed network, as if its agent had sent it."""
    with _context() as ctx:
        try:
            accepted = service.ingest_file(ctx, dealer, client, path=file)
        except IngestError as exc:
            raise _fail(exc.message) from None
        if accepted.duplicate:
            console.print(f"Файл {accepted.filename} уже был загружен (загрузка {accepted.upload_id}).")
        elif accepted.status == "quarantined":
            console.print(
                f"Клиент {client!r} не зарегистрирован: {accepted.filename} сохранён в карантине"
                f" (загрузка {accepted.upload_id}) и будет обработан после регистрации клиента."
            )
            return
        else:
            console.print(f"Файл {accepted.filename} принят (загрузка {accepted.upload_id}).")
        if process and not accepted.duplicate:
            drain(ctx)
            with ctx.db.session() as s:
                row = s.get(Upload, accepted.upload_id)
                assert row is not None
                _print_outcome(row)


def _print_outcome(row: Upload) -> None:
    if row.status == "done":
        console.print(f"Обработан: {row.stats}")
        for warning in row.warnings:
            console.print(f"[yellow]Предупреждение:[/] {warning}")
    elif row.status == "failed":
        err.print(f"[bold red]Ошибка обработки:[/] {row.error}")
    else:
        console.print(f"Состояние: {row.status}")


def reprocess(
    dealer: Annotated[str | None, typer.Option("--dealer", help="Only this dealer's uploads")] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", formats=DATE_FORMATS, help="Only uploads received since (UTC)"),
    ] = None,
    client: Annotated[str | None, typer.Option("--client", help="Only this client name")] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Process here and now instead of leaving it to the server"),
    ] = True,
) -> None:
    """Rebuild derived data from the kept raw files (after a parser change)."""
    since_utc = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    with _context() as ctx:
        try:
            queued = enqueue_reprocess(ctx, dealer_code=dealer, since=since_utc, client_name=client)
        except LookupError:
            raise _fail(f"дистрибьютор {dealer!r} не найден") from None
        console.print(f"Поставлено в очередь: {queued}.")
        if wait and queued:
            done = drain(ctx)
            console.print(f"Обработано: {done}.")


def uploads(
    dealer: Annotated[str | None, typer.Option("--dealer", help="Only this dealer")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="queued | quarantined | done | failed")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show")] = 50,
) -> None:
    """Show the upload log, newest first (quarantine: --status quarantined)."""
    with _context() as ctx, ctx.db.session() as s:
        stmt = select(Upload, Dealer.code).join(Dealer, Dealer.id == Upload.dealer_id)
        if dealer:
            stmt = stmt.where(Dealer.code == dealer)
        if status:
            stmt = stmt.where(Upload.status == status)
        table = Table("id", "получен", "дистрибьютор", "файл", "размер", "sha256", "состояние", "ошибка")
        for row, code in s.execute(stmt.order_by(Upload.id.desc()).limit(limit)):
            table.add_row(
                str(row.id),
                row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                code,
                row.filename,
                str(row.size),
                row.sha256[:12],
                row.status,
                row.error or "",
            )
    console.print(table)
