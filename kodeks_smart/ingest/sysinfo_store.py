"""Storing a parsed sysinfo report, inside the processing transaction of its upload.

Time: every local time of the report becomes UTC with the offset the report declares (``utcOffset``,
docs/sysinfo-format.md §2); a report without one uses the offset of the installation it is attributed to
(`choose_installation`), and with neither Moscow time (UTC+3) is assumed. When the declared offset
differs from the installation's setting a warning says so (the setting is probably wrong).

Events (refusals, logins, searches) are immutable: a row already stored by an earlier report is left as
it is and new ones are inserted (``ON CONFLICT DO NOTHING`` also covers two consumers at once); when
reprocessing they are rewritten. Hourly usage and kAssist days change while the hour or day lasts, so
there the newer report wins. Each hourly report repeats up to a month of events: `coverage_windows`
tells the parser which of them earlier reports already stored, so they are not even built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from kodeks_smart.ingest import operup_latest, seats_rollup, usage_rollup, user_rollup
from kodeks_smart.ingest.metrics_store import Written
from kodeks_smart.ingest.writers import (
    Batch,
    Target,
    columns_except,
    fit,
    table_of,
)
from kodeks_smart.parsers.sysinfo import Windows
from kodeks_smart.parsers.sysinfo_mapping import BLOCKS
from kodeks_smart.parsers.sysinfo_records import Section, SysinfoReport
from kodeks_smart.store.ingest_models import (
    SysinfoCatalog,
    SysinfoComponent,
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoGap,
    SysinfoKassistDay,
    SysinfoLogin,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
    SysinfoVolume,
)
from kodeks_smart.store.models import Installation

DEFAULT_OFFSET_MINUTES = 180
#: First key of the per-client advisory lock of sysinfo writes on PostgreSQL (the two-key space, apart from
#: the one-key locks of migrations and jobs).
CLIENT_LOCK = 5
#: Event blocks whose container sections carry the period their log covers.
EVENT_BLOCKS = {b.name: (b.container or b.element).rsplit("/", 1)[-1] for b in BLOCKS if b.time_field}


#: How far back stored reports are looked at to find what a new report repeats.
COVERAGE_LOOKBACK = timedelta(days=45)
COVERAGE_REPORTS = 48
#: The hour in progress changes until the next report: usage this close to a report is never skipped.
OPEN_USAGE = timedelta(hours=2)
#: An event of the last moments before a report may reach the server's log after the report took its copy
#: (the next report then has an event inside the period of the one before): events this close to a report
#: are never skipped; storing them again is a no-op (natural keys).
LOG_SETTLE = timedelta(minutes=10)


def coverage_windows(session: Session, client_id: int, before: datetime) -> Windows | None:
    """Local-time windows of event blocks that processed reports of this client already stored.

    A report's event log is complete for its period (``from``/``to`` of the block, else the report's
    period), so events in the union of earlier periods need not be built again. Returns None for a client
    with several installations (their reports do not cover each other) — or no windows, when it has no
    report yet (one query: the installations are counted in it).
    """
    installations = (
        select(func.count())
        .select_from(Installation)
        .where(Installation.client_id == client_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            SysinfoReportRow.created_at,
            SysinfoReportRow.utc_offset_minutes,
            SysinfoReportRow.period_from,
            SysinfoReportRow.period_to,
            SysinfoReportRow.sections,
            installations,
        )
        .where(
            SysinfoReportRow.client_id == client_id, SysinfoReportRow.created_at >= before - COVERAGE_LOOKBACK
        )
        .order_by(SysinfoReportRow.created_at.desc())
        .limit(COVERAGE_REPORTS)
    ).all()
    if rows and (rows[0][5] or 0) > 1:
        return None
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for created, offset, period_from, period_to, sections, _ in rows:
        shift = timedelta(minutes=offset)
        for block, container in EVENT_BLOCKS.items():
            section = (sections or {}).get(container)
            if section is None:
                continue  # the block was missing from that report: it covers nothing
            start = _iso(section.get("period_from")) or period_from
            end = _iso(section.get("period_to")) or period_to
            if start is None or end is None:
                continue
            if created is not None:
                end = min(end, created - (OPEN_USAGE if block == "usage" else LOG_SETTLE))
            if end < start:
                continue
            windows.setdefault(block, []).append(
                ((start + shift).replace(tzinfo=None), (end + shift).replace(tzinfo=None))
            )
    return {block: _union(spans) for block, spans in windows.items()}


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class _Clock:
    """Local report times → UTC."""

    def __init__(self, offset_minutes: int) -> None:
        self.offset = timedelta(minutes=offset_minutes)

    def utc(self, local: datetime | None) -> datetime | None:
        if local is None:
            return None
        try:
            return (local - self.offset).replace(tzinfo=UTC)
        except OverflowError:
            return None


def _offset(session: Session, target: Target, report: SysinfoReport, warnings: list[str]) -> int:
    """Minutes to subtract from the report's local times: its own ``utcOffset`` (docs/sysinfo-format.md
    §2), else the installation's configured offset, else Moscow time. A declared offset that differs from
    the installation's setting is used, with a warning that the setting looks wrong."""
    declared = report.header.utc_offset_minutes if report.header else None
    configured = None
    if target.installation_id is not None:
        # Usually already in the session (the consumer chose it): no query then.
        installation = session.get(Installation, target.installation_id)
        configured = installation.tz_offset_minutes if installation is not None else None
    if declared is not None:
        if configured is not None and declared != configured:
            warnings.append(
                f"часовой пояс в отчёте (UTC{_fmt_offset(declared)}) не совпадает с настройкой инсталляции"
                f" (UTC{_fmt_offset(configured)}): использован часовой пояс из отчёта, проверьте настройку"
            )
        return declared
    if configured is not None:
        return int(configured)
    warnings.append(
        "в отчёте нет часового пояса, инсталляция не найдена: время считается московским (UTC+03:00)"
    )
    return DEFAULT_OFFSET_MINUTES


def _fmt_offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _section_json(sections: dict[str, Section], clock: _Clock) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, section in sections.items():
        values: dict[str, Any] = {}
        for key in ("count", "step", "seats", "path"):
            value = getattr(section, key)
            if value is not None:
                values[key] = value
        for key in ("period_from", "period_to"):
            stamp = clock.utc(getattr(section, key))
            if stamp is not None:
                values[key] = stamp.isoformat()
        if section.extra:
            values["extra"] = section.extra
        out[name] = values
    return out


def write_sysinfo(
    session: Session, target: Target, report: SysinfoReport, rebuild: bool = False, fresh: bool = False
) -> Written:
    """Write every block of the report; returns record counts and warnings for the upload log.

    ``rebuild`` (reprocessing): events already stored are rewritten from this report instead of kept.
    ``fresh``: the upload's first processing (nothing it wrote before was deleted in this transaction),
    so the usage rollups can change by what the report adds (`usage_rollup.add_report`).
    """
    written = Written(report_time=None, warnings=list(report.warnings))
    if session.get_bind().dialect.name == "postgresql":
        # Several consumers may take two reports of one client at once: their transactions go one after
        # the other from here (the usage rollups change by what this transaction reads). SQLite's write
        # transactions are serial anyway.
        session.execute(select(func.pg_advisory_xact_lock(CLIENT_LOCK, target.client_id)))
    offset = _offset(session, target, report, written.warnings)
    clock = _Clock(offset)
    created = clock.utc(report.created)
    if created is None:
        created = target.received_at
        written.warnings.append("в отчёте нет времени формирования: использовано время получения")
    elif created - target.received_at > timedelta(hours=2):
        written.warnings.append(
            f"время формирования отчёта ({created:%Y-%m-%d %H:%M} UTC) позже времени получения:"
            " проверьте часы сервера и часовой пояс инсталляции"
        )
    written.report_time = created
    base = {
        "dealer_id": target.dealer_id,
        "cabinet_id": target.cabinet_id,
        "client_id": target.client_id,
        "installation_id": target.installation_id,
        "upload_id": target.upload_id,
    }
    stats: dict[str, Any] = {}
    # Every table below is written by one statement on PostgreSQL (`Batch`), flushed before the usage
    # rollups are refreshed from the usage rows it writes.
    batch = Batch()
    _write_report_row(batch, base, report, clock, created, offset)
    per_report = {**base, "report_at": created}
    stats["components"] = batch.insert(
        table_of(SysinfoComponent),
        [
            {
                **per_report,
                "type": c.type,
                "name": c.name,
                "version": c.version,
                "title": c.title,
                "extra": c.extra,
            }
            for c in report.components
        ],
    )
    stats["catalogs"] = batch.insert(
        table_of(SysinfoCatalog),
        [
            {**per_report, "path": c.path, "title": c.title, "databases": c.databases, "extra": c.extra}
            for c in report.catalogs
        ],
    )
    stats["databases"] = batch.insert(
        table_of(SysinfoDatabase),
        [
            {
                **per_report,
                "code": d.code,
                "name": d.name,
                "product": d.product,
                "catalog": d.catalog,
                "update_number": d.update,
                "volumes": d.volumes,
                "license_from": d.license_from,
                "license_to": d.license_to,
                "license_update": d.license_update,
                "extra": d.extra,
            }
            for d in report.databases
        ],
    )
    stats["volumes"] = batch.insert(
        table_of(SysinfoVolume),
        [
            {
                **per_report,
                "database": v.database,
                "path": v.path,
                "update_number": v.update,
                "size": v.size,
                "extra": v.extra,
            }
            for v in report.volumes
        ],
    )
    stats["db_errors"] = batch.insert(
        table_of(SysinfoDbError),
        [
            {
                **per_report,
                "database": e.database,
                "volume": e.volume,
                "code": e.code,
                "alt_code": e.alt_code,
                "occurred_at": clock.utc(e.time),
                "text": e.text,
                "extra": e.extra,
            }
            for e in report.db_errors
        ],
    )
    operup_rows = [
        {
            **per_report,
            "path": f.path,
            "database": f.database,
            "modified_at": clock.utc(f.modified),
            "size": f.size,
            "error_code": f.error_code,
            "error_text": f.error_text,
            "extra": f.extra,
        }
        for f in report.operup_files
    ]
    stats["operup_files"] = batch.insert(table_of(SysinfoOperUpFile), operup_rows)
    operup_latest.write(batch, operup_rows)  # (processed again: the deleted rows' files are repaired below)
    stats["sessions"] = batch.insert(
        table_of(SysinfoSession),
        [
            {
                **per_report,
                "login": s.login,
                "ip": s.ip,
                "browser": s.browser,
                "domain": s.domain,
                "login_at": clock.utc(s.login_time),
                "last_activity_at": clock.utc(s.last_activity),
                "catalog": s.catalog,
                "extra": s.extra,
            }
            for s in report.sessions
        ],
    )
    stats["gaps"] = batch.insert(
        table_of(SysinfoGap),
        [
            {**per_report, "block": g.block, "field": g.field, "item": g.item, "extra": {}}
            for g in report.missing
        ],
    )
    stats["refusals"] = _insert_events(
        batch,
        table_of(SysinfoRefusal),
        base,
        ("occurred_at", "login", "reason"),
        [
            {
                "occurred_at": t,
                "login": r.login or "",
                "reason": r.reason or "",
                "ip": r.ip,
                "browser": r.browser,
                "code": r.code,
                "alt_code": r.alt_code,
                "error": r.error,
                "text": r.text,
                "extra": r.extra,
            }
            for r in report.refusals
            if (t := clock.utc(r.time)) is not None
        ],
        rebuild,
    )
    stats["logins"] = _insert_events(
        batch,
        table_of(SysinfoLogin),
        base,
        ("occurred_at", "login", "ip"),
        [
            {
                "occurred_at": t,
                "login": x.login or "",
                "ip": x.ip or "",
                "browser": x.browser,
                "extra": x.extra,
            }
            for x in report.logins
            if (t := clock.utc(x.time)) is not None
        ],
        rebuild,
    )
    stats["searches"] = _insert_events(
        batch,
        table_of(SysinfoSearch),
        base,
        ("occurred_at", "login", "query_key"),
        [
            {
                "occurred_at": t,
                "login": q.login or "",
                "query_key": _query_key(q.query, q.catalog, q.type, q.source),
                "catalog": q.catalog,
                "type": q.type,
                "result": q.result,
                "found": q.found,
                "source": q.source,
                "duration": q.duration,
                "error": q.error,
                "query": q.query,
                "extra": q.extra,
            }
            for q in report.searches
            if (t := clock.utc(q.time)) is not None
        ],
        rebuild,
    )
    usage = _upsert_newer(
        batch,
        table_of(SysinfoUsageHour),
        base,
        created,
        ("hour", "login"),
        [
            {
                "hour": t,
                "login": u.login or "",
                "db_requests": u.db_requests,
                "docs": u.docs,
                "free_docs": u.free_docs,
                "saved": u.saved,
                "printed": u.printed,
                "kassist": u.kassist,
                "services": u.services,
                "searches": u.searches,
                "extra": u.extra,
            }
            for u in report.usage
            if (t := clock.utc(u.start)) is not None
        ],
    )
    stats["usage"] = len(usage)
    stats["kassist_days"] = len(
        _upsert_newer(
            batch,
            table_of(SysinfoKassistDay),
            base,
            created,
            ("day",),
            [
                {
                    "day": k.date,
                    "links_added": k.links_added,
                    "unique_links": k.unique_links,
                    "not_matched": k.not_matched,
                    "active_checked": k.active_checked,
                    "extra": k.extra,
                }
                for k in report.kassist
                if k.date is not None
            ],
        )
    )
    users = _user_rows(target, report, clock, created)
    users_table = table_of(SysinfoUser)
    # A report older than the stored rows (reprocessing, a late upload) still moves the first sighting
    # back: first_seen_at takes the earlier time whichever report is newer.
    stats["users"] = batch.write(
        users_table,
        [fit(users_table, r) for r in users],
        ("client_id", "login"),
        columns_except(users_table, "id", "client_id", "login", "first_seen_at"),
        newer="last_seen_at",
        least=("first_seen_at",),
    )
    read = (
        usage_rollup.report_state(
            session, target.client_id, created, [r["hour"] for r in usage], [r["login"] for r in usage]
        )
        if fresh
        else None
    )
    state = batch.flush(session, read)
    rows = usage_rollup.ReportRows(
        client_id=target.client_id,
        created=created,
        usage=usage,
        dealer_id=target.dealer_id,
        cabinet_id=target.cabinet_id,
        installation_id=target.installation_id,
        sessions=stats["sessions"],
        seats=report.registration.seats if report.registration else None,
    )
    # The first processing changes every rollup by what the report adds (one statement on PostgreSQL);
    # otherwise, or when that would not be exact, the rollups of its hours and time are re-summed.
    added, users_added = (
        (False, False) if read is None else usage_rollup.add_report_parts(session, rows, state)
    )
    hours = [clock.utc(x.start) for x in report.usage]
    if not added:
        usage_rollup.refresh_report(session, target.client_id, created, hours)
        seats_rollup.refresh_report(session, target.client_id, created)
    if not users_added:
        user_rollup.refresh_report(session, target.client_id, hours)
    if not fresh:
        operup_latest.repair(session)
    stats["missing"] = [".".join(p for p in (g.block, g.field, g.item) if p) for g in report.missing[:20]]
    stats["unknown_elements"] = report.unknown_elements
    stats["utc_offset_minutes"] = offset
    if report.unknown_elements:
        written.warnings.append(f"неизвестных элементов пропущено: {report.unknown_elements}")
    if report.skipped:
        stats["skipped_known"] = dict(report.skipped)
    if report.bad_values:
        written.warnings.append(f"значений неверного формата: {report.bad_values}")
    written.stats = stats
    return written


def _write_report_row(
    batch: Batch,
    base: dict[str, Any],
    report: SysinfoReport,
    clock: _Clock,
    created: datetime,
    offset: int,
) -> None:
    h, srv, reg, prot = report.header, report.server, report.registration, report.protection
    extra: dict[str, Any] = {}
    for name, record in (("header", h), ("server", srv), ("registration", reg), ("protection", prot)):
        if record is not None and record.extra:
            extra[name] = record.extra
    row = {
        **base,
        "extra": extra,
        "created_at": created,
        "utc_offset_minutes": offset,
        "declared_offset_minutes": h.utc_offset_minutes if h else None,
        "format": h.format if h else None,
        "module_version": h.module_version if h else None,
        "period_from": clock.utc(h.period_from) if h else None,
        "period_to": clock.utc(h.period_to) if h else None,
        "server_host": srv.host if srv else None,
        "server_os": srv.os if srv else None,
        "install_path": srv.install_path if srv else None,
        "server_port": srv.port if srv else None,
        "server_started_at": clock.utc(srv.started) if srv else None,
        "backup_time": srv.backup_time if srv else None,
        "restart_time": srv.restart_time if srv else None,
        "regnum": reg.regnum if reg else None,
        "client_legal_name": reg.client_name if reg else None,
        "seats": reg.seats if reg else None,
        "inventory": reg.inventory if reg else None,
        "reg_file": reg.reg_file if reg else None,
        "support_until": reg.support_until if reg else None,
        "protection_binding": prot.binding if prot else None,
        "key_number": prot.key_number if prot else None,
        "protection_status": prot.status if prot else None,
        "protection_code": prot.code if prot else None,
        "protection_checked_at": clock.utc(prot.checked) if prot else None,
        "protection_failed_since": clock.utc(prot.failed_since) if prot else None,
        "protection_message": prot.message if prot else None,
        "licman_configured": prot.lm_configured if prot else None,
        "licman_host": prot.lm_host if prot else None,
        "licman_port": prot.lm_port if prot else None,
        "licman_source": prot.lm_source if prot else None,
        "licman_beacon_port": prot.lm_beacon_port if prot else None,
        "sections": _section_json(report.sections, clock),
        "unknown_elements": report.unknown_elements,
        "unknown_paths": report.unknown_paths,
        "bad_values": report.bad_values,
        "zip_member": report.member,
    }
    batch.insert(table_of(SysinfoReportRow), [row])


def _query_key(*parts: str | None) -> str:
    text = "\x1f".join(p or "" for p in parts)
    return hashlib.blake2b(text.encode("utf-8", errors="replace"), digest_size=16).hexdigest()


def _dedupe(rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique[tuple(row[k] for k in keys)] = row
    return list(unique.values())


def _insert_events(
    batch: Batch,
    table: Table,
    base: dict[str, Any],
    keys: Sequence[str],
    rows: list[dict[str, Any]],
    rebuild: bool,
) -> int:
    """Store events by natural key: new ones are inserted, stored ones kept (rewritten when rebuilding)."""
    if not rows:
        return 0
    values = [fit(table, {**base, **row}) for row in _dedupe(rows, keys)]
    conflict = ("client_id", *keys)
    update = columns_except(table, "id", *conflict) if rebuild else None
    return batch.write(table, values, conflict, update)


def _upsert_newer(
    batch: Batch,
    table: Table,
    base: dict[str, Any],
    report_at: datetime,
    keys: Sequence[str],
    rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Store rows that may still change (the hour or day in progress): the newer report wins. Returns
    the rows as written (one per key)."""
    values = [fit(table, {**base, **row, "report_at": report_at}) for row in _dedupe(rows, keys)]
    conflict = ("client_id", *keys)
    batch.write(table, values, conflict, columns_except(table, "id", *conflict), newer="report_at")
    return values


def _user_rows(
    target: Target, report: SysinfoReport, clock: _Clock, created: datetime
) -> list[dict[str, Any]]:
    """The report's accounts as `sysinfo_users` rows (one per login)."""
    rows = _dedupe(
        (
            {
                "dealer_id": target.dealer_id,
                "cabinet_id": target.cabinet_id,
                "client_id": target.client_id,
                "installation_id": target.installation_id,
                "upload_id": target.upload_id,
                "login": u.login,
                "first_seen_at": created,
                "last_seen_at": created,
                "full_name": u.full_name,
                "phone": u.phone,
                "email": u.email,
                "position": u.position,
                "department": u.department,
                "domain": u.domain,
                "ad_group": u.ad_group,
                "user_group": u.group,
                "created_at": clock.utc(u.created),
                "last_login_at": clock.utc(u.last_login),
                "last_activity_at": clock.utc(u.last_activity),
                "enabled": u.enabled,
                "month_from": u.month_from,
                "month_db_requests": u.month_db_requests,
                "month_docs": u.month_docs,
                "month_free_docs": u.month_free_docs,
                "month_saved": u.month_saved,
                "month_printed": u.month_printed,
                "month_kassist": u.month_kassist,
                "month_services": u.month_services,
                "month_searches": u.month_searches,
                "month_empty_searches": u.month_empty_searches,
                "extra": u.extra,
            }
            for u in report.users
            if u.login
        ),
        ("login",),
    )
    return rows
