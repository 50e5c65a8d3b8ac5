"""Conditions of the rules fed by SMART's own probes of internet-reachable installations (source ``probe``).

Each rule holds while its check's current state (``probe_checks``, written by `kodeks_smart.probes`) is
``fail``. The probes apply the dependency rules when they record a result (spec §7.3): a check that could
not be made because another failed is ``unknown``, a failure that maintenance explains is ``expected`` —
neither fires. What remains between rules that are all ``fail`` at once (a closed port and a failing
login…) is muted by the alert engine's dependency matrix (`kodeks_smart.alerts.mute.DEPENDENCIES`).

Only installations that are probed now count: kind ``internet`` or ``cloud`` with an address. Keys are
``inst:<id>``; labels carry ``client`` (short name), ``dealer`` (code), ``address`` and what the rule's
summary shows (``value``, ``text``, ``licman``, ``login``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.engine import Condition, Instance, cycle_cached
from kodeks_smart.store.models import Client, Dealer, Installation
from kodeks_smart.store.probe_models import ProbeCheck

PROBED_KINDS = ("internet", "cloud")
MAINTENANCE_TOO_LONG = timedelta(hours=3)

#: What a non-numeric value of a failing web check means, for the summary's ``{value}``.
VALUE_TEXT = {
    "timeout": "нет ответа",
    "refused": "соединение отвергнуто",
    "reset": "соединение сброшено",
    "empty": "пустой ответ",
    "unreachable": "недоступен",
    "dns": "имя не найдено",
    "tls": "ошибка TLS",
    "protocol": "ответ не по HTTP",
    "too-large": "слишком большой ответ",
}

Row = tuple[ProbeCheck, Installation, Client, Dealer]
Extra = Callable[[Row], Mapping[str, Any]]


def failing(session: Session, check: str) -> list[Row]:
    """Failing rows of one check, for installations that are probed now (in installation order)."""
    return cycle_cached(session, "probe.failing", lambda: _failing(session)).get(check, [])


def _failing(session: Session) -> dict[str, list[Row]]:
    """Check name → its failing rows: one query per cycle for the fourteen rules that read them (a query
    per rule before, fourteen statements in every cycle), in installation order as each rule's own was."""
    stmt = (
        select(ProbeCheck, Installation, Client, Dealer)
        .join(Installation, Installation.id == ProbeCheck.installation_id)
        .join(Client, Client.id == Installation.client_id)
        .join(Dealer, Dealer.id == Installation.dealer_id)
        .where(
            ProbeCheck.status == "fail",
            Installation.kind.in_(PROBED_KINDS),
            Installation.address.is_not(None),
        )
        .order_by(Installation.id, ProbeCheck.check_name)
    )
    found: dict[str, list[Row]] = {}
    for probe, inst, client, dealer in session.execute(stmt):
        found.setdefault(probe.check_name, []).append((probe, inst, client, dealer))
    return found


def instance(rule: str, row: Row, extra: Mapping[str, Any]) -> Instance:
    probe, inst, client, dealer = row
    labels: dict[str, Any] = {
        "client": client.short_name,
        "dealer": dealer.code,
        "address": inst.address,
        "installation": inst.id,
        "check": probe.check_name,
    }
    labels.update(extra)
    return Instance(
        rule,
        f"inst:{inst.id}",
        inst.dealer_id,
        inst.cabinet_id,
        client_id=inst.client_id,
        installation_id=inst.id,
        labels=labels,
    )


def when_failing(rule: str, check: str, extra: Extra | None = None) -> Condition:
    """The rule holds for every probed installation whose ``check`` fails."""

    def condition(session: Session, now: datetime) -> Iterable[Instance]:
        return [instance(rule, row, extra(row) if extra else {}) for row in failing(session, check)]

    condition.__name__ = f"{rule}_condition"
    return condition


def _value(row: Row) -> dict[str, Any]:
    value = row[0].value
    return {"value": value if value.isdigit() else VALUE_TEXT.get(value, value or "?")}


def _text(row: Row) -> dict[str, Any]:
    return {"text": row[0].detail, "value": row[0].value}


def _login(row: Row) -> dict[str, Any]:
    return {"login": row[1].test_login or "smartlogin", "text": row[0].detail}


def _licman(row: Row) -> dict[str, Any]:
    inst = row[1]
    host = inst.licman_host or "?"
    return {"licman": host if ":" in host else f"{host}:{inst.licman_port or 8888}", "text": row[0].detail}


def _seats(row: Row) -> dict[str, Any]:
    return {"value": "все места", "text": row[0].detail}


def maintenance_too_long(session: Session, now: datetime) -> Iterable[Instance]:
    """Maintenance mode for more than 3 hours in a row (since the ``maintenance`` check began failing)."""
    found = []
    for row in failing(session, "maintenance"):
        lasted = now - row[0].since
        if lasted > MAINTENANCE_TOO_LONG:
            hours = lasted.total_seconds() / 3600
            found.append(instance("KodeksMaintenanceToLong", row, {"value": f"{hours:.1f} ч"}))
    return found


CONDITIONS: dict[str, Condition] = {
    "KodeksIcmp": when_failing("KodeksIcmp", "icmp", _text),
    "KodeksTcpStatus": when_failing("KodeksTcpStatus", "tcp", _text),
    "KodeksHttp200Status": when_failing("KodeksHttp200Status", "http200", _value),
    "KodeksBehindProxyDown": when_failing("KodeksBehindProxyDown", "proxy", _text),
    "KodeksMaintenance": when_failing("KodeksMaintenance", "maintenance", _text),
    "KodeksMaintenanceToLong": maintenance_too_long,
    "KodeksNeedSupport": when_failing("KodeksNeedSupport", "needsupport", _text),
    "KodeksAuthNotWork": when_failing("KodeksAuthNotWork", "auth", _login),
    "KodeksOnlineSensLockCheck": when_failing("KodeksOnlineSensLockCheck", "key", _text),
    "KodeksWarning": when_failing("KodeksWarning", "warning", _text),
    "KodeksLimitsUsers": when_failing("KodeksLimitsUsers", "limit", _seats),
    "LicmanIcmp": when_failing("LicmanIcmp", "licman_icmp", _licman),
    "LicmanTcpStatus": when_failing("LicmanTcpStatus", "licman_tcp", _licman),
    "KodeksSppStatus": when_failing("KodeksSppStatus", "spp", _text),
}
