"""`smart workers` lists the registered workers; `smart serve --shard` rejects a bad shard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kodeks_smart.cluster import Membership
from kodeks_smart.store.db import Database
from kodeks_smart.store.types import utcnow
from tests.test_cli import smart


def test_smart_workers_shows_live_and_dead_workers(tmp_path: Path) -> None:
    assert smart(tmp_path, "db", "upgrade").returncode == 0
    db = Database(f"sqlite:///{tmp_path}/smart.db")
    Membership(db, "host-worker-1").join()
    dead = Membership(db, "host-worker-2", clock=lambda: utcnow() - timedelta(minutes=5))
    dead.pid += 1
    dead.join()
    db.dispose()
    result = smart(tmp_path, "workers")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if "host-worker-" in line}
    assert "жив" in lines["host-worker-1"]
    assert "нет" in lines["host-worker-2"]


def test_serve_rejects_a_malformed_static_shard(tmp_path: Path) -> None:
    result = smart(tmp_path, "serve", "--role", "worker", "--shard", "3/2")
    assert result.returncode != 0
    assert "SMART_PROBE_SHARD" in result.stderr
