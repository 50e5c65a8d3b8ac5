"""The periodic jobs of the embedded service. Later features (probes, evaluation, delivery,
retention) add theirs here."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from kodeks_smart.alerts.sink import alert_jobs
from kodeks_smart.asrp.worker import asrp_jobs
from kodeks_smart.ingest.jobs import ingest_jobs
from kodeks_smart.notify.worker import notify_jobs
from kodeks_smart.probes.jobs import probe_jobs
from kodeks_smart.reports.schedule import report_jobs
from kodeks_smart.runtime import Services
from kodeks_smart.scheduler import Job
from kodeks_smart.store import partitions

log = logging.getLogger(__name__)


#: SQLite: a table is analysed again when its size moved this many times away from its statistics.
STATS_DRIFT = 4
#: SQLite: tables smaller than this are left to the planner's defaults.
STATS_MIN_ROWS = 1000


def _quoted(name: str) -> str:
    """An SQLite identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def stale_statistics(conn: Connection) -> list[str]:
    """The SQLite tables whose planner statistics (``sqlite_stat1``) are missing or off by more than
    `STATS_DRIFT` times from the table's size, of the tables with at least `STATS_MIN_ROWS` rows.

    ``PRAGMA optimize`` alone is not enough on the SQLite that Python 3.11 ships (3.40): it analyses only
    tables that queries *of the same connection* used, and the maintenance job's connection is new, so a
    store that never had statistics never got them (SQLite then planned «Для менеджеров» at 13 months 5×
    slower). The size is estimated from the rowid span (two index look-ups, no scan); retention deletes
    from the old end, so the span follows the live rows."""
    analysed: dict[str, int] = {}
    if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        for table, stat in conn.exec_driver_sql("SELECT tbl, stat FROM sqlite_stat1"):
            rows = int(str(stat).split()[0]) if stat else 0
            analysed[table] = max(analysed.get(table, 0), rows)
    stale = []
    tables = conn.exec_driver_sql(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND wr = 0"
        " AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).scalars()
    for table in list(tables):
        # A name from SQLite's own catalogue, quoted as an identifier.
        lo, hi = conn.exec_driver_sql(f"SELECT min(rowid), max(rowid) FROM {_quoted(table)}").one()  # noqa: S608
        size = 0 if lo is None else hi - lo + 1
        if size < STATS_MIN_ROWS:
            continue
        known = analysed.get(table)
        if not known or size > known * STATS_DRIFT or size * STATS_DRIFT < known:
            stale.append(table)
    return stale


def _store_maintenance(services: Services) -> None:
    """Keep the query planner's statistics fresh and SQLite's WAL file short."""
    db = services.db
    with db.engine.connect() as conn:
        if db.is_sqlite:
            try:
                stale = stale_statistics(conn)
                conn.commit()
                for table in stale:  # one short write transaction per table: ingest waits at most for one
                    conn.exec_driver_sql(f"ANALYZE {_quoted(table)}")
                    conn.commit()
                    log.info("store maintenance: planner statistics of %s renewed", table)
                conn.exec_driver_sql("PRAGMA optimize")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except OperationalError as exc:
                # A busy writer can hold a table lock; the next run (an hour later) catches up.
                log.info("store maintenance skipped: %s", exc)
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()


#: Jobs that at most one process of a deployment runs at a time (PostgreSQL advisory lock): retention of
#: several workers at once would only contend for the same rows. Delivery and the ingest queue are not
#: here: their claim queues with leases let several processes share the work and take over a dead one's.
SINGLETONS = frozenset({"ingest-retention", "probe-retention"})


def default_jobs(services: Services) -> list[Job]:
    async def store_maintenance() -> None:
        await asyncio.to_thread(_store_maintenance, services)

    async def partition_maintenance() -> None:
        await asyncio.to_thread(partitions.maintain, services.db, services.settings.retention_days)

    jobs = [
        Job("store-maintenance", store_maintenance, interval=3600, timeout=600, singleton=True),
        # PostgreSQL: monthly partitions created ahead, expired ones dropped (no-op on SQLite).
        Job(
            "partitions", partition_maintenance, interval=3600, timeout=600, singleton=True, run_at_start=True
        ),
        *ingest_jobs(services),
        *notify_jobs(services),
        *alert_jobs(services),
        *probe_jobs(services),
        *report_jobs(services),
        *asrp_jobs(services),
    ]
    for job in jobs:
        if job.name in SINGLETONS:
            job.singleton = True
    return jobs
