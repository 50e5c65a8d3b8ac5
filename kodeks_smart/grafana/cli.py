"""``smart grafana roles`` and ``smart grafana provision`` (PostgreSQL deployments only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.grafana.provision import (
    DEFAULT_DASHBOARDS_PATH,
    DEFAULT_SECRETS_PATH,
    CabinetTarget,
    Connection,
    password_file,
    provision,
)
from kodeks_smart.runtime import Services
from kodeks_smart.store import migrate, rls
from kodeks_smart.store.models import Cabinet, Dealer

console = Console(soft_wrap=True)
app = typer.Typer(
    help="Grafana for PostgreSQL deployments: cabinet roles and provisioning.", no_args_is_help=True
)

CabinetOption = Annotated[
    list[int] | None, typer.Option("--cabinet", help="Cabinet id (repeatable); default: every cabinet.")
]
PrefixOption = Annotated[str, typer.Option(help="Role name prefix; one per database on a shared server.")]


def _open() -> Services:
    services = Services.open(Settings.load())
    if services.db.is_sqlite:
        services.close()
        raise ConfigError("Grafana требует PostgreSQL: SMART_DATABASE_URL указывает на SQLite")
    if not migrate.is_current(services.db):
        services.close()
        raise ConfigError("схема базы данных устарела: выполните `smart db upgrade`")
    return services


def load_targets(services: Services, cabinet_ids: list[int] | None, prefix: str) -> list[CabinetTarget]:
    """The cabinets asked for (all by default); an unknown id is an error, not a silent skip."""
    with services.db.session() as s:
        stmt = select(Cabinet, Dealer).join(Dealer, Dealer.id == Cabinet.dealer_id).order_by(Cabinet.id)
        if cabinet_ids:
            stmt = stmt.where(Cabinet.id.in_(cabinet_ids))
        rows = s.execute(stmt).all()
    found = {cabinet.id for cabinet, _dealer in rows}
    missing = sorted(set(cabinet_ids or ()) - found)
    if missing:
        raise ConfigError(f"нет кабинетов с id {', '.join(map(str, missing))} (см. `smart cabinet list`)")
    if not rows:
        raise ConfigError("нет ни одного кабинета: создайте его командой `smart cabinet add`")
    return [
        CabinetTarget(cabinet.id, dealer.id, dealer.code, cabinet.name, rls.role_name(cabinet.id, prefix))
        for cabinet, dealer in rows
    ]


def _write_secret(directory: Path, role: str, password: str) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = Path(password_file(directory, role))
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password)
    os.replace(tmp, path)


@app.command("roles")
def roles(
    cabinet: CabinetOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the SQL, change nothing.")] = False,
    secrets_dir: Annotated[
        Path, typer.Option(help="Where each role's password file is written (mode 0600).")
    ] = Path("var/grafana-secrets"),
    rotate: Annotated[bool, typer.Option("--rotate", help="Give every role a new password.")] = False,
    role_prefix: PrefixOption = rls.DEFAULT_ROLE_PREFIX,
) -> None:
    """Create or update the cabinet roles, row-level security policies and grants."""
    services = _open()
    try:
        _roles(services, cabinet, dry_run, secrets_dir, rotate, role_prefix)
    except rls.RlsError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        services.close()


def _roles(
    services: Services,
    cabinet: list[int] | None,
    dry_run: bool,
    secrets_dir: Path,
    rotate: bool,
    role_prefix: str,
) -> None:
    targets = load_targets(services, cabinet, role_prefix)
    renew = [t.role for t in targets if rotate or not Path(password_file(secrets_dir, t.role)).exists()]
    with services.db.engine.connect() as conn, conn.begin() as tx:
        plans = rls.plan_roles(
            conn, [(t.cabinet_id, t.dealer_id) for t in targets], prefix=role_prefix, new_password_for=renew
        )
        if dry_run:
            _database, schema = rls.current_names(conn)
            for statement in rls.policy_statements(rls.tables_of_database(conn, schema), schema):
                console.print(statement + ";", highlight=False)
            for plan in plans:
                for statement in plan.statements:
                    console.print(rls.masked(statement) + ";", highlight=False)
            tx.rollback()
            return
        try:
            rls.apply(conn, plans)
        except DBAPIError as exc:
            raise rls.RlsError(
                "PostgreSQL отказал: нужны права владельца таблиц SMART и CREATEROLE "
                f"({str(exc.orig).strip().splitlines()[0]})"
            ) from None
        # The password files are written before the commit: if writing fails, nothing changes.
        for plan in plans:
            if plan.password is not None:
                _write_secret(secrets_dir, plan.role, plan.password)
    table = Table("роль", "кабинет", "пароль")
    for plan in plans:
        state = f"записан в {password_file(secrets_dir, plan.role)}" if plan.password else "без изменений"
        table.add_row(plan.role, str(plan.cabinet_id), state)
    console.print(table)


@app.command("provision")
def provision_command(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the provisioning files into.")],
    cabinet: CabinetOption = None,
    grafana_url_for_docs: Annotated[
        str | None, typer.Option(help="Grafana's public URL: also write CABINETS.txt with dashboard links.")
    ] = None,
    db_host: Annotated[str | None, typer.Option(help="PostgreSQL host as Grafana reaches it.")] = None,
    db_port: Annotated[int | None, typer.Option(help="PostgreSQL port as Grafana reaches it.")] = None,
    sslmode: Annotated[str, typer.Option(help="disable, require, verify-ca, verify-full…")] = "prefer",
    secrets_path: Annotated[
        str, typer.Option(help="Directory of the role password files inside the Grafana container.")
    ] = DEFAULT_SECRETS_PATH,
    dashboards_path: Annotated[
        str, typer.Option(help="Directory of the dashboards inside the Grafana container.")
    ] = DEFAULT_DASHBOARDS_PATH,
    org_id: Annotated[int, typer.Option(help="Grafana organisation the files belong to.")] = 1,
    role_prefix: PrefixOption = rls.DEFAULT_ROLE_PREFIX,
) -> None:
    """Write Grafana datasources, dashboard folders and dashboards, one set per cabinet."""
    services = _open()
    try:
        targets = load_targets(services, cabinet, role_prefix)
        url = make_url(services.db.url)
        conn = Connection(
            host=db_host or url.host or "localhost",
            port=db_port or url.port or 5432,
            database=url.database or "",
            sslmode=sslmode,
        )
    finally:
        services.close()
    written = provision(
        out,
        targets,
        conn,
        secrets_path=secrets_path,
        dashboards_path=dashboards_path,
        org_id=org_id,
        grafana_url=grafana_url_for_docs,
    )
    console.print(f"Записано файлов: {len(written)} для кабинетов: {', '.join(t.folder for t in targets)}.")
    console.print("Роли и пароли: `smart grafana roles --cabinet …` (если ещё не созданы).")
