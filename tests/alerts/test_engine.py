"""The alert lifecycle and dispatch pipeline with synthetic conditions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.dispatch import Dispatcher, Notification
from kodeks_smart.alerts.engine import Evaluator, Instance, cycle_cached
from kodeks_smart.store.alert_models import AlertEvent, AlertState, Silence
from kodeks_smart.store.db import Database
from tests.conftest import Tenants

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def enqueue(self, session: Session, notification: Notification, now: datetime) -> None:
        self.sent.append(notification)

    def names(self) -> list[tuple[str, str, int]]:
        return [(n.kind, n.rule.name, len(n.alerts)) for n in self.sent]


class World:
    """Conditions driven by a mutable set of (rule, installation id, cabinet id) facts."""

    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants
        self.facts: set[tuple[str, int, int]] = set()
        self.broken: set[str] = set()

    def condition(self, rule: str):  # type: ignore[no-untyped-def]
        def evaluate(session: Session, now: datetime) -> Iterable[Instance]:
            if rule in self.broken:
                raise RuntimeError("запрос сломан")
            for name, installation, cabinet in sorted(self.facts):
                if name == rule:
                    yield Instance(
                        rule,
                        f"inst:{installation}",
                        self.tenants.dealer_id,
                        cabinet,
                        installation_id=installation,
                        labels={
                            "client": f"client{installation}",
                            "address": f"h{installation}:80",
                            "dealer": "0599ROGAIKOPITA",
                        },
                    )

        return evaluate


RULES = ["KodeksTcpStatus", "KodeksHttp200Status", "KodeksMaintenance", "KodeksAuthNotWork", "KodeksIcmp"]


@pytest.fixture
def world(tenants: Tenants) -> World:
    return World(tenants)


@pytest.fixture
def pipeline(db: Database, world: World) -> Iterator[tuple[Evaluator, Dispatcher, Sink]]:
    sink = Sink()
    evaluator = Evaluator({r: world.condition(r) for r in RULES})
    yield evaluator, Dispatcher(sink, group_wait=timedelta(seconds=30)), sink


def cycle(db: Database, pipeline: tuple[Evaluator, Dispatcher, Sink], at: datetime) -> None:
    evaluator, dispatcher, _ = pipeline
    with db.write() as s:
        evaluator.run(s, at)
        dispatcher.run(s, at)


def states(db: Database) -> dict[tuple[str, str], str]:
    with db.session() as s:
        return {(a.rule, a.key): a.status for a in s.scalars(select(AlertState))}


def test_an_alert_fires_only_after_its_for_duration_and_resolves_with_a_message(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    sink = pipeline[2]
    world.facts.add(("KodeksTcpStatus", 1, tenants.cabinet_a))
    cycle(db, pipeline, T0)
    assert states(db) == {("KodeksTcpStatus", "inst:1"): "pending"}
    cycle(db, pipeline, T0 + timedelta(minutes=1))
    assert states(db)[("KodeksTcpStatus", "inst:1")] == "pending"
    cycle(db, pipeline, T0 + timedelta(minutes=2))
    assert states(db)[("KodeksTcpStatus", "inst:1")] == "firing"
    assert sink.sent == []  # still inside the group window
    cycle(db, pipeline, T0 + timedelta(minutes=2, seconds=30))
    assert sink.names() == [("firing", "KodeksTcpStatus", 1)]
    assert sink.sent[0].alerts[0].summary == "Порт ПК не принимает соединения (h1:80)"
    world.facts.clear()
    cycle(db, pipeline, T0 + timedelta(minutes=5))
    assert sink.names()[-1] == ("resolved", "KodeksTcpStatus", 1)
    assert states(db)[("KodeksTcpStatus", "inst:1")] == "resolved"
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(AlertEvent).order_by(AlertEvent.id))]
    assert kinds == ["firing", "notified", "resolved", "notified"]


def test_a_blip_shorter_than_for_is_forgotten_without_any_message(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    world.facts.add(("KodeksTcpStatus", 1, tenants.cabinet_a))
    cycle(db, pipeline, T0)
    world.facts.clear()
    cycle(db, pipeline, T0 + timedelta(minutes=1))
    assert states(db) == {}
    assert pipeline[2].sent == []


def test_alerts_of_one_rule_and_cabinet_starting_together_go_out_as_one_message(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    for installation in (1, 2, 3):
        world.facts.add(("KodeksMaintenance", installation, tenants.cabinet_a))
    world.facts.add(("KodeksMaintenance", 9, tenants.cabinet_b))
    for minute in (0, 30, 31):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    assert sorted((n.cabinet_id, len(n.alerts)) for n in pipeline[2].sent) == [
        (tenants.cabinet_a, 3),
        (tenants.cabinet_b, 1),
    ]


def test_three_hundred_installations_in_maintenance_give_one_count_message_per_cabinet(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    for installation in range(1, 301):
        cabinet = tenants.cabinet_a if installation <= 200 else tenants.cabinet_b
        world.facts.add(("KodeksMaintenance", installation, cabinet))
    for minute in (0, 30, 31, 60):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    sent = pipeline[2].sent
    assert sorted((n.rule.name, n.cabinet_id) for n in sent) == [
        ("KodeksMaintenanceCount", tenants.cabinet_a),
        ("KodeksMaintenanceCount", tenants.cabinet_b),
    ]
    labels = {n.cabinet_id: n.alerts[0].labels["count"] for n in sent}
    assert labels == {tenants.cabinet_a: 200, tenants.cabinet_b: 100}
    world.facts.clear()
    cycle(db, pipeline, T0 + timedelta(minutes=70))
    assert [(n.kind, n.rule.name) for n in pipeline[2].sent[2:]] == [
        ("resolved", "KodeksMaintenanceCount"),
        ("resolved", "KodeksMaintenanceCount"),
    ]


def test_thirty_installations_in_maintenance_stay_individual(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    for installation in range(1, 31):
        world.facts.add(("KodeksMaintenance", installation, tenants.cabinet_a))
    for minute in (0, 30, 31):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    assert pipeline[2].names() == [("firing", "KodeksMaintenance", 30)]


def test_an_unreachable_server_explains_its_http_and_login_alerts(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    for rule in ("KodeksTcpStatus", "KodeksHttp200Status", "KodeksAuthNotWork"):
        world.facts.add((rule, 1, tenants.cabinet_a))
    world.facts.add(("KodeksHttp200Status", 2, tenants.cabinet_a))
    for minute in (0, 3, 4):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    sent = pipeline[2].sent
    assert sorted((n.rule.name, [a.key for a in n.alerts]) for n in sent) == [
        ("KodeksHttp200Status", ["inst:2"]),
        ("KodeksTcpStatus", ["inst:1"]),
    ]


def test_a_silence_mutes_matching_alerts_until_it_expires(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    with db.write() as s:
        s.add(
            Silence(
                dealer_id=tenants.dealer_id,
                matchers={"client": "client1", "rule": "KodeksIcmp"},
                starts_at=T0,
                ends_at=T0 + timedelta(hours=1),
                author="alice",
                comment="плановые работы",
            )
        )
    world.facts.add(("KodeksIcmp", 1, tenants.cabinet_a))
    world.facts.add(("KodeksIcmp", 2, tenants.cabinet_a))
    for minute in (0, 3, 4, 30):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    assert [[a.key for a in n.alerts] for n in pipeline[2].sent] == [["inst:2"]]
    cycle(db, pipeline, T0 + timedelta(hours=1, minutes=1))
    assert [[a.key for a in n.alerts] for n in pipeline[2].sent] == [["inst:2"], ["inst:1"]]


def test_a_long_firing_alert_is_repeated_after_its_repeat_interval(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    world.facts.add(("KodeksTcpStatus", 1, tenants.cabinet_a))
    for at in (T0, T0 + timedelta(minutes=3), T0 + timedelta(minutes=4), T0 + timedelta(hours=3)):
        cycle(db, pipeline, at)
    assert len(pipeline[2].sent) == 1
    cycle(db, pipeline, T0 + timedelta(hours=4, minutes=4))
    assert len(pipeline[2].sent) == 2 and pipeline[2].sent[1].repeat


def test_a_broken_condition_neither_fires_nor_resolves_its_alerts(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    world.facts.add(("KodeksTcpStatus", 1, tenants.cabinet_a))
    for minute in (0, 3, 4):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    world.facts.clear()
    world.broken.add("KodeksTcpStatus")
    cycle(db, pipeline, T0 + timedelta(minutes=10))
    assert states(db)[("KodeksTcpStatus", "inst:1")] == "firing"
    assert pipeline[2].names() == [("firing", "KodeksTcpStatus", 1)]


def test_an_alert_that_comes_back_before_its_resolved_went_out_keeps_firing(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    evaluator, _, sink = pipeline
    world.facts.add(("KodeksTcpStatus", 1, tenants.cabinet_a))
    for minute in (0, 3, 4):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    world.facts.clear()
    with db.write() as s:
        evaluator.run(s, T0 + timedelta(minutes=5))  # resolved, RESOLVED not yet sent
    world.facts.add(("KodeksTcpStatus", 1, tenants.cabinet_a))
    cycle(db, pipeline, T0 + timedelta(minutes=6))
    assert states(db)[("KodeksTcpStatus", "inst:1")] == "firing"
    assert sink.names() == [("firing", "KodeksTcpStatus", 1)]


def test_probe_alerts_stay_quiet_during_the_installations_planned_backup_hour(
    db: Database, world: World, tenants: Tenants, pipeline: tuple[Evaluator, Dispatcher, Sink]
) -> None:
    from kodeks_smart.store.models import Installation

    with db.write() as s:
        inst = s.scalars(select(Installation).where(Installation.cabinet_id == tenants.cabinet_a)).one()
        inst.backup_time, inst.tz_offset_minutes = "12:00", 180  # T0 is 09:00 UTC = 12:00 local
        inst_id = inst.id
    world.facts.add(("KodeksTcpStatus", inst_id, tenants.cabinet_a))
    for minute in (0, 3, 4, 30):
        cycle(db, pipeline, T0 + timedelta(minutes=minute))
    assert pipeline[2].sent == []
    assert states(db)[("KodeksTcpStatus", f"inst:{inst_id}")] == "firing"
    cycle(db, pipeline, T0 + timedelta(minutes=61))
    assert pipeline[2].names() == [("firing", "KodeksTcpStatus", 1)]


def test_a_steady_alert_is_left_alone_but_for_last_seen_and_a_changed_label_is_stored(
    db: Database, tenants: Tenants
) -> None:
    address = {"value": "h1:80"}
    runs: list[datetime] = []

    def shared(session: Session, now: datetime) -> dict[str, str]:
        runs.append(now)
        return {"address": address["value"]}

    def tcp(session: Session, now: datetime) -> Iterable[Instance]:
        labels = cycle_cached(session, "test.shared", lambda: shared(session, now))
        yield Instance("KodeksTcpStatus", "inst:1", tenants.dealer_id, tenants.cabinet_a, labels=labels)

    def http(session: Session, now: datetime) -> Iterable[Instance]:
        labels = cycle_cached(session, "test.shared", lambda: shared(session, now))
        yield Instance("KodeksHttp200Status", "inst:1", tenants.dealer_id, tenants.cabinet_a, labels=labels)

    sink = Sink()
    pipeline = (Evaluator({"KodeksTcpStatus": tcp, "KodeksHttp200Status": http}), Dispatcher(sink), sink)

    def stored() -> tuple[str, datetime, str, int]:
        with db.session() as s:
            state = s.scalars(select(AlertState).where(AlertState.rule == "KodeksTcpStatus")).one()
            events = len(s.scalars(select(AlertEvent)).all())
            return state.status, state.last_seen_at, state.summary, events

    cycle(db, pipeline, T0)
    cycle(db, pipeline, T0 + timedelta(minutes=3))  # fires
    assert len(runs) == 2  # one query per cycle for both rules
    cycle(db, pipeline, T0 + timedelta(minutes=4))  # notified
    status, seen, summary, events = stored()
    assert (status, seen, summary) == (
        "firing",
        T0 + timedelta(minutes=3),
        "Порт ПК не принимает соединения (h1:80)",
    )
    cycle(db, pipeline, T0 + timedelta(minutes=5))  # steady, last_seen_at not due
    assert stored() == (status, seen, summary, events)
    cycle(db, pipeline, T0 + timedelta(minutes=8, seconds=1))  # steady, last_seen_at due
    assert stored() == (status, T0 + timedelta(minutes=8, seconds=1), summary, events)
    address["value"] = "h1:8080"
    cycle(db, pipeline, T0 + timedelta(minutes=9))
    status, _, summary, after = stored()
    assert (status, summary) == ("firing", "Порт ПК не принимает соединения (h1:8080)")
    assert after == events  # a changed label is no new transition
    assert [n.kind for n in sink.sent] == ["firing", "firing"]  # one message per rule, not repeated
    assert cycle_cached(Session(), "outside", lambda: 42) == 42  # outside a cycle it just computes
