"""The probe- and online-sourced alert rules, end to end: the simulator (or a stored result) is put into a
state, the probes record what they see, the evaluator with the rules' conditions and the dispatcher fire
the alert — and only it, the dependency rules keep the consequences quiet — and clearing the state
resolves it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.dispatch import Dispatcher, Notification
from kodeks_smart.alerts.engine import Evaluator
from kodeks_smart.alerts.rules import online_rules, probe_rules
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.probes.model import Check, CheckResult, fail, ok
from kodeks_smart.probes.writer import ResultWriter
from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from kodeks_smart.store.db import Database
from tests.conftest import Tenants
from tests.probes.helpers import (
    register_installation,
    register_online,
    run_online,
    run_probe,
    save,
    stored_online_target,
    stored_target,
)
from tests.simulator.helpers import FakeClock

T0 = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
CONDITIONS = {**probe_rules.CONDITIONS, **online_rules.CONDITIONS}


class Sink:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def enqueue(self, session: Session, notification: Notification, now: datetime) -> None:
        self.sent.append(notification)

    def rules(self, kind: str) -> set[str]:
        return {n.rule.name for n in self.sent if n.kind == kind}

    def summaries(self, rule: str) -> list[str]:
        return [a.summary for n in self.sent if n.rule.name == rule and n.kind == "firing" for a in n.alerts]

    def labels(self, rule: str) -> dict[str, Any]:
        return next(dict(a.labels) for n in self.sent if n.rule.name == rule for a in n.alerts)


@pytest.fixture(scope="module")
def module_sim() -> Iterator[SimulatorThread]:
    config = SimulatorConfig(installations=1, online=1, licman=True, clock=FakeClock(T0.timestamp()))
    with SimulatorThread(config) as running:
        yield running


@pytest.fixture
def sim(module_sim: SimulatorThread) -> SimulatorThread:
    module_sim.reset(0)
    module_sim.reset_online(0)
    return module_sim


@dataclass
class Harness:
    db: Database
    box: SecretBox
    sim: SimulatorThread
    tenants: Tenants

    def __post_init__(self) -> None:
        self.writer = ResultWriter(self.db)
        self.sink = Sink()
        self.evaluator = Evaluator(CONDITIONS)
        self.dispatcher = Dispatcher(self.sink, group_wait=timedelta(seconds=30))
        self.installation = register_installation(self.db, self.box, self.sim, self.tenants.cabinet_a)
        self.target = stored_target(self.db, self.box, self.installation)
        self.access = register_online(self.db, self.box, self.sim, self.tenants.cabinet_a)
        self.online = stored_online_target(self.db, self.box, self.access)

    def evaluate(self, at: datetime) -> None:
        with self.db.write() as s:
            self.evaluator.run(s, at)
            self.dispatcher.run(s, at)

    def probe(self, at: datetime) -> None:
        """One real probe cycle of the simulated installation, recorded and evaluated at ``at``."""
        save(self.writer, self.target, run_probe(self.target), at)
        self.evaluate(at)

    def store(self, result: CheckResult, at: datetime) -> None:
        """A stored check result (for what the simulator cannot do on one host, such as a lost ping)."""
        self.writer.record_result("inst", self.target, result, at)
        self.writer.write(self.writer.take(at), at)
        self.evaluate(at)

    def check_online(self, at: datetime) -> None:
        report = run_online(self.online)
        self.writer.record_result("online", self.online, report.result, at)
        if report.read:
            self.writer.record_billing(self.online, report.billing, at)
        self.writer.write(self.writer.take(at), at)
        self.evaluate(at)

    def reading(self, at: datetime, **counters: tuple[int, int]) -> None:
        self.writer.record_billing(self.online, counters, at)
        self.writer.write(self.writer.take(at), at)
        self.evaluate(at)


@pytest.fixture
def h(db: Database, box: SecretBox, sim: SimulatorThread, tenants: Tenants) -> Harness:
    return Harness(db, box, sim, tenants)


def fire_times(rule: str, start: datetime = T0) -> list[datetime]:
    """Times that make a rule pending, firing after its ``for``, and notified after the group wait."""
    hold = timedelta(seconds=RULES[rule].for_seconds)
    return [start, start + hold, start + hold + timedelta(seconds=31)]


# -- rules driven by the simulator ---------------------------------------------------------------------

SIMULATED = {
    # rule: (simulator state, rules notified together with it, text in the summary)
    "KodeksTcpStatus": ({"mode": "down"}, set(), "Порт ПК не принимает соединения (127.0.0.1:"),
    "KodeksHttp200Status": ({"mode": "server-error"}, set(), ": 500)"),
    "KodeksBehindProxyDown": ({"mode": "proxy-only"}, set(), "Reverse-proxy отвечает"),
    "KodeksMaintenance": ({"mode": "maintenance"}, set(), "режиме технического обслуживания"),
    "KodeksNeedSupport": ({"need_support": True}, set(), "«Требуется обслуживание»"),
    "KodeksAuthNotWork": ({"login_refused": True}, set(), "тестового пользователя smartlogin"),
    "KodeksOnlineSensLockCheck": (
        {"key_error": 4111},
        {"KodeksWarning"},
        "ПК не видит активный ключ защиты: Привязка: SenseLock ключ - Ошибка защиты 4111 Not connected",
    ),
    "KodeksWarning": ({"key_error": 4113}, {"KodeksOnlineSensLockCheck"}, "необходимо проверить состав БД"),
    "KodeksLimitsUsers": ({"seats_taken": True}, set(), "занято все места"),
    "LicmanTcpStatus": ({"licman_down": True}, set(), "Порт менеджера лицензий закрыт (127.0.0.1:"),
}


@pytest.mark.parametrize("rule", list(SIMULATED))
def test_a_simulated_state_fires_its_rule_alone_and_clearing_it_resolves(h: Harness, rule: str) -> None:
    patch, together, text = SIMULATED[rule]
    h.sim.set_state(0, **patch)
    for at in fire_times(rule):
        h.probe(at)
    assert h.sink.rules("firing") == {rule, *together}
    assert any(text in summary for summary in h.sink.summaries(rule)), h.sink.summaries(rule)
    labels = h.sink.labels(rule)
    assert labels["client"] == h.target.client
    assert labels["dealer"] == "0599ROGAIKOPITA"

    h.sim.reset(0)
    h.probe(T0 + timedelta(hours=1))
    assert rule in h.sink.rules("resolved")


def test_maintenance_longer_than_three_hours_fires_the_critical_rule(h: Harness) -> None:
    h.sim.set_state(0, mode="maintenance")
    h.probe(T0)
    h.probe(T0 + timedelta(hours=2, minutes=59))
    assert "KodeksMaintenanceToLong" not in h.sink.rules("firing")
    for at in fire_times("KodeksMaintenanceToLong", T0 + timedelta(hours=3, minutes=1)):
        h.probe(at)
    assert h.sink.rules("firing") == {"KodeksMaintenance", "KodeksMaintenanceToLong"}
    h.sim.reset(0)
    h.probe(T0 + timedelta(hours=4))
    assert {"KodeksMaintenance", "KodeksMaintenanceToLong"} <= h.sink.rules("resolved")


def test_in_maintenance_the_failing_main_page_and_login_raise_nothing(h: Harness) -> None:
    h.sim.set_state(0, mode="maintenance")
    for minute in range(0, 40, 5):
        h.probe(T0 + timedelta(minutes=minute))
    assert h.sink.rules("firing") == {"KodeksMaintenance"}
    with h.db.session() as s:
        from sqlalchemy import select

        from kodeks_smart.store.alert_models import AlertState

        active = {a.rule for a in s.scalars(select(AlertState))}
    assert active == {"KodeksMaintenance"}, "http200 and auth are expected to fail: no alert at all"


def test_a_closed_port_leaves_everything_above_it_unknown_and_silent(h: Harness) -> None:
    h.sim.set_state(0, mode="down")
    for at in fire_times("KodeksAuthNotWork"):
        h.probe(at)
    with h.db.session() as s:
        from sqlalchemy import select

        from kodeks_smart.store.alert_models import AlertState

        active = {a.rule for a in s.scalars(select(AlertState))}
    assert active == {"KodeksTcpStatus"}


# -- rules fed from stored results ---------------------------------------------------------------------

STORED = {
    "KodeksIcmp": (
        fail(Check.ICMP, "timeout", "нет ответа на ping от 10.1.2.3 (2 попытки по 2 с)"),
        ok(Check.ICMP, "1.0 ms"),
        "Сервер ПК не отвечает на ping (127.0.0.1:",
    ),
    "LicmanIcmp": (
        fail(Check.LICMAN_ICMP, "timeout", "нет ответа на ping"),
        ok(Check.LICMAN_ICMP, "1.0 ms"),
        "Менеджер лицензий не отвечает на ping (127.0.0.1:",
    ),
    "KodeksSppStatus": (
        fail(Check.SPP, "500", "СПП отвечает кодом 500"),
        ok(Check.SPP, "200"),
        "(СПП): СПП отвечает кодом 500",
    ),
}


@pytest.mark.parametrize("rule", list(STORED))
def test_a_stored_failure_fires_its_rule_and_a_stored_success_resolves_it(h: Harness, rule: str) -> None:
    failure, success, text = STORED[rule]
    for at in fire_times(rule):
        h.store(failure, at)
    assert h.sink.rules("firing") == {rule}
    assert any(text in summary for summary in h.sink.summaries(rule)), h.sink.summaries(rule)
    h.store(success, T0 + timedelta(hours=1))
    assert h.sink.rules("resolved") == {rule}


@pytest.mark.parametrize("check", [Check.HTTP200, Check.AUTH, Check.KEY, Check.WARNING])
def test_an_unknown_or_expected_result_never_fires(h: Harness, check: Check) -> None:
    from kodeks_smart.probes.model import expected, unknown

    for at in fire_times("KodeksAuthNotWork"):
        h.store(unknown(check, "порт ПК недоступен (tcp)"), at)
        h.store(expected(check, "503", "режим тех.обслуживания"), at)
    assert h.sink.sent == []


# -- online accesses -----------------------------------------------------------------------------------


def test_a_failing_online_login_fires_after_two_hours_and_resolves(h: Harness) -> None:
    h.sim.set_online_state(0, login_refused=True)
    for at in fire_times("OnlineLoginFailed"):
        h.check_online(at)
    assert h.sink.rules("firing") == {"OnlineLoginFailed"}
    labels = h.sink.labels("OnlineLoginFailed")
    assert (labels["login"], labels["catalog"], labels["url"]) == (
        h.online.login,
        h.online.catalog,
        h.online.host,
    )
    assert "LoginPasswordError" in h.sink.summaries("OnlineLoginFailed")[0]
    h.sim.reset_online(0)
    h.check_online(T0 + timedelta(hours=3))
    assert h.sink.rules("resolved") == {"OnlineLoginFailed"}


@pytest.mark.parametrize("kind", ["Docs", "Search", "Print", "Upload"])
@pytest.mark.parametrize(
    ("left", "active"),
    [(149, {"150"}), (30, {"150", "50"}), (0, {"150", "50", "Zero"}), (150, set())],
)
def test_billing_levels_are_independent(h: Harness, kind: str, left: int, active: set[str]) -> None:
    counter = {"Docs": "docs", "Search": "search", "Print": "print", "Upload": "upload"}[kind]
    h.sim.set_online_state(0, billing={counter: {"max": 1000, "cnt": 0}}, billing_left={counter: left})
    for at in (T0, T0 + timedelta(seconds=31)):
        h.check_online(at)
    billing = {r for r in h.sink.rules("firing") if r.startswith("OnlineBilling")}
    assert billing == {f"OnlineBilling{kind}Left{level}" for level in active}
    for rule in billing:
        assert h.sink.labels(rule)["value"] == left
    h.sim.set_online_state(0, billing_left={counter: 1000})
    h.check_online(T0 + timedelta(hours=1))
    assert {r for r in h.sink.rules("resolved") if r.startswith("OnlineBilling")} == billing


def test_a_reading_of_last_month_no_longer_counts(h: Harness) -> None:
    last_month = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    h.reading(last_month, docs=(400, 400))
    h.evaluate(last_month + timedelta(seconds=31))
    assert "OnlineBillingDocsLeftZero" in h.sink.rules("firing")
    # 2026-11-01 00:30 Moscow: the limits were renewed.
    h.evaluate(datetime(2026, 10, 31, 21, 30, tzinfo=UTC))
    assert "OnlineBillingDocsLeftZero" in h.sink.rules("resolved")


def test_a_counter_the_access_does_not_have_never_fires(h: Harness) -> None:
    h.reading(T0, print=(0, 0))
    h.evaluate(T0 + timedelta(seconds=31))
    assert h.sink.sent == []


@pytest.mark.parametrize(
    ("day", "used", "active"),
    [
        (datetime(2026, 11, 9, 12, tzinfo=UTC), 0, None),
        (datetime(2026, 11, 10, 12, tzinfo=UTC), 29, "10"),
        (datetime(2026, 11, 19, 12, tzinfo=UTC), 29, "10"),
        (datetime(2026, 11, 19, 12, tzinfo=UTC), 30, None),
        (datetime(2026, 11, 20, 12, tzinfo=UTC), 99, "20"),
        (datetime(2026, 11, 29, 12, tzinfo=UTC), 99, "20"),
        (datetime(2026, 11, 29, 12, tzinfo=UTC), 100, None),
        (datetime(2026, 11, 30, 12, tzinfo=UTC), 149, "30"),
        (datetime(2026, 12, 31, 12, tzinfo=UTC), 149, "30"),
        (datetime(2027, 2, 27, 12, tzinfo=UTC), 99, "20"),
        (datetime(2027, 2, 28, 12, tzinfo=UTC), 149, "30"),
        (datetime(2028, 2, 28, 12, tzinfo=UTC), 99, "20"),
        (datetime(2028, 2, 29, 12, tzinfo=UTC), 149, "30"),
        (datetime(2026, 11, 30, 12, tzinfo=UTC), 150, None),
    ],
)
def test_low_activity_has_one_window_per_part_of_the_month(
    h: Harness, day: datetime, used: int, active: str | None
) -> None:
    h.reading(day - timedelta(hours=1), docs=(1000, used))
    h.evaluate(day)
    low = {r for r in h.sink.rules("firing") if r.startswith("OnlineUserActivityIsLow")}
    assert low == ({f"OnlineUserActivityIsLow{active}"} if active else set())
    if active:
        assert h.sink.labels(f"OnlineUserActivityIsLow{active}")["value"] == f"{used / 10:.1f}"


def test_low_activity_resolves_when_usage_reaches_the_threshold(h: Harness) -> None:
    day = datetime(2026, 11, 21, 9, tzinfo=UTC)
    h.reading(day, docs=(1000, 50))
    h.evaluate(day + timedelta(seconds=31))
    assert h.sink.rules("firing") == {"OnlineUserActivityIsLow20"}
    h.reading(day + timedelta(hours=1), docs=(1000, 100))
    assert h.sink.rules("resolved") == {"OnlineUserActivityIsLow20"}


# -- mass failures: the Count variants ------------------------------------------------------------------

MASS = {
    # Count rule: (failing result, the rule it counts, rules notified besides the Count rule)
    "KodeksTcpStatusCount": (fail(Check.TCP, "refused", "порт закрыт"), "KodeksTcpStatus", set()),
    "KodeksIcmpCount": (fail(Check.ICMP, "timeout", "нет ответа на ping"), "KodeksIcmp", set()),
    "KodeksHttp200StatusCount": (fail(Check.HTTP200, "500", "код 500"), "KodeksHttp200Status", set()),
    "KodeksMaintenanceToLongCount": (
        fail(Check.MAINTENANCE, "503", "режим тех.обслуживания"),
        "KodeksMaintenanceToLong",
        {"KodeksMaintenance"},  # its own Count needs more than 30 installations
    ),
}


@pytest.mark.parametrize("count_rule", list(MASS))
def test_eleven_installations_failing_in_one_cabinet_give_one_count_alert(
    db: Database, box: SecretBox, sim: SimulatorThread, tenants: Tenants, count_rule: str
) -> None:
    failure, base, besides = MASS[count_rule]
    writer = ResultWriter(db)
    sink = Sink()
    evaluator, dispatcher = Evaluator(CONDITIONS), Dispatcher(sink, group_wait=timedelta(seconds=30))
    targets = [
        stored_target(db, box, register_installation(db, box, sim, tenants.cabinet_a, client_name=f"mass{i}"))
        for i in range(11)
    ]

    def cycle(result: CheckResult, at: datetime) -> None:
        for target in targets:
            writer.record_result("inst", target, result, at)
        writer.write(writer.take(at), at)
        with db.write() as s:
            evaluator.run(s, at)
            dispatcher.run(s, at)

    start = T0
    if base == "KodeksMaintenanceToLong":
        cycle(failure, T0)
        start = T0 + timedelta(hours=3, minutes=1)
    for at in fire_times(base, start):
        cycle(failure, at)
    assert sink.rules("firing") == {count_rule, *besides}
    count = next(n for n in sink.sent if n.rule.name == count_rule)
    assert (count.cabinet_id, count.alerts[0].labels["count"]) == (tenants.cabinet_a, 11)

    cycle(ok(failure.check, "ok"), start + timedelta(hours=1))
    assert count_rule in sink.rules("resolved")


def test_the_probe_rules_share_one_query_per_cycle_that_finds_what_a_query_per_check_finds(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    """`probe_rules.failing` within a cycle (one query for every check, `cycle_cached`) against the plain
    query of one check's failing rows, in installation order, that each rule ran before."""
    from sqlalchemy import select

    from kodeks_smart.alerts.engine import CYCLE_CACHE
    from kodeks_smart.store import admin
    from kodeks_smart.store.models import Cabinet, Client, Dealer, Installation
    from kodeks_smart.store.probe_models import ProbeCheck

    states = {"tcp": "fail", "http200": "fail", "limit": "ok", "auth": "unknown", "licman_tcp": "fail"}
    with db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        for n in range(4):
            client = admin.add_client(s, cabinet, f"shared_{n}", f"ООО «{n}»")
            kind = "closed" if n == 3 else "internet"  # not probed: never among the failing rows
            inst = admin.add_installation(s, box, client, kind, f"shared{n}.example.ru:80")
            for k, (check, status) in enumerate(states.items()):
                failing_here = status == "fail" and (n + k) % 2 == 0
                s.add(
                    ProbeCheck(
                        dealer_id=inst.dealer_id,
                        cabinet_id=inst.cabinet_id,
                        installation_id=inst.id,
                        check_name=check,
                        status=status if failing_here or status != "fail" else "ok",
                    )
                )
    with db.session() as s:
        s.info[CYCLE_CACHE] = {}
        shared = {check: probe_rules.failing(s, check) for check in [*states, "icmp"]}
        for check, rows in shared.items():
            plain = s.execute(
                select(ProbeCheck, Installation, Client, Dealer)
                .join(Installation, Installation.id == ProbeCheck.installation_id)
                .join(Client, Client.id == Installation.client_id)
                .join(Dealer, Dealer.id == Installation.dealer_id)
                .where(
                    ProbeCheck.check_name == check,
                    ProbeCheck.status == "fail",
                    Installation.kind.in_(probe_rules.PROBED_KINDS),
                    Installation.address.is_not(None),
                )
                .order_by(Installation.id)
            ).all()
            assert [tuple(row) for row in plain] == rows, check
        assert {check for check, rows in shared.items() if rows} == {"tcp", "http200", "licman_tcp"}
