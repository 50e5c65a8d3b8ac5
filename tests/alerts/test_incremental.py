"""Incremental evaluation of the sysinfo rules: between full passes a cycle evaluates them only for the
installations with new reports and leaves every other alert exactly as it is; the full pass (every
``full_interval`` and on the first cycle of a new evaluator, i.e. after a restart) catches up with the rest.

Reports are deleted behind the evaluator's back (their uploads, with every row they own, as the retention
job deletes them) to tell a partial cycle from a full one: a full pass resolves the alerts such a report
raised, a partial cycle must not touch them.

On PostgreSQL a full pass reads the snapshot facts of a report (volume errors, OperUp files, databases)
only if it has not read them before under the same report id (`_snapshot_rows`); the tests at the end
compare that with reading them all."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.engine import CYCLE_CACHE, CYCLE_MEMO, CycleResult, Evaluator
from kodeks_smart.alerts.rules import evaluator as rules_evaluator
from kodeks_smart.alerts.rules import scoped_rules
from kodeks_smart.alerts.rules.sysinfo_rules import CONDITIONS, SCOPED, changed_installations
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import Upload
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


def forget_reports(h: Harness, client: str) -> None:
    """The installation's reports vanish (their uploads are deleted, and with them everything the reports
    wrote) without a new report: only a full pass can notice."""
    with h.db.write() as s:
        s.execute(delete(Upload).where(Upload.installation_id == h.installation(client).id))


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
    # beta's report first: deleting the newest row would let SQLite reuse its id for alpha's next report.
    h.feed("db-error-2007", client="beta_client")
    h.feed("db-error-2007", client="alpha_client")
    first = run(h, T0 + LOOK)
    assert first.full and firing(h, "alpha_client") and firing(h, "beta_client")

    forget_reports(h, "beta_client")  # a full pass would now resolve beta's alert
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
    forget_reports(h, "alpha_client")
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
    forget_reports(h, "beta_client")
    assert not run(h, T0 + LOOK + timedelta(seconds=60)).full
    assert firing(h, "beta_client")

    h.evaluator = incremental()  # the process restarted: nothing in memory
    result = run(h, T0 + LOOK + timedelta(seconds=90))
    assert result.full and not firing(h, "beta_client") and firing(h, "alpha_client")
    assert not run(h, T0 + LOOK + timedelta(seconds=120)).full


def test_an_evaluator_that_was_reset_does_a_full_pass(h: Harness) -> None:
    h.feed("db-error-2007", client="alpha_client")
    run(h, T0 + LOOK)
    forget_reports(h, "alpha_client")
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
    forget_reports(h, "alpha_client")
    assert run(h, T0 + LOOK + timedelta(seconds=1)).full
    assert not firing(h, "alpha_client")


# -- the snapshot facts a full pass reads again only for changed reports -----------------------------------

SNAPSHOT_RULES = (
    "KodeksDBerrorsCode2007",
    "KodeksDBerrorsCodeXXX",
    "KodeksDBerrorsNoCode",
    "KodeksDBOperUpToOld",
    "KodeksLicenseExpiring2day",
    "KodeksLicenseExpiring7day",
    "KodeksLicenseExpiring90day",
    "KodeksDBLicensesZero",
)


def collected(h: Harness, evaluator: Evaluator, at: datetime) -> dict[tuple[str, str], tuple[object, ...]]:
    """What a full pass of ``evaluator`` at ``at`` finds (the instances, labels built), without storing it."""
    evaluator.last_full = None
    with h.db.write() as s:
        s.info[CYCLE_CACHE] = {}
        s.info[CYCLE_MEMO] = evaluator.memo
        try:
            result = CycleResult()
            active = evaluator.collect(s, at, result, evaluator._plan(s, at))
        finally:
            s.info.pop(CYCLE_CACHE, None)
            s.info.pop(CYCLE_MEMO, None)
    assert result.full and not result.failed
    return {
        ident: (inst.dealer_id, inst.cabinet_id, inst.client_id, inst.installation_id, dict(inst.labels))
        for ident, inst in active.items()
    }


def snapshot_rules(found: dict[tuple[str, str], tuple[object, ...]]) -> set[str]:
    return {rule for rule, _ in found if rule in SNAPSHOT_RULES}


def test_a_full_pass_that_keeps_the_snapshot_facts_of_unchanged_reports_finds_what_reading_all_finds(
    h: Harness,
) -> None:
    """The memo of `_snapshot_rows` against a fresh evaluator (which reads every installation's facts),
    through new reports, a report deleted behind the evaluator's back and a month's clock change (the
    licence rows are read with a bound that holds for about a month)."""
    today = (T0 + timedelta(hours=3)).date()
    h.feed("db-errors", "stale-operup", "licence-expiring-2d", client="alpha_client")
    h.feed("db-error-2007", client="beta_client", licence_until=today + timedelta(days=130))
    kept = incremental()
    first = collected(h, kept, T0 + LOOK)
    assert first == collected(h, incremental(), T0 + LOOK)
    assert {"KodeksDBerrorsCode2007", "KodeksDBerrorsCodeXXX", "KodeksDBOperUpToOld"} <= snapshot_rules(first)
    assert "KodeksLicenseExpiring90day" in snapshot_rules(first)

    # beta reports again without its error; alpha's facts are not read again (on PostgreSQL).
    h.feed(at=T0 + LOOK, client="beta_client", licence_until=today + timedelta(days=130))
    later = T0 + 2 * LOOK
    second = collected(h, kept, later)
    assert second == collected(h, incremental(), later)
    beta = h.installation("beta_client").id
    assert not any(ident[1].startswith(f"inst:{beta}:db:") for ident in second)

    # beta's new report is deleted behind the evaluator's back: its older one (the error) is the latest again.
    with h.db.write() as s:
        newest = s.scalars(select(Upload.id).where(Upload.installation_id == beta).order_by(Upload.id.desc()))
        s.execute(delete(Upload).where(Upload.id == next(iter(newest))))
    third = collected(h, kept, later)
    assert third == collected(h, incremental(), later)
    assert any(ident[1].startswith(f"inst:{beta}:db:") for ident in third)

    # 50 days on: beta's licence (130 days left then) is within 90 days now, read with the new bound.
    far = later + timedelta(days=50)
    fourth = collected(h, kept, far)
    assert fourth == collected(h, incremental(), far)
    assert any(rule == "KodeksLicenseExpiring90day" and f"inst:{beta}:" in key for rule, key in fourth)


def test_the_snapshot_memo_is_used_only_on_postgresql_in_full_passes_and_a_reset_empties_it(
    h: Harness,
) -> None:
    h.feed("db-error-2007", client="alpha_client")
    run(h, T0 + LOOK)
    postgresql = h.db.engine.dialect.name == "postgresql"
    kept = h.evaluator.memo.get("sysinfo.db_errors", {}).get("rows", {})
    alpha = h.installation("alpha_client").id
    assert (alpha in kept) == postgresql
    h.evaluator.reset()
    assert h.evaluator.memo == {}
