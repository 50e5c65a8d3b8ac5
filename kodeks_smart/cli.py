"""The `smart` command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from kodeks_smart import jobs
from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.lib.logs import setup_logging
from kodeks_smart.lib.secrets import SecretKeyError
from kodeks_smart.runtime import Services, open_services
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.models import Account, Cabinet, Client, Dealer, Installation, JobState

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    name="smart",
    help="SMART: monitoring, alerting and analytics for Kodeks / Techexpert installations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dealer_app = typer.Typer(help="Distributors (dealers) and their upload tokens.", no_args_is_help=True)
cabinet_app = typer.Typer(help="Personal cabinets.", no_args_is_help=True)
user_app = typer.Typer(help="Login accounts.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dealer_app, name="dealer")
app.add_typer(cabinet_app, name="cabinet")
app.add_typer(user_app, name="user")
app.add_typer(config_app, name="config")


def _settings(**overrides: Any) -> Settings:
    return Settings.load(**overrides)


@contextmanager
def _services(migrated: bool = True) -> Iterator[Services]:
    """Open the store for a command; with ``migrated`` the schema must be current (or is upgraded)."""
    with open_services(_settings(), migrated=migrated) as services:
        yield services


# -- serve -------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (SMART_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (SMART_PORT).")] = None,
    role: Annotated[str, typer.Option(help="all | api | worker")] = "all",
    shard: Annotated[
        str | None,
        typer.Option(help="Static probe shard i/N (SMART_PROBE_SHARD); default: dynamic sharding."),
    ] = None,
) -> None:
    """Start the service: HTTP API, cabinet and (roles all/worker) the scheduler."""
    from kodeks_smart import server
    from kodeks_smart.app import Role, create_app

    if role not in ("all", "api", "worker"):
        raise ConfigError("--role: ожидается all, api или worker")
    settings = _settings(host=host, port=port, probe_shard=shard)
    setup_logging(settings.log_format, settings.log_level)
    services, initial = server.prepare(settings)
    if initial is not None:
        console.print(
            "[bold green]Создана учётная запись оператора.[/] "
            f"Логин: [bold]{initial.login}[/]  пароль: [bold]{initial.password}[/]\n"
            f"Пароль показан один раз и сохранён в {initial.password_file} (режим 0600)."
        )
    role_value: Role = role  # type: ignore[assignment]
    application = create_app(services, role_value)
    console.print(f"SMART слушает {settings.effective_public_url} (роль: {role})")
    server.run(application, settings)


# -- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    with _services(migrated=False) as services:
        before = migrate.current_revision(services.db)
        migrate.upgrade(services.db)
        after = migrate.current_revision(services.db)
    if before == after:
        console.print(f"Схема БД актуальна (ревизия {after}).")
    else:
        console.print(f"Схема БД обновлена: {before or 'пусто'} → {after}.")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision and whether it is current."""
    with _services(migrated=False) as services:
        current = migrate.current_revision(services.db)
        head = migrate.head_revision(services.db)
    state = "актуальна" if current == head else f"устарела (нужна {head})"
    console.print(f"Ревизия: {current or 'нет'} — {state}")


# -- dealers -----------------------------------------------------------------------------------


@dealer_app.command("add")
def dealer_add(
    code: Annotated[str, typer.Argument(help="Dealer code, e.g. 0599ROGAIKOPITA")],
    name: Annotated[str, typer.Option("--name", help="Display name")],
) -> None:
    """Register a dealer and print its upload token (shown once)."""
    with _services() as services, services.db.write() as s:
        dealer, token = admin.add_dealer(s, code, name)
        code = dealer.code
    console.print(f"Дистрибьютор [bold]{code}[/] зарегистрирован.")
    _print_token(token)


@dealer_app.command("token")
def dealer_token(
    code: str,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Issue a new token; the old one stops working")
    ] = False,
) -> None:
    """Rotate a dealer's upload token (tokens are stored only as hashes and cannot be shown again)."""
    if not rotate:
        raise ConfigError(
            "токен хранится только в виде хеша и не может быть показан; "
            "чтобы выпустить новый, добавьте --rotate"
        )
    with _services() as services, services.db.write() as s:
        token = admin.rotate_token(s, code)
    console.print(f"Новый токен дистрибьютора [bold]{code}[/]. Старый больше не действует.")
    _print_token(token)


def _print_token(token: str) -> None:
    console.print("Токен загрузки (показан один раз, сохраните его):")
    # Plain print so that the token can be captured by scripts without Rich markup or wrapping.
    print(token, flush=True)


@dealer_app.command("list")
def dealer_list() -> None:
    """List dealers with their cabinet and client counts."""
    with _services() as services, services.db.session() as s:
        table = Table("код", "название", "кабинетов", "клиентов", "инсталляций")
        for dealer in s.scalars(select(Dealer).order_by(Dealer.code)):
            table.add_row(
                dealer.code,
                dealer.name,
                str(s.scalar(select(func.count()).where(Cabinet.dealer_id == dealer.id))),
                str(s.scalar(select(func.count()).where(Client.dealer_id == dealer.id))),
                str(s.scalar(select(func.count()).where(Installation.dealer_id == dealer.id))),
            )
    console.print(table)


# -- cabinets ----------------------------------------------------------------------------------


@cabinet_app.command("add")
def cabinet_add(dealer_code: str, name: str) -> None:
    """Create a personal cabinet for a dealer."""
    with _services() as services, services.db.write() as s:
        cabinet = admin.add_cabinet(s, dealer_code, name)
        ident = cabinet.id
    console.print(f"Кабинет «{name}» создан (id {ident}).")


@cabinet_app.command("list")
def cabinet_list(dealer_code: Annotated[str | None, typer.Argument()] = None) -> None:
    """List cabinets (of one dealer, or all)."""
    with _services() as services, services.db.session() as s:
        stmt = (
            select(Cabinet, Dealer)
            .join(Dealer, Dealer.id == Cabinet.dealer_id)
            .order_by(Dealer.code, Cabinet.name)
        )
        if dealer_code:
            stmt = stmt.where(Dealer.code == dealer_code)
        table = Table("id", "дистрибьютор", "кабинет")
        for cabinet, dealer in s.execute(stmt):
            table.add_row(str(cabinet.id), dealer.code, cabinet.name)
    console.print(table)


# -- users -------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    login: str,
    role: Annotated[str, typer.Option(help="operator | dealer-admin | cabinet")],
    dealer: Annotated[str | None, typer.Option(help="Dealer code (not for operators)")] = None,
    cabinet: Annotated[list[str] | None, typer.Option(help="Cabinet name; repeat to grant several")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create a login account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Пароль", hide_input=True, confirmation_prompt=True)
    with _services() as services, services.db.write() as s:
        admin.add_account(s, services.hashing, login, password, role, dealer, cabinet or [])
    console.print(f"Пользователь [bold]{login}[/] ({role}) создан.")


@user_app.command("list")
def user_list() -> None:
    """List accounts."""
    with _services() as services, services.db.session() as s:
        table = Table("логин", "роль", "дистрибьютор", "отключён", "последний вход")
        rows = s.execute(
            select(Account, Dealer.code)
            .outerjoin(Dealer, Dealer.id == Account.dealer_id)
            .order_by(Account.login)
        )
        for account, code in rows:
            table.add_row(
                account.login,
                account.role,
                code or "—",
                "да" if account.disabled else "нет",
                _fmt_time(account.last_login_at),
            )
    console.print(table)


# -- config and jobs ---------------------------------------------------------------------------


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration with secrets masked."""
    settings = _settings()
    table = Table("переменная", "значение", "описание")
    for name, value, help_text in settings.describe():
        table.add_row(name, value, help_text)
    console.print(table)


@app.command("jobs")
def jobs_list() -> None:
    """List scheduled jobs: last run, duration, runs, failures, last error."""
    with _services() as services, services.db.session() as s:
        table = Table(
            "задача", "последний запуск", "длительность, с", "запусков", "ошибок", "последняя ошибка"
        )
        states = {js.name: js for js in s.scalars(select(JobState))}
        for job in jobs.default_jobs(services):
            states.setdefault(job.name, JobState(name=job.name, runs=0, failures=0))
        for _name, js in sorted(states.items()):
            table.add_row(
                js.name,
                _fmt_time(js.last_started_at),
                f"{js.last_duration:.2f}" if js.last_duration is not None else "—",
                str(js.runs),
                str(js.failures),
                (f"{_fmt_time(js.last_error_at)}: {js.last_error}" if js.last_error else "—"),
            )
    console.print(table)


@app.command("workers")
def workers_list() -> None:
    """List the workers of dynamic sharding: name, host, pid, start, last heartbeat, alive or not."""
    from kodeks_smart.cluster import members
    from kodeks_smart.store.types import utcnow

    with _services() as services:
        rows = members(services.db)
        ttl = services.settings.worker_ttl
    table = Table("воркер", "хост", "pid", "запущен", "последний сигнал", "состояние")
    now = utcnow()
    for m in rows:
        alive = (now - m.heartbeat_at).total_seconds() <= ttl
        table.add_row(
            m.name,
            m.host,
            str(m.pid),
            _fmt_time(m.started_at),
            _fmt_time(m.heartbeat_at),
            "жив" if alive else "нет",
        )
    console.print(table)


@app.command("demo")
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Demo data directory")] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="SMART HTTP port")] = 8080,
    host: Annotated[str, typer.Option(help="Listen address")] = "127.0.0.1",
    installations: Annotated[int, typer.Option(help="Simulated installations")] = 20,
    online: Annotated[int, typer.Option(help="Simulated online accesses")] = 4,
    port_base: Annotated[int, typer.Option(help="First simulator port")] = 18100,
    smtp_port: Annotated[int, typer.Option(help="Port of the local mail sink")] = 18025,
) -> None:
    """Start SMART with a demo distributor, simulated Kodeks servers and a local mail sink."""
    from kodeks_smart.demo import DemoLayout, run_demo

    layout = DemoLayout(installations, online, port_base, smtp_port)
    run_demo(directory, port, host, layout, console.print)


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


# -- commands of the feature packages: one registration line per feature ----------------------
# (imported here, at the end, so that each package's CLI module can be read on its own)

from kodeks_smart.simulator import cli as simulator_cli  # noqa: E402

app.add_typer(simulator_cli.app, name="simulate", help="Kodeks server simulator (test and demo tool).")

from kodeks_smart.alerts import cli as alerts_cli  # noqa: E402

app.command("alerts")(alerts_cli.alerts)
app.add_typer(alerts_cli.silence_app, name="silence")

from kodeks_smart.ingest import cli as ingest_cli  # noqa: E402

app.command("upload")(ingest_cli.upload)
app.command("reprocess")(ingest_cli.reprocess)
app.command("uploads")(ingest_cli.uploads)

from kodeks_smart.notify import cli as notify_cli  # noqa: E402

notify_cli.register(app)

from kodeks_smart.onboarding import cli as onboarding_cli  # noqa: E402

app.command("import")(onboarding_cli.import_lists)
app.command("template")(onboarding_cli.template)
app.add_typer(onboarding_cli.agent_app, name="agent")

from kodeks_smart.probes import cli as probes_cli  # noqa: E402

app.command("probe")(probes_cli.probe)

from kodeks_smart.asrp import cli as asrp_cli  # noqa: E402

asrp_cli.register(app)

from kodeks_smart.reports import cli as reports_cli  # noqa: E402

reports_cli.register(app)

from kodeks_smart.grafana import cli as grafana_cli  # noqa: E402

app.add_typer(grafana_cli.app, name="grafana")


def main() -> None:
    try:
        app()
    except (ConfigError, admin.AdminError, SecretKeyError) as exc:
        err.print(f"[bold red]Ошибка:[/] {exc}")
        raise SystemExit(2) from None
