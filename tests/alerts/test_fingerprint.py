"""Fingerprinted alerts: a rule whose labels are costly to build (the list of empty searches of
`KodeksSearchIsEmpty`) gives each instance a fingerprint of what its labels are made of and lazy labels; an
open alert stored with the same fingerprint and owner is steady without its labels being built. These tests
check that the faster path changes nothing an alert shows: steady alerts keep their labels and summary, and
any change of the inputs (a new search, one leaving the 24-hour window, a renamed client, a moved
installation, a pending alert's ``for`` running out) still rewrites them."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.engine import Evaluator, Instance, LazyLabels, fingerprint, render_summary
from kodeks_smart.alerts.rules.sysinfo_rules import CONDITIONS, EMPTY_SEARCHES_LISTED
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoSearch
from kodeks_smart.store.models import Client, Installation
from tests.alerts.test_sysinfo_rules import LOOK, T0, Harness, h  # noqa: F401  (fixture)
from tests.conftest import Tenants

RULE = "KodeksSearchIsEmpty"


class Recorder:
    """The sysinfo conditions, keeping the `KodeksSearchIsEmpty` instances of the last cycle."""

    def __init__(self) -> None:
        self.last: list[Instance] = []

    def conditions(self) -> dict[str, Any]:
        found = dict(CONDITIONS)
        inner = CONDITIONS[RULE]

        def recorded(session: Session, now: datetime) -> Iterable[Instance]:
            self.last = list(inner(session, now))
            return self.last

        found[RULE] = recorded
        return found

    def built(self) -> list[bool]:
        return [isinstance(i.labels, LazyLabels) and i.labels.built for i in self.last]


def run(harness: Harness, at: datetime) -> None:
    with harness.db.write() as s:
        harness.evaluator.run(s, at)
        harness.dispatcher.run(s, at)


def the_alert(harness: Harness) -> AlertState:
    [state] = harness.states(rule=RULE).values()
    return state


def expected_summary(state: AlertState) -> str:
    return render_summary(RULES[RULE], state.labels)


def add_empty_search(harness: Harness, at: datetime, query: str) -> None:
    """An empty search stored behind the evaluator's back (no new report): only the fingerprint can tell."""
    with harness.db.write() as s:
        template = s.scalars(select(SysinfoSearch).where(SysinfoSearch.result == "empty").limit(1)).one()
        values = {
            c.key: getattr(template, c.key) for c in SysinfoSearch.__table__.columns if c.key not in ("id",)
        }
        values.update(occurred_at=at, query=query, login="новичок")
        s.add(SysinfoSearch(**values))


def test_a_steady_alert_keeps_its_labels_without_building_them(h: Harness) -> None:  # noqa: F811
    recorder = Recorder()
    h.evaluator = Evaluator(recorder.conditions())
    h.feed(seed=2)
    run(h, T0 + LOOK)
    first = the_alert(h)
    assert first.fingerprint and first.labels["value"] > 1
    assert recorder.built() == [True]  # a new alert: its labels were built

    run(h, T0 + LOOK + timedelta(minutes=10))
    again = the_alert(h)
    assert recorder.built() == [False]  # steady: neither built nor compared
    assert (again.id, again.labels, again.summary, again.fingerprint) == (
        first.id,
        first.labels,
        first.summary,
        first.fingerprint,
    )
    assert again.last_seen_at > first.last_seen_at  # still seen
    # What building them would give is exactly what is stored.
    with h.db.session() as s:
        [instance] = CONDITIONS[RULE](s, T0 + LOOK + timedelta(minutes=10))
        assert dict(instance.labels) == again.labels and again.summary == expected_summary(again)
    with pytest.raises(RuntimeError):  # not after its cycle: that would leave a transaction open
        dict(recorder.last[0].labels)


def test_a_new_empty_search_rewrites_the_labels_and_summary(h: Harness) -> None:  # noqa: F811
    h.feed(seed=2)
    run(h, T0 + LOOK)
    before = the_alert(h)
    add_empty_search(h, T0 + LOOK + timedelta(minutes=1), "совсем новый запрос")
    run(h, T0 + LOOK + timedelta(minutes=2))
    after = the_alert(h)
    assert after.id == before.id and after.fingerprint != before.fingerprint
    assert after.labels["value"] == before.labels["value"] + 1
    assert after.labels["searches"][0].endswith("новичок: совсем новый запрос")
    assert after.labels["query"].startswith("совсем новый запрос")
    assert len(after.labels["searches"]) == min(after.labels["value"], EMPTY_SEARCHES_LISTED)
    assert after.summary == expected_summary(after) != before.summary


def test_searches_leaving_the_window_rewrite_the_labels(h: Harness) -> None:  # noqa: F811
    h.feed(seed=2)
    run(h, T0 + LOOK)
    before = the_alert(h)
    with h.db.session() as s:
        oldest = s.scalar(
            select(func.min(SysinfoSearch.occurred_at)).where(
                SysinfoSearch.result == "empty", SysinfoSearch.occurred_at >= T0 + LOOK - timedelta(hours=24)
            )
        )
    assert oldest is not None
    run(h, oldest + timedelta(hours=24, seconds=1))  # the clock alone moves the oldest out
    after = the_alert(h)
    assert after.labels["value"] < before.labels["value"]
    assert after.fingerprint != before.fingerprint and after.summary == expected_summary(after)


def test_a_renamed_client_and_a_moved_installation_reach_a_steady_alert(
    h: Harness,  # noqa: F811
    tenants: Tenants,
) -> None:
    h.feed(seed=2)
    run(h, T0 + LOOK)
    before = the_alert(h)
    installation = h.installation("alpha_client")
    with h.db.write() as s:
        s.execute(
            update(Client).where(Client.id == installation.client_id).values(short_name="alpha_renamed")
        )
    run(h, T0 + LOOK + timedelta(minutes=1))
    renamed = the_alert(h)
    assert renamed.labels["client"] == "alpha_renamed" and renamed.fingerprint != before.fingerprint
    assert {k: v for k, v in renamed.labels.items() if k != "client"} == {
        k: v for k, v in before.labels.items() if k != "client"
    }

    # The same labels (same fingerprint), another cabinet: the owner columns are compared too.
    assert renamed.cabinet_id != tenants.cabinet_b
    with h.db.write() as s:
        s.execute(
            update(Installation)
            .where(Installation.id == installation.id)
            .values(cabinet_id=tenants.cabinet_b)
        )
    run(h, T0 + LOOK + timedelta(minutes=2))
    moved = the_alert(h)
    assert moved.cabinet_id == tenants.cabinet_b and moved.fingerprint == renamed.fingerprint


def test_an_alert_stored_without_a_fingerprint_is_compared_by_its_labels_once(h: Harness) -> None:  # noqa: F811
    """Alerts stored before migration 0012 have none: the next cycle rewrites stale labels and sets it."""
    h.feed(seed=2)
    run(h, T0 + LOOK)
    fresh = the_alert(h)
    with h.db.write() as s:
        s.execute(
            update(AlertState)
            .where(AlertState.id == fresh.id)
            .values(fingerprint=None, labels={**fresh.labels, "value": 999}, summary="устарело")
        )
    run(h, T0 + LOOK + timedelta(minutes=1))
    again = the_alert(h)
    assert (again.id, again.labels, again.summary, again.fingerprint) == (
        fresh.id,
        fresh.labels,
        fresh.summary,
        fresh.fingerprint,
    )


def test_a_full_pass_can_run_twice_in_one_transaction(h: Harness) -> None:  # noqa: F811
    """The temporary table of latest reports is made again for the second pass (both backends)."""
    h.feed(seed=2)
    with h.db.write() as s:
        h.evaluator.run(s, T0 + LOOK)
        result = h.evaluator.run(s, T0 + LOOK + timedelta(minutes=1))
    assert not result.failed
    assert the_alert(h).labels["value"] > 1


# -- the engine with a synthetic fingerprinted rule ---------------------------------------------------------

T1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Counted:
    """A rule with lazily built labels that counts the builds: ``KodeksBehindProxyDown`` (``for`` = 120 s,
    and no Count rule, whose messages would need every instance's labels)."""

    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants
        self.text = "первый"
        self.builds = 0

    def condition(self, session: Session, now: datetime) -> Iterable[Instance]:
        text = self.text

        def build() -> dict[str, Any]:
            self.builds += 1
            return {"client": "alpha", "address": text, "dealer": "0599ROGAIKOPITA"}

        return [
            Instance(
                "KodeksBehindProxyDown",
                "inst:7",
                self.tenants.dealer_id,
                self.tenants.cabinet_a,
                installation_id=7,
                labels=LazyLabels(build),
                fingerprint=fingerprint("test", text),
            )
        ]


def stored(db: Database) -> AlertState:
    with db.session() as s:
        return s.scalars(select(AlertState).where(AlertState.rule == "KodeksBehindProxyDown")).one()


def test_labels_are_built_for_new_and_changed_alerts_and_a_pending_one_still_fires(
    db: Database, tenants: Tenants
) -> None:
    rule = Counted(tenants)
    evaluator = Evaluator({"KodeksBehindProxyDown": rule.condition})

    def cycle(at: datetime) -> AlertState:
        with db.write() as s:
            evaluator.run(s, at)
        return stored(db)

    first = cycle(T1)
    assert (first.status, first.labels["address"], rule.builds) == ("pending", "первый", 1)
    assert cycle(T1 + timedelta(seconds=30)).status == "pending" and rule.builds == 1  # steady
    fired = cycle(T1 + timedelta(seconds=130))  # its ``for`` ran out: fires, fingerprint or not
    assert fired.status == "firing" and fired.labels == first.labels
    rule.text = "второй"
    changed = cycle(T1 + timedelta(seconds=160))
    assert changed.labels["address"] == "второй" and changed.status == "firing"
    assert changed.summary == render_summary(RULES["KodeksBehindProxyDown"], changed.labels)
    assert changed.fingerprint == fingerprint("test", "второй")


def test_a_fingerprint_is_stable_across_processes() -> None:
    """Stored with the alert, so it must not depend on the process (unlike ``hash()``)."""
    assert fingerprint(1, "запрос", (2, None)) == "b1b45f063623bcb0727308ca"
    assert fingerprint(1, "запрос", (2, None)) != fingerprint(1, "запрос", (2, 0))


def test_the_garbage_collector_is_paused_for_a_cycle_only(db: Database, tenants: Tenants) -> None:
    seen: list[bool] = []

    def condition(session: Session, now: datetime) -> Iterable[Instance]:
        seen.append(gc.isenabled())
        raise RuntimeError("запрос сломан")  # a failing rule must not leave it paused either

    evaluator = Evaluator({"KodeksBehindProxyDown": condition})
    assert gc.isenabled()
    with db.write() as s:
        result = evaluator.run(s, T1)
    assert seen == [False] and gc.isenabled() and result.failed
    gc.disable()
    try:
        with db.write() as s:
            evaluator.run(s, T1)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
