"""`smart report renewal|trial|quarterly|deliver`: the reports from the command line (operator's tool)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from kodeks_smart.reports import data, render, schedule
from kodeks_smart.runtime import open_services
from kodeks_smart.store.models import Cabinet, Dealer, Installation, Manager
from kodeks_smart.store.scope import NotFound, Scope, Tenant
from kodeks_smart.store.types import utcnow

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
M = TypeVar("M", Cabinet, Manager)

report_app = typer.Typer(
    help="Reports: renewal (пролонгация), trial (апробация), quarterly analytics, monthly delivery.",
    no_args_is_help=True,
)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="pdf | xlsx | html")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output file (default: a name in the current dir).")
]
DealerOpt = Annotated[
    str | None, typer.Option("--dealer", help="Dealer code, to pick among same-named objects.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


_services = open_services


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]Ошибка:[/] {escape(message)}")
    return typer.Exit(2)


def _scope(tenant: Tenant, dealer: str | None) -> Tenant:
    if dealer is None:
        return tenant
    found = tenant.session.scalars(select(Dealer).where(Dealer.code == dealer)).first()
    if found is None:
        raise data.ReportError(f"дистрибьютор {dealer} не найден")
    return Tenant(tenant.session, Scope.dealer(found.id))


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise data.ReportError(f"{name} «{text}»: ожидается дата ГГГГ-ММ-ДД") from None


def _month_or_day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    return data.parse_month(text) if len(text.strip()) <= 7 else _day(text, name)


def _write(report: render.Report, fmt: str, out: Path | None) -> None:
    if fmt not in render.FORMATS:
        raise data.ReportError(f"формат «{fmt}»: ожидается pdf, xlsx или html")
    console.print(f"Формирую {render.title_of(report).lower()} ({fmt})…")
    content = render.render(report, fmt)
    path = out or Path(render.filename(report, fmt))
    path.write_bytes(content)
    console.print(f"Готово: {escape(str(path))} ({len(content) // 1024 + 1} КБ)")


@report_app.command("renewal")
def renewal(
    client: Annotated[str, typer.Option("--client", help="Client short name or id.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="First month, 2025-12 (default: 12 months back).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last month, 2026-11 (default: the previous month).")
    ] = None,
    fmt: FormatOpt = "pdf",
    out: OutOpt = None,
    dealer: DealerOpt = None,
) -> None:
    """Renewal report (данные для пролонгации) of one client by month."""
    try:
        with _services() as services, services.db.session() as s:
            tenant = _scope(Tenant(s, Scope.operator()), dealer)
            found = data.find_client(tenant, client)
            default_first, default_last = data.last_full_months(12, utcnow().date())
            last = _month_or_day(to, "--to") or default_last
            first = _month_or_day(from_, "--from") or (
                data.add_months(data.month_start(last), -11) if to else default_first
            )
            console.print(
                f"Клиент {escape(found.short_name)}: {data.month_label(first)} — {data.month_label(last)}"
            )
            _write(data.renewal_report(tenant, found.id, first, last), fmt, out)
    except data.ReportError as exc:
        raise _fail(str(exc)) from None


@report_app.command("trial")
def trial(
    installation: Annotated[
        str, typer.Option("--installation", help="Installation id, or a client with one.")
    ],
    from_: Annotated[str, typer.Option("--from", help="First day of the trial, 2026-10-01.")],
    to: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    fmt: FormatOpt = "pdf",
    out: OutOpt = None,
    dealer: DealerOpt = None,
) -> None:
    """Trial (апробация) report of an installation: who used it, how much, what was not found."""
    try:
        with _services() as services, services.db.session() as s:
            tenant = _scope(Tenant(s, Scope.operator()), dealer)
            inst_id = _installation(tenant, installation)
            first = _day(from_, "--from")
            assert first is not None
            last = _day(to, "--to") or utcnow().date()
            _write(data.trial_report(tenant, inst_id, first, last), fmt, out)
    except data.ReportError as exc:
        raise _fail(str(exc)) from None


def _installation(tenant: Tenant, text: str) -> int:
    if text.strip().isdigit():
        try:
            return tenant.get(Installation, int(text)).id
        except NotFound:
            raise data.ReportError(f"установка {text} не найдена") from None
    client = data.find_client(tenant, text)
    found = tenant.list(Installation, Installation.client_id == client.id)
    if len(found) != 1:
        ids = ", ".join(str(i.id) for i in found) or "нет"
        raise data.ReportError(
            f"у клиента {client.short_name} установок: {len(found)} (id {ids}): укажите id"
        )
    return found[0].id


@report_app.command("quarterly")
def quarterly(
    cabinet: Annotated[str, typer.Option("--cabinet", help="Cabinet name or id.")],
    quarter: Annotated[
        str | None, typer.Option("--quarter", help="2026Q3 (default: the previous quarter).")
    ] = None,
    manager: Annotated[
        str | None, typer.Option("--manager", help="Only this manager's clients (name or id).")
    ] = None,
    fmt: FormatOpt = "pdf",
    out: OutOpt = None,
    dealer: DealerOpt = None,
) -> None:
    """Quarterly analytics: all clients side by side, trend against the previous quarter, riskiest first."""
    try:
        with _services() as services, services.db.session() as s:
            tenant = _scope(Tenant(s, Scope.operator()), dealer)
            cab = _one(tenant, Cabinet, cabinet, "кабинет")
            manager_id = None
            if manager is not None:
                manager_id = _one(tenant, Manager, manager, "менеджер", Manager.cabinet_id == cab.id).id
            if quarter:
                first = data.parse_quarter(quarter)
            else:
                this = data.month_start(utcnow().date())
                first = data.add_months(this.replace(month=3 * ((this.month - 1) // 3) + 1), -3)
            report = data.quarterly_report(tenant, cab.id, first, manager_id=manager_id)
            console.print(
                f"Кабинет {escape(cab.name)}, {data.quarter_label(first)}: клиентов {len(report.rows)}"
            )
            _write(report, fmt, out)
    except data.ReportError as exc:
        raise _fail(str(exc)) from None


def _one(tenant: Tenant, model: type[M], text: str, what: str, *where: object) -> M:
    if text.strip().isdigit():
        try:
            return tenant.get(model, int(text))
        except NotFound:
            raise data.ReportError(f"{what} {text} не найден") from None
    found = tenant.list(model, model.name == text.strip(), *where)  # type: ignore[arg-type]
    if not found:
        raise data.ReportError(f"{what} «{text}» не найден")
    if len(found) > 1:
        raise data.ReportError(f"{what} «{text}» не один: укажите id или --dealer")
    return found[0]


@report_app.command("deliver")
def deliver(
    month: Annotated[str | None, typer.Option("--month", help="Last month of the reports, 2026-11.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list who would get what.")] = False,
) -> None:
    """Queue the monthly renewal reports: one e-mail per manager with his own clients' PDFs."""
    try:
        target = data.parse_month(month) if month else data.last_full_months(1, utcnow().date())[1]
        with _services() as services:
            result = schedule.deliver(
                services.db,
                target,
                months=services.settings.reports_months,
                dry_run=dry_run,
                public_url=services.settings.effective_public_url,
                progress=lambda line: console.print(f"  {escape(line)}"),
            )
    except data.ReportError as exc:
        raise _fail(str(exc)) from None
    table = Table("Менеджер", "E-mail", "Клиенты", "Итог", title=f"Отчёты за {target:%Y-%m}")
    labels = {
        "queued": "в очереди",
        "already sent": "уже отправлено",
        "no e-mail": "нет e-mail",
        "dry run": "проверка",
    }
    for m in result.managers:
        table.add_row(
            escape(m.manager), ", ".join(m.emails), ", ".join(m.clients), labels.get(m.status, m.status)
        )
    console.print(table)
    if not result.managers:
        console.print("Нет менеджеров с клиентами.")
    elif not dry_run:
        console.print(
            f"Поставлено в очередь писем: {result.queued}. Отправит процесс доставки (smart serve)."
        )
