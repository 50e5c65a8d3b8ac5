"""The sysinfo- and meta-sourced alert rules, end to end: a generated report with a fault scenario is ingested
into an installation, the evaluator with the rules' conditions and the dispatcher fire the alert with the
labels the cabinet shows, and a later normal report resolves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.dispatch import Dispatcher, Notification
from kodeks_smart.alerts.engine import Evaluator, render_summary
from kodeks_smart.alerts.rules.sysinfo_rules import CONDITIONS, EMPTY_SEARCHES_LISTED, EMPTY_SEARCHES_SHOWN
from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.simulator.sysinfo import DEFAULT_NOW, SysinfoProfile, generate_zip
from kodeks_smart.simulator.sysinfo_profile import DB_ERROR_SCENARIO_CODES
from kodeks_smart.store import admin
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoSearch, Upload
from kodeks_smart.store.models import Cabinet, Client, Installation
from tests.conftest import Tenants

#: Monday 20 April 2026, 10:48 at UTC+3: the day the month-to-date rules start to be checked.
T0 = DEFAULT_NOW
DEALER = "0599ROGAIKOPITA"
OTHER_DEALER = "rogaikopita599"
LATER = timedelta(days=2)
LOOK = timedelta(minutes=10)


class Sink:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def enqueue(self, session: Session, notification: Notification, now: datetime) -> None:
        self.sent.append(notification)

    def of(self, rule: str, kind: str = "firing") -> list[Notification]:
        return [n for n in self.sent if n.rule.name == rule and n.kind == kind]


@dataclass
class Harness:
    db: Database
    ctx: IngestContext
    monkeypatch: pytest.MonkeyPatch
    tenants: Tenants
    sink: Sink = field(default_factory=Sink)

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(CONDITIONS)
        self.dispatcher = Dispatcher(self.sink, group_wait=timedelta(seconds=30))

    def feed(
        self,
        *scenarios: str,
        at: datetime = T0,
        client: str = "alpha_client",
        dealer: str = DEALER,
        received: datetime | None = None,
        **profile: Any,
    ) -> int:
        """Ingest a generated report made at ``at`` and received a little later; returns processed count."""
        values: dict[str, Any] = {"users": 10, "days": 2, "seed": 0}
        values.update(profile)
        report = SysinfoProfile(client, scenarios=frozenset(scenarios), now=at, **values)
        arrival = received or at + timedelta(minutes=2)
        self.monkeypatch.setattr(service, "utcnow", lambda: arrival)
        service.ingest_file(self.ctx, dealer, client, data=generate_zip(report), fmt="zip")
        processed = drain(self.ctx)
        with self.db.session() as s:
            assert [u.status for u in s.scalars(select(Upload).where(Upload.status != "done"))] == []
        return processed

    def cycle(self, at: datetime) -> None:
        """Evaluate at ``at`` and dispatch then and once the group window has passed."""
        with self.db.write() as s:
            self.evaluator.run(s, at)
            self.dispatcher.run(s, at)
        with self.db.write() as s:
            self.evaluator.run(s, at + timedelta(minutes=1))
            self.dispatcher.run(s, at + timedelta(minutes=1))

    def states(self, status: str = "firing", rule: str | None = None) -> dict[tuple[str, str], AlertState]:
        with self.db.session() as s:
            stmt = select(AlertState).where(AlertState.status == status)
            if rule is not None:
                stmt = stmt.where(AlertState.rule == rule)
            return {(a.rule, a.key): a for a in s.scalars(stmt)}

    def firing_rules(self) -> set[str]:
        return {rule for rule, _ in self.states()}

    def installation(self, client: str) -> Installation:
        with self.db.session() as s:
            found = s.scalars(
                select(Installation)
                .join(Client, Client.id == Installation.client_id)
                .where(Client.short_name == client)
            ).one()
            s.expunge(found)
            return found


@pytest.fixture
def h(db: Database, services: Services, tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> Harness:
    Path(services.settings.data_dir).mkdir(parents=True, exist_ok=True)
    return Harness(db, IngestContext.from_services(services), monkeypatch, tenants)


def assert_labelled(state: AlertState, **expected: Any) -> None:
    """The common labels of the cabinet's dashboard and a summary with every field filled."""
    labels = state.labels
    assert labels["client"] == "alpha_client"
    assert labels["dealer"] == DEALER
    assert labels["clientname"] and labels["regnum"]
    assert state.key.startswith(f"inst:{labels['installation']}")
    for name, value in expected.items():
        assert labels[name] == value, name
    assert "?" not in render_summary(RULES[state.rule], labels), state.summary


# rule, scenarios, extra profile values, expected labels (a callable checks one label's value)
CASES: list[tuple[str, tuple[str, ...], dict[str, Any], dict[str, Any]]] = [
    ("KodeksDBerrorsCode2007", ("db-error-2007",), {}, {"code": 2007}),
    ("KodeksDBerrorsCodeXXX", ("db-error-613",), {}, {"code": 613}),
    ("KodeksDBerrorsCodeXXX", ("db-error-53",), {}, {"code": 53}),
    ("KodeksDBerrorsCodeXXX", ("operup-error-792",), {}, {"code": 792}),
    (
        "KodeksDBerrorsNoCode",
        ("db-error-nocode",),
        {},
        {"code": None, "text": "Том базы данных уже подключен"},
    ),
    ("KodeksDBOperUpToOld", ("stale-operup",), {"databases": 4}, {}),
    ("KodeksOfflineSensLockCheck", ("key-error-4111",), {}, {"code": 4111}),
    (
        "KodeksXmlSensLockStatus",
        ("no-senselock-block",),
        {},
        {"text": "в отчёте нет блока со статусом ключа"},
    ),
    ("KodeksXmlSensLockStatus", ("key-error-665",), {}, {"value": "error", "code": 665}),
    ("KodeksDetectOverUserError", ("seats-exhausted",), {}, {}),
    ("KodeksLicenseExpiring2day", ("licence-expiring-2d",), {}, {"value": 1, "date": "21.04.2026"}),
    ("KodeksLicenseExpiring7day", ("licence-expiring-7d",), {}, {"value": 5}),
    ("KodeksLicenseExpiring90day", ("licence-expiring-90d",), {}, {"value": 60}),
    ("KodeksDBLicensesZero", ("no-licence-block",), {}, {}),
    ("KodeksUnsupportedButUsed", ("unsupported-but-used",), {}, {"date": "06.03.2026"}),
    ("KodeksUserActivityIsLow", ("low-activity",), {}, {"value": 10}),
    ("KodeksUserAInvolvementIsLow", ("low-involvement",), {}, {"value": "29", "users": 2, "seats": 7}),
    ("KodeksSearchError", ("search-errors",), {"seed": 3}, {}),
]


@pytest.mark.parametrize(
    ("rule", "scenarios", "profile", "expected"), CASES, ids=[f"{c[0]}-{c[1][0]}" for c in CASES]
)
def test_a_fault_scenario_fires_its_rule_with_labels_and_a_normal_report_resolves_it(
    h: Harness, rule: str, scenarios: tuple[str, ...], profile: dict[str, Any], expected: dict[str, Any]
) -> None:
    h.feed(*scenarios, **profile)
    h.cycle(T0 + LOOK)
    fired = h.states(rule=rule)
    assert fired, f"{rule} did not fire; firing: {sorted(h.firing_rules())}"
    for state in fired.values():
        assert_labelled(state, **expected)
        assert (state.dealer_id, state.cabinet_id) == (h.tenants.dealer_id, h.tenants.cabinet_a)
    notified = h.sink.of(rule)
    assert len(notified) == 1 and {a.key for a in notified[0].alerts} == {k for _, k in fired}

    h.feed(at=T0 + LATER, **profile)
    h.cycle(T0 + LATER + LOOK)
    resolved = h.states("resolved", rule)
    assert set(resolved) == set(fired)
    assert h.firing_rules() <= {"KodeksSearchIsEmpty"}
    assert [len(n.alerts) for n in h.sink.of(rule, "resolved")] == [len(fired)]


def test_a_normal_report_fires_only_empty_searches(h: Harness) -> None:
    h.feed()
    h.cycle(T0 + LOOK)
    assert h.firing_rules() == {"KodeksSearchIsEmpty"}
    assert h.states("pending") == {}


def test_a_db_error_gives_one_instance_per_database_volume_and_code(h: Harness) -> None:
    h.feed("db-errors")
    h.cycle(T0 + LOOK)
    firing = h.states()
    by_rule = {rule: [s for (r, _), s in firing.items() if r == rule] for rule, _ in firing}
    [code2007] = by_rule["KodeksDBerrorsCode2007"]
    [coded] = by_rule["KodeksDBerrorsCodeXXX"]
    [nocode] = by_rule["KodeksDBerrorsNoCode"]
    assert code2007.summary.startswith("Нет прав на использование БД (ошибка 2007): ")
    assert coded.labels["code"] == 613 and coded.summary.startswith("Ошибка БД с кодом 613: ")
    assert nocode.summary.startswith("Ошибка БД без кода: Том базы данных уже подключен (БД: ")
    assert len({code2007.key, coded.key, nocode.key}) == 3


def test_every_operup_file_older_than_three_days_is_its_own_alert(h: Harness) -> None:
    h.feed("stale-operup")
    h.cycle(T0 + LOOK)
    stale = h.states(rule="KodeksDBOperUpToOld")
    filenames = {s.labels["filename"] for s in stale.values()}
    assert len(stale) == len(filenames) > 1
    assert all(name.rsplit(".", 1)[-1] in ("ud6", "udt") for name in filenames)
    assert all(s.summary.startswith("Файлы OperUp старее 3 дней: ") for s in stale.values())
    assert all(s.labels["date"].startswith("15.04.2026") for s in stale.values())


def test_the_licence_levels_are_independent(h: Harness) -> None:
    h.feed("licence-expiring-2d", "licence-expiring-7d", "licence-expiring-90d")
    h.cycle(T0 + LOOK)

    def databases(rule: str) -> set[str]:
        return {s.labels["database"] for s in h.states(rule=rule).values()}

    two, seven, ninety = (databases(f"KodeksLicenseExpiring{n}") for n in ("2day", "7day", "90day"))
    assert len(two) == 1 and len(seven) == 2 and len(ninety) == 3
    assert two < seven < ninety


@pytest.mark.parametrize(
    ("days_left", "levels"),
    [(-1, {2, 7, 90}), (1, {2, 7, 90}), (2, {7, 90}), (6, {7, 90}), (7, {90}), (89, {90}), (90, set())],
)
def test_a_licence_fires_each_level_below_its_number_of_days(
    h: Harness, days_left: int, levels: set[int]
) -> None:
    today = (T0 + timedelta(hours=3)).date()  # the report's local date (UTC+3)
    h.feed(licence_until=today + timedelta(days=days_left))
    h.cycle(T0 + LOOK)
    rules = {"KodeksLicenseExpiring2day": 2, "KodeksLicenseExpiring7day": 7, "KodeksLicenseExpiring90day": 90}
    assert {days for rule, days in rules.items() if rule in h.firing_rules()} == levels
    for rule in h.firing_rules() & set(rules):
        assert {s.labels["value"] for s in h.states(rule=rule).values()} == {days_left}


def _count_fires_alone_and_resolves(h: Harness, count_rule: str, clients: list[str], *scenarios: str) -> None:
    base = RULES[count_rule].count_of
    assert base is not None
    for client in clients:
        h.feed(*scenarios, client=client)
    h.cycle(T0 + LOOK)
    assert len(h.states(rule=base)) > RULES[count_rule].count_threshold
    [count] = h.states(rule=count_rule).values()
    assert (count.dealer_id, count.cabinet_id) == (h.tenants.dealer_id, h.tenants.cabinet_a)
    assert count.key == f"cabinet:{h.tenants.cabinet_a}" and count.labels["dealer"] == DEALER
    assert count.labels["count"] == len(h.states(rule=base))
    assert [len(n.alerts) for n in h.sink.of(count_rule)] == [1]
    assert h.sink.of(base) == []  # the per-object alerts are folded into the Count message
    for client in clients:
        h.feed(at=T0 + LATER, client=client)
    h.cycle(T0 + LATER + LOOK)
    assert set(h.states("resolved", count_rule)) == {(count_rule, count.key)}
    assert h.sink.of(count_rule, "resolved")


def test_many_code_less_volume_errors_give_one_count_message_until_resolved(h: Harness) -> None:
    _count_fires_alone_and_resolves(h, "KodeksDBerrorsNoCodeCount", ["alpha_client"], "db-errors-many")


def test_many_stale_operup_files_give_one_count_message_until_resolved(h: Harness) -> None:
    _count_fires_alone_and_resolves(h, "KodeksDBOperUpToOldCount", ["alpha_client"], "stale-operup")


def test_many_coded_db_errors_give_one_count_message_until_resolved(h: Harness) -> None:
    codes = [c for c in DB_ERROR_SCENARIO_CODES if c != 2007][:11]
    scenarios = [f"db-error-{c}" for c in codes]
    _count_fires_alone_and_resolves(h, "KodeksDBerrorsCodeXXXCount", ["alpha_client"], *scenarios)


def test_error_2007_on_many_installations_gives_one_count_message_until_resolved(
    h: Harness, box: SecretBox
) -> None:
    clients = ["alpha_client", *(f"alpha_{n}" for n in range(1, 11))]
    with h.db.write() as s:
        cabinet = s.get(Cabinet, h.tenants.cabinet_a)
        assert cabinet is not None
        for name in clients[1:]:
            client = admin.add_client(s, cabinet, name, f"ООО «{name}»")
            admin.add_installation(s, box, client, "internet", f"{name}.example.ru:80")
    _count_fires_alone_and_resolves(h, "KodeksDBerrorsCode2007Count", clients, "db-error-2007")


def test_empty_searches_fire_one_alert_per_installation_listing_them_and_age_out_after_a_day(
    h: Harness,
) -> None:
    h.feed(seed=2)
    h.cycle(T0 + LOOK)
    with h.db.session() as s:
        empty_rows = s.execute(
            select(SysinfoSearch.login, SysinfoSearch.query).where(
                SysinfoSearch.result == "empty", SysinfoSearch.occurred_at >= T0 + LOOK - timedelta(hours=24)
            )
        ).all()
    assert len(empty_rows) > 1
    [(ident, state)] = h.states(rule="KodeksSearchIsEmpty").items()
    assert ident[1].endswith(":search-empty")
    assert_labelled(state)
    assert state.labels["value"] == len(empty_rows)
    shown = state.labels["query"].split("», «")
    assert 1 <= len(shown) <= EMPTY_SEARCHES_SHOWN and set(shown) <= {q or "" for _, q in empty_rows}
    assert state.labels["user"].endswith(f"; поисков: {len(empty_rows)}")
    listed = state.labels["searches"]
    assert len(listed) == min(len(empty_rows), EMPTY_SEARCHES_LISTED)
    assert {line.split(": ", 1)[1] for line in listed} <= {q or "" for _, q in empty_rows}
    assert listed == sorted(
        listed, key=lambda line: datetime.strptime(line[:16], "%d.%m.%Y %H:%M"), reverse=True
    )
    assert state.summary == f"Пустой поиск: «{state.labels['query']}» ({state.labels['user']})"
    [message] = h.sink.of("KodeksSearchIsEmpty")
    assert [a.key for a in message.alerts] == [ident[1]]

    h.feed("no-empty-searches", at=T0 + LATER, seed=2)
    h.cycle(T0 + LATER + LOOK)
    assert set(h.states("resolved", "KodeksSearchIsEmpty")) == {ident}
    assert h.firing_rules() == set()


def test_a_user_refused_for_lack_of_seats_is_one_alert_with_the_refusal_count(h: Harness) -> None:
    h.feed("seats-exhausted")
    h.cycle(T0 + LOOK)
    refused = h.states(rule="KodeksDetectOverUserError")
    assert refused
    for (_, key), state in refused.items():
        assert key == f"inst:{state.labels['installation']}:overuser:{state.labels['user']}"
        assert state.labels["value"] >= 1
        assert state.summary.endswith("раз(а) за день") and state.labels["user"] in state.summary


def test_the_first_report_of_an_installation_only_sets_the_baseline_of_users(h: Harness) -> None:
    h.feed("new-user")
    h.cycle(T0 + LOOK)
    assert "KodeksNewUser" not in h.firing_rules()


def test_a_user_missing_from_earlier_reports_is_new_and_resolves_a_day_later(h: Harness) -> None:
    h.feed(at=T0 - timedelta(hours=1))
    h.cycle(T0 - timedelta(hours=1) + LOOK)
    assert "KodeksNewUser" not in h.firing_rules()
    h.feed("new-user")
    h.cycle(T0 + LOOK)
    [state] = h.states(rule="KodeksNewUser").values()
    assert_labelled(state)
    assert state.key.endswith(f":user:{state.labels['user']}")
    assert state.summary == f"Новый пользователь ПК: {state.labels['user']}"
    h.feed("new-user", at=T0 + LATER)
    h.cycle(T0 + LATER + LOOK)
    assert h.states(rule="KodeksNewUser") == {}
    assert [len(n.alerts) for n in h.sink.of("KodeksNewUser", "resolved")] == [1]


def test_the_month_to_date_rules_wait_for_the_twentieth(h: Harness) -> None:
    fifteenth = T0 - timedelta(days=5)
    h.feed("low-activity", at=fifteenth)
    h.cycle(fifteenth + LOOK)
    assert not {"KodeksUserActivityIsLow", "KodeksUserAInvolvementIsLow"} & h.firing_rules()
    h.cycle(T0 + LOOK)  # the 20th, the latest report is still of this month
    assert {"KodeksUserActivityIsLow", "KodeksUserAInvolvementIsLow"} <= h.firing_rules()
    h.cycle(datetime(2026, 5, 1, 6, 0, tzinfo=T0.tzinfo))  # a new month: counters of April do not count
    assert not {"KodeksUserActivityIsLow", "KodeksUserAInvolvementIsLow"} & h.firing_rules()


def test_sysinfo_not_received_for_48_hours_fires_and_a_fresh_report_resolves(h: Harness) -> None:
    h.feed()
    h.cycle(T0 + timedelta(hours=47))
    assert "SmartXMLfileIsToOld" not in h.firing_rules()
    h.cycle(T0 + timedelta(hours=49))
    [state] = h.states(rule="SmartXMLfileIsToOld").values()
    assert_labelled(state, date="20.04.2026 10:48")
    assert state.key == f"inst:{state.labels['installation']}"
    assert h.sink.of("SmartXMLfileIsToOld")

    # the agent resends the same old file: received now, but the report inside is still old
    assert h.feed(received=T0 + timedelta(hours=50)) == 0
    h.cycle(T0 + timedelta(hours=50))
    assert "SmartXMLfileIsToOld" in h.firing_rules()

    h.feed(at=T0 + timedelta(hours=51))
    h.cycle(T0 + timedelta(hours=51) + LOOK)
    assert "SmartXMLfileIsToOld" not in h.firing_rules()
    assert h.sink.of("SmartXMLfileIsToOld", "resolved")


def test_an_installation_without_any_sysinfo_is_not_reported_as_stale(h: Harness) -> None:
    h.cycle(T0 + timedelta(days=10))
    assert h.firing_rules() == set()


def test_alerts_belong_to_the_cabinet_and_dealer_of_the_installation(h: Harness) -> None:
    for client, dealer in (("alpha_client", DEALER), ("beta_client", DEALER), ("gamma_client", OTHER_DEALER)):
        h.feed("db-error-2007", "key-error-4111", client=client, dealer=dealer)
    h.cycle(T0 + LOOK)
    expected = {
        "alpha_client": (h.tenants.dealer_id, h.tenants.cabinet_a, DEALER),
        "beta_client": (h.tenants.dealer_id, h.tenants.cabinet_b, DEALER),
        "gamma_client": (h.tenants.other_dealer_id, h.tenants.cabinet_c, OTHER_DEALER),
    }
    seen: set[tuple[str, str]] = set()
    for (rule, _), state in h.states().items():
        client = state.labels["client"]
        installation = h.installation(client)
        assert (state.dealer_id, state.cabinet_id, state.labels["dealer"]) == expected[client]
        assert state.installation_id == installation.id and state.client_id == installation.client_id
        assert state.key.startswith(f"inst:{installation.id}")
        seen.add((rule, client))
    for client in expected:
        assert {("KodeksDBerrorsCode2007", client), ("KodeksOfflineSensLockCheck", client)} <= seen
    for notification in h.sink.sent:
        assert {(a.dealer_id, a.cabinet_id) for a in notification.alerts} == {
            (notification.dealer_id, notification.cabinet_id)
        }
