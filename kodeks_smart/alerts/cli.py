"""`smart alerts` and `smart silence add|list|expire`."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kodeks_smart.alerts.dispatch import active_alerts
from kodeks_smart.alerts.silences import add_silence, expire_silence, parse_duration, silences_in_scope
from kodeks_smart.config import Settings
from kodeks_smart.runtime import Services
from kodeks_smart.store.scope import Scope
from kodeks_smart.store.types import utcnow

console = Console(soft_wrap=True)
silence_app = typer.Typer(
    help="Silences: mute notifications by matchers for a time range.", no_args_is_help=True
)


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def alerts() -> None:
    """List pending and firing alerts: priority, severity, rule, object, since."""
    services = Services.open(Settings.load())
    try:
        with services.db.session() as s:
            table = Table("пр-т", "важность", "состояние", "правило", "объект", "с", "описание")
            for a in active_alerts(s):
                table.add_row(
                    f"К{a.priority}",
                    a.severity,
                    a.status,
                    a.rule,
                    str((a.labels or {}).get("client", a.key)),
                    _fmt(a.fired_at or a.started_at),
                    a.summary,
                )
        console.print(table)
    finally:
        services.close()


@silence_app.command("add")
def silence_add(
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 3d")],
    comment: Annotated[str, typer.Option(help="Why (shown in the cabinet)")],
    dealer: Annotated[str | None, typer.Option(help="Dealer code")] = None,
    cabinet: Annotated[str | None, typer.Option(help="Cabinet name (with --dealer)")] = None,
    client: Annotated[str | None, typer.Option(help="Client short name")] = None,
    installation: Annotated[int | None, typer.Option(help="Installation id")] = None,
    rule: Annotated[str | None, typer.Option(help="Rule name, e.g. KodeksMaintenance")] = None,
    author: Annotated[str | None, typer.Option(help="Author (default: current OS user)")] = None,
) -> None:
    """Mute notifications of matching alerts from now on for the given time."""
    now = utcnow()
    services = Services.open(Settings.load())
    try:
        with services.db.write() as s:
            silence = add_silence(
                s,
                author=author or getpass.getuser(),
                ends_at=now + parse_duration(duration),
                now=now,
                dealer_code=dealer,
                cabinet_name=cabinet,
                matchers={
                    "client": client or "",
                    "installation": str(installation) if installation is not None else "",
                    "rule": rule or "",
                },
                comment=comment,
            )
            ident, ends = silence.id, silence.ends_at
        console.print(f"Тишина #{ident} действует до {_fmt(ends)}.")
    finally:
        services.close()


@silence_app.command("list")
def silence_list(expired: Annotated[bool, typer.Option(help="Include expired silences")] = False) -> None:
    """List silences in force (or all with --expired)."""
    services = Services.open(Settings.load())
    try:
        with services.db.session() as s:
            table = Table("#", "условия", "с", "до", "автор", "комментарий")
            for sil in silences_in_scope(s, Scope.operator(), utcnow(), include_expired=expired):
                conditions = ", ".join(f"{k}={v}" for k, v in sorted((sil.matchers or {}).items()))
                if sil.dealer_id is not None:
                    conditions = f"dealer_id={sil.dealer_id} " + conditions
                table.add_row(
                    str(sil.id), conditions, _fmt(sil.starts_at), _fmt(sil.ends_at), sil.author, sil.comment
                )
        console.print(table)
    finally:
        services.close()


@silence_app.command("expire")
def silence_expire(silence_id: int) -> None:
    """End a silence now."""
    services = Services.open(Settings.load())
    try:
        with services.db.write() as s:
            expire_silence(s, Scope.operator(), silence_id, utcnow())
        console.print(f"Тишина #{silence_id} снята.")
    finally:
        services.close()
