"""Conditions of the rules about simple online accesses (source ``online``).

* ``OnlineLoginFailed`` — the online check (login with the client's credentials, `kodeks_smart.probes.online`)
  fails, whatever the error class (``LoginPasswordError``, ``ConnectionTimeout``…); the rule's ``for`` of
  2 hours keeps short outages of the vendor's server quiet.
* ``OnlineBilling{Docs,Search,Print,Upload}Left{150,50,Zero}`` — the latest billing reading of the current
  month: fewer than 150 / fewer than 50 / no units left. The levels are independent: at 30 left both
  Left150 and Left50 hold, at 0 all three. A reading stays valid until the month ends even if later
  logins fail: within a month the remainder only goes down.
* ``OnlineUserActivityIsLow10/20/30`` — share of the monthly document limit used,
  (limit − remaining) / limit: on days 10–19 below 3 %, on days 20–29 below 10 %, from the 30th (in
  February from its last day) to the month's end below 15 %. At most one of the three holds on any day.

Months and days are Moscow time (the vendor's billing month). A counter with a limit of 0 is not offered
to the access and never fires. Keys are ``online:<id>``; labels: ``client``, ``dealer``, ``login``,
``url`` (host), ``catalog``, ``value``, ``text``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.engine import Condition, Instance, cycle_cached
from kodeks_smart.store.models import Client, Dealer, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck

MSK = timezone(timedelta(hours=3), "MSK")
KINDS = {"Docs": "docs", "Print": "print", "Search": "search", "Upload": "upload"}
#: Level → the remainder below which it holds ("Zero": below 1, i.e. nothing left).
LEVELS = {"150": 150, "50": 50, "Zero": 1}

Row = tuple[OnlineAccess, Client, Dealer]


def month_start(now: datetime) -> datetime:
    """The first moment of ``now``'s billing month (Moscow time), in UTC."""
    local = now.astimezone(MSK)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def labels(row: Row, **extra: Any) -> dict[str, Any]:
    access, client, dealer = row
    found: dict[str, Any] = {
        "client": client.short_name,
        "dealer": dealer.code,
        "login": access.login,
        "url": access.host,
        "catalog": access.catalog,
    }
    found.update(extra)
    return found


def instance(rule: str, row: Row, **extra: Any) -> Instance:
    access = row[0]
    return Instance(
        rule,
        f"online:{access.id}",
        access.dealer_id,
        access.cabinet_id,
        client_id=access.client_id,
        online_access_id=access.id,
        labels=labels(row, **extra),
    )


def login_failed(session: Session, now: datetime) -> Iterable[Instance]:
    stmt = (
        select(ProbeCheck, OnlineAccess, Client, Dealer)
        .join(OnlineAccess, OnlineAccess.id == ProbeCheck.online_access_id)
        .join(Client, Client.id == OnlineAccess.client_id)
        .join(Dealer, Dealer.id == OnlineAccess.dealer_id)
        .where(ProbeCheck.check_name == "online", ProbeCheck.status == "fail")
        .order_by(OnlineAccess.id)
    )
    return [
        instance("OnlineLoginFailed", (access, client, dealer), text=f"{probe.value}: {probe.detail}")
        for probe, access, client, dealer in session.execute(stmt)
    ]


def latest_readings(session: Session, now: datetime) -> list[tuple[OnlineBillingReading, Row]]:
    """The newest reading of the current month of every online access that has one; one query per cycle
    for all the billing and activity rules that read them (see `cycle_cached`), not one per rule."""
    return cycle_cached(session, "online.latest_readings", lambda: _latest_readings(session, now))


def _latest_readings(session: Session, now: datetime) -> list[tuple[OnlineBillingReading, Row]]:
    start = month_start(now)
    newest = (
        select(
            OnlineBillingReading.online_access_id.label("access_id"),
            func.max(OnlineBillingReading.read_at).label("read_at"),
        )
        .where(OnlineBillingReading.read_at >= start, OnlineBillingReading.read_at <= now)
        .group_by(OnlineBillingReading.online_access_id)
        .subquery()
    )
    stmt = (
        select(OnlineBillingReading, OnlineAccess, Client, Dealer)
        .join(
            newest,
            (newest.c.access_id == OnlineBillingReading.online_access_id)
            & (newest.c.read_at == OnlineBillingReading.read_at),
        )
        .join(OnlineAccess, OnlineAccess.id == OnlineBillingReading.online_access_id)
        .join(Client, Client.id == OnlineAccess.client_id)
        .join(Dealer, Dealer.id == OnlineAccess.dealer_id)
        .order_by(OnlineAccess.id, OnlineBillingReading.id.desc())
    )
    found: dict[int, tuple[OnlineBillingReading, Row]] = {}
    for reading, access, client, dealer in session.execute(stmt):
        found.setdefault(access.id, (reading, (access, client, dealer)))
    return list(found.values())


def billing_left(kind: str, level: str) -> Condition:
    rule = f"OnlineBilling{kind}Left{level}"
    column = KINDS[kind]
    below = LEVELS[level]

    def condition(session: Session, now: datetime) -> Iterable[Instance]:
        found = []
        for reading, row in latest_readings(session, now):
            counter = reading.counter(column)
            if counter is None or counter[0] <= 0:
                continue
            left = max(counter[0] - counter[1], 0)
            if left < below:
                found.append(instance(rule, row, value=left, limit=counter[0]))
        return found

    condition.__name__ = f"{rule}_condition"
    return condition


def activity_window(now: datetime) -> tuple[str, float] | None:
    """Which of the activity rules is checked today (Moscow time) and its threshold in percent."""
    local = now.astimezone(MSK)
    last_day = calendar.monthrange(local.year, local.month)[1]
    day30 = min(30, last_day)
    if local.day >= day30:
        return "30", 15.0
    if local.day >= 20:
        return "20", 10.0
    if local.day >= 10:
        return "10", 3.0
    return None


def activity_low(which: str) -> Condition:
    rule = f"OnlineUserActivityIsLow{which}"

    def condition(session: Session, now: datetime) -> Iterable[Instance]:
        window = activity_window(now)
        if window is None or window[0] != which:
            return []
        threshold = window[1]
        found = []
        for reading, row in latest_readings(session, now):
            counter = reading.counter("docs")
            if counter is None or counter[0] <= 0:
                continue
            top, used = counter
            share = min(max(used, 0), top) / top * 100
            if share < threshold:
                found.append(instance(rule, row, value=f"{share:.1f}", limit=top))
        return found

    condition.__name__ = f"{rule}_condition"
    return condition


CONDITIONS: dict[str, Condition] = {
    "OnlineLoginFailed": login_failed,
    **{f"OnlineBilling{kind}Left{level}": billing_left(kind, level) for kind in KINDS for level in LEVELS},
    **{f"OnlineUserActivityIsLow{which}": activity_low(which) for which in ("10", "20", "30")},
}
