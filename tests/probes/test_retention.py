"""Probe history older than the retention period is deleted; current states and open intervals stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.jobs import run_retention
from kodeks_smart.probes.model import AbnormalState, Check, Report, fail, ok
from kodeks_smart.probes.writer import ResultWriter
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Installation
from kodeks_smart.store.probe_models import ProbeCheck, ProbeLatency, ProbeStateInterval
from tests.conftest import Tenants
from tests.probes.helpers import stored_target

OLD = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def count(db: Database, model: object) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_old_history_goes_and_the_current_state_stays(db: Database, box: SecretBox, tenants: Tenants) -> None:
    with db.session() as s:
        first, second = list(s.scalars(select(Installation.id).order_by(Installation.id)))[:2]
    writer = ResultWriter(db, latency_window=60)
    old_target, current_target = stored_target(db, box, first), stored_target(db, box, second)
    down = Report()
    down.add(fail(Check.TCP, "refused"))
    down.enter(AbnormalState.SERVER_DOWN, None)
    up = Report()
    up.add(ok(Check.TCP, "1 ms", latency=0.001))
    for at, rep in ((OLD, down), (OLD + timedelta(minutes=1), up), (OLD + timedelta(minutes=2), up)):
        writer.record_installation(old_target, rep, at)
        writer.write(writer.take(at), at)
    writer.record_installation(current_target, down, NOW - timedelta(days=500))  # still down: open interval
    writer.write(writer.take(NOW), NOW)
    assert (count(db, ProbeLatency), count(db, ProbeStateInterval)) == (1, 2)

    deleted = run_retention(db, 396, now=NOW)

    assert deleted == {"probe_latency": 1, "probe_state_intervals": 1, "online_billing_readings": 0}
    with db.session() as s:
        assert [i.installation_id for i in s.scalars(select(ProbeStateInterval))] == [second]
    assert count(db, ProbeCheck) == 2
