"""Dynamic shard membership: rendezvous ownership, heartbeats, dead workers, name clashes (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kodeks_smart.cluster import Membership, View, members
from kodeks_smart.store.db import Database

IDS = range(1, 3001)


def shares(view_members: tuple[str, ...]) -> dict[int, str]:
    view = View(view_members[0], view_members)
    return {i: view.owner(i) for i in IDS}


def test_each_target_has_exactly_one_owner_and_the_shares_are_even() -> None:
    names = ("w0", "w1", "w2")
    views = [View(me, names) for me in names]
    for ident in IDS:
        assert sum(v.owns(ident) for v in views) == 1
        assert sum(v.owns(ident, "online") for v in views) == 1
    counts = [sum(v.owns(i) for i in IDS) for v in views]
    assert all(800 < c < 1200 for c in counts), counts


def test_only_a_dead_workers_targets_move_and_they_move_back() -> None:
    before = shares(("w0", "w1", "w2"))
    after = shares(("w1", "w2"))
    moved = {i for i in IDS if before[i] != after[i]}
    assert moved == {i for i in IDS if before[i] == "w0"}
    assert shares(("w0", "w1", "w2")) == before  # w0 back under its name: exactly its targets return


def test_a_worker_that_stops_beating_drops_out_of_the_live_set(db: Database) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    clock = [now]
    one = Membership(db, "w0", ttl=30, clock=lambda: clock[0])
    two = Membership(db, "w1", ttl=30, clock=lambda: clock[0])
    two.pid = one.pid + 1  # another process
    assert one.join().members == ("w0",)
    assert two.join().members == ("w0", "w1")
    assert one.refresh().members == ("w0", "w1")
    clock[0] = now + timedelta(seconds=20)
    two.beat()
    clock[0] = now + timedelta(seconds=40)  # w0 has not beaten for 40 s
    assert two.beat().members == ("w1",)
    assert two.view.owns(12345) and two.view.owns(7, "online")
    one.beat()  # w0 comes back
    assert two.beat().members == ("w0", "w1")
    one.leave()
    assert two.refresh().members == ("w1",)
    assert [m.name for m in members(db)] == ["w1"]


def test_a_second_live_process_under_the_same_name_joins_under_another(db: Database) -> None:
    one = Membership(db, "w0")
    two = Membership(db, "w0")
    two.pid = one.pid + 1
    one.join()
    view = two.join()
    assert two.name == f"w0-{two.pid}"
    assert view.members == ("w0", f"w0-{two.pid}")


def test_a_restarted_worker_takes_over_its_dead_row(db: Database) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    old = Membership(db, "w0", ttl=30, clock=lambda: now)
    old.join()
    new = Membership(db, "w0", ttl=30, clock=lambda: now + timedelta(minutes=5))
    new.pid = old.pid + 1
    assert new.join().members == ("w0",)
    assert new.name == "w0"
    assert [(m.name, m.pid) for m in members(db)] == [("w0", new.pid)]
