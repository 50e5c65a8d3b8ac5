"""SmartAsrpForwardFailing: fires when a client's reports keep failing to reach ASRP, resolves on success."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kodeks_smart.alerts.engine import Evaluator
from kodeks_smart.alerts.rules.asrp_rules import CONDITIONS
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.types import utcnow
from tests.asrp.conftest import OTHER_DEALER, Harness, http_input
from tests.asrp.server import FakeAsrp

RULE = "SmartAsrpForwardFailing"


def cycle(h: Harness, now: object) -> dict[str, AlertState]:
    with h.services.db.write() as s:
        Evaluator(CONDITIONS).run(s, now)  # type: ignore[arg-type]
    with h.services.db.session() as s:
        states = {a.labels["client"]: a for a in s.scalars(select(AlertState).where(AlertState.rule == RULE))}
        s.expunge_all()
        return states


def test_smart_asrp_forward_failing_fires_after_six_hours_of_errors_and_resolves_on_success(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    h.configure(http_input(fake_asrp.url), dealer=OTHER_DEALER)
    h.feed("alpha_client")
    h.feed("gamma_client", dealer=OTHER_DEALER)
    fake_asrp.mode = "error"
    t0 = utcnow()
    h.forward(t0)
    assert cycle(h, t0 + timedelta(hours=5)) == {}

    h.forward(t0 + timedelta(hours=6))
    states = cycle(h, t0 + timedelta(hours=6, minutes=1))
    assert {c: s.status for c, s in states.items()} == {"alpha_client": "firing", "gamma_client": "firing"}
    alpha = states["alpha_client"]
    assert (alpha.dealer_id, alpha.cabinet_id) == (h.tenants.dealer_id, h.tenants.cabinet_a)
    assert states["gamma_client"].cabinet_id == h.tenants.cabinet_c
    assert alpha.labels["dealer"] == "0599ROGAIKOPITA" and alpha.labels["value"] == "6 ч"
    assert "временно недоступен" in alpha.summary

    fake_asrp.mode = "accept"
    h.forward(t0 + timedelta(hours=8))
    states = cycle(h, t0 + timedelta(hours=8, minutes=1))
    assert {c: s.status for c, s in states.items()} == {
        "alpha_client": "resolved",
        "gamma_client": "resolved",
    }


def test_smart_asrp_forward_failing_fires_at_once_when_a_report_is_given_up(
    h: Harness, fake_asrp: FakeAsrp
) -> None:
    h.configure(http_input(fake_asrp.url))
    h.feed("beta_client")
    fake_asrp.mode = "reject"
    now = utcnow()
    h.forward(now)
    states = cycle(h, now + timedelta(minutes=1))
    assert states["beta_client"].status == "firing"
    assert states["beta_client"].cabinet_id == h.tenants.cabinet_b
    assert "отклонил" in states["beta_client"].summary
