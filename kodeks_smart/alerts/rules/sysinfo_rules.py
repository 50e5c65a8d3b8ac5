"""Conditions of the rules fed by sysinfo reports (source ``sysinfo``) and by ingest bookkeeping (``meta``).

State rules read the **latest** report of each installation (the newest ``sysinfo_reports`` row by report
time) and the snapshot rows of its upload; an alert resolves when a newer report no longer shows the fault:

* ``KodeksDBerrorsCode2007`` / ``KodeksDBerrorsCodeXXX`` / ``KodeksDBerrorsNoCode`` — one instance per
  (installation, database and volume, code) for every volume error and every skipped OperUp package of the
  latest report. The code is the one the report gives (``code`` / ``altCode``), else the one
  `kodeks_smart.alerts.error_codes.db_error_rule` extracts from the message; 2007/4103 → Code2007, any
  other code → CodeXXX, none → NoCode (then the message text is part of the key).
* ``KodeksDBOperUpToOld`` — one instance per OperUp file modified more than 3 days before the report.
* ``KodeksOfflineSensLockCheck`` — the report's protection block says ``status="error"`` or gives an error
  code; ``KodeksXmlSensLockStatus`` — the block is missing or its status is not ``ok``.
* ``KodeksLicenseExpiring2day/7day/90day`` — per database: fewer than 2 / 7 / 90 days from today (the
  installation's local date at evaluation time) to the licence's last day; the levels are independent and
  an expired licence keeps all three. ``KodeksDBLicensesZero`` — a database without a licence end date.
* ``KodeksUnsupportedButUsed`` — ``supportUntil`` of the report is before today and users logged in or made
  DB requests after that day (within the last 30 days); ``value`` = how many users.
* ``KodeksUserActivityIsLow`` / ``KodeksUserAInvolvementIsLow`` — from the 20th to the end of the month
  (installation's local date), when the latest report is of this month: the month-to-date counters of the
  users it lists. Activity = DB requests + opened documents (licensed and free) + saved + printed + kAssist
  requests + services, below 20; involvement = users with DB requests × 100 / seats, below 60 %.

Event rules fire for 24 hours after the event (the window ``now - 24 h``), one instance per event or user:

* ``KodeksSearchIsEmpty`` — per installation with searches whose ``result`` is empty (the queries are listed
  in its labels); ``KodeksSearchError`` — per search whose ``result`` is error;
* ``KodeksDetectOverUserError`` — per user refused with 2008 (4106, ``no-seats``); ``value`` = refusals;
* ``KodeksNewUser`` — per account first seen in the last 24 hours, listed in the latest report, and not in
  the installation's first report (the first report only sets the baseline).

``SmartXMLfileIsToOld`` (meta) — per installation that has an accepted (processed) sysinfo report: the
latest one was made more than 48 hours ago, or its upload was last received more than 48 hours ago (an agent
that keeps resending an old file does not count as a working chain).

Each condition is one or two SQL queries over all installations; rules answered by one query (DB errors,
licence expiry, the two search rules) run it once per cycle. On PostgreSQL a full pass reads the snapshot
facts of a report (volume errors, OperUp files, databases) once per report id and keeps them in the
evaluator's memo (`_snapshot_rows`). Keys are ``inst:<id>`` followed by the object (``:db:…``,
``:operup:…``, ``:search:<row id>``, ``:search-empty``…); labels carry ``client`` (short name), ``dealer``
(code), ``clientname`` and ``regnum`` from the report, ``installation`` and the summary's fields.
Times in labels are the installation's local time.
"""

from __future__ import annotations

import hashlib
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    Interval,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlalchemy.sql.selectable import Subquery

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.engine import (
    CYCLE_CACHE,
    Condition,
    Instance,
    LazyLabels,
    cycle_cached,
    cycle_memo,
    cycle_scope,
    fingerprint,
    stored_fingerprints,
)
from kodeks_smart.alerts.error_codes import (
    CODE_2007,
    RULE_2007,
    RULE_CODED,
    RULE_NO_CODE,
    db_error_rule,
    extract_codes,
)
from kodeks_smart.store.ingest_models import (
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoLogin,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoUsageHour,
    SysinfoUser,
    Upload,
)
from kodeks_smart.store.models import Client, Dealer, Installation

OPERUP_TOO_OLD = timedelta(days=3)
EVENT_WINDOW = timedelta(hours=24)
XML_TOO_OLD = timedelta(hours=48)
UNSUPPORTED_ACTIVITY_WINDOW = timedelta(days=30)
#: Days before the licence's last day below which each rule holds.
EXPIRY_DAYS = {
    "KodeksLicenseExpiring2day": 2,
    "KodeksLicenseExpiring7day": 7,
    "KodeksLicenseExpiring90day": 90,
}
#: Day of the month from which the month-to-date rules are checked, and their thresholds.
MONTH_CHECK_DAY = 20
ACTIVITY_MIN = 20
INVOLVEMENT_MIN = 60.0
#: refusal code (and its new-style alternate) of "no free seats".
NO_SEATS_CODE, NO_SEATS_ALT = 2008, 4106
NO_SEATS_REASON = "no-seats"


# -- the latest report of each installation and its owner -----------------------------------------------


@dataclass(slots=True, eq=False)
class Owner:
    """An installation with what its latest report says about it. Treat it as read-only: it is not frozen
    because a frozen dataclass's ``__init__`` costs eight times as much (17 ms of a full pass over 10,000
    installations); ``eq=False`` keeps it hashable by identity."""

    installation_id: int
    dealer_id: int
    cabinet_id: int
    client_id: int
    client: str
    dealer: str
    report_at: datetime
    offset_minutes: int
    regnum: str | None
    clientname: str | None
    seats: int | None
    support_until: date | None
    protection_status: str | None
    protection_code: int | None
    protection_message: str | None
    #: The latest report's row id (`sysinfo_reports.id`): its snapshot facts never change under it.
    report_id: int | None = None

    @classmethod
    def of(cls, row: RowMapping) -> Owner:
        return cls(
            installation_id=row["installation_id"],
            dealer_id=row["o_dealer_id"],
            cabinet_id=row["o_cabinet_id"],
            client_id=row["o_client_id"],
            client=row["o_client"],
            dealer=row["o_dealer"],
            report_at=row["created_at"],
            offset_minutes=row["utc_offset_minutes"],
            regnum=row["regnum"],
            clientname=row["client_legal_name"],
            seats=row["seats"],
            support_until=row["support_until"],
            protection_status=row["protection_status"],
            protection_code=row["protection_code"],
            protection_message=row["protection_message"],
            report_id=row["report_id"],
        )

    @property
    def offset(self) -> timedelta:
        return timedelta(minutes=self.offset_minutes)

    def local(self, moment: datetime) -> datetime:
        """``moment`` as the installation's wall-clock time (naive)."""
        return (moment + self.offset).replace(tzinfo=None)

    def today(self, now: datetime) -> date:
        return self.local(now).date()

    def stamp(self, moment: datetime | None) -> str:
        return "" if moment is None else self.local(moment).strftime("%d.%m.%Y %H:%M")

    def labels(self, **labels: Any) -> dict[str, Any]:
        """The common labels of the installation's alerts, plus ``labels``."""
        found: dict[str, Any] = {
            "client": self.client,
            "dealer": self.dealer,
            "clientname": self.clientname,
            "regnum": self.regnum,
            "installation": self.installation_id,
        }
        found.update(labels)
        return found

    @property
    def labelled(self) -> tuple[Any, ...]:
        """What the common labels and the local times in labels are made of (for fingerprints)."""
        return (
            self.installation_id,
            self.client,
            self.dealer,
            self.clientname,
            self.regnum,
            self.offset_minutes,
        )

    def instance(
        self,
        rule: str,
        suffix: str | None,
        *,
        lazy: Callable[[], Mapping[str, Any]] | None = None,
        fingerprint: str | None = None,
        **labels: Any,
    ) -> Instance:
        """An instance of ``rule`` for this installation; with ``lazy`` (and a ``fingerprint``) its labels
        are the common ones plus what ``lazy()`` gives, built only if the engine needs them."""
        key = f"inst:{self.installation_id}" + (f":{suffix}" if suffix else "")
        built: Mapping[str, Any] = (
            LazyLabels(lambda: self.labels(**lazy())) if lazy is not None else self.labels(**labels)
        )
        return Instance(
            rule,
            key,
            self.dealer_id,
            self.cabinet_id,
            client_id=self.client_id,
            installation_id=self.installation_id,
            labels=built,
            fingerprint=fingerprint,
        )


#: Within an evaluation cycle (on PostgreSQL within a full pass): the latest reports, picked once into a
#: temporary table of the cycle's connection that every condition then reads (see `latest_reports`).
_LATEST_TEMP = Table(
    "smart_cycle_latest_reports",
    MetaData(),
    Column("report_id", BigInteger),
    Column("upload_id", BigInteger),
    # The key, and on SQLite the rowid ("INTEGER PRIMARY KEY"): the table is read in installation order, so a
    # GROUP BY installation needs no sort of the joined rows.
    # No autoincrement: on PostgreSQL a BIGSERIAL would create (and drop) a sequence every full pass.
    Column(
        "installation_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("client_id", BigInteger),
    Column("created_at", SysinfoReportRow.created_at.type),
    Column("utc_offset_minutes", Integer),
    Column("regnum", String),
    Column("client_legal_name", String),
    Column("seats", Integer),
    Column("support_until", SysinfoReportRow.support_until.type),
    Column("protection_status", String),
    Column("protection_code", Integer),
    Column("protection_message", String),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def latest_reports(session: Session) -> Subquery:
    """The newest report row of every installation (by report time, then by row id).

    Within an evaluation cycle the rows are picked once, into a temporary table that the conditions read
    (on PostgreSQL only in a full pass: picking them again per condition was about a third of the server's
    CPU in a full pass over 10,000 installations); elsewhere this is the subquery below.

    Picked per installation through the ``(client_id, created_at)`` index, walked backwards, so the cost
    does not grow with the months of hourly reports kept: a LATERAL subquery on PostgreSQL (a correlated
    one in the join would make it scan every report row for a hash join), a correlated scalar subquery
    giving the row id on SQLite (which has no LATERAL; its index carries the row id, so the order is free).
    """
    r = SysinfoReportRow
    columns = (
        r.id.label("report_id"),
        r.upload_id,
        r.installation_id,
        r.client_id,
        r.created_at,
        r.utc_offset_minutes,
        r.regnum,
        r.client_legal_name,
        r.seats,
        r.support_until,
        r.protection_status,
        r.protection_code,
        r.protection_message,
    )
    scope = cycle_scope(session)
    postgresql = session.get_bind().dialect.name == "postgresql"
    # On PostgreSQL only for a full pass: a partial cycle's few installations are cheap to pick again, and
    # a temporary table per cycle would churn the system catalogues every 30 s.
    if CYCLE_CACHE in session.info and (scope is None or not postgresql):
        cycle_cached(session, "sysinfo.latest_temp", lambda: _fill_latest_temp(session, columns, scope))
        return select(_LATEST_TEMP).subquery("latest")
    if postgresql:
        return _latest_postgresql(columns, scope)
    return _latest_sqlite(columns, scope)


def _latest_postgresql(columns: Sequence[Any], scope: frozenset[int] | None = None) -> Subquery:
    r, inst = SysinfoReportRow, aliased(Installation)
    newest = (
        select(*columns)
        .where(r.client_id == inst.client_id, r.installation_id == inst.id, r.created_at.is_not(None))
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(1)
        .lateral("newest")
    )
    stmt = select(newest).select_from(inst).join(newest, true())
    if scope is not None:
        stmt = stmt.where(inst.id.in_(sorted(scope)))
    return stmt.subquery("latest")


def changed_installations(session: Session, watermark: int | None) -> tuple[int | None, frozenset[int]]:
    """The evaluator's feed of new reports: the newest report id, and the installations with reports (rows
    of ``sysinfo_reports``, i.e. processed reports) after ``watermark`` (none when it is None)."""
    r = SysinfoReportRow
    if watermark is None:
        return session.scalar(select(func.max(r.id))) or 0, frozenset()
    rows = session.execute(select(r.id, r.installation_id).where(r.id > watermark)).all()
    newest = max((row.id for row in rows), default=watermark)
    return newest, frozenset(row.installation_id for row in rows if row.installation_id is not None)


def _latest_sqlite(columns: Sequence[Any], scope: frozenset[int] | None = None) -> Subquery:
    r, inst = SysinfoReportRow, aliased(Installation)
    other = aliased(SysinfoReportRow)
    pick = (
        select(other.id)
        .where(other.client_id == inst.client_id, other.installation_id == inst.id)
        .order_by(other.created_at.desc(), other.id.desc())
        .limit(1)
        .correlate(inst)
        .scalar_subquery()
    )
    stmt = select(*columns).select_from(inst).join(r, r.id == pick).where(r.created_at.is_not(None))
    if scope is not None:
        stmt = stmt.where(inst.id.in_(sorted(scope)))
    return stmt.subquery("latest")


def _fill_latest_temp(session: Session, columns: Sequence[Any], scope: frozenset[int] | None) -> bool:
    """(Re)create the cycle's temporary table of latest reports on the session's connection.

    On PostgreSQL it is dropped at the commit of the cycle's transaction (``ON COMMIT DROP``) and analysed,
    so that the planner knows its size (temporary tables are never analysed automatically).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_LATEST_TEMP.name}"))
        latest = _latest_postgresql(columns, scope)
    else:
        session.execute(text(f"DROP TABLE IF EXISTS temp.{_LATEST_TEMP.name}"))
        latest = _latest_sqlite(columns, scope)
    _LATEST_TEMP.create(session.connection())
    session.execute(_LATEST_TEMP.insert().from_select([c.name for c in _LATEST_TEMP.c], select(latest)))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE pg_temp.{_LATEST_TEMP.name}"))
    return True


def owned(latest: Subquery, *columns: ColumnElement[Any]) -> Select[Any]:
    """Select the latest reports with their installation, client and dealer, plus ``columns``."""
    return (
        select(
            latest,
            Installation.dealer_id.label("o_dealer_id"),
            Installation.cabinet_id.label("o_cabinet_id"),
            Installation.client_id.label("o_client_id"),
            Client.short_name.label("o_client"),
            Dealer.code.label("o_dealer"),
            *columns,
        )
        .select_from(latest)
        .join(Installation, Installation.id == latest.c.installation_id)
        .join(Client, Client.id == Installation.client_id)
        .join(Dealer, Dealer.id == Installation.dealer_id)
    )


def _rows(session: Session, stmt: Select[Any]) -> list[tuple[Owner, RowMapping]]:
    """The rows of ``stmt`` with the `Owner` of each: built from the row when it selects the `owned`
    columns, else (a `with_facts` statement on PostgreSQL) the cycle's `owners`."""
    if "o_dealer_id" not in stmt.selected_columns:
        known = owners(session)
        return [
            (known[row["installation_id"]], row)
            for row in session.execute(stmt).mappings()
            if row["installation_id"] in known
        ]
    built: dict[int, Owner] = {}
    found = []
    for row in session.execute(stmt).mappings():
        owner = built.get(row["installation_id"])
        if owner is None:
            owner = built[row["installation_id"]] = Owner.of(row)
        found.append((owner, row))
    return found


def _snapshot_memo(session: Session, name: str, horizon: Any = None) -> dict[int, Any] | None:
    """Installation id → (report id, rows) of the snapshot facts ``name`` that earlier full passes read, or
    None where the memo does not apply: outside an evaluation cycle, in a partial cycle (the few
    installations it looks at have new reports anyway) and on SQLite (where the full pass is cheap
    enough). ``horizon`` (for facts read with a clock-dependent bound, kept with them): a different one
    empties the memo, so that the rows are read again with it."""
    if cycle_scope(session) is not None or session.get_bind().dialect.name != "postgresql":
        return None
    memo = cycle_memo(session, f"sysinfo.{name}")
    if memo is None:
        return None
    if memo.get("horizon") != horizon:
        memo.clear()
        memo["horizon"] = horizon
    rows: dict[int, Any] = memo.setdefault("rows", {})
    return rows


def _snapshot_rows(
    session: Session,
    name: str,
    statement: Callable[[Subquery], Select[Any]],
    horizon: Any = None,
) -> list[tuple[Owner, RowMapping]]:
    """`_rows` of ``statement(latest)`` — a `with_facts` statement over facts of the latest reports' uploads
    that does not depend on the clock — read in a full pass only for the installations whose latest report
    changed since the previous full pass (or that it did not see).

    Such facts (volume errors, OperUp files, databases) are a snapshot of one report: its upload's rows,
    written in the transaction that stored the report row and never changed afterwards (reprocessing an
    upload deletes its report row and writes a new one, with a new id). So the rows read for a report id
    are the rows for that id in every later pass: the memo is exact, and a full pass over 10,000
    installations reporting hourly reads one in about twelve of them instead of all (three LATERAL
    lookups of every installation were about 60 ms of server CPU). An installation whose latest report is
    deleted gets another latest report, or none: either way it is read again, or dropped from the memo.
    The rows of each installation keep the order the statement gives them.
    """
    memo = _snapshot_memo(session, name, horizon)
    latest = latest_reports(session)
    if memo is None:
        return _rows(session, statement(latest))
    known = owners(session)
    stale = [
        inst_id
        for inst_id, owner in known.items()
        if (kept := memo.get(inst_id)) is None or kept[0] != owner.report_id
    ]
    fresh: dict[int, list[RowMapping]] = {inst_id: [] for inst_id in stale}
    if len(stale) * 2 > len(known):
        chunks: list[list[int] | None] = [None]  # most of them: one statement over all, as without the memo
    else:
        chunks = [stale[start : start + _CHUNK] for start in range(0, len(stale), _CHUNK)]
    for chunk in chunks:
        stmt = statement(latest)
        if chunk is not None:
            stmt = stmt.where(latest.c.installation_id.in_(chunk))
        for row in session.execute(stmt).mappings():
            rows = fresh.get(row["installation_id"])
            if rows is not None:
                rows.append(row)
    for inst_id, rows in fresh.items():
        memo[inst_id] = (known[inst_id].report_id, rows)
    for inst_id in memo.keys() - known.keys():
        del memo[inst_id]
    return [(owner, row) for inst_id, owner in known.items() for row in memo[inst_id][1]]


def with_facts(
    session: Session,
    latest: Subquery,
    model: Any,
    on: ColumnElement[bool],
    columns: Sequence[Label[Any]],
    where: Sequence[ColumnElement[bool]] = (),
    group_by: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]] = (),
) -> Select[Any]:
    """Latest reports joined with rows of ``model`` (``columns``, filtered by ``on`` and ``where``, grouped
    by ``group_by`` within each installation); read them with `_rows`.

    On PostgreSQL the rows come from a LATERAL subquery, so each installation's rows are found through the
    fact table's index (its upload, or its client and time): the planner's row estimates for the latest
    reports are poor and a plain join can turn into a scan of months of facts. The statement selects only
    the installation id besides the facts: `_rows` takes the owner from the cycle's `owners` (joining
    every statement's 10,000 latest reports with their installation, client and dealer again cost about
    15 ms of server CPU per statement in a full pass). SQLite, which has no LATERAL, already drives such a
    join from the latest reports through the index; there the statement selects the `owned` columns.
    """
    if session.get_bind().dialect.name == "postgresql":
        # OFFSET 0 keeps PostgreSQL from pulling the subquery up into a plain join.
        facts = select(*columns).where(on, *where).group_by(*group_by).offset(0).lateral("facts")
        return (
            select(latest.c.installation_id, *(facts.c[c.name] for c in columns))
            .select_from(latest)
            .join(facts, true())
        )
    stmt = owned(latest, *columns).join(model, on).where(*where)
    if group_by:
        stmt = stmt.group_by(*_owner_group(latest), *group_by)
    return stmt


def _short(text: str | None) -> str:
    """A short stable digest for keys (paths and messages may be long)."""
    return hashlib.blake2b((text or "").encode("utf-8", "replace"), digest_size=6).hexdigest()


def _basename(path: str | None) -> str:
    if not path:
        return ""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


# -- DB errors -------------------------------------------------------------------------------------------


def classify(code: int | None, alt_code: int | None, text: str | None) -> tuple[str, int | None]:
    """The DB-error rule of one error and the code it shows: the report's code, else the message's."""
    given = [c for c in (code, alt_code) if c]
    if given:
        if CODE_2007.intersection(given):
            return RULE_2007, 2007
        return RULE_CODED, given[0]
    rule = db_error_rule(text or "")
    if rule == RULE_2007:
        return rule, 2007
    if rule == RULE_CODED:
        return rule, extract_codes(text or "")[0]
    return RULE_NO_CODE, None


def db_errors(session: Session, now: datetime) -> dict[str, list[Instance]]:
    """Instances of the three DB-error rules from volume errors and OperUp package errors."""
    found: dict[str, list[Instance]] = {RULE_2007: [], RULE_CODED: [], RULE_NO_CODE: []}
    e = SysinfoDbError

    def volume_errors(latest: Subquery) -> Select[Any]:
        return with_facts(
            session,
            latest,
            e,
            e.upload_id == latest.c.upload_id,
            [
                e.database.label("f_database"),
                e.volume.label("f_volume"),
                e.code.label("f_code"),
                e.alt_code.label("f_alt_code"),
                e.text.label("f_text"),
                e.occurred_at.label("f_at"),
            ],
        )

    operup_errors = [
        (owner, row)
        for owner, row in _operup_rows(session, now)
        if row["f_code"] is not None or row["f_text"] is not None
    ]
    volume_rows = _snapshot_rows(session, "db_errors", volume_errors)
    for rows, kind in ((volume_rows, "db"), (operup_errors, "operup")):
        for owner, row in rows:
            text = row["f_text"] or ""
            rule, code = classify(row["f_code"], row.get("f_alt_code"), text)
            database = row["f_database"] or ("OperUp" if kind == "operup" else "")
            volume = row["f_volume"]
            shown = f"{database} ({_basename(volume)})" if volume else database
            what = str(code) if code is not None else f"nocode:{_short(text)}"
            found[rule].append(
                owner.instance(
                    rule,
                    f"{kind}:{database or '-'}:{_short(volume)}:{what}",
                    database=shown,
                    volume=volume,
                    code=code,
                    text=text,
                    date=owner.stamp(row["f_at"]),
                )
            )
    return found


def _share_of(rule: str, grouped: Callable[[Session, datetime], dict[str, list[Instance]]]) -> Condition:
    """The condition of one of several rules that a single query answers together."""

    def condition(session: Session, now: datetime) -> Iterable[Instance]:
        return cycle_cached(session, f"sysinfo.{grouped.__name__}", lambda: grouped(session, now))[rule]

    condition.__name__ = f"{rule}_condition"
    return condition


def _db_errors(session: Session, now: datetime) -> dict[str, list[Instance]]:
    return db_errors(session, now)


def _operup_rows(session: Session, now: datetime) -> list[tuple[Owner, RowMapping]]:
    """The OperUp files of the latest reports that the DB-error rules (an error) or `operup_too_old` (an old
    file) may need: one query for both in a cycle, as they read the same rows."""

    f = SysinfoOperUpFile
    # Necessary for "older than 3 days before the report": on PostgreSQL (read through `_snapshot_rows`,
    # so not bound to the clock) exactly that; elsewhere a coarse bound by the clock, which holds unless
    # the report is dated a day ahead of now. `operup_too_old` checks both bounds, so the rows it keeps
    # are the same either way.
    postgresql = session.get_bind().dialect.name == "postgresql"

    def statement(latest: Subquery) -> Select[Any]:
        old = (
            f.modified_at < latest.c.created_at - literal(OPERUP_TOO_OLD, Interval())
            if postgresql
            else f.modified_at < now - OPERUP_TOO_OLD + timedelta(days=1)
        )
        return with_facts(
            session,
            latest,
            f,
            f.upload_id == latest.c.upload_id,
            [
                f.database.label("f_database"),
                f.path.label("f_volume"),
                f.error_code.label("f_code"),
                f.error_text.label("f_text"),
                f.modified_at.label("f_at"),
            ],
            [or_(f.error_code.is_not(None), f.error_text.is_not(None), old)],
        )

    def compute() -> list[tuple[Owner, RowMapping]]:
        return _snapshot_rows(session, "operup", statement)

    return cycle_cached(session, "sysinfo.operup", compute)


def operup_too_old(session: Session, now: datetime) -> Iterable[Instance]:
    """OperUp files modified more than 3 days before the latest report."""
    found = []
    for owner, row in _operup_rows(session, now):
        modified: datetime | None = row["f_at"]
        if modified is None or modified >= now - OPERUP_TOO_OLD + timedelta(days=1):
            continue  # the bound of the shared query's (coarse) condition for old files, as before
        age = owner.report_at - modified
        if age > OPERUP_TOO_OLD:
            found.append(
                owner.instance(
                    "KodeksDBOperUpToOld",
                    f"operup:{_short(row['f_volume'])}",
                    filename=row["f_volume"],
                    database=row["f_database"],
                    date=owner.stamp(modified),
                    value=f"{age.total_seconds() / 86400:.1f} дн.",
                )
            )
    return found


# -- protection (SenseLock) ------------------------------------------------------------------------------


def _protection_text(owner: Owner) -> str:
    if owner.protection_message:
        return owner.protection_message
    if owner.protection_code is not None:
        return f"ошибка защиты {owner.protection_code}"
    return f"статус ключа: {owner.protection_status or 'не указан'}"


def senselock_offline(session: Session, now: datetime) -> Iterable[Instance]:
    """The latest report's protection block reports a key error (status error or an error code); read from
    the cycle's `owners`, which carry the block, instead of a query of its own."""
    return [
        owner.instance(
            "KodeksOfflineSensLockCheck",
            None,
            text=_protection_text(owner),
            code=owner.protection_code,
            date=owner.stamp(owner.report_at),
        )
        for owner in owners(session).values()
        if owner.protection_status == "error" or owner.protection_code is not None
    ]


def senselock_xml(session: Session, now: datetime) -> Iterable[Instance]:
    """The latest report has no protection block, or its status is not ``ok`` (from the cycle's `owners`)."""
    found = []
    for owner in owners(session).values():
        if owner.protection_status == "ok":
            continue
        if owner.protection_status is None and owner.protection_message is None:
            text = "в отчёте нет блока со статусом ключа"
        else:
            text = _protection_text(owner)
        found.append(
            owner.instance(
                "KodeksXmlSensLockStatus",
                None,
                text=text,
                code=owner.protection_code,
                value=owner.protection_status or "нет данных",
                date=owner.stamp(owner.report_at),
            )
        )
    return found


# -- licences --------------------------------------------------------------------------------------------


def _database_label(code: str | None, name: str | None) -> str:
    if code and name:
        return f"{code} ({name})"
    return code or name or "?"


def _database_rows(session: Session, now: datetime) -> list[tuple[Owner, RowMapping]]:
    """The databases of the latest reports without a licence end date or with one within the longest expiry
    level: one query per cycle for `licences_expiring` and `licences_missing`, which read the same rows."""

    longest = max(EXPIRY_DAYS.values())
    # Coarse bound (any installation's "today" is within a day of the UTC date), exact in Python.
    bound = now.date() + timedelta(days=longest + 1)
    # Read through `_snapshot_rows` with a bound that holds for about a month (the first day of the month
    # after bound + 31 days, so always after ``bound``), the rows are then kept to those before ``bound``.
    horizon = (bound + timedelta(days=31)).replace(day=1)
    d = SysinfoDatabase

    def statement(latest: Subquery) -> Select[Any]:
        return with_facts(
            session,
            latest,
            d,
            d.upload_id == latest.c.upload_id,
            [d.code.label("f_code"), d.name.label("f_name"), d.license_to.label("f_to")],
            [or_(d.license_to.is_(None), d.license_to < horizon)],
        )

    def compute() -> list[tuple[Owner, RowMapping]]:
        return [
            (owner, row)
            for owner, row in _snapshot_rows(session, "databases", statement, horizon)
            if row["f_to"] is None or row["f_to"] < bound
        ]

    return cycle_cached(session, "sysinfo.databases", compute)


def licences_expiring(session: Session, now: datetime) -> dict[str, list[Instance]]:
    """Databases of the latest reports whose licence ends within 2 / 7 / 90 days of today."""
    found: dict[str, list[Instance]] = {rule: [] for rule in EXPIRY_DAYS}
    for owner, row in _database_rows(session, now):
        until: date | None = row["f_to"]
        if until is None:
            continue
        left = (until - owner.today(now)).days
        for rule, days in EXPIRY_DAYS.items():
            if left < days:
                found[rule].append(
                    owner.instance(
                        rule,
                        f"licence:{row['f_code'] or _short(row['f_name'])}",
                        database=_database_label(row["f_code"], row["f_name"]),
                        date=until.strftime("%d.%m.%Y"),
                        value=left,
                    )
                )
    return found


def licences_missing(session: Session, now: datetime) -> Iterable[Instance]:
    """Databases of the latest reports without a licence end date (no or an empty licence block)."""
    return [
        owner.instance(
            "KodeksDBLicensesZero",
            f"nolicence:{row['f_code'] or _short(row['f_name'])}",
            database=_database_label(row["f_code"], row["f_name"]),
        )
        for owner, row in _database_rows(session, now)
        if row["f_to"] is None
    ]


# -- support and users -----------------------------------------------------------------------------------


def unsupported_but_used(session: Session, now: datetime) -> Iterable[Instance]:
    """Support ended (``supportUntil`` before today) and users logged in or worked after that day."""
    since = now - UNSUPPORTED_ACTIVITY_WINDOW
    coarse_today = now.date() + timedelta(days=1)
    # Support has ended for few installations, if any: no queries over the others' facts at all.
    if not any(
        owner.support_until is not None and owner.support_until < coarse_today
        for owner in owners(session).values()
    ):
        return []
    latest = latest_reports(session)
    ended = latest.c.support_until < coarse_today
    lg, us = SysinfoLogin, SysinfoUsageHour
    logins = with_facts(
        session,
        latest,
        lg,
        _same_installation(lg, latest),
        [lg.login.label("f_login"), func.max(lg.occurred_at).label("f_at")],
        [ended, lg.occurred_at >= since],
        [lg.login],
    )
    usage = with_facts(
        session,
        latest,
        us,
        _same_installation(us, latest),
        [us.login.label("f_login"), func.max(us.hour).label("f_at")],
        [ended, us.hour >= since, us.db_requests > 0],
        [us.login],
    )
    using: dict[int, Owner] = {}
    users: dict[int, set[str]] = defaultdict(set)
    for stmt in (logins, usage):
        for owner, row in _rows(session, stmt):
            assert owner.support_until is not None
            if owner.support_until >= owner.today(now):
                continue
            ended_at = datetime.combine(owner.support_until + timedelta(days=1), datetime.min.time())
            if owner.local(row["f_at"]) >= ended_at:
                using[owner.installation_id] = owner
                users[owner.installation_id].add(row["f_login"])
    return [
        owner.instance(
            "KodeksUnsupportedButUsed",
            None,
            value=len(users[inst_id]),
            date=owner.support_until.strftime("%d.%m.%Y") if owner.support_until else "",
        )
        for inst_id, owner in sorted(using.items())
    ]


def _same_installation(fact: Any, latest: Subquery) -> ColumnElement[bool]:
    """Events of the latest report's installation, through the ``(client_id, …)`` prefix of their key."""
    return and_(fact.client_id == latest.c.client_id, fact.installation_id == latest.c.installation_id)


def _owner_group(latest: Subquery) -> list[ColumnElement[Any]]:
    """GROUP BY columns for an aggregate over `owned` rows."""
    return [
        *latest.c,
        Installation.dealer_id,
        Installation.cabinet_id,
        Installation.client_id,
        Client.short_name,
        Dealer.code,
    ]


def _this_month(session: Session, now: datetime) -> list[tuple[Owner, int, int]]:
    """(owner, activity, users with DB requests) for installations due for the month-to-date check now and
    below one of the thresholds: the local date is the 20th or later and the latest report is of this month;
    the users are those the latest report lists, with their counters of this month."""
    # Local dates lie within -12 h … +14 h of UTC: nothing to do before any installation reaches the 20th,
    # and at most one month can be due (the other candidate date is then the 1st of the next month).
    candidates = {(now + timedelta(hours=h)).date() for h in (-12, 14)}
    months = {d.replace(day=1) for d in candidates if d.day >= MONTH_CHECK_DAY}
    if not months:
        return []
    [month] = months
    return cycle_cached(session, "sysinfo.this_month", lambda: _month_to_date(session, now, month))


def _month_to_date(session: Session, now: datetime, month: date) -> list[tuple[Owner, int, int]]:
    """The installations below a month-to-date threshold: one grouped query computes the two sums once per
    installation and keeps those below (before, both sums were correlated subqueries that the WHERE clause
    repeated: four passes over the users of each of 10,000 installations); the local dates are checked in
    Python on the cycle's `owners`."""
    u = SysinfoUser
    counters = (
        u.month_db_requests,
        u.month_docs,
        u.month_free_docs,
        u.month_saved,
        u.month_printed,
        u.month_kassist,
        u.month_services,
    )
    activity = reduce(operator.add, [func.coalesce(c, 0) for c in counters])
    latest = latest_reports(session)
    # The users the latest report lists (found through the users' (client_id, login) key), with their
    # counters of this month. (coalesce keeps PostgreSQL off the last_seen_at index: AND-ing it with the key
    # reads every account seen since the report.)
    listed = (
        u.client_id == latest.c.client_id,
        func.coalesce(u.last_seen_at, u.first_seen_at) >= latest.c.created_at,
        u.month_from == month,
    )
    sums = (
        func.coalesce(func.sum(activity), 0).label("activity"),
        func.coalesce(func.sum(case((u.month_db_requests > 0, 1), else_=0)), 0).label("involved"),
    )
    month_start = datetime.combine(month, datetime.min.time(), UTC) - timedelta(hours=14)
    recent = latest.c.created_at >= month_start

    def below(activity: ColumnElement[Any], involved: ColumnElement[Any]) -> ColumnElement[bool]:
        seats = latest.c.seats
        return or_(activity < ACTIVITY_MIN, and_(seats > 0, involved * 100 < seats * INVOLVEMENT_MIN))

    if session.get_bind().dialect.name == "postgresql":
        # Per installation through the key (LATERAL), as `with_facts` does; an installation without listed
        # users gets zeros from the aggregate.
        facts = select(*sums).where(*listed).offset(0).lateral("facts")
        stmt = (
            select(latest.c.installation_id, *facts.c)
            .select_from(latest)
            .join(facts, true())
            .where(recent, below(facts.c.activity, facts.c.involved))
        )
    else:
        # LEFT JOIN: an installation without listed users (sums of no rows: zeros) is below the thresholds.
        activity_sum, involved_sum = sums
        stmt = (
            select(latest.c.installation_id, *sums)
            .select_from(latest)
            .outerjoin(u, and_(*listed))
            .where(recent)
            # By installation only (its seats are one value per group; SQLite allows the bare column), so
            # that the rows come grouped in the temporary table's order without a sort.
            .group_by(latest.c.installation_id)
            .having(below(activity_sum, involved_sum))
        )
    known = owners(session)
    due = []
    for row in session.execute(stmt):
        owner = known.get(row.installation_id)
        if owner is None:
            continue
        today = owner.today(now)
        if today.day < MONTH_CHECK_DAY or today.replace(day=1) != month:
            continue
        if owner.local(owner.report_at).date() < month:
            continue
        due.append((owner, int(row.activity), int(row.involved)))
    return due


def activity_low(session: Session, now: datetime) -> Iterable[Instance]:
    return [
        owner.instance("KodeksUserActivityIsLow", None, value=activity, threshold=ACTIVITY_MIN)
        for owner, activity, _ in _this_month(session, now)
        if activity < ACTIVITY_MIN
    ]


def involvement_low(session: Session, now: datetime) -> Iterable[Instance]:
    found = []
    for owner, _, involved in _this_month(session, now):
        if not owner.seats:
            continue
        percent = involved * 100.0 / owner.seats
        if percent < INVOLVEMENT_MIN:
            found.append(
                owner.instance(
                    "KodeksUserAInvolvementIsLow",
                    None,
                    value=f"{percent:.0f}",
                    users=involved,
                    seats=owner.seats,
                )
            )
    return found


def new_users(session: Session, now: datetime) -> Iterable[Instance]:
    """Accounts first seen in the last 24 h, listed in the latest report, absent from the first one.

    Two queries: the (rare) candidate accounts, then the latest reports of their clients only.
    """
    u, other, recent = SysinfoUser, aliased(SysinfoUser), aliased(SysinfoUser)
    cutoff = now - EVENT_WINDOW
    # The installation's first report set the baseline: the earliest sighting of any of its accounts.
    # Computed once per client with recent accounts (a grouped subquery), not once per account.
    baseline = (
        select(other.client_id, func.min(other.first_seen_at).label("first"))
        .where(other.client_id.in_(select(recent.client_id).where(recent.first_seen_at >= cutoff)))
        .group_by(other.client_id)
        .subquery("baseline")
    )
    candidates = session.execute(
        select(u.client_id, u.login, u.full_name, u.first_seen_at, u.last_seen_at, u.created_at)
        .join(baseline, baseline.c.client_id == u.client_id)
        .where(u.first_seen_at >= cutoff, u.first_seen_at > baseline.c.first)
    ).all()
    if not candidates:
        return []
    by_client: dict[int, list[Any]] = defaultdict(list)
    for candidate in candidates:
        by_client[candidate.client_id].append(candidate)
    found = []
    clients = sorted(by_client)
    for start in range(0, len(clients), 500):
        latest = latest_reports(session)
        stmt = owned(latest).where(latest.c.client_id.in_(clients[start : start + 500]))
        for owner, row in _rows(session, stmt):
            for user in by_client[row["client_id"]]:
                if user.last_seen_at < owner.report_at:
                    continue  # not in the latest report any more
                found.append(
                    owner.instance(
                        "KodeksNewUser",
                        f"user:{user.login}",
                        user=user.login,
                        text=user.full_name or "",
                        date=owner.stamp(user.created_at or user.first_seen_at),
                    )
                )
    return found


# -- events ----------------------------------------------------------------------------------------------


#: A KodeksSearchIsEmpty alert names at most this many of its queries in the summary and lists at most
#: ``EMPTY_SEARCHES_LISTED`` (newest first) in its ``searches`` label.
EMPTY_SEARCHES_SHOWN = 3
EMPTY_SEARCHES_LISTED = 20
_CHUNK = 500


def owners(session: Session) -> dict[int, Owner]:
    """Installation id → `Owner` of every installation with a report; one query per cycle."""

    def compute() -> dict[int, Owner]:
        latest = latest_reports(session)
        # The columns in the order of Owner's fields: plain tuples, not mappings (10,000 of them per pass).
        stmt = (
            select(
                latest.c.installation_id,
                Installation.dealer_id,
                Installation.cabinet_id,
                Installation.client_id,
                Client.short_name,
                Dealer.code,
                latest.c.created_at,
                latest.c.utc_offset_minutes,
                latest.c.regnum,
                latest.c.client_legal_name,
                latest.c.seats,
                latest.c.support_until,
                latest.c.protection_status,
                latest.c.protection_code,
                latest.c.protection_message,
                latest.c.report_id,
            )
            .select_from(latest)
            .join(Installation, Installation.id == latest.c.installation_id)
            .join(Client, Client.id == Installation.client_id)
            .join(Dealer, Dealer.id == Installation.dealer_id)
        )
        return {row[0]: Owner(*row) for row in session.execute(stmt)}

    return cycle_cached(session, "sysinfo.owners", compute)


def search_error(session: Session, now: datetime) -> Iterable[Instance]:
    """One instance per failed search (rare, and each one is a fault of the search engine): the rows are
    read only for the installations that `_search_marks` found with any."""
    known = owners(session)
    failing = {
        inst_id: client_id
        for inst_id, (client_id, _, errors) in _search_marks(session, now).items()
        if errors and inst_id in known
    }
    q = SysinfoSearch
    ids = sorted(failing)
    found = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in session.execute(
            select(
                q.installation_id,
                q.client_id,
                q.id,
                q.login,
                q.query,
                q.occurred_at,
                q.catalog,
                q.type,
                q.error,
            ).where(
                q.client_id.in_(sorted({failing[i] for i in chunk})),
                q.installation_id.in_(chunk),
                q.result == "error",
                q.occurred_at >= now - EVENT_WINDOW,
            )
        ):
            if failing[row.installation_id] != row.client_id:
                continue  # another client's installation of that id: not the latest report's facts
            owner = known[row.installation_id]
            found.append(
                owner.instance(
                    "KodeksSearchError",
                    f"search:{row.id}",
                    query=row.query or "",
                    user=row.login,
                    date=owner.stamp(row.occurred_at),
                    catalog=row.catalog,
                    searchtype=row.type,
                    text=row.error or "",
                )
            )
    return found


#: Version of the labels `search_empty` builds, part of their fingerprint: alerts stored by a build that
#: made them differently get the new labels in the next full pass. Bump it when changing `_empty_labels`.
EMPTY_LABELS_VERSION = 1
EMPTY_RULE = "KodeksSearchIsEmpty"
EMPTY_SUFFIX = "search-empty"


def _search_marks(session: Session, now: datetime) -> dict[int, tuple[int, tuple[int, ...] | None, int]]:
    """Installation id → (client id of its latest report, marks of its empty searches in the window or None,
    how many failed searches), for the installations with either; one query for both search rules.

    Marks of empty searches: (count, smallest id, largest id, sum of ids).

    The marks identify the set of searches, which is all the alert's labels are made of besides the
    installation: search rows never change, a new one has a larger id than every older one, and one that
    leaves the window or is deleted changes the count. Aggregated in SQL, so steady installations cost no
    rows in Python (before, every empty search of every installation was fetched and formatted each pass).
    """

    def compute() -> dict[int, tuple[int, tuple[int, ...] | None, int]]:
        latest = latest_reports(session)
        q = SysinfoSearch
        empty = q.result == "empty"
        aggregates = (
            func.count(q.id).filter(empty).label("n"),
            func.min(q.id).filter(empty).label("low"),
            func.max(q.id).filter(empty).label("high"),
            func.sum(q.id).filter(empty).label("total"),
            func.count(q.id).filter(q.result == "error").label("errors"),
        )
        where = (
            _same_installation(q, latest),
            q.occurred_at >= now - EVENT_WINDOW,
            q.result.in_(("empty", "error")),
        )
        if session.get_bind().dialect.name == "postgresql":
            facts = select(*aggregates).where(*where).offset(0).lateral("facts")
            stmt = (
                select(latest.c.installation_id, latest.c.client_id, *facts.c)
                .select_from(latest)
                .join(facts, true())
                .where(or_(facts.c.n > 0, facts.c.errors > 0))
            )
        else:
            stmt = (
                select(latest.c.installation_id, latest.c.client_id, *aggregates)
                .select_from(latest)
                .join(q, and_(*where))
                .group_by(latest.c.installation_id, latest.c.client_id)
            )
        return {
            # int(): PostgreSQL's sum is a numeric
            inst_id: (client_id, (int(n), int(low), int(high), int(total)) if n else None, int(errors))
            for inst_id, client_id, n, low, high, total, errors in session.execute(stmt)
        }

    return cycle_cached(session, "sysinfo.searches", compute)


class _EmptySearches:
    """The empty searches of the window, newest first, loaded for the installations whose alerts are built:
    at once for those whose fingerprint changed, then (rarely: a pending alert due to fire) one by one."""

    def __init__(self, session: Session, now: datetime, clients: Mapping[int, int]) -> None:
        self.session = session
        self.cutoff = now - EVENT_WINDOW
        self.clients = clients  # installation id → client id of its latest report
        self.loaded: dict[int, list[Any]] = {}

    def load(self, installations: Iterable[int]) -> None:
        ids = sorted(set(installations) - self.loaded.keys())
        q = SysinfoSearch
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found: dict[int, list[Any]] = {inst_id: [] for inst_id in chunk}
            for row in self.session.execute(
                select(q.installation_id, q.client_id, q.id, q.login, q.query, q.occurred_at).where(
                    q.client_id.in_(sorted({self.clients[i] for i in chunk})),
                    q.installation_id.in_(chunk),
                    q.result == "empty",
                    q.occurred_at >= self.cutoff,
                )
            ):
                if self.clients[row.installation_id] == row.client_id:
                    found[row.installation_id].append(row)
            for rows in found.values():
                rows.sort(key=lambda row: (row.occurred_at, row.id), reverse=True)
            self.loaded.update(found)

    def of(self, installation_id: int) -> list[Any]:
        if installation_id not in self.loaded:
            if not self.session.in_transaction():
                # Labels built after the cycle would open a transaction nobody closes (and see other data).
                raise RuntimeError("lazy labels are built within the cycle that made them")
            self.load([installation_id])
        return self.loaded[installation_id]


def _empty_labels(owner: Owner, rows: Sequence[Any]) -> dict[str, Any]:
    """The labels of an installation's `KodeksSearchIsEmpty` alert from its empty searches, newest first."""
    queries: list[str] = []
    users: list[str] = []
    for row in rows:
        text = row.query or ""
        if text not in queries and len(queries) < EMPTY_SEARCHES_SHOWN:
            queries.append(text)
        login = row.login or ""
        if login not in users and len(users) < EMPTY_SEARCHES_SHOWN:
            users.append(login)
    user = ", ".join(users) + (f"; поисков: {len(rows)}" if len(rows) > 1 else "")
    return {
        "query": "», «".join(queries),
        "user": user,
        "value": len(rows),
        "date": owner.stamp(rows[0].occurred_at) if rows else "",
        "searches": [
            f"{owner.stamp(row.occurred_at)} {row.login or '?'}: {row.query or ''}"
            for row in rows[:EMPTY_SEARCHES_LISTED]
        ],
    }


def search_empty(session: Session, now: datetime) -> Iterable[Instance]:
    """One instance per installation with empty searches in the last 24 hours (see the runbook's «Решение
    SMART»): ``value`` = how many, ``query`` / ``user`` = the newest distinct queries and their users (for
    the summary), ``searches`` = the newest of them as «date user: query» lines, ``date`` = the newest.

    Every installation of a network has some, so there are as many of these alerts as installations: their
    labels are built only where the fingerprint (the installation's labels and the marks of its searches,
    see `_search_marks`) differs from the stored alert's; steady alerts cost one aggregate row each.
    """
    known = owners(session)
    marks = {
        inst_id: (client_id, mark)
        for inst_id, (client_id, mark, _) in _search_marks(session, now).items()
        if mark is not None
    }
    stored = stored_fingerprints(session, EMPTY_RULE)
    template = RULES[EMPTY_RULE].summary
    searches = _EmptySearches(session, now, {inst_id: client_id for inst_id, (client_id, _) in marks.items()})
    prints: dict[int, str] = {}
    for inst_id, (_, mark) in marks.items():
        owner = known.get(inst_id)
        if owner is not None:
            prints[inst_id] = fingerprint(
                EMPTY_LABELS_VERSION,
                template,
                EMPTY_SEARCHES_SHOWN,
                EMPTY_SEARCHES_LISTED,
                owner.labelled,
                mark,
            )
    # The alerts that will be (re)built: load their searches now, in a few queries, within the condition.
    searches.load(
        inst_id for inst_id, value in prints.items() if stored.get(f"inst:{inst_id}:{EMPTY_SUFFIX}") != value
    )
    found = []
    for inst_id, value in prints.items():
        owner = known[inst_id]

        def build(owner: Owner = owner) -> dict[str, Any]:
            return _empty_labels(owner, searches.of(owner.installation_id))

        found.append(owner.instance(EMPTY_RULE, EMPTY_SUFFIX, lazy=build, fingerprint=value))
    return found


def over_user(session: Session, now: datetime) -> Iterable[Instance]:
    """Users refused for lack of free seats (2008 / 4106 / ``no-seats``) in the last 24 hours."""
    latest = latest_reports(session)
    r = SysinfoRefusal
    stmt = with_facts(
        session,
        latest,
        r,
        _same_installation(r, latest),
        [r.login.label("f_login"), func.count().label("f_count"), func.max(r.occurred_at).label("f_at")],
        [
            r.occurred_at >= now - EVENT_WINDOW,
            or_(r.code == NO_SEATS_CODE, r.alt_code == NO_SEATS_ALT, r.reason == NO_SEATS_REASON),
        ],
        [r.login],
    )
    return [
        owner.instance(
            "KodeksDetectOverUserError",
            f"overuser:{row['f_login']}",
            user=row["f_login"],
            value=int(row["f_count"]),
            date=owner.stamp(row["f_at"]),
        )
        for owner, row in _rows(session, stmt)
    ]


# -- meta ------------------------------------------------------------------------------------------------


def xml_too_old(session: Session, now: datetime) -> Iterable[Instance]:
    """Installations whose latest accepted report was made, or last received, more than 48 hours ago.

    "Accepted" = processed into a report row; an agent that keeps resending an old file moves the upload's
    ``last_received_at`` but not the report's time, so the chain still counts as broken.
    """
    cutoff = now - XML_TOO_OLD
    latest = latest_reports(session)
    up = Upload
    stmt = with_facts(
        session,
        latest,
        up,
        up.id == latest.c.upload_id,
        [up.last_received_at.label("f_received")],
        [or_(up.last_received_at < cutoff, latest.c.created_at < cutoff)],
    )
    found = []
    for owner, row in _rows(session, stmt):
        received: datetime = row["f_received"]
        last = min(received, owner.report_at)
        found.append(
            owner.instance(
                "SmartXMLfileIsToOld",
                None,
                date=owner.stamp(owner.report_at),
                received=owner.stamp(received),
                value=f"{(now - last).total_seconds() / 3600:.0f} ч",
            )
        )
    return found


CONDITIONS: dict[str, Condition] = {
    "KodeksDBerrorsNoCode": _share_of(RULE_NO_CODE, _db_errors),
    "KodeksDBerrorsCode2007": _share_of(RULE_2007, _db_errors),
    "KodeksDBerrorsCodeXXX": _share_of(RULE_CODED, _db_errors),
    "KodeksDBOperUpToOld": operup_too_old,
    "KodeksSearchIsEmpty": search_empty,
    "KodeksSearchError": search_error,
    "KodeksOfflineSensLockCheck": senselock_offline,
    "KodeksXmlSensLockStatus": senselock_xml,
    "KodeksDetectOverUserError": over_user,
    **{rule: _share_of(rule, licences_expiring) for rule in EXPIRY_DAYS},
    "KodeksDBLicensesZero": licences_missing,
    "KodeksUnsupportedButUsed": unsupported_but_used,
    "KodeksNewUser": new_users,
    "KodeksUserActivityIsLow": activity_low,
    "KodeksUserAInvolvementIsLow": involvement_low,
    "SmartXMLfileIsToOld": xml_too_old,
}

#: Labels every instance of these rules carries.
COMMON_LABELS: tuple[str, ...] = ("client", "dealer", "clientname", "regnum", "installation")

#: Rules whose facts change only with a new report: in a partial cycle they are evaluated only for the
#: installations with new reports (see `changed_installations`; their clock-dependent parts — licence days,
#: 24-hour event windows, the 48-hour age of the chain, month-to-date checks — wait for the full pass).
SCOPED: frozenset[str] = frozenset(CONDITIONS)

__all__ = [
    "COMMON_LABELS",
    "CONDITIONS",
    "SCOPED",
    "Owner",
    "changed_installations",
    "classify",
    "latest_reports",
    "owned",
]
