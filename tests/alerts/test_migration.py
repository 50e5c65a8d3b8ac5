"""Migrations of the alerts on both backends: 0010, the search index comes and goes (on PostgreSQL
sysinfo_searches is a partitioned table: the index on the parent is on every partition too); 0012, the
fingerprint of alerts comes and goes."""

from __future__ import annotations

from sqlalchemy import inspect, text

from kodeks_smart.store import migrate
from kodeks_smart.store.db import Database
from tests.grafana.test_migration import _downgrade, fresh  # noqa: F401  (fixture)

INDEX = "ix_sysinfo_searches_client_result_time"


def _index_columns(db: Database) -> list[str] | None:
    for index in inspect(db.engine).get_indexes("sysinfo_searches"):
        if index["name"] == INDEX:
            return [str(c) for c in index["column_names"]]
    return None


def _partition_indexes(db: Database) -> int:
    """Indexes of the partitions of sysinfo_searches that belong to the parent's index."""
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = CAST(:parent AS regclass) AND c.relkind = 'i'"
                ),
                {"parent": INDEX},
            ).scalar_one()
        )


def test_0010_adds_the_search_index_and_takes_it_away_again(fresh: Database) -> None:  # noqa: F811
    migrate.upgrade(fresh, "0009")
    assert _index_columns(fresh) is None
    migrate.upgrade(fresh, "0010")
    assert _index_columns(fresh) == ["client_id", "result", "occurred_at"]
    if not fresh.is_sqlite:
        assert _partition_indexes(fresh) > 0
    _downgrade(fresh, "0009")
    assert _index_columns(fresh) is None
    migrate.upgrade(fresh)
    assert _index_columns(fresh) == ["client_id", "result", "occurred_at"]


def _alert_columns(db: Database) -> set[str]:
    return {str(c["name"]) for c in inspect(db.engine).get_columns("alert_states")}


def test_0012_adds_the_fingerprint_of_alerts_and_takes_it_away_again(fresh: Database) -> None:  # noqa: F811
    migrate.upgrade(fresh, "0010")
    assert "fingerprint" not in _alert_columns(fresh)
    migrate.upgrade(fresh, "0012")
    assert "fingerprint" in _alert_columns(fresh)
    _downgrade(fresh, "0010")
    assert "fingerprint" not in _alert_columns(fresh)
    migrate.upgrade(fresh)
    assert "fingerprint" in _alert_columns(fresh)
