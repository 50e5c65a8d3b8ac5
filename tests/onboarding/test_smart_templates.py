"""SMART's own templates: one per list, Russian headers (English too), CSV and XLSX, filled and imported."""

from __future__ import annotations

import io
import warnings

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.formats import KINDS, LISTS, Kind, detect_kind, template
from kodeks_smart.onboarding.reading import read_source
from kodeks_smart.onboarding.service import Source
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Cabinet, Client, Installation, Mailbox, Manager, OnlineAccess
from tests.onboarding.conftest import Dealer
from tests.onboarding.helpers import codes, run, text_source

FILLED: dict[Kind, list[str]] = {
    "installations": [
        "170239.te-cloud.ru:80", "romashka", "ООО «Ромашка»", "Иванов И.И.", "ivanov@example.ru",
        "http", "да", "+3", "smartlogin", "s3cret-Test", "",
    ],
    "closed": ["vasilek", "АО «Василёк»", "Иванов И.И.", "", "МСК+2", "", "", ""],
    "online": [
        "ООО «Ромашка»", "romashka", "roma01", "Online-Pass-1", "nps2.cntd.ru", "kodeks02", "https",
        "Иванов И.И.", "", "",
    ],
    "mailboxes": ["alert@example.ru", "высокий приоритет, технические", "сисадмин", ""],
    "cabinets": ["Главный", "Иванов И.И.", "ivanov@example.ru", "romashka"],
}  # fmt: skip


def test_every_list_has_a_template_whose_header_is_recognised_as_that_list() -> None:
    for kind in KINDS:
        (table,) = read_source(f"{kind}.csv", template(kind, "csv"))
        assert detect_kind(table.rows[0].cells) == kind
        assert [c for c in table.rows[0].cells] == [c.title for c in LISTS[kind].columns]
        assert len(table.rows) == 1, "the explanations are comment lines"


def test_the_csv_template_opens_in_a_russian_excel() -> None:
    data = template("online", "csv")

    assert data.startswith(b"\xef\xbb\xbf")
    assert (
        data.decode("utf-8-sig").splitlines()[0]
        == "Фирма;Клиент;Логин;Пароль;Сервер;Каталог;Протокол;Менеджер;E-mail;Кабинет"
    )


def test_filled_csv_templates_import_in_one_go(db: Database, box: SecretBox, dealer: Dealer) -> None:
    sources = []
    for kind in ("cabinets", "installations", "closed", "online", "mailboxes"):
        text = template(kind, "csv").decode("utf-8-sig") + ";".join(FILLED[kind]) + "\r\n"
        sources.append(text_source(f"{kind}.csv", text, "utf-8-sig"))

    report = run(db, box, *sources)

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        inst = {i.kind: i for i in s.scalars(select(Installation))}
        assert inst["cloud"].test_login == "smartlogin"
        assert box.decrypt(inst["cloud"].test_password_enc or b"") == "s3cret-Test"
        assert inst["closed"].tz_offset_minutes == 300
        assert s.scalars(select(Manager.emails)).one() == ["ivanov@example.ru"]
        assert {c.short_name: c.display_name for c in s.scalars(select(Client))} == {
            "romashka": "ООО «Ромашка»",
            "vasilek": "АО «Василёк»",
        }
        assert s.scalars(select(OnlineAccess.login)).one() == "roma01"
        assert s.scalars(select(Mailbox.categories)).one() == ["critical", "technical"]


def test_the_all_lists_workbook_is_filled_in_excel_and_imported(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = load_workbook(io.BytesIO(template("all", "xlsx")))
    assert book.sheetnames == [*(LISTS[k].sheet for k in KINDS), "Инструкция"]
    for kind in KINDS:
        book[LISTS[kind].sheet].append(FILLED[kind])
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book.save(out)

    report = run(db, box, Source("списки.xlsx", out.getvalue()))

    assert report.ok, [p.describe() for p in report.problems]
    assert sorted(k for t in report.tables for k in t.kinds) == sorted(KINDS)
    assert report.counts()["add"] == 1 + 2 + 2 + 1 + 1  # manager, clients, installations, online, mailbox


def test_english_column_names_are_accepted(db: Database, box: SecretBox, dealer: Dealer) -> None:
    text = (
        "address,client,manager,email,protocol,ping,tz\n"
        "kodeks.example.ru:8080,example,Ivanov,iv@example.ru,http,no,UTC+7\n"
    )

    report = run(db, box, text_source("internet.csv", text))

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        inst = s.scalars(select(Installation)).one()
        assert (inst.address, inst.ping, inst.tz_offset_minutes) == ("kodeks.example.ru:8080", False, 420)


def test_a_missing_required_column_and_an_unknown_column_are_reported(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    text = (
        "Фирма;Логин;Сервер;Каталог;Протокол;Менеджер;Телефон\n"
        "ООО «А»;a;nps2.cntd.ru;kodeks02;https;Иванов;123\n"
    )

    report = run(db, box, text_source("online.csv", text))

    assert codes(report) == ["missing-column", "unknown-column"]
    assert "«Пароль»" in report.problems[0].message
    assert report.problems[1].location.column == 7  # type: ignore[union-attr]


def test_a_headerless_list_is_read_in_template_order_when_its_kind_is_given(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    report = run(
        db, box, text_source("closed.csv", "vasilek,АО «Василёк»,Иванов,iv@example.ru\n"), kind="closed"
    )

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        assert s.scalars(select(Client.display_name)).one() == "АО «Василёк»"


def test_a_list_that_is_neither_a_template_nor_an_original_file_is_refused(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    report = run(db, box, text_source("notes.csv", "просто,какой-то,текст\n"))

    assert codes(report) == ["unknown-format"]
    assert "smart template" in report.problems[0].message


@pytest.mark.parametrize("kind", ["original-managers", "original-managers-9", "original-online"])
def test_the_original_templates_are_the_manuals_text(kind: str) -> None:
    text = template(kind, "csv").decode("utf-8")
    assert "download,upload,process" in text or "http OR https" in text


def test_a_cabinets_list_creates_cabinets_and_places_managers_and_clients(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    cabinets = "Кабинет;Менеджер;E-mail;Клиент\nФилиал Север;Петров;petrov@example.ru;north1\nФилиал Юг;;;\n"
    closed = "Клиент;Менеджер;Часовой пояс (UTC)\nnorth1;Петров;+5\n"

    report = run(db, box, text_source("cab.csv", cabinets), text_source("closed.csv", closed))

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        names = {c.id: c.name for c in s.scalars(select(Cabinet))}
        assert set(names.values()) == {"Главный", "Филиал Север", "Филиал Юг"}
        client = s.scalars(select(Client)).one()
        assert names[client.cabinet_id] == "Филиал Север"
        assert names[s.scalars(select(Installation.cabinet_id)).one()] == "Филиал Север"
