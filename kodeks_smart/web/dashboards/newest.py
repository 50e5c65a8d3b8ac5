"""«The newest row of each installation (or client) up to the end of the range», cheap at long ranges.

Several dashboards show the state of the newest sysinfo report of the range (disk volumes, versions,
connected users). The plain query — ``max(time)`` grouped per installation over the whole range — reads
every report of the range: 396,000 reports for 1,000 installations and 13 months, about 0.3 s on SQLite.
Agents report hourly or daily, so the newest report nearly always lies in the last day: the first query
looks only at the last `RECENT` of the range and the second, over the rest of the range, runs only for the
clients that had nothing recent (usually none). The result is the same as the plain query's: whatever the
first query found is newer than anything before its window. The window was three days until a benchmark
store with hourly reports showed that its 72 reports per installation cost «Для менеджеров» 65 ms on SQLite
(one day: 24 reports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute

from kodeks_smart.store.ingest_models import SysinfoReportRow
from kodeks_smart.web.dashboards.framework import Targets, View, ids_in

#: The first look-up's window at the end of the range.
RECENT = timedelta(days=1)

T = TypeVar("T")


def in_two_steps(
    start: datetime,
    end: datetime,
    clients: Iterable[int],
    query: Callable[[datetime, datetime, list[int]], list[T]],
    key: Callable[[T], Any],
    client_of: Callable[[T], int],
    wanted: Callable[[list[T]], set[int]] | None = None,
    recent: timedelta = RECENT,
) -> list[T]:
    """Run ``query(from, to, client ids)`` for the last ``recent`` of ``[start, end)`` and, for the clients
    with nothing there, again for the rest of the range; rows of the second run whose ``key`` the first
    run already has are dropped. ``query`` must return the newest rows per key within its window.

    ``wanted`` (optional) gives the clients that still miss something after the first run, for callers
    whose key is finer than the client (an installation of a client may be silent while another reports).
    """
    chosen = sorted(set(clients))
    split = max(start, end - recent)
    first = query(split, end, chosen)
    if split <= start:
        return first
    if wanted is not None:
        missing = sorted(wanted(first))
    else:
        found = {client_of(row) for row in first}
        missing = [c for c in chosen if c not in found]
    if not missing:
        return first
    have = {key(row) for row in first}
    return first + [row for row in query(start, split, missing) if key(row) not in have]


def newest_reports(view: View, targets: Targets, lookback: timedelta) -> dict[int, SysinfoReportRow]:
    """The newest report of each chosen installation in ``[min(start, end − lookback), end)`` (pages pass
    `usage.REPORT_LOOKBACK`), found in two steps: the same rows as the plain ``max(created_at)`` per
    installation over that window."""
    return _newest(view, targets, lookback, select(SysinfoReportRow), lambda q: list(view.db.scalars(q)))


def newest_report_values(
    view: View, targets: Targets, lookback: timedelta, *columns: InstrumentedAttribute[Any]
) -> dict[int, Row[Any]]:
    """`newest_reports` as rows of ``columns`` (with ``client_id`` and ``installation_id``), for a page that
    needs a few of a report's fields: 1,000 report objects with their JSON and time columns decoded cost
    the 13-month «Для менеджеров» about 24 ms more CPU than rows of three fields (SQLite; see
    docs/dashboards.md)."""
    r = SysinfoReportRow
    what = select(r.client_id, r.installation_id, *columns)
    return _newest(view, targets, lookback, what, lambda q: list(view.db.execute(q)))


R = TypeVar("R", SysinfoReportRow, Row[Any])


def _newest(
    view: View,
    targets: Targets,
    lookback: timedelta,
    what: Select[Any],
    fetch: Callable[[Select[Any]], list[R]],
) -> dict[int, R]:
    """The two-step look-up of `newest_reports`: ``fetch`` runs ``what`` (a select of report columns or
    objects) joined to the newest report of each installation in a window."""
    r = SysinfoReportRow
    end = view.time.end
    since = min(view.time.start, end - lookback)
    chosen_ids = {t.id for t in targets.chosen}

    def query(a: datetime, b: datetime, clients: list[int]) -> list[R]:
        narrow: ColumnElement[bool] = ids_in(r.client_id, clients)
        if targets.filtered:
            narrow = narrow & ids_in(r.installation_id, sorted(chosen_ids))
        window = (view.tenant.scope.condition(r), r.created_at >= a, r.created_at < b, narrow)
        newest = (
            select(r.client_id, r.installation_id, func.max(r.created_at).label("at"))
            .where(*window)
            .group_by(r.client_id, r.installation_id)
            .subquery()
        )

        # The outer rows are narrowed to the same window, which the join implies: without it
        # PostgreSQL, expecting one joined row, read every report of the cabinet (0.2 s) instead of
        # the window's few through the (client_id, created_at) index.
        joined = what.join(
            newest,
            and_(
                newest.c.client_id == r.client_id,
                newest.c.at == r.created_at,
                newest.c.installation_id == r.installation_id,
            ),
        ).where(*window)
        return fetch(joined)

    def still_missing(first: list[R]) -> set[int]:
        found = {row.installation_id for row in first}
        return {t.client_id for t in targets.chosen if t.id not in found}

    rows = in_two_steps(
        since,
        end,
        (t.client_id for t in targets.chosen),
        query,
        key=lambda row: row.installation_id,
        client_of=lambda row: row.client_id,
        wanted=still_missing,
    )
    return {row.installation_id: row for row in rows if row.installation_id is not None}
