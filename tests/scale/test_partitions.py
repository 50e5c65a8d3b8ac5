"""Monthly partitions on PostgreSQL: rows route to their month, partitions are created ahead, expired ones
are dropped whole, rows of a month without a partition wait in the default partition and move when it is
created. On SQLite `maintain` does nothing (the batch retention does the work)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, insert, select, text

from kodeks_smart.store import admin, partitions
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import MetricSeries, Sample
from kodeks_smart.store.models import Client
from tests.conftest import _truncate_all

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
OLD = datetime(2025, 6, 10, 8, 0, tzinfo=UTC)  # 17 months before NOW: past the 396-day retention
ANCIENT = datetime(2019, 3, 5, 0, 0, tzinfo=UTC)  # no partition for it anywhere


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    yield db
    with db.engine.begin() as conn:  # leave no test partitions behind for the other tests of the session
        for table in partitions.PARTITIONED:
            for name, month in partitions.partitions(conn, table).items():
                if month is not None and month < datetime(2026, 11, 1, tzinfo=UTC).date():
                    conn.execute(text(f'DROP TABLE "{name}"'))
    db.dispose()
    _truncate_all(pg_url)


def series(db: Database) -> tuple[int, int, int]:
    with db.write() as s:
        dealer, _ = admin.add_dealer(s, "0599PART", "Разделы")
        cabinet = admin.add_cabinet(s, dealer.code, "Все")
        client = Client(dealer_id=dealer.id, cabinet_id=cabinet.id, short_name="c1", display_name="К1")
        s.add(client)
        s.flush()
        row = MetricSeries(
            dealer_id=dealer.id,
            cabinet_id=cabinet.id,
            client_id=client.id,
            name="m",
            labels_key="",
            labels={},
            source="metrics",
        )
        s.add(row)
        s.flush()
        return dealer.id, cabinet.id, row.id


def add_sample(db: Database, ids: tuple[int, int, int], at: datetime) -> None:
    dealer_id, cabinet_id, series_id = ids
    with db.write() as s:
        s.execute(
            insert(Sample),
            [
                {
                    "series_id": series_id,
                    "ts": at,
                    "value": 1.0,
                    "upload_id": 1,
                    "dealer_id": dealer_id,
                    "cabinet_id": cabinet_id,
                }
            ],
        )


def home_of(conn: Connection, at: datetime) -> str:
    return str(
        conn.execute(
            text("SELECT tableoid::regclass::text FROM metric_samples WHERE ts = :t"), {"t": at}
        ).scalar()
    )


def test_the_high_volume_tables_are_partitioned_by_month(pg: Database) -> None:
    with pg.engine.connect() as conn:
        for table in partitions.PARTITIONED:
            assert partitions.is_partitioned(conn, table), table
            names = partitions.partitions(conn, table)
            assert f"{table}_pdefault" in names
        assert not partitions.is_partitioned(conn, "metric_series")


def test_rows_route_and_expired_months_are_dropped_whole(pg: Database) -> None:
    ids = series(pg)
    done = partitions.maintain(pg, retention_days=396, now=OLD)
    assert "metric_samples_p202506" in done.created and "metric_samples_p202508" in done.created
    add_sample(pg, ids, OLD)
    add_sample(pg, ids, ANCIENT)
    add_sample(pg, ids, NOW)
    with pg.engine.connect() as conn:
        assert home_of(conn, OLD) == "metric_samples_p202506"
        assert home_of(conn, ANCIENT) == "metric_samples_pdefault"
        assert home_of(conn, NOW) == "metric_samples_p202611"

    # A partition for a month whose rows wait in the default partition takes them over.
    partitions.maintain(pg, retention_days=10_000, now=ANCIENT)
    with pg.engine.connect() as conn:
        assert home_of(conn, ANCIENT) == "metric_samples_p201903"

    done = partitions.maintain(pg, retention_days=396, now=NOW)
    assert {"metric_samples_p202506", "metric_samples_p201903", "probe_latency_p202506"} <= set(done.dropped)
    assert "metric_samples_p202701" not in done.dropped
    with pg.engine.connect() as conn:
        names = partitions.partitions(conn, "metric_samples")
        assert "metric_samples_p202506" not in names
        assert {"metric_samples_p202611", "metric_samples_p202612", "metric_samples_p202701"} <= set(names)
    with pg.session() as s:
        left = list(s.scalars(select(Sample.ts)))
    assert left == [NOW]
    assert partitions.maintain(pg, retention_days=396, now=NOW + timedelta(minutes=1)).created == []


def test_maintenance_does_nothing_on_sqlite(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("the SQLite case")
    assert partitions.maintain(db, retention_days=396) == partitions.Maintenance()
