"""Silences: create, list and expire them (used by the CLI and the web cabinet)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import ALIASES, RULES
from kodeks_smart.store.admin import AdminError, find_cabinet, find_dealer
from kodeks_smart.store.alert_models import Silence
from kodeks_smart.store.scope import Scope

_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$", re.IGNORECASE)
MATCHER_NAMES = ("client", "installation", "rule")


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``3d`` → timedelta; AdminError with a Russian message otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise AdminError(f"Непонятная длительность {text!r}: используйте, например, 30m, 2h или 3d")
    amount, unit = int(match.group(1)), match.group(2).lower()
    delta = {
        "m": timedelta(minutes=amount),
        "min": timedelta(minutes=amount),
        "h": timedelta(hours=amount),
    }.get(unit, timedelta(days=amount))
    if delta <= timedelta(0) or delta > timedelta(days=366):
        raise AdminError("Длительность тишины — от минуты до года")
    return delta


def add_silence(
    session: Session,
    *,
    author: str,
    ends_at: datetime,
    now: datetime,
    dealer_code: str | None = None,
    cabinet_name: str | None = None,
    matchers: dict[str, str] | None = None,
    comment: str = "",
    starts_at: datetime | None = None,
) -> Silence:
    matchers = {k: v for k, v in (matchers or {}).items() if v}
    unknown = sorted(set(matchers) - set(MATCHER_NAMES))
    if unknown:
        raise AdminError(f"Неизвестные условия тишины: {', '.join(unknown)}")
    if "rule" in matchers:
        matchers["rule"] = ALIASES.get(matchers["rule"], matchers["rule"])
        if matchers["rule"] not in RULES:
            raise AdminError(f"Неизвестное правило {matchers['rule']!r}")
    dealer_id = cabinet_id = None
    if dealer_code:
        dealer = find_dealer(session, dealer_code)
        dealer_id = dealer.id
        if cabinet_name:
            cabinet_id = find_cabinet(session, dealer, cabinet_name).id
    elif cabinet_name:
        raise AdminError("Кабинет указывается вместе с дистрибьютором (--dealer)")
    if dealer_id is None and not matchers:
        raise AdminError("Тишина без единого условия заглушила бы все оповещения: укажите хотя бы одно")
    starts_at = starts_at or now
    if ends_at <= starts_at:
        raise AdminError("Окончание тишины должно быть позже её начала")
    silence = Silence(
        dealer_id=dealer_id,
        cabinet_id=cabinet_id,
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        author=author,
        comment=comment,
    )
    session.add(silence)
    session.flush()
    return silence


def silences_in_scope(
    session: Session, scope: Scope, now: datetime, include_expired: bool = False
) -> list[Silence]:
    stmt = select(Silence).order_by(Silence.ends_at.desc())
    if not include_expired:
        stmt = stmt.where(Silence.ends_at > now)
    if scope.level != "operator":
        stmt = stmt.where(Silence.dealer_id == scope.dealer_id)
        if scope.level == "cabinets":
            stmt = stmt.where(or_(Silence.cabinet_id.in_(scope.cabinet_ids), Silence.cabinet_id.is_(None)))
    return list(session.scalars(stmt))


def expire_silence(session: Session, scope: Scope, silence_id: int, now: datetime) -> Silence:
    for silence in silences_in_scope(session, scope, now, include_expired=True):
        if silence.id == silence_id:
            if silence.ends_at > now:
                silence.ends_at = now
            return silence
    raise AdminError(f"Тишина #{silence_id} не найдена")
