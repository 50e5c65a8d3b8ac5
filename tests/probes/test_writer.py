"""The results writer on SQLite and PostgreSQL: current states, state intervals, latency windows, billing,
what is written at once and what waits, and cabinet isolation of the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.model import AbnormalState, Check, InstallationTarget, Report, fail, ok, unknown
from kodeks_smart.probes.writer import ResultWriter
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Installation
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeLatency, ProbeStateInterval
from kodeks_smart.store.scope import Scope, Tenant
from tests.conftest import Tenants
from tests.probes.helpers import stored_online_target, stored_target

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def installation_ids(db: Database) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Installation.id).order_by(Installation.id)))


def target(db: Database, box: SecretBox, index: int = 0) -> InstallationTarget:
    return stored_target(db, box, installation_ids(db)[index])


def report(*results: object, states: dict[AbnormalState, int | None] | None = None) -> Report:
    rep = Report()
    for result in results:
        rep.add(result)  # type: ignore[arg-type]
    for state, code in (states or {}).items():
        rep.enter(state, code)
    return rep


def rows(db: Database) -> dict[tuple[int | None, str], ProbeCheck]:
    with db.session() as s:
        return {(r.installation_id, r.check_name): r for r in s.scalars(select(ProbeCheck))}


def test_the_first_results_are_written_with_their_since_time(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    inst = target(db, box)
    writer = ResultWriter(db)
    rep = report(
        ok(Check.TCP, "1.0 ms", latency=0.001), fail(Check.HTTP200, "500", "ошибки на сервере ПК (код 500)")
    )
    assert writer.record_installation(inst, rep, T0) is True
    writer.write(writer.take(T0), T0)
    stored = rows(db)
    assert stored[(inst.id, "tcp")].status == "ok"
    assert stored[(inst.id, "http200")].status == "fail"
    assert stored[(inst.id, "http200")].value == "500"
    assert stored[(inst.id, "http200")].since == T0
    assert stored[(inst.id, "http200")].dealer_id == tenants.dealer_id
    assert stored[(inst.id, "http200")].cabinet_id == tenants.cabinet_a


def test_an_unchanged_result_waits_for_the_refresh_and_a_change_is_written_at_once(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    inst = target(db, box)
    writer = ResultWriter(db, touch_seconds=600)
    writer.record_installation(inst, report(ok(Check.ICMP, "1.0 ms", latency=0.001)), T0)
    writer.write(writer.take(T0), T0)

    t1 = T0 + timedelta(minutes=1)
    assert writer.record_installation(inst, report(ok(Check.ICMP, "2.5 ms", latency=0.0025)), t1) is False
    assert not writer.take(t1, touch=False)
    assert not writer.take(t1)  # not yet due for a refresh
    assert rows(db)[(inst.id, "icmp")].checked_at == T0

    t2 = T0 + timedelta(minutes=11)
    writer.record_installation(inst, report(ok(Check.ICMP, "0.9 ms", latency=0.0009)), t2)
    writer.write(writer.take(t2), t2)
    refreshed = rows(db)[(inst.id, "icmp")]
    assert (refreshed.checked_at, refreshed.since, refreshed.value) == (t2, T0, "0.9 ms")

    t3 = t2 + timedelta(minutes=1)
    assert writer.record_installation(inst, report(fail(Check.ICMP, "timeout", "нет ответа")), t3) is True
    writer.write(writer.take(t3, touch=False), t3)
    changed = rows(db)[(inst.id, "icmp")]
    assert (changed.status, changed.since, changed.detail) == ("fail", t3, "нет ответа")


def test_abnormal_states_become_intervals_with_the_http_code(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    inst = target(db, box)
    writer = ResultWriter(db)
    maintenance = report(fail(Check.MAINTENANCE, "503"), states={AbnormalState.MAINTENANCE: 503})
    for minute in (0, 1, 2):
        writer.record_installation(inst, maintenance, T0 + timedelta(minutes=minute))
        writer.write(writer.take(T0 + timedelta(minutes=minute)), T0 + timedelta(minutes=minute))
    back = report(ok(Check.MAINTENANCE, "200"))
    writer.record_installation(inst, back, T0 + timedelta(minutes=40))
    writer.write(writer.take(T0 + timedelta(minutes=40)), T0 + timedelta(minutes=40))
    with db.session() as s:
        intervals = list(s.scalars(select(ProbeStateInterval)))
    assert [(i.state, i.http_code, i.started_at, i.ended_at) for i in intervals] == [
        ("maintenance", 503, T0, T0 + timedelta(minutes=40))
    ]


def test_a_restarted_writer_continues_the_stored_states_without_new_rows(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    inst = target(db, box)
    first = ResultWriter(db)
    down = report(
        fail(Check.TCP, "refused"), unknown(Check.HTTP200, "порт"), states={AbnormalState.SERVER_DOWN: None}
    )
    first.record_installation(inst, down, T0)
    first.write(first.take(T0), T0)

    second = ResultWriter(db)
    assert second.load([inst.id], [], lambda _ident: True) == (set(), set())
    assert second.record_installation(inst, down, T0 + timedelta(minutes=5)) is False
    with db.session() as s:
        assert len(list(s.scalars(select(ProbeStateInterval)))) == 1
    assert rows(db)[(inst.id, "tcp")].since == T0


def test_latencies_are_aggregated_over_the_window(db: Database, box: SecretBox, tenants: Tenants) -> None:
    inst = target(db, box)
    writer = ResultWriter(db, latency_window=300)
    for minute, ms in enumerate((10.0, 20.0, 30.0, 40.0, 50.0, 60.0)):
        at = T0 + timedelta(minutes=minute)
        writer.record_installation(inst, report(ok(Check.HTTP200, "200", latency=ms / 1000)), at)
        writer.write(writer.take(at), at)
    with db.session() as s:
        samples = [
            (r.check_name, r.samples, r.mean_ms, r.max_ms, r.at) for r in s.scalars(select(ProbeLatency))
        ]
    assert samples == [("http200", 6, 35.0, 60.0, T0 + timedelta(minutes=5))]


def test_forgotten_targets_lose_their_states_and_open_intervals_end(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    inst = target(db, box)
    writer = ResultWriter(db)
    writer.record_installation(
        inst, report(fail(Check.TCP, "refused"), states={AbnormalState.SERVER_DOWN: None}), T0
    )
    writer.write(writer.take(T0), T0)
    writer.forget([inst.id])
    later = T0 + timedelta(minutes=3)
    writer.write(writer.take(later), later)
    assert rows(db) == {}
    with db.session() as s:
        assert [i.ended_at for i in s.scalars(select(ProbeStateInterval))] == [later]


def test_an_installation_deleted_while_probed_does_not_lose_the_others_results(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    kept, gone = target(db, box, 0), target(db, box, 1)
    writer = ResultWriter(db)
    writer.record_installation(kept, report(ok(Check.TCP, "1 ms")), T0)
    writer.record_installation(
        gone, report(fail(Check.TCP, "refused"), states={AbnormalState.SERVER_DOWN: None}), T0
    )
    with db.write() as s:
        s.execute(delete(Installation).where(Installation.id == gone.id))
    writer.write(writer.take(T0), T0)
    assert set(rows(db)) == {(kept.id, "tcp")}


def test_billing_readings_are_stored_per_access(db: Database, box: SecretBox, tenants: Tenants) -> None:
    from kodeks_smart.store.models import OnlineAccess

    with db.session() as s:
        access_id = s.scalars(select(OnlineAccess.id).order_by(OnlineAccess.id)).first()
    assert access_id is not None
    online = stored_online_target(db, box, access_id)
    writer = ResultWriter(db)
    writer.record_billing(online, {"docs": (400, 380), "search": (1000, 10)}, T0)
    writer.write(writer.take(T0), T0)
    with db.session() as s:
        reading = s.scalars(select(OnlineBillingReading)).one()
    assert reading.counter("docs") == (400, 380)
    assert reading.counter("search") == (1000, 10)
    assert reading.counter("print") is None
    assert (reading.dealer_id, reading.cabinet_id) == (online.dealer_id, online.cabinet_id)


def test_a_cabinet_sees_only_the_probe_rows_of_its_own_installations(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    writer = ResultWriter(db)
    for index in range(3):  # cabinets A and B of the dealer, and the other dealer's cabinet
        inst = target(db, box, index)
        writer.record_installation(
            inst, report(fail(Check.TCP, "refused"), states={AbnormalState.SERVER_DOWN: None}), T0
        )
    writer.write(writer.take(T0), T0)
    with db.session() as s:
        alice = Tenant(s, Scope.cabinets(tenants.dealer_id, [tenants.cabinet_a]))
        charlie = Tenant(s, Scope.dealer(tenants.other_dealer_id))
        assert {r.cabinet_id for r in alice.list(ProbeCheck)} == {tenants.cabinet_a}
        assert {r.cabinet_id for r in alice.list(ProbeStateInterval)} == {tenants.cabinet_a}
        assert {r.dealer_id for r in charlie.list(ProbeCheck)} == {tenants.other_dealer_id}


def test_a_check_the_installation_no_longer_has_is_removed(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    inst = target(db, box)
    writer = ResultWriter(db)
    writer.record_installation(inst, report(fail(Check.ICMP, "timeout"), ok(Check.TCP, "1 ms")), T0)
    writer.write(writer.take(T0), T0)
    # Ping switched off ("donotping"): the cycle has no icmp result any more.
    later = T0 + timedelta(minutes=1)
    assert writer.record_installation(inst, report(ok(Check.TCP, "1 ms")), later) is True
    writer.write(writer.take(later, touch=False), later)
    assert set(rows(db)) == {(inst.id, "tcp")}
