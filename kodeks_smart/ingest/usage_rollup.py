"""Keeping the usage rollups (`kodeks_smart.store.usage_rollup_models`) equal to the facts they sum.

Every rollup row is a function of the facts with the same key. The general way to keep it so: the keys a
write touched are deleted and recomputed from the facts with one ``INSERT … SELECT`` per table, in the
same transaction as the write. That is the same statement the migration's backfill runs without a key
filter, so a refreshed row and a backfilled row cannot differ.

The hourly sysinfo report, the normal stream, takes a shorter way (`report_state` / `add_report`): the
writer knows the usage rows it writes, and the same statement that writes them reads the rows they
replace and the rollup rows of their hours, days, weeks, months and report time. The rollups then change by
the difference: each sum by the new rows minus the replaced ones (a re-reported hour is not counted
twice), the first/last request hours by the earlier/later of the stored and the new ones, the report's
seats by its sessions. Whenever that would not give exactly what the re-sum gives — a replaced row that
moves to another installation, an hour whose DB requests drop to zero (the first request of the month
may move to another hour), a rollup row missing for facts that were there, reprocessing (rows this
upload wrote before are deleted first) — the writer takes the general way.

Who refreshes:

* the sysinfo writer, after a report's rows are written: `add_report_parts` for a first processing
  (which also changes the per-user rollups of `user_rollup` and the daily seats of `seats_rollup` by
  difference; the per-user part may decline alone), `refresh_report` otherwise or when it declines
  (the report's usage hours, its report time and the report times this upload wrote before, for
  reprocessing);
* ORM writes (tests, the simulator, hand fixes) are caught by session events (`_collect` /
  `_refresh_pending`), so a fact added with ``session.add`` is rolled up when the session commits;
* the retention job: `prune` after the facts are deleted;
* migration 0013 and ``bench/web.py`` (bulk inserts): `backfill`; migration 0018 (the weekly rows, from the
  daily ones): `fill_weeks`.

The weekly sums (``sysinfo_usage_weekly``, epoch-aligned 7-day weeks) follow the daily ones: by the same
deltas grouped per week on the short way, recomputed from the daily rows of the touched weeks
(`refresh_weeks`) on the general one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    inspect,
    literal,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from kodeks_smart.ingest import rollup_hooks
from kodeks_smart.ingest.writers import Batch
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoReportRow, SysinfoSession, SysinfoUsageHour
from kodeks_smart.store.seats_rollup_models import SeatsDayRollup, SeatsWeekRollup
from kodeks_smart.store.usage_rollup_models import (
    COUNTERS,
    WEEK,
    ReportSeats,
    UsageDayRollup,
    UsageFirstRequest,
    UsageHourRollup,
    UsageWeekRollup,
)
from kodeks_smart.store.user_rollup_models import COUNTERS as USER_COUNTERS
from kodeks_smart.store.user_rollup_models import PEAKS, UserUsageDay, UserUsageMonth

HOUR = 3600
DAY = 86400
Bind = Session | Connection


def table_of(model: Any) -> Table:
    """The Core table of a mapped class."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


USAGE = table_of(SysinfoUsageHour)
SESSIONS = table_of(SysinfoSession)
REPORTS = table_of(SysinfoReportRow)
HOURLY = table_of(UsageHourRollup)
DAILY = table_of(UsageDayRollup)
WEEKLY = table_of(UsageWeekRollup)
FIRST = table_of(UsageFirstRequest)
SEATS = table_of(ReportSeats)
USER_DAILY = table_of(UserUsageDay)
USER_MONTHLY = table_of(UserUsageMonth)
SEATS_DAILY = table_of(SeatsDayRollup)
SEATS_WEEKLY = table_of(SeatsWeekRollup)


def _dialect(bind: Bind) -> str:
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def epoch(column: Any, dialect: str) -> ColumnElement[int]:
    """SQL: a UTC time column as integer epoch seconds (the expression `framework.bucket` uses)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), Integer)


def month_of(column: Any) -> ColumnElement[str]:
    """SQL: ``YYYY-MM`` of a time column, exactly as the raw involvement query groups it."""
    return func.substr(cast(column, String), 1, 7)


def _floor(moment: datetime, seconds: int) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % seconds, UTC)


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    start = _month_start(moment)
    return (start + timedelta(days=32)).replace(day=1)


# -- the INSERT … SELECT statements ------------------------------------------------------------------


def _fill_sums(bind: Bind, target: Table, period: int | None, *where: ColumnElement[bool]) -> None:
    """Insert the sums of the usage rows matching ``where`` per installation and ``period`` (None: per
    stored hour, which is the hour's own start: an installation at UTC+5:30 has hours starting at :30).

    The rows go in in time order (here and in the other backfills): as ingest appends them hour by hour,
    so the rows of a time window share table pages; in the order of a hash aggregate a dashboard read
    9,000 hourly rows of 1,000 installations from 8,000 PostgreSQL pages."""
    u = USAGE
    at = epoch(u.c.hour, _dialect(bind))
    if period is not None:
        at = (at // period) * period
    keys = (u.c.dealer_id, u.c.cabinet_id, u.c.client_id, u.c.installation_id)
    sums = [func.coalesce(func.sum(func.coalesce(u.c[name], 0)), 0) for name in COUNTERS]
    stmt = select(*keys, at, *sums).where(*where).group_by(*keys, at).order_by(at)
    columns = ["dealer_id", "cabinet_id", "client_id", "installation_id", "at", *COUNTERS]
    bind.execute(insert(target).from_select(columns, stmt))


def fill_weeks(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert the weekly sums of the daily rows matching ``where`` (whole weeks: a week's daily rows are
    all it sums, so ``where`` must take all or none of them)."""
    d = DAILY.c
    week = (d.at // WEEK) * WEEK
    keys = (d.dealer_id, d.cabinet_id, d.client_id, d.installation_id)
    stmt = (
        select(*keys, week, *(func.sum(d[name]) for name in COUNTERS))
        .where(*where)
        .group_by(*keys, week)
        .order_by(week)
    )
    columns = ["dealer_id", "cabinet_id", "client_id", "installation_id", "at", *COUNTERS]
    bind.execute(insert(WEEKLY).from_select(columns, stmt))


def refresh_weeks(bind: Bind, client_id: int, start: int, end: int) -> None:
    """Recompute a client's weekly rows of the weeks that contain days in [start, end) (epoch s) from its
    daily rows (which must be up to date)."""
    lo, hi = start - start % WEEK, _ceil(end, WEEK)
    bind.execute(delete(WEEKLY).where(WEEKLY.c.client_id == client_id, WEEKLY.c.at >= lo, WEEKLY.c.at < hi))
    fill_weeks(bind, DAILY.c.client_id == client_id, DAILY.c.at >= lo, DAILY.c.at < hi)


def _ceil(ts: int, unit: int) -> int:
    return -(-ts // unit) * unit


def _fill_first(bind: Bind, *where: ColumnElement[bool]) -> None:
    """Insert each user's first and last hour with DB requests per month, for the usage rows matching
    ``where``."""
    u = USAGE
    month = month_of(u.c.hour)
    keys = (u.c.dealer_id, u.c.cabinet_id, u.c.client_id, u.c.installation_id, u.c.login)
    at = epoch(u.c.hour, _dialect(bind))
    stmt = (
        select(*keys, month, func.min(at), func.max(at))
        .where(u.c.db_requests > 0, *where)
        .group_by(*keys, month)
        .order_by(month)
    )
    columns = [
        "dealer_id",
        "cabinet_id",
        "client_id",
        "installation_id",
        "login",
        "month",
        "first_at",
        "last_at",
    ]
    bind.execute(insert(FIRST).from_select(columns, stmt))


def _fill_seats(bind: Bind, sessions_where: ColumnElement[bool], reports_where: ColumnElement[bool]) -> None:
    """Insert the sessions count and reg seats per (installation, report time) of the matching rows."""
    s, r = SESSIONS, REPORTS
    per_sessions = (
        select(
            s.c.dealer_id,
            s.c.cabinet_id,
            s.c.client_id,
            s.c.installation_id,
            s.c.report_at.label("t"),
            func.count().label("used"),
            cast(null(), Integer).label("seats"),
        )
        .where(sessions_where)
        .group_by(s.c.dealer_id, s.c.cabinet_id, s.c.client_id, s.c.installation_id, s.c.report_at)
    )
    per_reports = select(
        r.c.dealer_id,
        r.c.cabinet_id,
        r.c.client_id,
        r.c.installation_id,
        r.c.created_at.label("t"),
        literal(0, Integer).label("used"),
        r.c.seats.label("seats"),
    ).where(reports_where, r.c.created_at.is_not(None))
    both = union_all(per_sessions, per_reports).subquery()
    keys = (both.c.dealer_id, both.c.cabinet_id, both.c.client_id, both.c.installation_id, both.c.t)
    stmt = (
        select(*keys, epoch(both.c.t, _dialect(bind)), func.sum(both.c.used), func.max(both.c.seats))
        .group_by(*keys)
        .order_by(both.c.t)
    )
    columns = ["dealer_id", "cabinet_id", "client_id", "installation_id", "report_at", "at", "used", "seats"]
    bind.execute(insert(SEATS).from_select(columns, stmt))


# -- refreshing keys ---------------------------------------------------------------------------------


def refresh_hours(bind: Bind, client_id: int, hours: Iterable[datetime | None]) -> None:
    """Recompute a client's hourly, daily and weekly sums and first-request hours around the given usage
    hours.

    The span from the first to the last hour is recomputed (a report's hours are the last few days, so
    that is all of them), the daily rows of the days it touches, the weekly rows of their weeks (from
    the daily rows), and the first-request rows of its months (a rewritten hour may move a user's first
    request of the month).
    """
    moments = sorted({h.astimezone(UTC) for h in hours if h is not None})
    if not moments:
        return
    u = USAGE
    first_hour, end_hour = _floor(moments[0], HOUR), _floor(moments[-1], HOUR) + timedelta(hours=1)
    first_day, end_day = _floor(moments[0], DAY), _floor(moments[-1], DAY) + timedelta(days=1)
    client = u.c.client_id == client_id
    for table, period, start, end in ((HOURLY, None, first_hour, end_hour), (DAILY, DAY, first_day, end_day)):
        bind.execute(
            delete(table).where(
                table.c.client_id == client_id,
                table.c.at >= int(start.timestamp()),
                table.c.at < int(end.timestamp()),
            )
        )
        _fill_sums(bind, table, period, client, u.c.hour >= start, u.c.hour < end)
    refresh_weeks(bind, client_id, int(first_day.timestamp()), int(end_day.timestamp()))
    _refresh_first(bind, client_id, first_hour, end_hour)


def _refresh_first(bind: Bind, client_id: int, start: datetime, end: datetime) -> None:
    """Bring a client's first/last request hours up to date after its usage rows in [start, end) changed.

    Rows outside the span did not change, so a user's new first hour is the old one when that lies
    before the span, else the span's first (when the span has requests of the user); the last hour
    likewise. Only a user whose stored first or last hour lies in the span and who has no requests in it
    any more needs the month read again. (Recomputing the whole month was 8 ms of a 50 ms hourly report.)
    """
    u = USAGE
    at = epoch(u.c.hour, _dialect(bind))
    lo, hi = int(start.timestamp()), int(end.timestamp())
    month = month_of(u.c.hour)
    keys = (u.c.dealer_id, u.c.cabinet_id, u.c.installation_id, u.c.login)
    span = {
        (inst, login, m): (dealer, cabinet, first, last)
        for dealer, cabinet, inst, login, m, first, last in bind.execute(
            select(*keys, month, func.min(at), func.max(at))
            .where(u.c.client_id == client_id, u.c.hour >= start, u.c.hour < end, u.c.db_requests > 0)
            .group_by(*keys, month)
        )
    }
    months = []
    m = _month_start(start)
    while m < end:
        months.append(f"{m:%Y-%m}")
        m = _next_month(m)
    f = FIRST.c
    stored = {
        (inst, login, mon): (row_id, first, last)
        for row_id, inst, login, mon, first, last in bind.execute(
            select(f.id, f.installation_id, f.login, f.month, f.first_at, f.last_at).where(
                f.client_id == client_id, f.month.in_(months)
            )
        )
    }
    reread: dict[str, set[str]] = {}
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key in stored.keys() | span.keys():
        old, new = stored.get(key), span.get(key)
        if new is None:
            if old is not None and (lo <= old[1] < hi or lo <= old[2] < hi):
                reread.setdefault(key[2], set()).add(key[1])
            continue
        dealer, cabinet, span_first, span_last = new
        if old is None:
            added.append(
                {
                    "dealer_id": dealer,
                    "cabinet_id": cabinet,
                    "client_id": client_id,
                    "installation_id": key[0],
                    "login": key[1],
                    "month": key[2],
                    "first_at": span_first,
                    "last_at": span_last,
                }
            )
            continue
        row_id, first, last = old
        first_at = first if first < lo else span_first
        last_at = last if last >= hi else span_last
        if (first_at, last_at) != (first, last):
            changed.append({"row_id": row_id, "new_first": first_at, "new_last": last_at})
    if added:
        bind.execute(insert(FIRST), added)
    if changed:
        bind.execute(
            update(FIRST)
            .where(f.id == bindparam("row_id"))
            .values(first_at=bindparam("new_first"), last_at=bindparam("new_last")),
            changed,
        )
    for mon, logins in reread.items():
        month_start = datetime.strptime(mon, "%Y-%m").replace(tzinfo=UTC)
        bind.execute(delete(FIRST).where(f.client_id == client_id, f.month == mon, f.login.in_(logins)))
        _fill_first(
            bind,
            u.c.client_id == client_id,
            u.c.login.in_(logins),
            u.c.hour >= month_start,
            u.c.hour < _next_month(month_start),
        )


def refresh_report_times(bind: Bind, client_id: int, times: Iterable[datetime]) -> None:
    """Recompute a client's seat rows at the given report times."""
    moments = sorted({t for t in times if t is not None})
    if not moments:
        return
    bind.execute(delete(SEATS).where(SEATS.c.client_id == client_id, SEATS.c.report_at.in_(moments)))
    _fill_seats(
        bind,
        and_(SESSIONS.c.client_id == client_id, SESSIONS.c.report_at.in_(moments)),
        and_(REPORTS.c.client_id == client_id, REPORTS.c.created_at.in_(moments)),
    )


#: How far from a reprocessed report's time its earlier time can be (a corrected UTC offset).
STALE_WINDOW = timedelta(days=1)


def refresh_report(
    bind: Bind, client_id: int, report_at: datetime, usage_hours: Iterable[datetime | None]
) -> None:
    """After the sysinfo writer stored a report: its usage hours and its seats.

    A reprocessed upload may have been written at another report time before (a corrected time zone):
    the seat rows near this time that no session or report row has any more are recomputed too, which
    removes them.
    """
    refresh_hours(bind, client_id, usage_hours)
    near = (report_at - STALE_WINDOW, report_at + STALE_WINDOW)
    stale = bind.execute(
        select(SEATS.c.report_at).where(
            SEATS.c.client_id == client_id,
            SEATS.c.report_at.between(*near),
            SEATS.c.report_at != report_at,
            SEATS.c.report_at.not_in(
                select(REPORTS.c.created_at).where(
                    REPORTS.c.client_id == client_id, REPORTS.c.created_at.between(*near)
                )
            ),
            SEATS.c.report_at.not_in(
                select(SESSIONS.c.report_at).where(
                    SESSIONS.c.client_id == client_id, SESSIONS.c.report_at.between(*near)
                )
            ),
        )
    ).scalars()
    refresh_report_times(bind, client_id, [report_at, *stale])


# -- the sysinfo writer's short way: rollups changed by what a report changes --------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: PostgreSQL session time zones in which ``month_of`` gives the UTC month (as Python computes it here).
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})
(
    _STATE_USAGE,
    _STATE_HOURLY,
    _STATE_DAILY,
    _STATE_FIRST,
    _STATE_SEATS,
    _STATE_USER_DAY,
    _STATE_USER_MONTH,
    _STATE_SEATS_DAY,
    _STATE_SEATS_FOLD,
    _STATE_WEEKLY,
    _STATE_SEATS_WEEK,
    _STATE_SEATS_WEEK_FOLD,
    _STATE_ZONE,
) = range(13)
_VALUES = len(COUNTERS) + len(PEAKS)  # value columns of the state rows (the per-user counters and peaks)
_V = 9  # the index of the first value column in a state row (after tag, the 7 key columns and flag)


def epoch_of(moment: datetime) -> int:
    """A UTC time as integer epoch seconds, as `epoch` computes it in SQL (whole seconds, floored)."""
    return (moment - _EPOCH) // timedelta(seconds=1)


@functools.cache
def _state_statement(dialect: str, by_login: bool) -> Any:
    """The rows `add_report` starts from, as one query: the stored usage rows at the report's hours
    (with whether the report replaces them: the writer's ``newer`` rule), the client's hourly, daily,
    weekly, first-request and seat rows around them (the daily rows from the first hour's week start: a
    missing weekly row with daily rows in its week is a gap the re-sum must repair; the daily seats of the
    report's week, folded, less its day), and on PostgreSQL the session's time zone."""
    u, h, d, f, s = USAGE, HOURLY, DAILY, FIRST, SEATS
    client = bindparam("rs_client", type_=BigInteger)
    created = bindparam("rs_created", type_=u.c.report_at.type)
    lo, hi, day_lo, week_lo = (
        bindparam(n, type_=BigInteger) for n in ("rs_lo", "rs_hi", "rs_day_lo", "rs_week_lo")
    )
    no_int, no_str = cast(null(), BigInteger), cast(null(), String)

    def one_of(column: Any, name: str) -> ColumnElement[bool]:
        """``column`` is one of the list parameter ``name``: on PostgreSQL ``= ANY`` of one array parameter,
        so that the statement's text does not change with the list's length (psycopg then parses the
        45 KB batch it rides in once, not per report, and the server can keep it prepared); on SQLite
        ``IN`` with a placeholder per value."""
        if dialect == "postgresql":
            same: ColumnElement[bool] = column == any_(bindparam(name, type_=ARRAY(column.type)))
            return same
        listed: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))
        return listed

    def logins(column: Any) -> ColumnElement[bool]:
        """With ``by_login``: only the rows of the report's users."""
        return one_of(column, "rs_logins") if by_login else true()

    def part(tag: int, *columns: Any, values: Iterable[Any] = ()) -> Any:
        names = ("id", "dealer_id", "cabinet_id", "installation_id", "at", "login", "month", "flag")
        vals = list(values)
        vals += [no_int] * (_VALUES - len(vals))
        return select(
            literal(tag, Integer).label("tag"),
            *[c.label(n) for c, n in zip(columns, names, strict=True)],
            *[v.label(f"v{i}") for i, v in enumerate(vals)],
        )

    parts = [
        part(
            _STATE_USAGE,
            u.c.id,
            u.c.dealer_id,
            u.c.cabinet_id,
            u.c.installation_id,
            epoch(u.c.hour, dialect),
            u.c.login,
            month_of(u.c.hour),
            case((u.c.report_at <= created, 1), else_=0),
            values=[cast(u.c[n], BigInteger) for n in COUNTERS],
        ).where(u.c.client_id == client, one_of(u.c.hour, "rs_hours")),
    ]
    for tag, table, start in (
        (_STATE_HOURLY, h, lo),
        (_STATE_DAILY, d, week_lo),
        (_STATE_WEEKLY, WEEKLY, week_lo),
    ):
        parts.append(
            part(
                tag,
                table.c.id,
                table.c.dealer_id,
                table.c.cabinet_id,
                table.c.installation_id,
                table.c.at,
                no_str,
                no_str,
                no_int,
                values=[table.c[n] for n in COUNTERS],
            ).where(table.c.client_id == client, table.c.at >= start, table.c.at <= hi)
        )
    parts.append(
        part(
            _STATE_FIRST,
            f.c.id,
            f.c.dealer_id,
            f.c.cabinet_id,
            f.c.installation_id,
            no_int,
            f.c.login,
            cast(f.c.month, String),
            no_int,
            values=[f.c.first_at, f.c.last_at],
        ).where(
            f.c.client_id == client,
            f.c.month >= bindparam("rs_month_lo", type_=String),
            f.c.month <= bindparam("rs_month_hi", type_=String),
            logins(f.c.login),
        )
    )
    parts.append(
        part(
            _STATE_SEATS,
            s.c.id,
            s.c.dealer_id,
            s.c.cabinet_id,
            s.c.installation_id,
            s.c.at,
            no_str,
            no_str,
            no_int,
            values=[cast(s.c.used, BigInteger), cast(s.c.seats, BigInteger)],
        ).where(s.c.client_id == client, s.c.report_at == created)
    )
    for tag, table in ((_STATE_USER_DAY, USER_DAILY), (_STATE_USER_MONTH, USER_MONTHLY)):
        monthly = table is USER_MONTHLY
        parts.append(
            part(
                tag,
                table.c.id,
                table.c.dealer_id,
                table.c.cabinet_id,
                table.c.installation_id,
                no_int if monthly else table.c.at,
                table.c.login,
                cast(table.c.month, String) if monthly else no_str,
                no_int,
                values=[table.c[n] for n in (*COUNTERS, *PEAKS)],
            ).where(
                table.c.client_id == client,
                *(
                    (
                        table.c.month >= bindparam("rs_month_lo", type_=String),
                        table.c.month <= bindparam("rs_month_hi", type_=String),
                    )
                    if monthly
                    else (table.c.at >= day_lo, table.c.at <= hi)
                ),
                logins(table.c.login),
            )
        )
    sd = SEATS_DAILY
    seat_day = bindparam("rs_seat_day", type_=BigInteger)
    parts.append(
        part(
            _STATE_SEATS_DAY,
            sd.c.id,
            sd.c.dealer_id,
            sd.c.cabinet_id,
            sd.c.installation_id,
            sd.c.at,
            no_str,
            no_str,
            no_int,
            values=[cast(sd.c[n], BigInteger) for n in ("used_max", "used_min", "seats_max")],
        ).where(sd.c.client_id == client, sd.c.at == seat_day)
    )
    taken = cast(case((s.c.used > 0, s.c.used)), BigInteger)
    parts.append(
        part(
            _STATE_SEATS_FOLD,
            no_int,
            s.c.dealer_id,
            s.c.cabinet_id,
            s.c.installation_id,
            no_int,
            no_str,
            no_str,
            cast(func.count(), BigInteger),
            values=[func.max(taken), func.min(taken), func.max(cast(s.c.seats, BigInteger))],
        )
        .where(
            s.c.client_id == client,
            s.c.at >= seat_day,
            s.c.at < seat_day + DAY,
            s.c.report_at != created,
        )
        .group_by(s.c.dealer_id, s.c.cabinet_id, s.c.installation_id)
    )
    sw = SEATS_WEEKLY
    seat_week = bindparam("rs_seat_week", type_=BigInteger)
    parts.append(
        part(
            _STATE_SEATS_WEEK,
            sw.c.id,
            sw.c.dealer_id,
            sw.c.cabinet_id,
            sw.c.installation_id,
            sw.c.at,
            no_str,
            no_str,
            no_int,
            values=[cast(sw.c[n], BigInteger) for n in ("used_max", "used_min", "seats_max")],
        ).where(sw.c.client_id == client, sw.c.at == seat_week)
    )
    parts.append(
        part(
            _STATE_SEATS_WEEK_FOLD,
            no_int,
            sd.c.dealer_id,
            sd.c.cabinet_id,
            sd.c.installation_id,
            no_int,
            no_str,
            no_str,
            cast(func.count(), BigInteger),
            values=[
                func.max(cast(sd.c.used_max, BigInteger)),
                func.min(cast(sd.c.used_min, BigInteger)),
                func.max(cast(sd.c.seats_max, BigInteger)),
            ],
        )
        .where(
            sd.c.client_id == client,
            sd.c.at >= seat_week,
            sd.c.at < seat_week + WEEK,
            sd.c.at != seat_day,
        )
        .group_by(sd.c.dealer_id, sd.c.cabinet_id, sd.c.installation_id)
    )
    if dialect == "postgresql":
        zone = func.current_setting("TimeZone", type_=String)
        parts.append(part(_STATE_ZONE, *([no_int] * 5), zone, no_str, no_int))
    return union_all(*parts)


def report_state(
    bind: Bind,
    client_id: int,
    created: datetime,
    hours: Iterable[datetime],
    logins: Iterable[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The query `add_report` needs, to be run as the database was before the report's rows are written
    (`writers.Batch.flush` ``read``), for the report's usage hours (and ``logins``: its rows' users, to
    read fewer per-user rows; None: all)."""
    moments = sorted({h.astimezone(UTC) for h in hours})
    at = epoch_of(created)
    params: dict[str, Any] = {
        "rs_client": client_id,
        "rs_created": created,
        "rs_hours": moments,
        "rs_seat_day": at - at % DAY,
        "rs_seat_week": at - at % WEEK,
    }
    if moments:
        first, last = epoch_of(moments[0]), epoch_of(moments[-1])
        months = f"{moments[0]:%Y-%m}", f"{moments[-1]:%Y-%m}"
    else:  # empty ranges
        first, last, months = 1, 0, ("9", "0")
    params.update(
        rs_lo=first,
        rs_hi=last,
        rs_day_lo=first - first % DAY,
        rs_week_lo=first - first % WEEK,
        rs_month_lo=months[0],
        rs_month_hi=months[1],
    )
    if logins is not None:  # the per-user rows of the report's users only (else of all)
        params["rs_logins"] = sorted(set(logins))
    return _state_statement(_dialect(bind), logins is not None), params


@dataclass(frozen=True, slots=True)
class ReportRows:
    """What the sysinfo writer writes for one report, as the rollups see it."""

    client_id: int
    created: datetime
    #: The usage rows (as given to the upsert: one per hour and login, strings fitted).
    usage: list[dict[str, Any]]
    #: The key the report row and its sessions are written under.
    dealer_id: int
    cabinet_id: int
    installation_id: int | None
    sessions: int
    seats: int | None


class _Decline(Exception):
    """The short way would not give what the re-sum gives: take the general way."""


def add_report(bind: Session, rows: ReportRows, state: Iterable[Any]) -> bool:
    """Bring the rollups up to date after a report's first processing wrote ``rows``, from ``state``
    (`report_state`'s rows, read before the writes): this module's, the per-user (`user_rollup`) and the
    daily seats (`seats_rollup`) ones. False, with nothing written, when the general `refresh_report`s
    must do it instead."""
    try:
        writes, user_writes = _report_writes(rows, list(state))
    except _Decline:
        return False
    if user_writes is None:
        return False
    _write(bind, writes + user_writes)
    return True


def add_report_parts(bind: Session, rows: ReportRows, state: Iterable[Any]) -> tuple[bool, bool]:
    """`add_report`, except that the per-user rollups may decline on their own (a replaced hour whose
    value may have been a peak): (whether this module's and the daily seats rollups were brought up to
    date, whether the per-user ones were). What was not must be re-summed (`refresh_report`s)."""
    try:
        writes, user_writes = _report_writes(rows, list(state))
    except _Decline:
        return False, False
    _write(bind, writes + (user_writes or []))
    return True, user_writes is not None


def _write(bind: Session, writes: list[tuple[Table, str, list[dict[str, Any]]]]) -> None:
    """The rollup writes, as one statement on PostgreSQL."""
    batch = Batch()
    for table, kind, values in writes:
        if kind == "update":
            batch.update(table, values)
        else:
            batch.write(table, values)
    batch.flush(bind)


_Key = tuple[Any, ...]


_Writes = list[tuple[Table, str, list[dict[str, Any]]]]


def _report_writes(rows: ReportRows, state: list[Any]) -> tuple[_Writes, _Writes | None]:
    """The writes of the installation and seats rollups, and of the per-user ones (None: those must be
    re-summed). `_Decline`: all must be."""
    stored: dict[int, dict[_Key, Any]] = {tag: {} for tag in range(_STATE_ZONE)}
    for row in state:
        tag, _, dealer, cabinet, installation, at, login, month = row[:8]
        if tag == _STATE_ZONE:
            if login not in _UTC_ZONES:
                raise _Decline
            continue
        if tag == _STATE_USAGE:
            key: _Key = (at, login)
        elif tag in (_STATE_FIRST, _STATE_USER_MONTH):
            key = (dealer, cabinet, installation, login, month)
        elif tag == _STATE_USER_DAY:
            key = (dealer, cabinet, installation, login, at)
        elif tag in (_STATE_SEATS_FOLD, _STATE_SEATS_WEEK_FOLD):
            key = (dealer, cabinet, installation)
        else:
            key = (dealer, cabinet, installation, at)
        by_key = stored[tag]
        if key in by_key:
            raise _Decline  # two rows for one key: not what the re-sum writes
        by_key[key] = row
    hours: dict[_Key, list[int]] = {}
    days: dict[_Key, list[int]] = {}
    weeks: dict[_Key, list[int]] = {}
    had: set[_Key] = set()  # rollup keys that had facts before: their rows must be there
    span: dict[_Key, list[int]] = {}
    users = _UserSums()
    for new in rows.usage:
        at = epoch_of(new["hour"])
        group = (new["dealer_id"], new["cabinet_id"], new["installation_id"])
        values = [new[n] or 0 for n in COUNTERS]
        old = stored[_STATE_USAGE].get((at, new["login"]))
        hour_key, day_key, week_key = (*group, at), (*group, at - at % DAY), (*group, at - at % WEEK)
        month = f"{new['hour'].astimezone(UTC):%Y-%m}"
        user_keys = ((*group, new["login"], at - at % DAY), (*group, new["login"], month))
        before: list[int] | None = None
        if old is not None:
            if not old.flag:
                continue  # the stored row is from a newer report: it stays
            if (old.dealer_id, old.cabinet_id, old.installation_id) != group:
                raise _Decline
            before = [v or 0 for v in old[_V : _V + len(COUNTERS)]]
            if before[0] > 0:
                if not values[0] > 0:
                    raise _Decline  # the month's first/last request may move elsewhere
                had.add((*group, new["login"], month))
            had.update((hour_key, day_key, week_key, *user_keys))
        users.add(user_keys, values, before)
        if before is not None:
            values = [v - b for v, b in zip(values, before, strict=True)]
        for sums, key in ((hours, hour_key), (days, day_key), (weeks, week_key)):
            total = sums.setdefault(key, [0] * len(COUNTERS))
            for i, v in enumerate(values):
                total[i] += v
        if (new["db_requests"] or 0) > 0:
            month_key = (*group, new["login"], f"{new['hour'].astimezone(UTC):%Y-%m}")
            bounds = span.setdefault(month_key, [at, at])
            bounds[0], bounds[1] = min(bounds[0], at), max(bounds[1], at)
    stored_days = stored[_STATE_DAILY]
    for key in weeks:
        if key not in stored[_STATE_WEEKLY] and any(
            day[:3] == key[:3] and key[3] <= day[3] < key[3] + WEEK for day in stored_days
        ):
            raise _Decline  # daily rows without their week's row: let the re-sum repair it
    writes = [
        *_sum_writes(HOURLY, rows.client_id, hours, stored[_STATE_HOURLY], had),
        *_sum_writes(DAILY, rows.client_id, days, stored_days, had),
        *_sum_writes(WEEKLY, rows.client_id, weeks, stored[_STATE_WEEKLY], had),
        *_first_writes(rows.client_id, span, stored[_STATE_FIRST], had),
        *_seat_writes(rows, stored),
    ]
    try:
        user_writes: _Writes | None = [
            *users.writes(USER_DAILY, 0, rows.client_id, stored[_STATE_USER_DAY], had),
            *users.writes(USER_MONTHLY, 1, rows.client_id, stored[_STATE_USER_MONTH], had),
        ]
    except _Decline:
        user_writes = None
    return writes, user_writes


#: For each peak column, the indexes in ``COUNTERS`` of the counters it sums.
_PEAK_PARTS = [[COUNTERS.index(n) for n in fields] for fields in PEAKS.values()]
assert COUNTERS == USER_COUNTERS  # the usage state rows carry both tables' counters


def _peaks(values: list[int]) -> list[int]:
    """A usage row's peak expressions (`user_rollup`'s, NULL counting as 0) from its counters."""
    return [sum(values[i] for i in parts) for parts in _PEAK_PARTS]


class _UserSums:
    """What a report's usage rows change in the per-user daily and monthly rows (`user_rollup`): the
    counters by the new rows minus the replaced ones, the peaks to the larger of the stored and the new
    hourly values. A replaced hour whose value goes down may have been the peak: those values are kept,
    and the row is re-summed (`_Decline`) if the stored peak is not above them."""

    def __init__(self) -> None:
        #: [day or month][user key] -> [counter deltas, new peaks, replaced peak values that went down]
        self.rows: tuple[dict[_Key, list[list[Any]]], dict[_Key, list[list[Any]]]] = ({}, {})

    def add(self, keys: tuple[_Key, _Key], values: list[int], before: list[int] | None) -> None:
        new_peaks = _peaks(values)
        old_peaks = _peaks(before) if before is not None else None
        for rows, key in zip(self.rows, keys, strict=True):
            row = rows.get(key)
            if row is None:
                row = rows[key] = [[0] * len(values), list(new_peaks), [None] * len(new_peaks)]
            sums, peaks, lowered = row
            for i, v in enumerate(values):
                sums[i] += v - (before[i] if before is not None else 0)
            for i, p in enumerate(new_peaks):
                peaks[i] = max(peaks[i], p)
                if old_peaks is not None and old_peaks[i] > p:
                    lowered[i] = _fold(max, lowered[i], old_peaks[i])

    def writes(
        self, table: Table, which: int, client_id: int, stored: dict[_Key, Any], had: set[_Key]
    ) -> list[tuple[Table, str, list[dict[str, Any]]]]:
        """The daily (``which`` 0) or monthly (1) rows changed, and the new ones."""
        names = (*COUNTERS, *PEAKS)
        period = "at" if which == 0 else "month"
        updates, inserts = [], []
        for key, (sums, peaks, lowered) in self.rows[which].items():
            row = stored.get(key)
            if row is None:
                if key in had:
                    raise _Decline  # facts without their rollup row: let the re-sum repair it
                dealer, cabinet, installation, login, at = key
                values = dict(zip(names, [*sums, *peaks], strict=True))
                inserts.append(
                    {
                        "dealer_id": dealer,
                        "cabinet_id": cabinet,
                        "client_id": client_id,
                        "installation_id": installation,
                        "login": login,
                        period: at,
                        **values,
                    }
                )
                continue
            stored_values = list(row[_V : _V + len(names)])
            old_sums, old_peaks = stored_values[: len(sums)], stored_values[len(sums) :]
            if any(low is not None and low >= old for low, old in zip(lowered, old_peaks, strict=True)):
                raise _Decline  # the peak may have been the replaced value
            new_values = [*(o + d for o, d in zip(old_sums, sums, strict=True))]
            new_values += [max(o, p) for o, p in zip(old_peaks, peaks, strict=True)]
            if new_values != stored_values:
                updates.append({"id": row.id, **dict(zip(names, new_values, strict=True))})
        return _as_writes(table, updates, inserts)


def _sum_writes(
    table: Table, client_id: int, sums: dict[_Key, list[int]], stored: dict[_Key, Any], had: set[_Key]
) -> list[tuple[Table, str, list[dict[str, Any]]]]:
    """The hourly, daily or weekly rows with the sums changed by ``sums``, and the new ones."""
    updates, inserts = [], []
    for key, delta in sums.items():
        row = stored.get(key)
        if row is None:
            if key in had:
                raise _Decline  # facts without their rollup row: let the re-sum repair it
            dealer, cabinet, installation, at = key
            inserts.append(
                {
                    "dealer_id": dealer,
                    "cabinet_id": cabinet,
                    "client_id": client_id,
                    "installation_id": installation,
                    "at": at,
                    **dict(zip(COUNTERS, delta, strict=True)),
                }
            )
        elif any(delta):
            values = [v + d for v, d in zip(row[_V : _V + len(delta)], delta, strict=True)]
            updates.append({"id": row.id, **dict(zip(COUNTERS, values, strict=True))})
    return _as_writes(table, updates, inserts)


def _first_writes(
    client_id: int, span: dict[_Key, list[int]], stored: dict[_Key, Any], had: set[_Key]
) -> list[tuple[Table, str, list[dict[str, Any]]]]:
    """First/last request rows: the earlier first and the later last of the stored and the new hours."""
    updates, inserts = [], []
    for key, (first, last) in span.items():
        row = stored.get(key)
        if row is None:
            if key in had:
                raise _Decline
            dealer, cabinet, installation, login, month = key
            inserts.append(
                {
                    "dealer_id": dealer,
                    "cabinet_id": cabinet,
                    "client_id": client_id,
                    "installation_id": installation,
                    "login": login,
                    "month": month,
                    "first_at": first,
                    "last_at": last,
                }
            )
        elif first < row.v0 or last > row.v1:
            updates.append({"id": row.id, "first_at": min(first, row.v0), "last_at": max(last, row.v1)})
    return _as_writes(FIRST, updates, inserts)


def _seat_writes(rows: ReportRows, state: dict[int, dict[_Key, Any]]) -> _Writes:
    """The seat row of the report's time: its sessions added, the larger reg-file seat count; the daily
    seats row (`seats_rollup`) of its day: the day's other seat rows (as read before the writes) folded
    with that one; and the weekly seats row of its week: the week's other daily rows folded with that
    day's."""
    at = epoch_of(rows.created)
    group = (rows.dealer_id, rows.cabinet_id, rows.installation_id)
    row = state[_STATE_SEATS].get((*group, at))
    writes = []
    if row is None:
        used, seats = rows.sessions, rows.seats
        values = {
            "dealer_id": rows.dealer_id,
            "cabinet_id": rows.cabinet_id,
            "client_id": rows.client_id,
            "installation_id": rows.installation_id,
            "report_at": rows.created,
            "at": at,
            "used": used,
            "seats": seats,
        }
        writes = _as_writes(SEATS, [], [values])
    else:
        used = row.v0 + rows.sessions
        seats = row.v1 if rows.seats is None else rows.seats if row.v1 is None else max(row.v1, rows.seats)
        if rows.sessions != 0 or seats != row.v1:
            writes = _as_writes(SEATS, [{"id": row.id, "used": used, "seats": seats}], [])
    taken = used if used is not None and used > 0 else None
    day, week = at - at % DAY, at - at % WEEK
    day_writes, folded = _seat_fold_writes(
        rows,
        SEATS_DAILY,
        day,
        state[_STATE_SEATS_FOLD].get(group),
        state[_STATE_SEATS_DAY].get((*group, day)),
        [taken, taken, seats],
    )
    if state[_STATE_SEATS_WEEK].get((*group, week)) is None and state[_STATE_SEATS_DAY].get((*group, day)):
        raise _Decline  # a daily seats row without its week's row: let the re-fold repair it
    week_writes, _ = _seat_fold_writes(
        rows,
        SEATS_WEEKLY,
        week,
        state[_STATE_SEATS_WEEK_FOLD].get(group),
        state[_STATE_SEATS_WEEK].get((*group, week)),
        folded,
    )
    return writes + day_writes + week_writes


def _seat_fold_writes(
    rows: ReportRows, table: Table, at: int, others: Any, stored: Any, new: list[int | None]
) -> tuple[_Writes, list[int | None]]:
    """The daily (weekly) seats row of the report's installation and day (week), as `seats_rollup` folds
    the seat (daily) rows: ``others``, the period's other rows folded (None: none), with ``new``, the
    report's (its day's) [used_max, used_min, seats_max]. Also the folded values."""
    picks = (max, min, max)
    folded = [
        _fold(pick, others[_V + i] if others is not None else None, value)
        for i, (pick, value) in enumerate(zip(picks, new, strict=True))
    ]
    names = ("used_max", "used_min", "seats_max")
    if stored is None:
        if others is not None:
            raise _Decline  # rows without their period's row: let the re-fold repair it
        values = {
            "dealer_id": rows.dealer_id,
            "cabinet_id": rows.cabinet_id,
            "client_id": rows.client_id,
            "installation_id": rows.installation_id,
            "at": at,
            **dict(zip(names, folded, strict=True)),
        }
        return _as_writes(table, [], [values]), folded
    if folded == [stored.v0, stored.v1, stored.v2]:
        return [], folded
    return _as_writes(table, [{"id": stored.id, **dict(zip(names, folded, strict=True))}], []), folded


def _fold(pick: Any, a: int | None, b: int | None) -> int | None:
    """``pick`` (max or min) of two values, ignoring NULLs, as the SQL aggregate does."""
    if a is None:
        return b
    return a if b is None else int(pick(a, b))


def _as_writes(
    table: Table, updates: list[dict[str, Any]], inserts: list[dict[str, Any]]
) -> list[tuple[Table, str, list[dict[str, Any]]]]:
    return [(table, kind, rows) for kind, rows in (("update", updates), ("insert", inserts)) if rows]


# -- whole-table maintenance -------------------------------------------------------------------------


def backfill(bind: Bind) -> None:
    """Rebuild every rollup from the stored facts (migration 0013, bulk-loaded benchmark stores); the
    weekly one when it exists (migration 0013 runs this before 0018 creates it)."""
    weeks = has_table(bind, WEEKLY)
    for table in (HOURLY, DAILY, *((WEEKLY,) if weeks else ()), FIRST, SEATS):
        bind.execute(delete(table))
    _fill_sums(bind, HOURLY, None)
    _fill_sums(bind, DAILY, DAY)
    if weeks:
        fill_weeks(bind)
    _fill_first(bind)
    _fill_seats(bind, true(), true())


#: Seat rows this far after the retention cutoff are recomputed: an upload received before the cutoff
#: (deleted with its sessions) can carry a report time a little after it.
SEATS_SLACK = timedelta(days=2)


def prune(db: Database, cutoff: datetime) -> dict[str, int]:
    """After retention deleted the facts older than ``cutoff``: drop the rollups of what is gone and
    recompute the ones that straddle the cutoff (its day, its week, its month, report times just after it).

    One transaction: the rows it touches are about a day of facts (a month for the first requests)."""
    with db.write() as session:
        return _prune(session, cutoff)


def has_table(bind: Bind, table: Table) -> bool:
    """Whether ``table`` exists in the database (the backfills of migrations older than the table)."""
    conn = bind.connection() if isinstance(bind, Session) else bind
    return bool(inspect(conn).has_table(table.name))


def _prune(bind: Bind, cutoff: datetime) -> dict[str, int]:
    u = USAGE
    cut = cutoff.astimezone(UTC)
    day = _floor(cut, DAY)
    month = _month_start(cut)
    deleted: dict[str, int] = {}

    def count(stmt: Any) -> int:
        return int(bind.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]

    deleted[HOURLY.name] = count(delete(HOURLY).where(HOURLY.c.at < int(cut.timestamp())))
    deleted[DAILY.name] = count(delete(DAILY).where(DAILY.c.at <= int(day.timestamp())))
    _fill_sums(bind, DAILY, DAY, u.c.hour >= day, u.c.hour < day + timedelta(days=1))
    week = int(day.timestamp()) // WEEK * WEEK
    deleted[WEEKLY.name] = count(delete(WEEKLY).where(WEEKLY.c.at <= week))
    fill_weeks(bind, DAILY.c.at >= week, DAILY.c.at < week + WEEK)
    deleted[FIRST.name] = count(delete(FIRST).where(FIRST.c.month <= f"{month:%Y-%m}"))
    _fill_first(bind, u.c.hour >= month, u.c.hour < _next_month(month))
    deleted[SEATS.name] = count(delete(SEATS).where(SEATS.c.report_at < cut + SEATS_SLACK))
    _fill_seats(
        bind,
        SESSIONS.c.report_at < cut + SEATS_SLACK,
        REPORTS.c.created_at < cut + SEATS_SLACK,
    )
    return deleted


# -- ORM writes (kodeks_smart.ingest.rollup_hooks) ---------------------------------------------------


def _orm_keys(obj: Any) -> list[tuple[tuple[str, int], list[datetime]]]:
    """The (kind, client) keys and hours / report times a flushed ORM fact object touches."""
    if isinstance(obj, SysinfoUsageHour):
        kind, name = "hours", "hour"
    elif isinstance(obj, SysinfoSession):
        kind, name = "seats", "report_at"
    elif isinstance(obj, SysinfoReportRow):
        kind, name = "seats", "created_at"
    else:
        return []
    moments = rollup_hooks.values(obj, name)
    return [((kind, client_id), moments) for client_id in rollup_hooks.values(obj, "client_id")]


def _orm_refresh(session: Session, key: tuple[str, int], moments: set[Any]) -> None:
    kind, client_id = key
    if kind == "hours":
        refresh_hours(session, client_id, moments)
    else:
        refresh_report_times(session, client_id, moments)


rollup_hooks.register("usage", 0, _orm_keys, _orm_refresh)


__all__ = [
    "ReportRows",
    "add_report",
    "add_report_parts",
    "backfill",
    "epoch",
    "fill_weeks",
    "has_table",
    "month_of",
    "prune",
    "refresh_hours",
    "refresh_report",
    "refresh_report_times",
    "refresh_weeks",
    "report_state",
]
