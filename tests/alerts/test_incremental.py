"""Incremental evaluation of the sysinfo rules: between full passes a cycle evaluates them only for the
installations with new reports and leaves every other alert exactly as it is; the full pass (every
``full_interval`` and on the first cycle of a new evaluator, i.e. after a restart) catches up with the rest.

Facts are changed behind the evaluator's back (rows deleted without a new report) to tell a partial cycle
from a full one: a full pass resolves such an alert, a partial cycle must not touch it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.engine import CycleResult, Evaluator
from kodeks_smart.alerts.rules import evaluator as rules_evaluator
from kodeks_smart.alerts.rules import scoped_rules
from kodeks_smart.alerts.rules.sysinfo_rules import CONDITIONS, SCOPED, changed_installations
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoDbError
from kodeks_smart.store.models import Cabinet
from tests.alerts.test_sysinfo_rules import DEALER, LOOK, T0, Harness
from tests.conftest import Tenants

RULE = "KodeksDBerrorsCode2007"
FULL = 300.0


def incremental() -> Evaluator:
    return Evaluator(CONDITIONS, scoped=SCOPED, changes=changed_installations, full_interval=FULL)


@pytest.fixture
def h(db: Database, services: Services, tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> Harness:
    Path(services.settings.data_dir).mkdir(parents=True, exist_ok=True)
    harness = Harness(db, IngestContext.from_services(services), monkeypatch, tenants)
    harness.evaluator = incremental()
    return harness


def run(h: Harness, at: datetime) -> CycleResult:
    with h.db.write() as s:
        result = h.evaluator.run(s, at)
        h.dispatcher.run(s, at)
    return result


def snapshot(h: Harness, client: str) -> dict[tuple[str, str], tuple[object, ...]]:
    """Everything that matters of the alerts of one installation."""
    installation = h.installation(client).id
    with h.db.session() as s:
        return {
            (a.rule, a.key): (a.status, a.last_seen_at, a.summary, a.labels, a.resolved_at, a.fired_at)
            for a in s.scalars(select(AlertState).where(AlertState.installation_id == installation))
        }


def forget_db_errors(h: Harness, client: str) -> None:
    """The installation's DB errors vanish without a new report: only a full pass can notice."""
    with h.db.write() as s:
        s.execute(delete(SysinfoDbError).where(SysinfoDbError.installation_id == h.installation(client).id))


def firing(h: Harness, client: str, rule: str = RULE) -> bool:
    installation = h.installation(client).id
    return any(s.installation_id == installation for s in h.states(rule=rule).values())


def test_every_sysinfo_rule_is_scoped_and_the_application_evaluator_is_incremental() -> None:
    assert set(CONDITIONS) == SCOPED == scoped_rules()
    built = rules_evaluator(FULL)
    assert built.scoped == SCOPED and built.changes is changed_installations
    assert not {"KodeksTcpStatus", "KodeksHttp200Status"} & built.scoped  # probes: every cycle, in full


def test_a_partial_cycle_evaluates_only_new_reports_and_leaves_other_alerts_exactly_as_they_are(
    h: Harness,
) -> None:
    h.feed("db-error-2007", client="alpha_client")
    h.feed("db-error-2007", client="beta_client")
    first = run(h, T0 + LOOK)
    assert first.full and firing(h, "alpha_client") and firing(h, "beta_client")

    forget_db_errors(h, "beta_client")  # a full pass would now resolve beta's alert
    before = snapshot(h, "beta_client")
    h.feed(at=T0 + LOOK + timedelta(seconds=30), client="alpha_client")  # alpha: a normal report
    # Later than the last_seen_at granularity, so that even a "steady" touch would show.
    second = run(h, T0 + LOOK + timedelta(seconds=FULL - 10))
    assert not second.full
    assert second.scopes[RULE].ids == {h.installation("alpha_client").id}
    assert not firing(h, "alpha_client")  # its new report resolved it in this cycle
    resolved = h.states("resolved", RULE).values()
    assert resolved and {a.installation_id for a in resolved} == {h.installation("alpha_client").id}
    assert snapshot(h, "beta_client") == before  # untouched: still firing, not even last_seen_at

    # The next full pass sees what changed behind the evaluator's back.
    third = run(h, T0 + LOOK + timedelta(seconds=FULL + 1))
    assert third.full and not firing(h, "beta_client")


def test_a_new_faulty_report_fires_in_the_next_cycle_without_a_full_pass(h: Harness) -> None:
    h.feed(client="alpha_client")
    assert run(h, T0 + LOOK).full
    assert not firing(h, "alpha_client")
    h.feed("db-error-2007", at=T0 + LOOK + timedelta(seconds=10), client="alpha_client")
    result = run(h, T0 + LOOK + timedelta(seconds=30))
    assert not result.full and firing(h, "alpha_client")
    assert [len(n.alerts) for n in h.sink.of(RULE)] == []  # grouped: goes out after the group window
    run(h, T0 + LOOK + timedelta(seconds=90))
    assert [len(n.alerts) for n in h.sink.of(RULE)] == [1]


def test_a_cycle_without_new_reports_does_not_evaluate_the_sysinfo_rules(h: Harness) -> None:
    h.feed("db-error-2007", client="alpha_client")
    assert run(h, T0 + LOOK).full
    forget_db_errors(h, "alpha_client")
    result = run(h, T0 + LOOK + timedelta(seconds=60))
    assert not result.full and not set(result.evaluated) & SCOPED
    assert firing(h, "alpha_client")


def test_a_clock_dependent_alert_fires_by_the_next_full_pass(h: Harness) -> None:
    h.feed(client="alpha_client")
    almost = T0 + timedelta(hours=48) - timedelta(minutes=1)
    assert run(h, almost).full
    assert not firing(h, "alpha_client", "SmartXMLfileIsToOld")
    # 48 hours have passed, but no new report: a partial cycle does not look at it …
    partial = run(h, almost + timedelta(minutes=3))
    assert not partial.full and not firing(h, "alpha_client", "SmartXMLfileIsToOld")
    # … the full pass, at most full_interval after the previous one, does.
    full = run(h, almost + timedelta(seconds=FULL))
    assert full.full and firing(h, "alpha_client", "SmartXMLfileIsToOld")


def test_a_new_evaluator_after_a_restart_starts_with_a_full_pass(h: Harness) -> None:
    h.feed("db-error-2007", client="alpha_client")
    h.feed("db-error-2007", client="beta_client")
    run(h, T0 + LOOK)
    forget_db_errors(h, "beta_client")
    assert not run(h, T0 + LOOK + timedelta(seconds=60)).full
    assert firing(h, "beta_client")

    h.evaluator = incremental()  # the process restarted: nothing in memory
    result = run(h, T0 + LOOK + timedelta(seconds=90))
    assert result.full and not firing(h, "beta_client") and firing(h, "alpha_client")
    assert not run(h, T0 + LOOK + timedelta(seconds=120)).full


def test_an_evaluator_that_was_reset_does_a_full_pass(h: Harness) -> None:
    h.feed("db-error-2007", client="alpha_client")
    run(h, T0 + LOOK)
    forget_db_errors(h, "alpha_client")
    h.evaluator.reset()  # what evaluate_and_dispatch does when the cycle's transaction fails
    assert run(h, T0 + LOOK + timedelta(seconds=30)).full
    assert not firing(h, "alpha_client")


def test_a_count_alert_keeps_the_installations_not_evaluated_in_a_partial_cycle(
    h: Harness, box: SecretBox
) -> None:
    count_rule = "KodeksDBerrorsCode2007Count"
    threshold = RULES[count_rule].count_threshold
    clients = ["alpha_client", *(f"alpha_{n}" for n in range(1, threshold + 2))]
    with h.db.write() as s:
        cabinet = s.get(Cabinet, h.tenants.cabinet_a)
        assert cabinet is not None
        for name in clients[1:]:
            client = admin.add_client(s, cabinet, name, f"ООО «{name}»")
            admin.add_installation(s, box, client, "internet", f"{name}.example.ru:80")
    for client in clients:
        h.feed("db-error-2007", client=client)
    assert run(h, T0 + LOOK).full
    [count] = h.states(rule=count_rule).values()
    assert count.labels["count"] == len(clients) == threshold + 2

    # One installation recovers: the Count alert still counts the others, which were not evaluated.
    h.feed(at=T0 + LOOK + timedelta(seconds=10), client="alpha_client")
    result = run(h, T0 + LOOK + timedelta(seconds=30))
    assert not result.full and result.scopes[count_rule].ids == {h.tenants.cabinet_a}
    [count] = h.states(rule=count_rule).values()
    assert count.labels["count"] == threshold + 1 and count.labels["dealer"] == DEALER
    assert not any(line.startswith("alpha_client ") for line in count.labels["objects"])

    # A second one: now at the threshold, the Count alert resolves in a partial cycle.
    h.feed(at=T0 + LOOK + timedelta(seconds=40), client="alpha_1")
    result = run(h, T0 + LOOK + timedelta(seconds=60))
    assert not result.full and h.states(rule=count_rule) == {}
    assert set(h.states("resolved", count_rule)) == {(count_rule, f"cabinet:{h.tenants.cabinet_a}")}


def test_a_full_interval_of_zero_makes_every_cycle_a_full_pass(h: Harness) -> None:
    h.evaluator = Evaluator(CONDITIONS, scoped=SCOPED, changes=changed_installations, full_interval=0)
    h.feed("db-error-2007", client="alpha_client")
    assert run(h, T0 + LOOK).full
    forget_db_errors(h, "alpha_client")
    assert run(h, T0 + LOOK + timedelta(seconds=1)).full
    assert not firing(h, "alpha_client")
