"""The dashboard framework: time range, filters, panels (charts and tables), rendering and export.

How to add a dashboard (developer note)
=======================================

1. Create ``kodeks_smart/web/dashboards/<name>.py`` and write one function decorated with `dashboard`::

       from kodeks_smart.web.dashboards.framework import Chart, Table, View, dashboard, points_by
       from kodeks_smart.web.tables import Column

       @dashboard("db-errors", "Ошибки БД", default_range="30d")
       def db_errors(view: View) -> list[Panel]:
           targets = view.targets()                      # filters «Менеджер», «Клиент», «host»
           status = view.multi("status", "Статус", ["ok", "fail"])   # any extra multi-select filter
           stmt = view.tenant.select(SysinfoDbError, view.in_range(SysinfoDbError.report_at),
                                     targets.where(SysinfoDbError.installation_id))
           rows = view.db.scalars(stmt)
           ...
           return [Chart("errors", "Ошибки", series=[...]), Table("list", "Список", COLUMNS, rows)]

   * the URL is ``/c/{cabinet_id}/d/<slug>``; the function gets a `View` and returns the panels in order;
   * every read goes through ``view.tenant`` (the cabinet's scope) — never ``select()`` on a tenant model
     directly; `Targets.where` narrows to the filtered installations (or clients, `Targets.where_client`);
   * ``view.time`` is the chosen `TimeRange` (``start``, ``end``, ``step`` seconds per chart point,
     ``rollups`` True when hourly rollups should be read instead of raw samples); ``view.in_range(col)``
     is the WHERE clause; ``bucket(col, view)`` is the SQL expression of a chart point's time (epoch s)
     for GROUP BY in SQL on SQLite and PostgreSQL;
   * a filter's options come from the cabinet's data; default is «Все» (nothing selected = all);
     ``filter.allows(value)`` / ``filter.selected``; ``view.single(key, label, options)`` is a
     single-value filter (no «Все»; the first option by default), ``view.targets(single_client=True)``
     makes «Клиент» one (the original shows one client at a time, e.g. «MS AD»);
   * `Chart` kinds: ``line``, ``area``, ``bar``, ``stacked``, ``step``, ``points``; series points are
     ``(epoch seconds, value)``; `Series` stats (min/max/last/mean) go into the legend; charts with more
     than `MAX_SERIES` series keep the largest and say so;
   * a `Table` panel is sortable, paginated and exportable: ``?table=<name>&export=csv|xlsx``;
   * `Stat` is a single number;
   * ``@dashboard(..., max_range=timedelta(days=93))`` cuts longer ranges (with a notice on the page).

2. Import the module in ``kodeks_smart/web/dashboards/__init__.py`` (that registers the route) and add a
   ``NavEntry(<section>, "<title>", "d/<slug>", dashboard=True)`` to ``kodeks_smart/web/nav.py``.
3. Tests: ``tests/web/test_dashboards_<name>.py`` (see ``tests/web/test_dashboards.py`` for the helpers
   that log in, open a dashboard and read a chart's JSON), a section in ``docs/user-guide-ru.md`` and
   a line in ``bench/web.py``'s list (it takes every registered dashboard automatically).
4. Speed: every dashboard must render in < 500 ms for 1,000 installations and 13 months
   (``bench/web.py --ranges default,13M``). What it took so far (docs/dashboards.md «Speed»):

   * select the needed columns, not ORM objects, when a query returns thousands of rows (an object costs
     ~10 µs to build, a JSON column's decoding more);
   * look rows up in ``targets.by_id`` (cached) rather than rebuilding dicts per row;
   * «newest report per installation» in two steps (`kodeks_smart.web.dashboards.newest`): the last
     days first, the rest of the range only for whom nothing was found;
   * a chart point of whole days reads daily rollups (``metric_rollups_daily``) for the whole days;
   * the independent parts of a heavy page built at the same time on helper threads, each with a session
     of its own (`kodeks_smart.web.dashboards.concurrent.build_concurrently`; a part gets the view to read
     through and returns plain data — no ORM objects of a helper's session, no filters declared);
   * per-point Python loops over 1,000 installations work on integers (rolling availability on
     microseconds), with the same values as the plain computation — and a test that says so.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from operator import itemgetter
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from sqlalchemy import BigInteger, Boolean, ColumnElement, Date, Integer, cast, func, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from kodeks_smart.store.models import Client, Installation, Manager
from kodeks_smart.store.scope import Tenant
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.cabinet import Page, cabinet_page
from kodeks_smart.web.tables import PAGE_SIZES, Column, TablePage, export, paginate

router = APIRouter(include_in_schema=False)

# -- time range ------------------------------------------------------------------------------------

#: Presets of the time picker, in order: key → (length, Russian label).
PRESETS: dict[str, tuple[timedelta, str]] = {
    "5m": (timedelta(minutes=5), "5 минут"),
    "15m": (timedelta(minutes=15), "15 минут"),
    "30m": (timedelta(minutes=30), "30 минут"),
    "1h": (timedelta(hours=1), "1 час"),
    "3h": (timedelta(hours=3), "3 часа"),
    "6h": (timedelta(hours=6), "6 часов"),
    "12h": (timedelta(hours=12), "12 часов"),
    "24h": (timedelta(hours=24), "24 часа"),
    "2d": (timedelta(days=2), "2 дня"),
    "7d": (timedelta(days=7), "7 дней"),
    "30d": (timedelta(days=30), "30 дней"),
    "90d": (timedelta(days=90), "90 дней"),
    "6M": (timedelta(days=183), "6 месяцев"),
    "1y": (timedelta(days=365), "1 год"),
    "13M": (timedelta(days=396), "13 месяцев"),
}
#: Auto-refresh choices: key → (seconds, label); "off" has no refresh.
REFRESH: dict[str, tuple[int, str]] = {
    "off": (0, "выкл."),
    "30s": (30, "30 с"),
    "1m": (60, "1 мин"),
    "5m": (300, "5 мин"),
}
#: Chart point widths (seconds); the smallest giving at most MAX_POINTS points is used.
STEPS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
MAX_POINTS = 200
#: Ranges longer than this read hourly rollups instead of raw samples.
RAW_LIMIT = timedelta(days=2)
#: The longest absolute range (retention is 13 months; a little slack for month boundaries).
MAX_RANGE = timedelta(days=800)
MAX_SERIES = 50

_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class BadInput(HTTPException):
    """A query parameter the user (or a hand-edited URL) got wrong: 400 with a Russian message."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    #: The preset key, or None for an absolute range.
    preset: str | None

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def rollups(self) -> bool:
        """Read hourly rollups (True) or raw samples (False)."""
        return self.length > RAW_LIMIT

    @property
    def step(self) -> int:
        """Seconds per chart point."""
        seconds = self.length.total_seconds()
        for step in STEPS:
            if seconds / step <= MAX_POINTS:
                return step
        return STEPS[-1]

    @property
    def label(self) -> str:
        if self.preset:
            return "Последние " + PRESETS[self.preset][1]
        return f"{self.start:%Y-%m-%d %H:%M} — {self.end:%Y-%m-%d %H:%M} UTC"

    def month_start(self) -> datetime:
        """Start (UTC) of the calendar month that contains the end of the range (MTD counters)."""
        return self.end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def parse_moment(text: str, what: str) -> datetime:
    """A time from the query: ISO date/date-time (UTC) or epoch milliseconds (what drag-to-zoom sends)."""
    text = text.strip()
    if re.fullmatch(r"\d{10,13}", text):
        value = int(text)
        if len(text) == 13:
            value //= 1000
        return datetime.fromtimestamp(value, UTC)
    if len(text) <= 40:
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    raise BadInput(
        f"Неверное значение «{what}»: {text[:40]!r}."
        " Укажите дату в виде ГГГГ-ММ-ДД или ГГГГ-ММ-ДДTЧЧ:ММ (UTC)."
    )


def parse_time_range(
    preset: str | None, start: str | None, end: str | None, default: str, now: datetime | None = None
) -> TimeRange:
    """The range of ``?range=30d`` or ``?from=…&to=…``; raises `BadInput` (400) on bad input."""
    now = now or utcnow()
    if start or end:
        if not (start and end):
            raise BadInput("Для произвольного периода укажите и начало («from»), и конец («to»).")
        a, b = parse_moment(start, "from"), parse_moment(end, "to")
        if len(end.strip()) == 10 and "-" in end:  # a whole day: include it
            b += timedelta(days=1)
        if b <= a:
            raise BadInput("Начало периода должно быть раньше конца.")
        if b - a > MAX_RANGE:
            raise BadInput("Период слишком длинный: данные хранятся 13 месяцев.")
        return TimeRange(a, b, None)
    key = preset or default
    if key not in PRESETS:
        raise BadInput(f"Неизвестный период «{key[:20]}». Допустимо: {', '.join(PRESETS)}.")
    return TimeRange(now - PRESETS[key][0], now, key)


def epoch_seconds(column: Any, view: View) -> ColumnElement[Any]:
    """SQL expression: ``column`` (a UTC datetime) as epoch seconds, on SQLite and PostgreSQL."""
    if view.db.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    seconds: ColumnElement[int] = cast(func.strftime("%s", column), Integer)
    return seconds


def bucket(column: Any, view: View, step: int | None = None) -> ColumnElement[Any]:
    """SQL expression: the start (epoch seconds, UTC) of the chart point (or of the ``step``-second
    interval) that ``column`` falls into; SQLite and PostgreSQL."""
    step = step or view.time.step
    dialect = view.db.get_bind().dialect.name
    if dialect == "postgresql":
        # Whole epoch seconds in integer arithmetic: ``date_part`` is float8, ``extract`` numeric, and
        # numeric division per row cost a 400,000-row grouping a third of its time. The float8 epoch of
        # a microsecond timestamp is within 1.2e-7 s of it, so its floor is the exact whole second.
        whole: Any = cast(func.floor(func.date_part("epoch", column)), BigInteger)
        return (whole // step) * step  # type: ignore[no-any-return]
    # SQLite: the Julian day of the text (parsing it for julianday costs half to two thirds of
    # strftime('%s'): 1.8 → 1.2 s over 2.5 million usage hours, 0.6 → 0.3 s over 396,000 kAssist days).
    # A date ('YYYY-MM-DD') is a whole day and a half exactly; a time is cut to the whole second first —
    # SQLite keeps milliseconds, so 23:59:59.9999 would round into the next day — and the float of its
    # day fraction is within 10⁻⁴ s of the whole second, so rounding gives it exactly.
    seconds: ColumnElement[int]
    if isinstance(getattr(column, "type", None), Date):
        seconds = cast(func.julianday(column) - _UNIX_JULIAN_DAY, Integer) * DAY_SECONDS
    else:
        fraction = (func.julianday(func.substr(column, 1, 19)) - _UNIX_JULIAN_DAY) * DAY_SECONDS
        seconds = cast(func.round(fraction), Integer)
    return (seconds // step) * step


#: The Julian day of 1970-01-01 00:00 UTC, and the seconds of a day (`bucket` on SQLite).
_UNIX_JULIAN_DAY = 2440587.5
DAY_SECONDS = 86400


# -- filters ---------------------------------------------------------------------------------------

RESERVED = frozenset(
    {"range", "from", "to", "refresh", "table", "sort", "desc", "p", "per_page", "export", "format"}
)
ALL = "__all__"


@dataclass
class Filter:
    key: str
    label: str
    options: list[str]
    selected: list[str]
    #: A single-value filter (`View.single`): a plain select without «Все», exactly one value chosen.
    single: bool = False

    @property
    def active(self) -> bool:
        return bool(self.selected)

    def allows(self, value: Any) -> bool:
        return not self.selected or (value is not None and str(value) in self._set)

    @property
    def _set(self) -> frozenset[str]:
        return frozenset(self.selected)


@dataclass(frozen=True)
class Target:
    """One monitored installation with the names the filters and legends use."""

    id: int
    client_id: int
    client: str
    client_name: str
    manager: str
    host: str


class _IdsIn(ColumnElement[bool]):
    """``column IN (1, 2, …)`` with the ids in the SQL text (see `ids_in`). The ids are part of the
    statement's cache key, so a cached statement already holds its text: nothing is rendered per
    execution."""

    __visit_name__ = "smart_ids_in"
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's own class attribute
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_plain_obj),
    ]
    type = Boolean()
    _is_implicitly_boolean = True  # no "= 1" after it on SQLite

    def __init__(self, column: Any, ids: tuple[int, ...]) -> None:
        self.column = column
        self.ids = ids

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects  # type: ignore[no-any-return]


@compiles(_IdsIn)
def _compile_ids_in(element: _IdsIn, compiler: Any, **kw: Any) -> str:
    if not element.ids:
        return "(1 != 1)"
    return f"({compiler.process(element.column, **kw)} IN ({', '.join(map(str, element.ids))}))"


def ids_in(column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN (ids)`` with the ids written into the SQL text: a cabinet's 1,000 installation ids as
    bound parameters cost psycopg about 5 ms of client CPU per query to adapt; written by SQLAlchemy's
    ``literal_execute`` at every execution they cost 1–2 ms per query (a dashboard runs 20–40 of them);
    as part of the cached statement (`_IdsIn`) nothing. Only for integer ids from the database (``int``
    is applied to each; never user input)."""
    return _IdsIn(column, tuple(int(i) for i in ids))


@dataclass
class Targets:
    """The cabinet's installations after the «Менеджер»/«Клиент»/«host» filters."""

    all: list[Target]
    chosen: list[Target]
    filtered: bool

    @cached_property
    def by_id(self) -> dict[int, Target]:
        """Chosen installations by id; cached, since dashboards look rows up in it one by one (a rebuild
        per lookup cost «Поисковые запросы» 0.4 s for 8,000 rows of 1,000 installations)."""
        return {t.id: t for t in self.chosen}

    @cached_property
    def by_client(self) -> dict[int, list[Target]]:
        out: dict[int, list[Target]] = {}
        for t in self.chosen:
            out.setdefault(t.client_id, []).append(t)
        return out

    def where(self, column: Any) -> ColumnElement[bool]:
        """WHERE clause narrowing an installation id column to the chosen installations."""
        if not self.filtered:
            return true()
        return ids_in(column, [t.id for t in self.chosen])

    def where_client(self, column: Any) -> ColumnElement[bool]:
        if not self.filtered:
            return true()
        return ids_in(column, sorted({t.client_id for t in self.chosen}))

    def narrow(self, model: Any) -> ColumnElement[bool]:
        """WHERE clause for a fact table with ``client_id`` and ``installation_id``: always the chosen
        clients by id, so that the (client_id, time) indexes every fact table has serve the time range
        (the cabinet_id index alone would read the cabinet's whole history), plus the installations
        when «host» narrows within a client."""
        clients = ids_in(model.client_id, sorted({t.client_id for t in self.chosen}))
        if not self.filtered:
            return clients
        return clients & ids_in(model.installation_id, [t.id for t in self.chosen])


# -- panels ----------------------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    #: (epoch seconds, value) in time order.
    points: Sequence[tuple[int, float | None]]

    def values(self) -> list[float]:
        return [v for _, v in self.points if v is not None]

    def stats(self) -> dict[str, float | None]:
        vals = self.values()
        if not vals:
            return {"min": None, "max": None, "last": None, "mean": None, "sum": None, "count": 0}
        return {
            "min": min(vals),
            "max": max(vals),
            "last": vals[-1],
            "mean": sum(vals) / len(vals),
            "sum": sum(vals),
            "count": len(vals),
        }


LEGEND_TITLES = {
    "min": "min",
    "max": "max",
    "last": "текущее",
    "mean": "среднее",
    "sum": "сумма",
    "count": "кол-во",
}


@dataclass
class Panel:
    name: str
    title: str
    description: str = field(default="", kw_only=True)
    #: Grid width: 1 (half) or 2 (full).
    width: int = field(default=2, kw_only=True)

    kind_of_panel = "panel"


@dataclass
class Chart(Panel):
    series: list[Series] = field(default_factory=list)
    kind: str = "line"
    unit: str = ""
    legend: tuple[str, ...] = ("min", "max", "last")
    y_min: float | None = None
    y_max: float | None = None
    log: bool = False
    #: Background bands: (from, to, colour name: "ok" | "warn" | "crit").
    bands: list[tuple[float, float, str]] = field(default_factory=list)
    #: With more than MAX_SERIES series, keep those with the largest value of this stat (or the smallest,
    #: with ``rank_low``: availability charts keep the worst servers).
    rank_by: str = "max"
    rank_low: bool = False
    #: The x axis (epoch seconds): the view's range, set when the page is rendered.
    x_range: tuple[int, int] | None = None

    kind_of_panel = "chart"

    def payload(self) -> dict[str, Any]:
        # Each series' stats once: they rank the series and go into the legend.
        shown = [(s, s.stats()) for s in self.series]
        hidden = 0
        if len(shown) > MAX_SERIES:
            sign = 1 if self.rank_low else -1
            shown = sorted(shown, key=lambda p: sign * (p[1][self.rank_by] or 0))[:MAX_SERIES]
            hidden = len(self.series) - MAX_SERIES
        return {
            "name": self.name,
            "kind": self.kind,
            "unit": self.unit,
            "legend": [[k, LEGEND_TITLES[k]] for k in self.legend],
            "y_min": self.y_min,
            "y_max": self.y_max,
            "log": self.log,
            "bands": [list(b) for b in self.bands],
            "hidden": hidden,
            "x_from": self.x_range[0] if self.x_range else None,
            "x_to": self.x_range[1] if self.x_range else None,
            "series": [
                {"name": s.name, "points": [[t, v] for t, v in s.points], "stats": stats}
                for s, stats in shown
            ],
        }


@dataclass
class Table(Panel):
    columns: Sequence[Column] = ()
    rows: Sequence[Mapping[str, Any]] = field(default_factory=list)
    sort: str | None = None
    desc: bool = False
    per_page: int = 25
    page: TablePage | None = None

    kind_of_panel = "table"


@dataclass
class Stat(Panel):
    value: float | str | None = None
    unit: str = ""
    width: int = field(default=1, kw_only=True)

    kind_of_panel = "stat"

    @property
    def text(self) -> str:
        if self.value is None:
            return "нет данных"
        if isinstance(self.value, float):
            return f"{self.value:.1f}"
        return str(self.value)


# -- the view --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSpec:
    slug: str
    title: str
    build: Callable[[View], list[Panel]]
    default_range: str
    description: str
    #: The longest range the dashboard shows; a longer one is cut to its last `max_range` with a notice.
    max_range: timedelta | None = None


REGISTRY: dict[str, DashboardSpec] = {}


class View:
    """What a dashboard function works with: the page (session, scope), time range and filters."""

    def __init__(self, page: Page, spec: DashboardSpec, now: datetime | None = None) -> None:
        self.page = page
        self.spec = spec
        self.request = page.request
        self.db: Session = page.db
        self.tenant: Tenant = page.tenant
        self.now = now or utcnow()
        self._configure(self.db)
        q = self.request.query_params
        for key in q:
            if len(q.getlist(key)) > 2000 or any(len(v) > 300 for v in q.getlist(key)):
                raise BadInput(f"Слишком длинное значение параметра «{key[:40]}».")
        self.time = parse_time_range(q.get("range"), q.get("from"), q.get("to"), spec.default_range, self.now)
        self.notice = ""
        if spec.max_range is not None and self.time.length > spec.max_range:
            self.time = TimeRange(self.time.end - spec.max_range, self.time.end, None)
            self.notice = (
                f"Этот дашборд показывает не больше {spec.max_range.days} дней: период сокращён до последних"
                f" {spec.max_range.days} дней выбранного."
            )
        self.refresh = q.get("refresh", "off")
        if self.refresh not in REFRESH:
            raise BadInput(f"Неизвестный интервал обновления «{self.refresh[:20]}»: {', '.join(REFRESH)}.")
        self.filters: list[Filter] = []
        self._targets: Targets | None = None
        self._origin: View | None = None  # the page's own view, for a helper's copy (`on_session`)

    def _configure(self, session: Session) -> None:
        """The per-transaction settings of a page's session (the page's own or a helper's)."""
        if session.get_bind().dialect.name == "postgresql":
            # For this page's transaction only: parallel plans cost a dashboard more than they saved.
            workers = str(self.page.services.settings.db_dashboard_parallel_workers)
            session.execute(select(func.set_config("max_parallel_workers_per_gather", workers, True)))

    def on_session(self, session: Session) -> View:
        """This view (range, filters, chosen installations) reading through another session of the same
        scope: what a helper thread of `kodeks_smart.web.dashboards.concurrent.build_concurrently` uses."""
        other = copy.copy(self)
        other._origin = self._origin or self
        other.db = session
        other.tenant = Tenant(session, self.tenant.scope)
        self._configure(session)
        return other

    # filters

    def multi(self, key: str, label: str, options: Iterable[Any]) -> Filter:
        """Declare a multi-select filter; its options come from the cabinet's data; default «Все»."""
        assert key not in RESERVED, key
        opts = sorted({str(o) for o in options if o is not None and str(o) != ""}, key=str.casefold)
        chosen = [v for v in self.request.query_params.getlist(key) if v and v != ALL]
        f = Filter(key, label, opts, list(dict.fromkeys(chosen)))
        self.filters.append(f)
        return f

    def single(self, key: str, label: str, options: Iterable[Any], default: str | None = None) -> Filter:
        """Declare a single-value filter (a Grafana variable without «Все»/multi-value): exactly one of
        the options is chosen — the URL's value, else ``default``, else the first option in name order.
        A URL value that is not among the options falls back to that default with a notice on the page.
        With no options at all nothing is selected (and nothing should be shown)."""
        assert key not in RESERVED, key
        opts = sorted({str(o) for o in options if o is not None and str(o) != ""}, key=str.casefold)
        given = [v for v in self.request.query_params.getlist(key) if v and v != ALL]
        chosen = next((v for v in given if v in opts), None)
        if chosen is None and opts:
            chosen = default if default in opts else opts[0]
            if given:
                self.add_notice(f"Значения «{given[0][:60]}» нет в фильтре «{label}»: показано «{chosen}».")
        f = Filter(key, label, opts, [chosen] if chosen is not None else [], single=True)
        self.filters.append(f)
        return f

    def add_notice(self, text: str) -> None:
        """Add a sentence to the notice shown above the panels (of the page's own view)."""
        view = self._origin or self
        view.notice = f"{view.notice} {text}".strip()

    def targets(
        self, *, manager: bool = True, client: bool = True, host: bool = True, single_client: bool = False
    ) -> Targets:
        """The cabinet's installations, with the filters «Менеджер», «Клиент» and «host» declared.

        ``single_client=True`` makes «Клиент» a single-value filter (`single`): one client, by default
        the first by name among the clients the «Менеджер» filter leaves; dashboards whose original
        shows one client at a time (spec: «choose ONE client») read only that client's rows."""
        if self._targets is not None:
            return self._targets
        # Columns, not ORM objects: 1,000 installations and clients as objects cost every page ≈ 40 ms.
        scope = self.tenant.scope
        managers = dict(
            self.db.execute(select(Manager.id, Manager.name).where(scope.condition(Manager))).all()
        )
        clients = {
            row[0]: row
            for row in self.db.execute(
                select(Client.id, Client.short_name, Client.display_name, Client.manager_id).where(
                    scope.condition(Client)
                )
            )
        }
        rows: list[Target] = []
        installations = self.db.execute(
            select(Installation.id, Installation.client_id, Installation.address)
            .where(scope.condition(Installation))
            .order_by(Installation.id)
        )
        for inst_id, client_id, address in installations:
            c = clients.get(client_id)
            if c is None:
                continue
            _, short_name, display_name, manager_id = c
            rows.append(
                Target(
                    inst_id,
                    client_id,
                    short_name,
                    display_name,
                    managers.get(manager_id, "") if manager_id else "",
                    address or short_name,
                )
            )
        chosen = rows
        filtered = False
        for enabled, key, label, attr in (
            (manager, "manager", "Менеджер", "manager"),
            (client, "client", "Клиент", "client"),
            (host, "host", "host", "host"),
        ):
            if not enabled:
                continue
            if key == "client" and single_client:
                f = self.single(key, label, (t.client for t in chosen))
                filtered = True
                chosen = [t for t in chosen if t.client in f.selected]
                continue
            f = self.multi(key, label, (getattr(t, attr) for t in rows))
            if f.active:
                filtered = True
                chosen = [t for t in chosen if f.allows(getattr(t, attr))]
        self._targets = Targets(rows, chosen, filtered)
        return self._targets

    # time

    def in_range(self, column: Any) -> ColumnElement[bool]:
        return (column >= self.time.start) & (column < self.time.end)  # type: ignore[no-any-return]

    # rendering

    def query(self, *, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
        """The current filters and range as query pairs (for links that keep them)."""
        pairs: list[tuple[str, str]] = []
        if self.time.preset:
            pairs.append(("range", self.time.preset))
        else:
            pairs += [
                ("from", f"{self.time.start:%Y-%m-%dT%H:%M}"),
                ("to", f"{self.time.end:%Y-%m-%dT%H:%M}"),
            ]
        if self.refresh != "off":
            pairs.append(("refresh", self.refresh))
        for f in self.filters:
            pairs += [(f.key, v) for v in f.selected]
        skip = set(drop)
        return [(k, v) for k, v in pairs if k not in skip]

    def respond(self, panels: list[Panel]) -> Response:
        q = self.request.query_params
        wanted_table = q.get("table", "")
        fmt = q.get("export") or q.get("format") or ""
        if fmt:
            if fmt not in ("csv", "xlsx"):
                raise BadInput("Формат выгрузки: csv или xlsx.")
            table = next((p for p in panels if isinstance(p, Table) and p.name == wanted_table), None)
            if table is None:
                raise BadInput(f"На панели нет таблицы «{wanted_table[:40]}».")
            return export(
                table.columns, table.rows, fmt, f"{self.spec.slug}-{table.name}-{self.page.cabinet.id}"
            )
        for p in panels:
            if isinstance(p, Chart) and p.x_range is None:
                p.x_range = (epoch(self.time.start), epoch(self.time.end))
            if isinstance(p, Table):
                sort, desc, number, per_page = p.sort, p.desc, 1, p.per_page
                if p.name == wanted_table:
                    sort = q.get("sort") or sort
                    desc = q.get("desc", "false" if not p.desc else "true") == "true"
                    number = _int(q.get("p"), 1)
                    per_page = _int(q.get("per_page"), p.per_page)
                    if per_page not in PAGE_SIZES:
                        per_page = p.per_page
                p.page = paginate(p.columns, p.rows, sort=sort, desc=desc, page=number, per_page=per_page)
        base = self.query()
        return self.page.render(
            "dashboards/_dashboard.html",
            title=self.spec.title,
            spec=self.spec,
            view=self,
            panels=panels,
            presets=[(k, label) for k, (_, label) in PRESETS.items()],
            refresh_options=[(k, label) for k, (_, label) in REFRESH.items()],
            refresh_seconds=REFRESH[self.refresh][0],
            query=urlencode(base),
            query_of=lambda name: urlencode([*base, ("table", name)]),
            time_query=urlencode(self.query(drop=("range", "from", "to"))),
        )


def _int(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    if not re.fullmatch(r"\d{1,6}", text):
        raise BadInput(f"Неверный номер: {text[:20]!r}.")
    return int(text)


def dashboard(
    slug: str,
    title: str,
    *,
    default_range: str = "30d",
    description: str = "",
    max_range: timedelta | None = None,
) -> Callable[[Callable[[View], list[Panel]]], Callable[[View], list[Panel]]]:
    """Register a dashboard function as the page ``/c/{cabinet_id}/d/<slug>``."""
    assert default_range in PRESETS, default_range

    def register(build: Callable[[View], list[Panel]]) -> Callable[[View], list[Panel]]:
        spec = DashboardSpec(slug, title, build, default_range, description, max_range)
        assert slug not in REGISTRY, slug
        REGISTRY[slug] = spec

        def page_handler(page: Page = Depends(cabinet_page)) -> Response:
            view = View(page, spec)
            return view.respond(spec.build(view))

        page_handler.__name__ = "dashboard_" + slug.replace("-", "_")
        router.add_api_route(f"/c/{{cabinet_id}}/d/{slug}", page_handler, methods=["GET"])
        return build

    return register


# -- helpers for dashboard modules -----------------------------------------------------------------


def points_by(
    rows: Iterable[tuple[Any, Any, Any]], names: Mapping[Any, str] | Callable[[Any], str]
) -> list[Series]:
    """Series from ``(key, epoch seconds, value)`` rows: one series per key, named by ``names``."""
    grouped: dict[Any, list[tuple[int, float | None]]] = {}
    for key, ts, value in rows:
        points = grouped.get(key)
        if points is None:
            points = grouped[key] = []
        points.append((int(ts), None if value is None else float(value)))
    name_of = names if callable(names) else (lambda k: names.get(k, str(k)))
    by_time = itemgetter(0)  # in place and keyed in C: 1,000 series × 4 charts of «kAssist» add up
    for points in grouped.values():
        points.sort(key=by_time)
    out = [Series(name_of(k), pts) for k, pts in grouped.items()]
    out.sort(key=lambda s: s.name.casefold())
    return out


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def fmt_duration(seconds: float | None) -> str:
    """«2.5 нед.», «3 дн.», «5 ч» — how the original shows time to licence expiry and OperUp age."""
    if seconds is None or math.isnan(seconds):
        return ""
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    for size, unit in ((365 * 86400, "г."), (7 * 86400, "нед."), (86400, "дн."), (3600, "ч"), (60, "мин")):
        if s >= size:
            value = s / size
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{text} {unit}"
    return f"{sign}{int(s)} с"


def days_until(day: date | None, now: datetime) -> float | None:
    if day is None:
        return None
    return (datetime(day.year, day.month, day.day, tzinfo=UTC) - now).total_seconds()


__all__ = [
    "ALL",
    "BadInput",
    "Chart",
    "Column",
    "Filter",
    "Panel",
    "Series",
    "Stat",
    "Table",
    "Target",
    "Targets",
    "TimeRange",
    "View",
    "bucket",
    "dashboard",
    "epoch",
    "epoch_seconds",
    "fmt_duration",
    "parse_time_range",
    "points_by",
]
