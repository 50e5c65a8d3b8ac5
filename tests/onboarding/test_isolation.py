"""Isolated cabinets of one dealer must not share managers' or chiefs' addresses; big streams get a hint."""

from __future__ import annotations

from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.report import render
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Client, Manager
from tests.conftest import Tenants
from tests.onboarding.conftest import Dealer
from tests.onboarding.helpers import codes, count, run, snapshot, text_source

MIXED = (
    "Кабинет;Менеджер;E-mail;Клиент\n"
    "Филиал Север;Петров;petrov@north.ru boss@company.ru;north1\n"
    "Филиал Юг;Сидоров;sidorov@south.ru;south1\n"
    "Филиал Юг;Кузнецов;boss@company.ru;\n"
)
CLOSED = "Клиент;Менеджер\nnorth1;Петров\nsouth1;Сидоров\n"


def test_a_mixed_list_sharing_a_chiefs_address_between_branches_is_refused(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    before = snapshot(db)

    report = run(db, box, text_source("кабинеты.csv", MIXED), text_source("closed.csv", CLOSED))

    assert codes(report) == ["shared-email"]
    problem = report.problems[0]
    assert "boss@company.ru" in problem.message
    assert "«Филиал Север», «Филиал Юг»" in problem.message
    assert "--allow-shared-email boss@company.ru" in problem.message
    assert (problem.location.file, problem.location.line, problem.location.column) == ("кабинеты.csv", 2, 3)  # type: ignore[union-attr]
    assert not report.applied and snapshot(db) == before


def test_the_shared_address_is_accepted_when_allowed_by_name(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    report = run(
        db,
        box,
        text_source("кабинеты.csv", MIXED),
        text_source("closed.csv", CLOSED),
        allow_shared_emails={"BOSS@company.ru"},
    )

    assert report.ok and report.applied, [p.describe() for p in report.problems]
    assert count(db, Cabinet) == 3


def test_an_address_already_used_in_another_branch_is_refused(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    closed = "Клиент;Менеджер;E-mail;Кабинет\nnew_b;Новиков;alpha@example.ru;Филиал Б\n"

    report = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA")

    assert codes(report) == ["shared-email"]
    assert "alpha@example.ru" in report.problems[0].message
    assert "«Филиал А», «Филиал Б»" in report.problems[0].message


def test_a_mailbox_of_another_branch_counts_as_shared_too(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    mailboxes = "E-mail;Категории;Кабинет\nsupport-alpha@example.ru;все;Филиал Б\n"

    report = run(db, box, text_source("mail.csv", mailboxes), dealer="0599ROGAIKOPITA")

    assert codes(report) == ["shared-email"]
    assert "Импорт отклонён" in render(report)


def test_the_same_address_in_one_cabinet_and_in_another_dealer_is_fine(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    # gamma@example.ru belongs to the other dealer's cabinet: dealers are not compared with each other
    closed = (
        "Клиент;Менеджер;E-mail;Кабинет\nnew_a;Менеджер alpha;alpha@example.ru gamma@example.ru;Филиал А\n"
    )

    report = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA")

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        manager = s.scalars(select(Manager).where(Manager.name == "Менеджер alpha")).one()
        assert manager.emails == ["alpha@example.ru", "gamma@example.ru"]


def test_a_cabinet_over_five_hundred_clients_gets_a_recommendation_to_split_its_stream(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    rows = "".join(f"client{i:03d};Потоков\n" for i in range(501))
    closed = "Клиент;Менеджер;E-mail\n" + rows.replace(
        "client000;Потоков", "client000;Потоков;stream@x.ru", 1
    )

    report = run(db, box, text_source("stream.csv", closed))

    assert report.ok and report.applied
    assert codes(report) == ["split-stream"]
    assert "501 клиент —" in report.problems[0].message and "потоковый сбыт" in report.problems[0].message
    assert count(db, Client) == 501
    smaller = run(db, box, text_source("stream.csv", "Клиент;Менеджер\nclient000;Потоков\n"), dry_run=True)
    assert "split-stream" in codes(smaller)  # the cabinet still holds 501 clients
