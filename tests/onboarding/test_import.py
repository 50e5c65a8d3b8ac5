"""An import is all or nothing, shows a diff, names every problem, is idempotent, never shows a password."""

from __future__ import annotations

import json

from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.report import render
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Client, Installation, Mailbox, Manager, OnlineAccess
from tests.conftest import Tenants
from tests.onboarding.conftest import Dealer
from tests.onboarding.helpers import codes, count, data, run, snapshot, text_source

CLOSED = "Клиент;Наименование;Менеджер;E-mail;Часовой пояс (UTC)\n"
ONLINE = "Фирма;Клиент;Логин;Пароль;Сервер;Каталог;Протокол;Менеджер;E-mail\n"


def test_a_file_with_three_errors_is_rejected_whole_and_names_all_three(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    text = (
        "170239.te-cloud.ru:80,Иванов,ivanov@example.ru,http,download,upload,process,ping,-1\n"
        "Ромашка,Иванов,ivanov@example.ru,smartupload,download,upload,process,donotping,2\n"
        "vasilek,Петров,petrov@example,smartupload,download,upload,process,donotping,2\n"
        "good_client,Сидоров,sidorov@example.ru,smartupload,download,upload,process,donotping,2\n"
        "kodeks.example.ru:99999,Иванов,ivanov@example.ru,http,download,upload,process,ping,-1\n"
    )
    before = snapshot(db)

    report = run(db, box, text_source("kodeks_manager_20260417.csv", text))

    assert not report.applied
    assert [(p.location.file, p.location.line, p.location.column, p.code) for p in report.errors] == [  # type: ignore[union-attr]
        ("kodeks_manager_20260417.csv", 2, 1, "client-cyrillic"),
        ("kodeks_manager_20260417.csv", 3, 3, "bad-email"),
        ("kodeks_manager_20260417.csv", 5, 1, "bad-port"),
    ]
    text_report = render(report)
    assert "kodeks_manager_20260417.csv, строка 2, столбец 1 «адрес:порт / имяклиента»" in text_report
    assert "строка 3, столбец 3 «email»: некорректный адрес e-mail «petrov@example»" in text_report
    assert "строка 5, столбец 1" in text_report and "99999" in text_report
    assert "Импорт отклонён: 3 ошибки. Ничего не изменено" in text_report
    assert snapshot(db) == before


def test_the_plan_shows_what_is_added_then_a_reimport_changes_nothing(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    first = run(db, box, data("managers_example.csv"), data("online_example.csv"))
    assert first.ok and first.applied
    # managers.csv: 3 managers, 6 clients, 6 installations; online.csv: 1 manager, 5 clients, 5 accesses
    assert first.counts() == {"add": 15 + 11, "change": 0, "unchanged": 0, "remove": 0}
    before = snapshot(db)

    second = run(db, box, data("managers_example.csv"), data("online_example.csv"))

    assert second.ok and second.counts()["add"] == second.counts()["change"] == 0
    assert second.counts()["unchanged"] == first.counts()["add"]
    assert snapshot(db) == before


def test_a_dry_run_shows_the_plan_and_writes_nothing(db: Database, box: SecretBox, dealer: Dealer) -> None:
    before = snapshot(db)

    report = run(db, box, data("managers_example.csv"), dry_run=True)

    assert report.ok and not report.applied
    assert report.counts()["add"] == 15
    assert "Пробный запуск" in render(report)
    assert snapshot(db) == before


def test_changing_a_managers_email_is_one_line_in_the_file(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    rows = "romashka;;Иванов;{};+3\nvasilek;;Иванов;;+3\n"
    run(db, box, text_source("closed.csv", CLOSED + rows.format("ivanov@old.ru")))

    report = run(db, box, text_source("closed.csv", CLOSED + rows.format("ivanov@new.ru")))

    assert report.ok
    changed = [c for c in report.changes if c.action == "change"]
    assert [c.describe() for c in changed] == [
        "менеджер «Иванов» (кабинет «Главный») — e-mail: ivanov@old.ru → ivanov@new.ru"
    ]
    with db.session() as s:
        assert s.scalars(select(Manager.emails)).one() == ["ivanov@new.ru"]


def test_duplicates_in_the_lists_are_errors_pointing_at_both_lines(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    closed = CLOSED + "romashka;;Иванов;iv@example.ru;+3\nvasilek;;Иванов;;+3\nromashka;;Иванов;;+3\n"
    online = ONLINE + (
        "ООО А;a;a1;pass;nps2.cntd.ru;kodeks02;https;Иванов;\n"
        "ООО А;a;a1;pass2;NPS2.cntd.ru;kodeks02;https;Иванов;\n"
    )

    report = run(db, box, text_source("closed.csv", closed), text_source("online.csv", online))

    assert codes(report) == ["duplicate-installation", "duplicate-online"]
    assert "closed.csv, строка 2" in report.problems[0].message
    assert report.problems[0].location.line == 4  # type: ignore[union-attr]


def test_an_unknown_manager_and_an_online_access_without_password_are_refused(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    online = ONLINE + "ООО А;a;a1;;nps2.cntd.ru;kodeks02;https;Незнакомцев;\n"

    report = run(db, box, text_source("online.csv", online))

    assert codes(report) == ["online-no-password"]
    report = run(
        db,
        box,
        text_source("online.csv", ONLINE + "ООО А;a;a1;pw;nps2.cntd.ru;kodeks02;https;Незнакомцев;\n"),
    )
    assert codes(report) == ["unknown-manager"]
    assert "«Незнакомцев»" in report.problems[0].message
    assert report.problems[0].location.column == 8  # type: ignore[union-attr]


def test_passwords_are_encrypted_at_once_and_never_shown(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    online = ONLINE + "ООО А;a;a1;Sup3r-Secret!;nps2.cntd.ru;kodeks02;https;Иванов;iv@example.ru\n"
    closed = "Клиент;Менеджер;Тестовый логин;Тестовый пароль\nvasilek;Иванов;smartlogin;Test-Secret-42\n"

    first = run(db, box, text_source("online.csv", online), text_source("closed.csv", closed))
    changed = run(
        db,
        box,
        text_source("online.csv", online.replace("Sup3r-Secret!", "N3w-Secret!")),
        text_source("closed.csv", closed),
    )

    for report in (first, changed):
        assert report.ok
        shown = render(report) + json.dumps(report.as_dict(), ensure_ascii=False)
        for secret in ("Sup3r-Secret!", "N3w-Secret!", "Test-Secret-42"):
            assert secret not in shown
    assert "пароль: будет изменён" in render(changed)
    with db.session() as s:
        stored = s.scalars(select(OnlineAccess.password_enc)).one()
        test_password = s.scalars(select(Installation.test_password_enc)).one()
    assert b"N3w-Secret!" not in stored and box.decrypt(stored) == "N3w-Secret!"
    assert test_password is not None and box.decrypt(test_password) == "Test-Secret-42"


def test_prune_removes_what_the_lists_no_longer_name_and_only_then(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    run(db, box, text_source("closed.csv", CLOSED + "romashka;;Иванов;iv@x.ru;\nvasilek;;Петров;p@x.ru;\n"))
    shorter = text_source("closed.csv", CLOSED + "romashka;;Иванов;iv@x.ru;\n")

    without = run(db, box, shorter)
    assert without.ok and without.prunable == 3  # vasilek's installation, vasilek, Петров
    assert "удаляются только с --prune" in render(without)
    assert count(db, Client) == 2

    pruned = run(db, box, shorter, prune=True)

    assert [c.title for c in pruned.changes if c.action == "remove"] == [
        "установка клиента vasilek (агенты)",
        "клиент vasilek",
        "менеджер «Петров» (кабинет «Главный»)",
    ]
    with db.session() as s:
        assert list(s.scalars(select(Client.short_name))) == ["romashka"]
        assert list(s.scalars(select(Manager.name))) == ["Иванов"]


def test_prune_leaves_other_kinds_of_objects_alone(db: Database, box: SecretBox, dealer: Dealer) -> None:
    run(db, box, data("managers_example.csv"), data("online_example.csv"))

    report = run(db, box, data("online_example.csv"), prune=True)

    assert report.ok and report.counts()["remove"] == 0
    assert count(db, Installation) == 6


def test_a_dealer_with_several_cabinets_needs_to_be_told_which(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    closed = CLOSED + "newcomer;;Менеджер alpha;;+3\n"

    ambiguous = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA")
    placed = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA", cabinet="Филиал А")

    assert codes(ambiguous) == ["cabinet-ambiguous"]
    assert placed.ok, [p.describe() for p in placed.problems]
    with db.session() as s:
        client = s.scalars(select(Client).where(Client.short_name == "newcomer")).one()
        assert client.cabinet_id == tenants.cabinet_a
    unknown = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA", cabinet="Филиал Я")
    assert codes(unknown) == ["unknown-cabinet"]


def test_an_existing_client_keeps_his_cabinet_on_reimport(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    closed = CLOSED + "beta_client;;Менеджер beta;;+4\n"

    report = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA")

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        inst = s.scalars(select(Installation).where(Installation.kind == "closed")).one()
        assert inst.cabinet_id == tenants.cabinet_b and inst.tz_offset_minutes == 240


def test_a_client_moves_to_another_cabinet_with_all_his_objects(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    closed = "Клиент;Менеджер;Кабинет\nalpha_client;Менеджер beta;Филиал Б\n"

    report = run(db, box, text_source("closed.csv", closed), dealer="0599ROGAIKOPITA")

    assert report.ok, [p.describe() for p in report.problems]
    assert "клиент alpha_client — кабинет: Филиал А → Филиал Б; менеджер: Менеджер alpha → Менеджер beta" in [
        c.describe() for c in report.changes
    ]
    with db.session() as s:
        client = s.scalars(select(Client).where(Client.short_name == "alpha_client")).one()
        rows = [*s.scalars(select(Installation).where(Installation.client_id == client.id))]
        rows += [*s.scalars(select(OnlineAccess).where(OnlineAccess.client_id == client.id))]
        assert {r.cabinet_id for r in [client, *rows]} == {tenants.cabinet_b}


def test_one_client_cannot_have_two_managers_or_two_cabinets(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    closed = CLOSED + "romashka;;Иванов;iv@x.ru;\n"
    online = ONLINE + "ООО Ромашка;romashka;r1;pw;nps2.cntd.ru;kodeks02;https;Петров;p@x.ru\n"

    report = run(db, box, text_source("closed.csv", closed), text_source("online.csv", online))

    assert codes(report) == ["client-manager-conflict"]
    assert "один ответственный менеджер" in report.problems[0].message


def test_mailboxes_merge_roles_of_one_address_and_categories_are_replaced(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    lists = (
        "E-mail;Категории;Зона ответственности\nit@x.ru;высокий приоритет;сисадмин\nit@x.ru;технические;\n"
    )
    run(db, box, text_source("mail.csv", lists))

    report = run(db, box, text_source("mail.csv", "E-mail;Категории\nIT@x.ru;аналитика\n"))

    assert report.ok
    with db.session() as s:
        mailbox = s.scalars(select(Mailbox)).one()
        assert (mailbox.address, mailbox.categories, mailbox.note) == ("it@x.ru", ["analytics"], "сисадмин")
    assert count(db, Cabinet) == 1


def test_a_fresh_dealer_gets_a_first_cabinet(db: Database, box: SecretBox, dealer: Dealer) -> None:
    with db.write() as s:
        from kodeks_smart.store import admin

        admin.add_dealer(s, "0800FRESH", "Новый")

    report = run(db, box, data("online_example.csv"), dealer="0800FRESH")

    assert report.ok
    assert report.changes[0].describe() == "кабинет «Основной»"
