"""The original product's list files (managers.csv in both forms, online.csv) import as the manual describes,
also after a round trip through a Russian Excel (Windows-1251, ``;``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.formats import ORIGINAL_TEMPLATES
from kodeks_smart.onboarding.service import Source
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Installation, Manager, OnlineAccess
from tests.onboarding.conftest import Dealer
from tests.onboarding.helpers import DATA, codes, data, excel_csv, run, text_source


def installations(db: Database) -> dict[str, tuple[str, str | None, str, bool, int]]:
    with db.session() as s:
        rows = s.execute(
            select(Installation, Client.short_name).join(Client, Client.id == Installation.client_id)
        )
        return {
            name: (inst.kind, inst.address, inst.protocol, inst.ping, inst.tz_offset_minutes)
            for inst, name in rows
        }


def managers(db: Database) -> dict[str, list[str]]:
    with db.session() as s:
        return {m.name: m.emails for m in s.scalars(select(Manager))}


def test_the_nine_field_managers_csv_imports_both_blocks(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    report = run(db, box, data("managers_example.csv"))

    assert report.ok, [p.describe() for p in report.problems]
    assert report.applied
    found = installations(db)
    assert found["170239.te-cloud.ru"] == ("cloud", "170239.te-cloud.ru:80", "http", True, 180)
    assert found["170240.te-cloud.ru"] == ("cloud", "170240.te-cloud.ru:443", "https", True, 180)
    assert found["kodeks.dc-rogaikopita.ru"] == (
        "internet",
        "kodeks.dc-rogaikopita.ru:8080",
        "http",
        True,
        180,
    )
    # block 2: agents; the time zone 2 means Saratov + 2 = UTC+6
    assert found["short_client_name_01"] == ("closed", None, "http", False, 360)
    assert managers(db) == {
        "manager01": ["mail-manager01@postbox.com"],
        "manager02": ["mail-manager02@postbox.com"],
        "manager03": ["mail-manager03@postbox.com"],
    }
    assert report.tables[0].form == "managers.csv (9 полей)"
    assert report.tables[0].table.skipped == [4, 9]  # «URL....» and «short_client_name.....»


def test_the_eleven_field_managers_csv_of_2026_imports(db: Database, box: SecretBox, dealer: Dealer) -> None:
    report = run(db, box, data("managers_EXAMPLE_04_2026.csv"))

    assert report.ok, [p.describe() for p in report.problems]
    found = installations(db)
    assert set(found) == {"170239.te-cloud.ru", "599_private", "romashka"}
    assert found["romashka"][4] == 180  # -1: Moscow time
    assert managers(db)["Петрова Анна"] == ["petrova@rogaikopita.ru"]


def test_the_legacy_online_csv_imports_verbatim(db: Database, box: SecretBox, dealer: Dealer) -> None:
    report = run(db, box, data("online_example.csv"))

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        accesses = {
            (a.firm_name, a.login, a.host, a.catalog, a.scheme) for a in s.scalars(select(OnlineAccess))
        }
        clients = set(s.scalars(select(Client.short_name)))
    assert ("firm1", "user1", "url1", "folder1", "http") in accesses
    assert len(accesses) == 5
    assert clients == {f"firm{i}" for i in range(1, 6)}
    assert report.tables[0].table.skipped == [6, 7]


def test_the_2026_online_csv_takes_cyrillic_firms_and_extra_emails(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    report = run(db, box, data("EXAMPLE_online_042026.csv"))

    assert report.ok, [p.describe() for p in report.problems]
    with db.session() as s:
        firms = {a.login: (a.firm_name, a.host, a.catalog) for a in s.scalars(select(OnlineAccess))}
        clients = {c.short_name: c.display_name for c in s.scalars(select(Client))}
    assert firms["vasilkov"] == ("ИП Васильков", "buh1.kodeks.ru", "doc5")
    # two logins of one firm belong to one client, named in Latin letters for the agents
    assert clients["OOO_Romashka"] == "ООО «Ромашка»"
    assert set(clients) == {"OOO_Romashka", "IP_Vasilkov", "AO_StroyProekt"}
    assert managers(db)["Петрова Анна"] == ["petrova@rogaikopita.ru", "boss@rogaikopita.ru"]


@pytest.mark.parametrize(
    "name",
    [
        "managers_example.csv",
        "managers_EXAMPLE_04_2026.csv",
        "online_example.csv",
        "EXAMPLE_online_042026.csv",
    ],
)
def test_an_example_saved_by_a_russian_excel_imports_the_same(
    db: Database, box: SecretBox, dealer: Dealer, name: str
) -> None:
    text = (DATA / name).read_text("utf-8")
    as_excel = Source(name, excel_csv(text))
    assert b";" in as_excel.data
    assert "Ромашка" not in text or "Ромашка".encode("cp1251") in as_excel.data

    report = run(db, box, as_excel)

    assert report.ok, [p.describe() for p in report.problems]
    assert report.tables[0].table.encoding == ("Windows-1251" if any(ord(c) > 127 for c in text) else "UTF-8")
    assert report.tables[0].table.delimiter == ";"
    again = run(db, box, data(name))
    assert again.ok and again.counts()["add"] == again.counts()["change"] == 0


def test_the_same_examples_as_one_workbook_from_excel_import(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    from tests.onboarding.helpers import xlsx

    def rows(name: str) -> list[list[object]]:
        import csv

        lines = (DATA / name).read_text("utf-8").splitlines()
        # Excel stores "-1", "2" and "3600" as numbers
        return [[int(c) if c.lstrip("-").isdigit() else c for c in row] for row in csv.reader(lines)]

    book = xlsx(
        {"managers": rows("managers_EXAMPLE_04_2026.csv"), "online": rows("EXAMPLE_online_042026.csv")}
    )

    report = run(db, box, Source("списки.xlsx", book))

    assert report.ok, [p.describe() for p in report.problems]
    assert [t.form for t in report.tables] == ["managers.csv (11 полей)", "online.csv"]
    assert installations(db)["599_private"][4] == 360


def test_the_untouched_2026_online_template_asks_to_choose_a_protocol(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    name, text = ORIGINAL_TEMPLATES["original-online"]

    report = run(db, box, text_source(name, text))

    assert not report.applied
    assert codes(report) == ["protocol-choose"] * 5
    first = report.problems[0]
    assert (first.location.line, first.location.column) == (1, 6)  # type: ignore[union-attr]
    assert "оставьте один протокол" in first.message


def test_the_template_sample_rows_are_skipped_with_a_warning(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    name, text = ORIGINAL_TEMPLATES["original-managers-9"]

    report = run(db, box, text_source(name, text))

    assert report.ok
    assert codes(report) == ["template-sample"] * 3
    assert set(installations(db)) == {"short_client_name_01", "short_client_name_02", "short_client_name_03"}


def test_a_changed_constant_or_a_wrong_field_count_is_named_precisely(
    db: Database, box: SecretBox, dealer: Dealer
) -> None:
    text = (
        "client_a,Иванов,ivanov@example.ru,smartupload,download,upload,processing,donotping,2\n"
        "client_b,Иванов,ivanov@example.ru,smartupload,download,upload,process,donotping,2,3600\n"
        "client_c,Иванов,ivanov@example.ru,smartupload,download,upload,process,donotping,2,3600,86400\n"
    )

    report = run(db, box, text_source("managers.csv", text))

    found = [(p.location.line, p.location.column, p.code) for p in report.problems if p.location]
    assert found == [(1, 7, "constant-changed"), (2, None, "field-count"), (3, 11, "constant-changed")]
    assert "604800" in report.problems[2].message
