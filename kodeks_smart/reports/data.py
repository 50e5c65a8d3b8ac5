"""What the reports show: pure, tenant-scoped queries that return typed dataclasses.

The monthly indicators (`monthly_indicators`) are the single source of the "Данные для пролонгации"
dashboard, the renewal report and the quarterly analytics, so the numbers of a report always match the
dashboard for the same client and months.

Months are the installation's local calendar months (its ``tz_offset_minutes``; the client's first
installation decides for a client with several). Definitions (spec dashboards.md §3.8 and §4):

* documents / saved / printed / DB requests — sums of the hourly usage statistics of the month;
* activity — intelligent-search queries of the search log + opened documents;
* involvement — users with DB requests in the month × 100 / seats of the registration file (the
  largest number of seats the month's reports show);
* refusals — refused logins because no seat was free (reason ``no-seats``);
* empty searches — searches of the log whose result is ``empty``;
* DB / OperUp problems — the most volume errors / failed OperUp files one report of the month shows;
* availability — share of the month (up to now) without an abnormal server state found by the probes;
  none for an installation that is not probed;
* month-over-month change — ``(cur − prev) / prev × 100``; ``∞`` when prev is 0 and cur is not; none
  when both are 0 or a month has no data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Case

from kodeks_smart.store.ingest_models import (
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
)
from kodeks_smart.store.models import Cabinet, Client, Installation, Manager, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeStateInterval
from kodeks_smart.store.scope import NotFound, Tenant
from kodeks_smart.store.types import utcnow

NO_SEATS_REASON = "no-seats"
EMPTY_RESULT = "empty"
INTELLIGENT = "intelligent"
DEFAULT_OFFSET_MINUTES = 180
#: Thresholds of the maintenance standard (spec §4).
INVOLVEMENT_LOW = 60.0
INVOLVEMENT_GOOD = 80.0
ACTIVITY_LOW = 20
EXPIRY_WARNING_DAYS = 90

MONTH_NAMES = (
    "Январь",
    "Февраль",
    "Март",
    "Апрель",
    "Май",
    "Июнь",
    "Июль",
    "Август",
    "Сентябрь",
    "Октябрь",
    "Ноябрь",
    "Декабрь",
)
MONTH_SHORT = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")


class ReportError(ValueError):
    """The report cannot be built with these parameters; the message is Russian and user-facing."""


# -- months -----------------------------------------------------------------------------------------


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s month to ``last``'s month, both included."""
    out, m = [], month_start(first)
    while m <= month_start(last):
        out.append(m)
        m = add_months(m, 1)
    return out


def month_label(m: date, short: bool = False) -> str:
    if short:
        return f"{MONTH_SHORT[m.month - 1]} {m.year % 100:02d}"
    return f"{MONTH_NAMES[m.month - 1]} {m.year}"


def parse_month(text: str) -> date:
    """``2026-11`` → 2026-11-01; a Russian error otherwise."""
    try:
        year, month = text.strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise ReportError(f"месяц «{text}»: ожидается ГГГГ-ММ, например 2026-11") from None


def parse_quarter(text: str) -> date:
    """``2026Q3`` (or ``2026-Q3``) → the first day of the quarter, 2026-07-01."""
    raw = text.strip().upper().replace("-", "")
    try:
        year, quarter = raw.split("Q")
        q = int(quarter)
        if not 1 <= q <= 4:
            raise ValueError
        return date(int(year), 3 * (q - 1) + 1, 1)
    except ValueError:
        raise ReportError(f"квартал «{text}»: ожидается ГГГГQN, например 2026Q3") from None


def quarter_label(first: date) -> str:
    return f"{(first.month - 1) // 3 + 1} квартал {first.year}"


def last_full_months(count: int, today: date) -> tuple[date, date]:
    """The ``count`` whole months before ``today``'s month (the default renewal period is 12)."""
    last = add_months(month_start(today), -1)
    return add_months(last, -(count - 1)), last


def _bounds(months: Sequence[date], offset_minutes: int) -> list[datetime]:
    """UTC instants of the local month starts: len(months) + 1 edges."""
    shift = timedelta(minutes=offset_minutes)
    edges = [*months, add_months(months[-1], 1)]
    return [datetime(m.year, m.month, 1, tzinfo=UTC) - shift for m in edges]


def _bucket(column: Any, edges: Sequence[datetime]) -> Case[Any]:
    """The index of the month a time falls in (callers restrict the column to the edges' range)."""
    return case(*((column < edge, i) for i, edge in enumerate(edges[1:])), else_=len(edges) - 1)


def _index(t: datetime, edges: Sequence[datetime]) -> int | None:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    for i in range(len(edges) - 1):
        if edges[i] <= t < edges[i + 1]:
            return i
    return None


# -- change and formatting --------------------------------------------------------------------------


def pct_change(cur: float | None, prev: float | None) -> float | None:
    """Month-over-month change in %, ``math.inf`` when the previous month was 0, None without data."""
    if cur is None or prev is None:
        return None
    if prev == 0:
        return math.inf if cur > 0 else None
    return (cur - prev) / prev * 100.0


def fmt_change(value: float | None) -> str:
    if value is None:
        return "Нет данных"
    if math.isinf(value):
        return "∞"
    return f"{value:+.1f}".replace(".", ",")


def fmt_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "Нет данных"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if digits:
        return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")
    return f"{round(value):,}".replace(",", " ")


# -- owners -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientInfo:
    id: int
    short_name: str
    display_name: str
    manager: str
    cabinet: str
    offset_minutes: int
    installations: tuple[int, ...]


def client_info(tenant: Tenant, client_id: int) -> ClientInfo:
    """The client (NotFound outside the scope) with its manager, cabinet and installations."""
    client = tenant.get(Client, client_id)
    s = tenant.session
    manager = s.get(Manager, client.manager_id) if client.manager_id else None
    cabinet = s.get(Cabinet, client.cabinet_id)
    installations = tenant.list(Installation, Installation.client_id == client.id)
    offset = installations[0].tz_offset_minutes if installations else DEFAULT_OFFSET_MINUTES
    return ClientInfo(
        client.id,
        client.short_name,
        client.display_name,
        manager.name if manager else "",
        cabinet.name if cabinet else "",
        offset,
        tuple(i.id for i in installations),
    )


def find_client(tenant: Tenant, name_or_id: str) -> Client:
    """A client by id or short name inside the scope; a Russian error when unknown or ambiguous."""
    text = name_or_id.strip()
    if text.isdigit():
        try:
            return tenant.get(Client, int(text))
        except NotFound:
            raise ReportError(f"клиент {text} не найден") from None
    found = tenant.list(Client, Client.short_name == text)
    if not found:
        raise ReportError(f"клиент «{text}» не найден")
    if len(found) > 1:
        ids = ", ".join(str(c.id) for c in found)
        raise ReportError(f"клиентов с именем «{text}» несколько (id {ids}): укажите id")
    return found[0]


# -- monthly indicators -----------------------------------------------------------------------------


@dataclass
class MonthRow:
    """The indicators of one client in one month (None: not collected that month)."""

    month: date
    reports: int = 0
    seats: int | None = None
    max_used: int | None = None
    users: int = 0
    docs: int = 0
    saved: int = 0
    printed: int = 0
    db_requests: int = 0
    intelligent_searches: int = 0
    searches: int = 0
    empty_searches: int = 0
    refusals: int = 0
    db_errors: int = 0
    operup_errors: int = 0
    availability: float | None = None

    #: Hourly usage rows of the month (a month covered by a report made early in the next one has data).
    usage_rows: int = 0

    @property
    def has_data(self) -> bool:
        return self.reports > 0 or self.usage_rows > 0

    @property
    def label(self) -> str:
        return month_label(self.month)

    @property
    def short_label(self) -> str:
        return month_label(self.month, short=True)

    @property
    def activity(self) -> int:
        return self.intelligent_searches + self.docs

    @property
    def involvement(self) -> float | None:
        if not self.has_data or not self.seats:
            return None
        return self.users * 100.0 / self.seats

    def value(self, key: str) -> float | None:
        """An indicator by name, None for a month without data."""
        if not self.has_data:
            return None
        v = getattr(self, key)
        return None if v is None else float(v)


def monthly_indicators(tenant: Tenant, client_id: int, months: Sequence[date]) -> list[MonthRow]:
    """One `MonthRow` per month for the client's installations (the client must be in the scope)."""
    info = client_info(tenant, client_id)
    return _monthly(tenant, info, months)


def _monthly(tenant: Tenant, info: ClientInfo, months: Sequence[date]) -> list[MonthRow]:
    rows = [MonthRow(m) for m in months]
    if not months:
        return rows
    edges = _bounds(months, info.offset_minutes)
    s = tenant.session
    cond = tenant.scope.condition

    def within(model: Any, column: Any) -> list[ColumnElement[bool]]:
        return [cond(model), model.client_id == info.id, column >= edges[0], column < edges[-1]]

    r = SysinfoReportRow
    b = _bucket(r.created_at, edges)
    for idx, count, seats in s.execute(
        select(b, func.count(), func.max(r.seats)).where(*within(r, r.created_at)).group_by(b)
    ):
        rows[idx].reports, rows[idx].seats = int(count), seats

    u = SysinfoUsageHour
    b = _bucket(u.hour, edges)
    for idx, docs, saved, printed, requests, users, count in s.execute(
        select(
            b,
            func.coalesce(func.sum(u.docs), 0),
            func.coalesce(func.sum(u.saved), 0),
            func.coalesce(func.sum(u.printed), 0),
            func.coalesce(func.sum(u.db_requests), 0),
            func.count(distinct(case((u.db_requests > 0, u.login)))),
            func.count(),
        )
        .where(*within(u, u.hour))
        .group_by(b)
    ):
        row = rows[idx]
        row.docs, row.saved, row.printed = int(docs), int(saved), int(printed)
        row.db_requests, row.users, row.usage_rows = int(requests), int(users), int(count)

    q = SysinfoSearch
    b = _bucket(q.occurred_at, edges)
    for idx, total, empty, intelligent in s.execute(
        select(
            b,
            func.count(),
            func.coalesce(func.sum(case((q.result == EMPTY_RESULT, 1), else_=0)), 0),
            func.coalesce(func.sum(case((q.type == INTELLIGENT, 1), else_=0)), 0),
        )
        .where(*within(q, q.occurred_at))
        .group_by(b)
    ):
        rows[idx].searches, rows[idx].empty_searches = int(total), int(empty)
        rows[idx].intelligent_searches = int(intelligent)

    f = SysinfoRefusal
    b = _bucket(f.occurred_at, edges)
    for idx, count in s.execute(
        select(b, func.count()).where(*within(f, f.occurred_at), f.reason == NO_SEATS_REASON).group_by(b)
    ):
        rows[idx].refusals = int(count)

    # Per-report snapshots: the largest value one report of the month shows.
    for model, attr, extra in (
        (SysinfoSession, "max_used", ()),
        (SysinfoDbError, "db_errors", ()),
        (SysinfoOperUpFile, "operup_errors", (SysinfoOperUpFile.error_code.is_not(None),)),
    ):
        per_report = s.execute(
            select(func.min(model.report_at), func.count())
            .where(*within(model, model.report_at), *extra)
            .group_by(model.upload_id)
        ).all()
        for at, count in per_report:
            idx = _index(at, edges)
            if idx is not None:
                setattr(rows[idx], attr, max(getattr(rows[idx], attr) or 0, int(count)))
    for row in rows:
        if row.has_data and row.max_used is None:
            row.max_used = 0

    for idx, value in enumerate(_availability(tenant, info, edges)):
        rows[idx].availability = value
    return rows


def _availability(tenant: Tenant, info: ClientInfo, edges: Sequence[datetime]) -> list[float | None]:
    """Per month: % of the time (up to now) without an abnormal state; None when not probed."""
    months = len(edges) - 1
    if not info.installations:
        return [None] * months
    s = tenant.session
    probed = s.scalars(
        select(func.min(ProbeCheck.since)).where(
            tenant.scope.condition(ProbeCheck), ProbeCheck.installation_id.in_(info.installations)
        )
    ).first()
    if probed is None:
        return [None] * months
    now = utcnow()
    intervals = s.execute(
        select(ProbeStateInterval.started_at, ProbeStateInterval.ended_at).where(
            tenant.scope.condition(ProbeStateInterval),
            ProbeStateInterval.installation_id.in_(info.installations),
            ProbeStateInterval.started_at < edges[-1],
            (ProbeStateInterval.ended_at.is_(None)) | (ProbeStateInterval.ended_at > edges[0]),
        )
    ).all()
    out: list[float | None] = []
    for i in range(months):
        start, end = max(edges[i], probed), min(edges[i + 1], now)
        if end <= start:
            out.append(None)
            continue
        # Overlapping intervals (several installations or states) are merged before summing.
        spans = sorted((max(a, start), min(b or now, end)) for a, b in intervals)
        down, cur_a, cur_b = 0.0, None, None
        for a, b in spans:
            if b <= a:
                continue
            if cur_b is None or a > cur_b:
                if cur_a is not None and cur_b is not None:
                    down += (cur_b - cur_a).total_seconds()
                cur_a, cur_b = a, b
            else:
                cur_b = max(cur_b, b)
        if cur_a is not None and cur_b is not None:
            down += (cur_b - cur_a).total_seconds()
        out.append(100.0 * (1 - down / (end - start).total_seconds()))
    return out


# -- renewal (пролонгация) --------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryCount:
    query: str
    count: int


@dataclass(frozen=True)
class RefusedUser:
    login: str
    count: int
    last: datetime


@dataclass
class OnlineMonth:
    month: date
    docs_left: int | None = None
    search_left: int | None = None
    print_left: int | None = None
    upload_left: int | None = None
    docs_used_pct: float | None = None


@dataclass
class OnlineUsage:
    access_id: int
    login: str
    host: str
    months: list[OnlineMonth]


@dataclass
class RenewalReport:
    client: ClientInfo
    first: date
    last: date
    months: list[MonthRow]
    previous: MonthRow
    licence_to: date | None
    empty_queries: list[QueryCount]
    refused_users: list[RefusedUser]
    online: list[OnlineUsage]
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def period(self) -> str:
        return f"{month_label(self.first)} — {month_label(self.last)}"

    def change(self, key: str, index: int) -> float | None:
        prev = self.previous if index == 0 else self.months[index - 1]
        return pct_change(self.months[index].value(key), prev.value(key))

    def total(self, key: str) -> int:
        return sum(int(getattr(m, key) or 0) for m in self.months if m.has_data)

    @property
    def months_with_data(self) -> int:
        return sum(1 for m in self.months if m.has_data)

    @property
    def seats(self) -> int | None:
        values = [m.seats for m in self.months if m.seats is not None]
        return values[-1] if values else None

    @property
    def max_used(self) -> int | None:
        values = [m.max_used for m in self.months if m.max_used is not None]
        return max(values) if values else None

    @property
    def mean_involvement(self) -> float | None:
        values = [v for m in self.months if (v := m.involvement) is not None]
        return sum(values) / len(values) if values else None

    @property
    def mean_availability(self) -> float | None:
        values = [m.availability for m in self.months if m.availability is not None]
        return sum(values) / len(values) if values else None


def renewal_report(
    tenant: Tenant, client_id: int, first: date, last: date, *, top: int = 15
) -> RenewalReport:
    """The renewal report of a client for the months ``first`` … ``last`` (both included)."""
    first, last = month_start(first), month_start(last)
    if last < first:
        raise ReportError("конец периода раньше начала")
    if len(months_between(first, last)) > 36:
        raise ReportError("период отчёта — не больше 36 месяцев")
    info = client_info(tenant, client_id)
    months = months_between(first, last)
    rows = _monthly(tenant, info, [add_months(first, -1), *months])
    edges = _bounds(months, info.offset_minutes)
    return RenewalReport(
        client=info,
        first=first,
        last=last,
        months=rows[1:],
        previous=rows[0],
        licence_to=licence_end(tenant, info.id),
        empty_queries=_empty_queries(tenant, info.id, edges[0], edges[-1], top=top),
        refused_users=_refused_users(tenant, info.id, edges[0], edges[-1], top=top),
        online=online_usage(tenant, info, months),
    )


def licence_end(tenant: Tenant, client_id: int) -> date | None:
    """The earliest licence end of the databases in the client's latest sysinfo report."""
    s = tenant.session
    latest = s.scalars(
        select(SysinfoReportRow.upload_id)
        .where(tenant.scope.condition(SysinfoReportRow), SysinfoReportRow.client_id == client_id)
        .order_by(SysinfoReportRow.created_at.desc(), SysinfoReportRow.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    value: date | None = s.scalars(
        select(func.min(SysinfoDatabase.license_to)).where(
            tenant.scope.condition(SysinfoDatabase), SysinfoDatabase.upload_id == latest
        )
    ).first()
    return value


def _empty_queries(
    tenant: Tenant,
    client_id: int,
    start: datetime,
    end: datetime,
    *,
    top: int,
    installation_id: int | None = None,
    result: str | None = EMPTY_RESULT,
) -> list[QueryCount]:
    q = SysinfoSearch
    text = func.lower(func.trim(q.query))
    where = [tenant.scope.condition(q), q.client_id == client_id, q.occurred_at >= start, q.occurred_at < end]
    where.append(q.query.is_not(None))
    if result is not None:
        where.append(q.result == result)
    if installation_id is not None:
        where.append(q.installation_id == installation_id)
    return [
        QueryCount(str(query), int(count))
        for query, count in tenant.session.execute(
            # Grouped case-insensitively, shown as one of the spellings users typed.
            select(func.min(func.trim(q.query)), func.count().label("n"))
            .where(*where)
            .group_by(text)
            .order_by(func.count().desc(), func.min(func.trim(q.query)))
            .limit(top)
        )
        if query
    ]


def _refused_users(
    tenant: Tenant,
    client_id: int,
    start: datetime,
    end: datetime,
    *,
    top: int,
    installation_id: int | None = None,
) -> list[RefusedUser]:
    f = SysinfoRefusal
    where = [
        tenant.scope.condition(f),
        f.client_id == client_id,
        f.reason == NO_SEATS_REASON,
        f.occurred_at >= start,
        f.occurred_at < end,
    ]
    if installation_id is not None:
        where.append(f.installation_id == installation_id)
    return [
        RefusedUser(str(login), int(count), last)
        for login, count, last in tenant.session.execute(
            select(f.login, func.count(), func.max(f.occurred_at))
            .where(*where)
            .group_by(f.login)
            .order_by(func.count().desc(), f.login)
            .limit(top)
        )
    ]


def online_usage(tenant: Tenant, info: ClientInfo, months: Sequence[date]) -> list[OnlineUsage]:
    """Per online access of the client and month: the least remaining billing units (month-end)."""
    out = []
    edges = _bounds(months, DEFAULT_OFFSET_MINUTES)  # online accesses live on the DC's Moscow time
    o = OnlineBillingReading
    for access in tenant.list(OnlineAccess, OnlineAccess.client_id == info.id):
        rows = [OnlineMonth(m) for m in months]
        b = _bucket(o.read_at, edges)
        for idx, *values in tenant.session.execute(
            select(
                b,
                func.max(o.docs_max),
                func.max(o.docs_used),
                func.max(o.search_max),
                func.max(o.search_used),
                func.max(o.print_max),
                func.max(o.print_used),
                func.max(o.upload_max),
                func.max(o.upload_used),
            )
            .where(
                tenant.scope.condition(o),
                o.online_access_id == access.id,
                o.read_at >= edges[0],
                o.read_at < edges[-1],
            )
            .group_by(b)
        ):
            row = rows[idx]
            lefts = [
                (limit - used) if limit is not None and used is not None else None
                for limit, used in zip(values[0::2], values[1::2], strict=True)
            ]
            row.docs_left, row.search_left, row.print_left, row.upload_left = lefts
            if values[0]:
                row.docs_used_pct = (values[1] or 0) * 100.0 / values[0]
        out.append(OnlineUsage(access.id, access.login, access.host, rows))
    return out


# -- trial (апробация) ------------------------------------------------------------------------------


@dataclass
class TrialUser:
    login: str
    full_name: str
    db_requests: int = 0
    docs: int = 0
    saved: int = 0
    printed: int = 0
    searches: int = 0
    empty_searches: int = 0
    hours: int = 0
    last_active: datetime | None = None


@dataclass
class TrialDay:
    day: date
    docs: int = 0
    intelligent_searches: int = 0
    users: int = 0

    @property
    def activity(self) -> int:
        return self.docs + self.intelligent_searches


@dataclass
class TrialReport:
    client: ClientInfo
    installation_id: int
    address: str
    first: date
    last: date
    seats: int | None
    max_used: int | None
    users: list[TrialUser]
    days: list[TrialDay]
    top_queries: list[QueryCount]
    empty_queries: list[QueryCount]
    refused_users: list[RefusedUser]
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def period(self) -> str:
        return f"{self.first:%d.%m.%Y} — {self.last:%d.%m.%Y}"

    @property
    def active_users(self) -> int:
        return sum(1 for u in self.users if u.db_requests > 0)

    @property
    def involvement(self) -> float | None:
        return self.active_users * 100.0 / self.seats if self.seats else None

    def total(self, key: str) -> int:
        return sum(int(getattr(u, key)) for u in self.users)

    @property
    def refusals(self) -> int:
        return sum(r.count for r in self.refused_users)


def trial_report(
    tenant: Tenant, installation_id: int, first: date, last: date, *, top: int = 20
) -> TrialReport:
    """Who used a trial installation from ``first`` to ``last`` (local dates, both included), how much,
    what they looked for and what was not found."""
    if last < first:
        raise ReportError("конец периода раньше начала")
    if (last - first).days > 366:
        raise ReportError("период апробации — не больше года")
    inst = tenant.get(Installation, installation_id)
    info = client_info(tenant, inst.client_id)
    shift = timedelta(minutes=inst.tz_offset_minutes)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC) - shift
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1) - shift
    s, cond = tenant.session, tenant.scope.condition

    def where(model: Any, column: Any) -> list[ColumnElement[bool]]:
        return [cond(model), model.installation_id == inst.id, column >= start, column < end]

    u = SysinfoUsageHour
    users: dict[str, TrialUser] = {}
    for login, req, docs, saved, printed, searches, hours, last_hour in s.execute(
        select(
            u.login,
            func.coalesce(func.sum(u.db_requests), 0),
            func.coalesce(func.sum(u.docs), 0),
            func.coalesce(func.sum(u.saved), 0),
            func.coalesce(func.sum(u.printed), 0),
            func.coalesce(func.sum(u.searches), 0),
            func.count(),
            func.max(u.hour),
        )
        .where(*where(u, u.hour))
        .group_by(u.login)
    ):
        users[login] = TrialUser(
            login,
            "",
            int(req or 0),
            int(docs or 0),
            int(saved or 0),
            int(printed or 0),
            int(searches or 0),
            0,
            int(hours),
            last_hour,
        )
    q = SysinfoSearch
    for login, empty in s.execute(
        select(q.login, func.count())
        .where(*where(q, q.occurred_at), q.result == EMPTY_RESULT)
        .group_by(q.login)
    ):
        users.setdefault(login, TrialUser(login, "")).empty_searches = int(empty)
    if users:
        for login, full_name in s.execute(
            select(SysinfoUser.login, SysinfoUser.full_name).where(
                cond(SysinfoUser), SysinfoUser.client_id == info.id, SysinfoUser.login.in_(sorted(users))
            )
        ):
            users[login].full_name = full_name or ""

    days: dict[date, TrialDay] = {}
    d = first
    while d <= last:
        days[d] = TrialDay(d)
        d += timedelta(days=1)
    per_day: dict[date, set[str]] = defaultdict(set)
    for hour, login, docs, requests in s.execute(
        select(u.hour, u.login, u.docs, u.db_requests).where(*where(u, u.hour))
    ):
        day = (hour.replace(tzinfo=hour.tzinfo or UTC) + shift).date()
        if day in days:
            days[day].docs += int(docs or 0)
            if requests:
                per_day[day].add(login)
    for at in s.scalars(select(q.occurred_at).where(*where(q, q.occurred_at), q.type == INTELLIGENT)):
        day = (at.replace(tzinfo=at.tzinfo or UTC) + shift).date()
        if day in days:
            days[day].intelligent_searches += 1
    for day, logins in per_day.items():
        days[day].users = len(logins)

    r = SysinfoReportRow
    seats = s.scalars(select(func.max(r.seats)).where(*where(r, r.created_at))).first()
    per_report = s.execute(
        select(func.count())
        .where(*where(SysinfoSession, SysinfoSession.report_at))
        .group_by(SysinfoSession.upload_id)
    ).all()
    reports = s.scalars(select(func.count()).where(*where(r, r.created_at))).first() or 0
    max_used = max((int(c) for (c,) in per_report), default=0) if reports else None
    return TrialReport(
        client=info,
        installation_id=inst.id,
        address=inst.address or "",
        first=first,
        last=last,
        seats=seats,
        max_used=max_used,
        users=sorted(users.values(), key=lambda x: (-x.db_requests, x.login)),
        days=list(days.values()),
        top_queries=_empty_queries(
            tenant, info.id, start, end, top=top, installation_id=inst.id, result=None
        ),
        empty_queries=_empty_queries(tenant, info.id, start, end, top=top, installation_id=inst.id),
        refused_users=_refused_users(tenant, info.id, start, end, top=top, installation_id=inst.id),
    )


# -- quarterly analytics ----------------------------------------------------------------------------


@dataclass
class QuarterRow:
    client: ClientInfo
    seats: int | None
    involvement: float | None
    activity: int
    prev_activity: int | None
    docs: int
    prev_docs: int | None
    refusals: int
    empty_searches: int
    searches: int
    licence_to: date | None
    days_left: int | None
    has_data: bool
    risk: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def activity_change(self) -> float | None:
        return pct_change(self.activity, self.prev_activity) if self.has_data else None

    @property
    def docs_change(self) -> float | None:
        return pct_change(self.docs, self.prev_docs) if self.has_data else None


@dataclass
class QuarterlyReport:
    cabinet: str
    manager: str | None
    first: date
    rows: list[QuarterRow]
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def period(self) -> str:
        return quarter_label(self.first)

    @property
    def previous_period(self) -> str:
        return quarter_label(add_months(self.first, -3))


def _aggregate(rows: Sequence[MonthRow]) -> tuple[bool, int, int, int, int, int, int | None, float | None]:
    data = [m for m in rows if m.has_data]
    if not data:
        return False, 0, 0, 0, 0, 0, None, None
    seats = next((m.seats for m in reversed(data) if m.seats is not None), None)
    inv = [v for m in data if (v := m.involvement) is not None]
    return (
        True,
        sum(m.activity for m in data),
        sum(m.docs for m in data),
        sum(m.refusals for m in data),
        sum(m.empty_searches for m in data),
        sum(m.searches for m in data),
        seats,
        sum(inv) / len(inv) if inv else None,
    )


def quarterly_report(
    tenant: Tenant, cabinet_id: int, first: date, *, manager_id: int | None = None, today: date | None = None
) -> QuarterlyReport:
    """All clients of a cabinet (or of one manager) side by side for a quarter, riskiest first.

    Risk points: involvement below 60 % (2), no data in the quarter (2), licence ending within 90 days
    (2; expired: 3), activity falling by more than 20 % against the previous quarter (1; by more than
    50 %: 2), activity below 20 points a month on average (1).
    """
    cabinet = tenant.cabinet(cabinet_id)
    today = today or utcnow().date()
    manager_name = None
    where = [Client.cabinet_id == cabinet.id]
    if manager_id is not None:
        manager = tenant.get(Manager, manager_id)
        if manager.cabinet_id != cabinet.id:
            raise NotFound("manager")
        manager_name = manager.name
        where.append(Client.manager_id == manager.id)
    first = month_start(first)
    months = [add_months(first, i) for i in range(-3, 3)]
    out = []
    for client in tenant.list(Client, *where, order_by=Client.short_name):
        info = client_info(tenant, client.id)
        monthly = _monthly(tenant, info, months)
        has, act, docs, refusals, empty, searches, seats, inv = _aggregate(monthly[3:])
        prev_has, prev_act, prev_docs, *_ = _aggregate(monthly[:3])
        licence_to = licence_end(tenant, client.id)
        row = QuarterRow(
            client=info,
            seats=seats,
            involvement=inv,
            activity=act,
            prev_activity=prev_act if prev_has else None,
            docs=docs,
            prev_docs=prev_docs if prev_has else None,
            refusals=refusals,
            empty_searches=empty,
            searches=searches,
            licence_to=licence_to,
            days_left=(licence_to - today).days if licence_to else None,
            has_data=has,
        )
        _score(row, sum(1 for m in monthly[3:] if m.has_data))
        out.append(row)
    out.sort(key=lambda r: (-r.risk, r.client.short_name))
    return QuarterlyReport(cabinet.name, manager_name, first, out)


def _score(row: QuarterRow, months_with_data: int) -> None:
    if not row.has_data:
        row.risk += 2
        row.reasons.append("нет данных за квартал")
    if row.involvement is not None and row.involvement < INVOLVEMENT_LOW:
        row.risk += 2
        row.reasons.append(f"вовлечённость {row.involvement:.0f}% < 60%")
    if row.days_left is not None and row.days_left < EXPIRY_WARNING_DAYS:
        expired = row.days_left < 0
        row.risk += 3 if expired else 2
        row.reasons.append("лицензия истекла" if expired else f"лицензия истекает через {row.days_left} дн.")
    change = row.activity_change
    if change is not None and not math.isinf(change) and change < -20:
        row.risk += 2 if change < -50 else 1
        row.reasons.append(f"активность упала на {-change:.0f}%")
    if row.has_data and months_with_data and row.activity / months_with_data < ACTIVITY_LOW:
        row.risk += 1
        row.reasons.append("активность ниже 20 в месяц")


def cabinet_clients(tenant: Tenant, cabinet_id: int) -> list[Client]:
    return tenant.list(Client, Client.cabinet_id == cabinet_id, order_by=Client.short_name)


def renewal_targets(session: Session) -> dict[int, list[int]]:
    """Manager id → ids of his clients that have an installation (for the monthly delivery)."""
    found: dict[int, list[int]] = defaultdict(list)
    for manager_id, client_id in session.execute(
        select(Client.manager_id, Client.id)
        .where(
            Client.manager_id.is_not(None),
            select(Installation.id).where(and_(Installation.client_id == Client.id)).exists(),
        )
        .order_by(Client.manager_id, Client.short_name)
    ):
        if manager_id is not None:
            found[int(manager_id)].append(int(client_id))
    return dict(found)
