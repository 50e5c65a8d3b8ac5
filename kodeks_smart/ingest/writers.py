"""Writing parsed records into the store, inside the processing transaction of one upload.

Everything here is bulk Core SQL, not ORM objects: one upload may carry thousands of samples and the
consumer should stay above 20 reports per second per core. SQLite gets the driver's executemany;
PostgreSQL gets each table's rows as one JSON document, and a sysinfo report's dozen tables as one
statement (`Batch`), because there round trips and per-statement overhead are what costs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Dialect,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kodeks_smart.ingest import metric_daily
from kodeks_smart.store.ingest_models import (
    CatalogHealthFact,
    HourlyRollup,
    MetricSeries,
    Sample,
    SysinfoCatalog,
    SysinfoComponent,
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoGap,
    SysinfoOperUpFile,
    SysinfoReportRow,
    SysinfoSession,
    SysinfoVolume,
)
from kodeks_smart.store.models import Installation

_CHUNK = 500


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class (typed, for bulk statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


#: Tables whose rows belong to exactly one upload, by upload kind; reprocessing the upload deletes and
#: rewrites them. (Event tables are not among them: their rows are shared by the reports that repeat them.)
PER_UPLOAD_TABLES: dict[str, list[Table]] = {
    "metrics": [table_of(CatalogHealthFact)],
    "sysinfo": [
        table_of(model)
        for model in (
            SysinfoReportRow,
            SysinfoGap,
            SysinfoComponent,
            SysinfoCatalog,
            SysinfoDatabase,
            SysinfoVolume,
            SysinfoDbError,
            SysinfoOperUpFile,
            SysinfoSession,
        )
    ],
}

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Target:
    """Where the records of one upload go."""

    upload_id: int
    dealer_id: int
    cabinet_id: int
    client_id: int
    installation_id: int | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Point:
    name: str
    labels: Labels
    ts: datetime
    value: float


def write_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] | None = None,
    newer: str | None = None,
    merge: str | None = None,
    least: tuple[str, ...] = (),
) -> None:
    """INSERT many rows (all with the same keys), with ``ON CONFLICT (conflict)`` DO NOTHING, or DO UPDATE
    the ``update`` columns from the new row (only where the stored ``newer`` column is not later than the
    new one; ``least`` columns take the smaller value either way: `Batch.write`); ``merge="rollup"`` adds
    the rows to hourly rollups instead.

    SQLite runs in-process, so executemany is the fast way there. On PostgreSQL the rows travel as one
    JSON document, ``INSERT … SELECT … FROM json_populate_recordset(NULL::table, …)``: psycopg's
    executemany sends each row as a statement of its own (tens of milliseconds for a metrics file), and
    one array per column (``unnest``), the way before, is escaped element by element in Python by
    psycopg's text array dumper (about 10 ms for the 100 users of a sysinfo report, against about 1 ms for
    ``json.dumps``). Rows JSON cannot carry (a NaN or infinite float) still go as arrays. Statements are
    built once per backend, table and column set.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    columns = tuple(rows[0])
    if dialect == "postgresql":
        try:
            document = json.dumps(rows, default=_json_value, ensure_ascii=False, allow_nan=False)
        except ValueError:
            pass  # NaN or infinity: not JSON; the arrays below carry them
        else:
            stmt = _statement(
                "postgresql-json", table, columns, conflict, update, newer, merge, "rows", least
            )
            session.execute(stmt, {"rows": document})
            return
    stmt = _statement(dialect, table, columns, conflict, update, newer, merge, "rows", least)
    if dialect == "postgresql":
        json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
        for part in chunks(rows, 5000):
            params = {}
            for i, c in enumerate(columns):
                values = [row[c] for row in part]
                if c in json_columns:  # sent as text: a list value would read as a nested array
                    values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
                params[f"p{i}"] = values
            session.execute(stmt, params)
        return
    # SQLite: the statement compiled once, the rows bound by the column types' own processors and handed
    # to the driver's executemany as tuples. session.execute with a list of dicts does the same through
    # SQLAlchemy's per-row parameter machinery, which cost more than SQLite's own work (about 9 ms for the
    # 100 users of a sysinfo report, against 1 ms in sqlite3).
    plan = _sqlite_plan(session.get_bind().dialect, stmt, table, columns)
    if plan is None:  # column defaults computed in Python: let SQLAlchemy fill them in
        for part in chunks(rows):
            session.execute(stmt, list(part))
        return
    sql, bound = plan
    connection = session.connection()
    for part in chunks(rows):
        connection.exec_driver_sql(
            sql, [tuple(row[c] if p is None else p(row[c]) for c, p in bound) for row in part]
        )


@dataclass(frozen=True, slots=True)
class _Write:
    table: Table
    rows: Sequence[dict[str, Any]]
    conflict: tuple[str, ...]
    update: tuple[str, ...] | None
    newer: str | None
    least: tuple[str, ...] = ()
    #: "insert" (`write_rows`) or "update" (rows with ``id``: the other columns set by id).
    kind: str = "insert"


class Batch:
    """`write_rows` calls of one transaction, for different tables, sent as **one** statement on
    PostgreSQL: ``WITH w0 AS (INSERT …), w1 AS (INSERT …) … SELECT 1`` (data-modifying WITH; every part is
    carried out, each with its own ``ON CONFLICT``). A sysinfo report writes about a dozen tables; each
    statement costs a round trip, SQLAlchemy's execution overhead in the client and parse/execute
    overhead in the server, several milliseconds in all. On SQLite (in-process, no round trips) the
    writes run one after the other. A table must appear once per batch (once for inserts, once for
    updates by id); nothing in the batch may read what another part of it writes (the parts see the
    database as it was before the statement). `flush` can run a query in the same statement, which
    then sees the database as it was before the writes (on SQLite it runs before them).
    """

    def __init__(self) -> None:
        self._writes: list[_Write] = []

    def write(
        self,
        table: Table,
        rows: Sequence[dict[str, Any]],
        conflict: tuple[str, ...] = (),
        update: tuple[str, ...] | None = None,
        newer: str | None = None,
        least: tuple[str, ...] = (),
    ) -> int:
        """Queue `write_rows` (without ``merge``); returns the number of rows.

        ``least``: columns that a conflicting row takes from the new row when the new value is smaller,
        whichever row is newer (the other ``update`` columns still follow ``newer``)."""
        return self._add(_Write(table, rows, conflict, update, newer, least))

    def update(self, table: Table, rows: Sequence[dict[str, Any]]) -> int:
        """Queue an UPDATE of stored rows by ``id``: each row's other columns are set (all rows with
        the same keys)."""
        return self._add(_Write(table, rows, (), None, None, (), "update"))

    def _add(self, write: _Write) -> int:
        if write.rows:
            if any(w.table is write.table and w.kind == write.kind for w in self._writes):
                raise ValueError(f"table {write.table.name} twice in one batch")
            self._writes.append(write)
        return len(write.rows)

    def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> int:
        """Queue `insert_rows` (strings fitted to their columns)."""
        return self.write(table, [fit(table, r) for r in rows])

    def flush(self, session: Session, read: tuple[Any, dict[str, Any]] | None = None) -> list[Any]:
        """Write everything queued; ``read`` (a SELECT and its parameters) is answered as the database
        was before these writes, and its rows returned."""
        writes, self._writes = self._writes, []
        rows: list[Any] = []
        if session.get_bind().dialect.name != "postgresql":
            if read is not None:
                rows = list(session.execute(*read))
            for w in writes:
                _write_one(session, w)
            return rows
        parts: list[tuple[_Write, str]] = []
        apart: list[_Write] = []
        for w in writes:
            try:
                parts.append(
                    (w, json.dumps(w.rows, default=_json_value, ensure_ascii=False, allow_nan=False))
                )
            except ValueError:  # NaN or infinity: the arrays of write_rows carry them
                apart.append(w)
        if apart and read is not None:  # the query must not see those writes
            rows = list(session.execute(*read))
            read = None
        for w in apart:
            _write_one(session, w)
        if parts or read is not None:
            key = tuple(
                (w.table, tuple(w.rows[0]), w.conflict, w.update, w.newer, w.least, w.kind) for w, _ in parts
            )
            params = {f"rows{i}": doc for i, (_, doc) in enumerate(parts)}
            if read is None:
                session.execute(_batch_statement(key, None), params)
            else:
                rows = list(session.execute(_batch_statement(key, read[0]), {**params, **read[1]}))
        return rows


def _write_one(session: Session, w: _Write) -> None:
    """One queued write on its own (SQLite; PostgreSQL rows that JSON cannot carry)."""
    if w.kind == "update":
        _update_by_id(session, w.table, w.rows)
    else:
        write_rows(session, w.table, w.rows, w.conflict, w.update, w.newer, least=w.least)


def _update_by_id(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    columns = [c for c in rows[0] if c != "id"]
    stmt = (
        table.update()
        .where(table.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}") for c in columns})
    )
    session.connection().execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])


_BatchKey = tuple[
    tuple[Table, tuple[str, ...], tuple[str, ...], tuple[str, ...] | None, str | None, tuple[str, ...], str],
    ...,
]


@functools.cache
def _batch_statement(key: _BatchKey, read: Any) -> Any:
    ctes = []
    for i, (table, columns, conflict, update, newer, least, kind) in enumerate(key):
        if kind == "update":
            stmt = _json_update(table, columns, f"rows{i}")
        else:
            stmt = _statement(
                "postgresql-json", table, columns, conflict, update, newer, None, f"rows{i}", least
            )
        ctes.append(stmt.cte(f"w{i}"))
    return (read if read is not None else select(literal_column("1"))).add_cte(*ctes)


def _json_source(table: Table, param: str) -> Any:
    """``json_populate_recordset(NULL::table, :param) AS r``: JSON rows typed as the table's rows."""
    name = ".".join(_quote(part) for part in (table.schema, table.name) if part)
    return text(f"json_populate_recordset(NULL::{name}, CAST(:{param} AS json)) AS r").bindparams(
        bindparam(param, type_=Text)
    )


def _json_update(table: Table, columns: tuple[str, ...], param: str) -> Any:
    """PostgreSQL: UPDATE the rows of a JSON document by id (its other columns are set)."""
    values = (
        select(*[literal_column(f"r.{_quote(c)}").label(c) for c in columns])
        .select_from(_json_source(table, param))
        .subquery("v")
    )
    return (
        table.update().where(table.c.id == values.c.id).values({c: values.c[c] for c in columns if c != "id"})
    )


@functools.cache
def _statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...] | None,
    newer: str | None,
    merge: str | None,
    param: str = "rows",
    least: tuple[str, ...] = (),
) -> Any:
    stmt: Any
    if dialect == "postgresql-json":
        # The record type of the table converts every value as a stored row would (text → timestamptz,
        # date, json…); the column list keeps the database defaults of the columns not given.
        source = _json_source(table, param)
        values: Any = select(*[literal_column(f"r.{_quote(c)}") for c in columns]).select_from(source)
        stmt = postgresql.insert(table).from_select(list(columns), values)
    elif dialect == "postgresql":
        arrays = [
            func.unnest(bindparam(f"p{i}", type_=postgresql.ARRAY(Text))).cast(JSON)
            if isinstance(table.c[c].type, JSON)
            else func.unnest(bindparam(f"p{i}", type_=postgresql.ARRAY(table.c[c].type)))
            for i, c in enumerate(columns)
        ]
        stmt = postgresql.insert(table).from_select(list(columns), select(*arrays))
    else:
        stmt = sqlite.insert(table)
    if merge == "rollup":
        ex = stmt.excluded
        smaller, greater = (
            (func.least, func.greatest) if dialect.startswith("postgresql") else (func.min, func.max)
        )
        return stmt.on_conflict_do_update(
            index_elements=list(conflict),
            set_={
                "count": table.c.count + ex.count,
                "sum": table.c.sum + ex.sum,
                "min": smaller(table.c.min, ex.min),
                "max": greater(table.c.max, ex.max),
                "last": case((ex.last_ts >= table.c.last_ts, ex.last), else_=table.c.last),
                "last_ts": greater(table.c.last_ts, ex.last_ts),
            },
        )
    if not conflict:
        return stmt
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=list(conflict))
    ex = stmt.excluded
    if least:
        # No WHERE: the ``least`` columns may change when the stored row is the newer one.
        newest = table.c[newer] <= ex[newer] if newer else true()
        set_ = {c: case((newest, ex[c]), else_=table.c[c]) for c in update}
        set_.update({c: case((ex[c] < table.c[c], ex[c]), else_=table.c[c]) for c in least})
        return stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
    where = table.c[newer] <= ex[newer] if newer else None
    return stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update}, where=where
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _json_value(value: Any) -> Any:
    """What json.dumps cannot write itself: times (UTC, as the column type would store them) and dates."""
    if isinstance(value, datetime):
        if value.tzinfo is UTC:  # nearly all of them: no conversion
            return value.isoformat()
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")  # the arrays path reports it
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@functools.cache
def _sqlite_plan(
    dialect: Dialect, stmt: Any, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]] | None:
    """SQL text with ``?`` markers, and the column and bind processor of each marker in order; None when
    the statement needs more parameters than the rows give (Python-side column defaults)."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup or ())
    if sorted(names) != sorted(columns):
        return None
    bound = tuple((c, table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in names)
    return str(compiled), bound


def columns_except(table: Table, *names: str) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.name not in names)


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def clear_derived(session: Session, upload_id: int, kind: str) -> None:
    """Remove the rows a previous processing of this upload wrote (samples are upserted instead)."""
    for table in PER_UPLOAD_TABLES[kind]:
        session.execute(delete(table).where(table.c.upload_id == upload_id))


def choose_installation(session: Session, client_id: int, regnum: str | None = None) -> Installation | None:
    """The installation a client's upload describes.

    A client usually has one. With several: the one a previous report with the same registration
    number was attributed to; otherwise the first closed-contour installation (agents run where SMART
    cannot reach); otherwise the oldest.
    """
    installations = list(
        session.scalars(
            select(Installation).where(Installation.client_id == client_id).order_by(Installation.id)
        )
    )
    if len(installations) <= 1:
        return installations[0] if installations else None
    if regnum:
        found = installation_by_regnum(session, client_id, regnum)
        for inst in installations:
            if inst.id == found:
                return inst
    closed = [inst for inst in installations if inst.kind == "closed"]
    return closed[0] if closed else installations[0]


def installation_by_regnum(session: Session, client_id: int, regnum: str) -> int | None:
    """The installation an earlier report with this registration number was attributed to."""
    return session.scalar(
        select(SysinfoReportRow.installation_id)
        .where(
            SysinfoReportRow.client_id == client_id,
            SysinfoReportRow.regnum == regnum,
            SysinfoReportRow.installation_id.is_not(None),
        )
        .order_by(SysinfoReportRow.id.desc())
        .limit(1)
    )


# -- series and samples ---------------------------------------------------------------------------


def labels_key(labels: Labels) -> str:
    canonical = json.dumps(list(labels), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def series_ids(
    session: Session, target: Target, keys: Iterable[tuple[str, Labels]], source: str
) -> dict[tuple[str, Labels], int]:
    """Ids of the client's series, created where missing (concurrent creators are tolerated)."""
    wanted = {(name, labels_key(labels)): (name, labels) for name, labels in set(keys)}
    if not wanted:
        return {}
    table = table_of(MetricSeries)
    existing = {
        (row.name, row.labels_key): row.id
        for row in session.execute(
            select(table.c.id, table.c.name, table.c.labels_key).where(table.c.client_id == target.client_id)
        )
    }
    missing = [key for key in wanted if key not in existing]
    if missing:
        rows = [
            {
                "dealer_id": target.dealer_id,
                "cabinet_id": target.cabinet_id,
                "client_id": target.client_id,
                "installation_id": target.installation_id,
                "name": name,
                "labels": dict(wanted[(name, key)][1]),
                "labels_key": key,
                "source": source,
                "created_at": target.received_at,
            }
            for name, key in missing
        ]
        write_rows(session, table, rows, conflict=("client_id", "name", "labels_key"))
        for row in session.execute(
            select(table.c.id, table.c.name, table.c.labels_key).where(table.c.client_id == target.client_id)
        ):
            existing[(row.name, row.labels_key)] = row.id
    return {wanted[key]: existing[key] for key in wanted}


def _hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def store_points(session: Session, target: Target, points: Sequence[Point], source: str) -> int:
    """Upsert samples (the newer upload wins a clash) and bring the hourly rollups they touch up to date.

    A new sample is added to its hour's rollup; an hour where a stored sample was replaced (reprocessing,
    a repeated time) is recomputed from its samples. NaN values are skipped (SQLite cannot store them);
    returns how many points were stored.
    """
    points = [p for p in points if not math.isnan(p.value)]
    if not points:
        return 0
    ids = series_ids(session, target, ((p.name, p.labels) for p in points), source)
    by_key: dict[tuple[int, datetime], float] = {}
    for p in points:
        by_key[(ids[(p.name, p.labels)], p.ts)] = p.value  # a repeated point in one file: the last wins
    existing = _stored_points(session, list(by_key))
    table = table_of(Sample)
    rows = [
        {
            "series_id": sid,
            "ts": ts,
            "value": value,
            "upload_id": target.upload_id,
            "dealer_id": target.dealer_id,
            "cabinet_id": target.cabinet_id,
        }
        for (sid, ts), value in by_key.items()
    ]
    write_rows(session, table, rows, ("series_id", "ts"), ("value", "upload_id"), newer="upload_id")
    _add_to_rollups(session, target, {k: v for k, v in by_key.items() if k not in existing})
    _recompute_rollups(session, target, {(sid, _hour(ts)) for sid, ts in existing})
    return len(rows)


def _stored_points(session: Session, keys: list[tuple[int, datetime]]) -> set[tuple[int, datetime]]:
    """Which of these (series, time) points are stored already (a metrics file has one time, mostly)."""
    samples = table_of(Sample)
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for sid, ts in keys:
        by_time[ts].append(sid)
    found: set[tuple[int, datetime]] = set()
    if len(by_time) <= 20:
        for ts, sids in by_time.items():
            for part in chunks(sids):
                for (sid,) in session.execute(
                    select(samples.c.series_id).where(samples.c.ts == ts, samples.c.series_id.in_(part))
                ):
                    found.add((sid, ts))
        return found
    first, last = min(by_time), max(by_time)
    wanted = set(keys)
    for part in chunks(sorted({sid for sid, _ in keys})):
        rows = session.execute(
            select(samples.c.series_id, samples.c.ts).where(
                samples.c.series_id.in_(part), samples.c.ts >= first, samples.c.ts <= last
            )
        )
        found.update(key for key in ((sid, ts) for sid, ts in rows) if key in wanted)
    return found


def _add_to_rollups(session: Session, target: Target, new: dict[tuple[int, datetime], float]) -> None:
    """Fold new samples into their hours' rollups (one upsert per series and hour)."""
    buckets: dict[tuple[int, datetime], list[tuple[datetime, float]]] = defaultdict(list)
    for (sid, ts), value in new.items():
        if math.isfinite(value):
            buckets[(sid, _hour(ts))].append((ts, value))
    if not buckets:
        return
    rows = []
    for (sid, hour), items in buckets.items():
        items.sort()
        nums = [v for _, v in items]
        rows.append(
            {
                "series_id": sid,
                "hour": hour,
                "count": len(nums),
                "sum": math.fsum(nums),
                "min": min(nums),
                "max": max(nums),
                "last": nums[-1],
                "last_ts": items[-1][0],
                "dealer_id": target.dealer_id,
                "cabinet_id": target.cabinet_id,
            }
        )
    write_rows(session, table_of(HourlyRollup), rows, ("series_id", "hour"), merge="rollup")
    metric_daily.add(session, rows)


def _recompute_rollups(session: Session, target: Target, touched: set[tuple[int, datetime]]) -> None:
    """Rebuild the rollup rows of the touched (series, hour) pairs from the samples of those hours."""
    if not touched:
        return
    samples = table_of(Sample)
    hours_by_series: dict[int, set[datetime]] = defaultdict(set)
    for sid, hour in touched:
        hours_by_series[sid].add(hour)
    first = min(hour for _, hour in touched)
    last = max(hour for _, hour in touched) + timedelta(hours=1)
    values: dict[tuple[int, datetime], list[tuple[datetime, float]]] = defaultdict(list)
    for part in chunks(sorted(hours_by_series)):
        rows = session.execute(
            select(samples.c.series_id, samples.c.ts, samples.c.value).where(
                and_(samples.c.series_id.in_(part), samples.c.ts >= first, samples.c.ts < last)
            )
        )
        for sid, ts, value in rows:
            hour = _hour(ts)
            if hour in hours_by_series[sid]:
                values[(sid, hour)].append((ts, value))
    table = table_of(HourlyRollup)
    rows_out = []
    for (sid, hour), items in values.items():
        items.sort()
        finite = [(ts, v) for ts, v in items if math.isfinite(v)]
        if not finite:
            continue
        nums = [v for _, v in finite]
        rows_out.append(
            {
                "series_id": sid,
                "hour": hour,
                "count": len(nums),
                "sum": math.fsum(nums),
                "min": min(nums),
                "max": max(nums),
                "last": nums[-1],
                "last_ts": finite[-1][0],
                "dealer_id": target.dealer_id,
                "cabinet_id": target.cabinet_id,
            }
        )
    write_rows(
        session, table, rows_out, ("series_id", "hour"), ("count", "sum", "min", "max", "last", "last_ts")
    )
    metric_daily.rebuild(session, touched)


@functools.cache
def _string_lengths(table: Table) -> tuple[tuple[str, int], ...]:
    """(column, length) of the table's length-limited string columns."""
    out = []
    for column in table.columns:
        length = getattr(column.type, "length", None)
        if isinstance(length, int):
            out.append((column.name, length))
    return tuple(out)


def fit(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Cut strings to their column's length (PostgreSQL refuses longer ones; hostile input has them).

    Only the table's limited columns are looked at (cached per table): this runs for every stored row."""
    out = row
    for name, length in _string_lengths(table):
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            if out is row:
                out = dict(row)
            out[name] = value[:length]
    return out


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    write_rows(session, table, [fit(table, r) for r in rows])
    return len(rows)
