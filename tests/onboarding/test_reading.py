"""List files are read whatever wrote them: encodings, delimiters, Excel workbooks, line numbers."""

from __future__ import annotations

import codecs

import pytest

from kodeks_smart.onboarding.reading import ReadError, decode_text, detect_delimiter, read_source
from tests.onboarding.helpers import xlsx

ROWS = "Клиент;Менеджер;E-mail\nromashka;Иванов;ivanov@example.ru\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (ROWS.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), "UTF-8 с BOM"),
        (ROWS.encode("cp1251"), "Windows-1251"),
        (ROWS.encode("utf-16"), "UTF-16"),
    ],
)
def test_a_csv_is_decoded_in_any_encoding_excel_or_an_editor_writes(data: bytes, encoding: str) -> None:
    (table,) = read_source("list.csv", data)

    assert table.encoding == encoding
    assert table.rows[1].cells == ["romashka", "Иванов", "ivanov@example.ru"]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\nd,e,f\n", ","),
        ("a;b;c\nd;e;f\n", ";"),
        ("a\tb\tc\nd\te\tf\n", "\t"),
        # a «;» list whose e-mail cell holds addresses separated by commas
        ('firm;login;"a@x.ru, b@x.ru"\nfirm2;login2;c@x.ru\n', ";"),
        # a «,» list whose firm name holds a «;»
        ('"ООО «А; Б»",login,pass\nfirm,login2,pass2\n', ","),
    ],
)
def test_the_delimiter_is_detected_from_the_content(text: str, delimiter: str) -> None:
    assert detect_delimiter(text) == delimiter


def test_excel_padding_blank_rows_and_comments_are_dropped_and_lines_keep_their_numbers() -> None:
    data = "# комментарий\r\nromashka;Иванов;;\r\n;;;\r\n\r\nvasilek;Петров;p@x.ru;\r\n".encode("cp1251")

    (table,) = read_source("list.csv", data)

    assert [(r.line, r.cells) for r in table.rows] == [
        (2, ["romashka", "Иванов"]),
        (5, ["vasilek", "Петров", "p@x.ru"]),
    ]


def test_a_quoted_cell_spanning_lines_keeps_the_line_it_starts_on() -> None:
    (table,) = read_source("list.csv", b'a,"b\nstill b",c\nd,e,f\n')

    assert [(r.line, r.cells[0]) for r in table.rows] == [(1, "a"), (3, "d")]


def test_every_sheet_of_a_workbook_is_a_table_except_the_instructions() -> None:
    book = xlsx(
        {
            "Установки": [["Адрес", "Менеджер"], ["a.ru:80", "Иванов"], [None, None], ["b.ru:80", "Петров"]],
            "Инструкция": [["Что писать"]],
            "Пустой": [],
        }
    )

    tables = read_source("списки.xlsx", book)

    assert [(t.sheet, [r.line for r in t.rows]) for t in tables] == [("Установки", [1, 2, 4])]
    assert (
        tables[0].location(4).at(2, "Менеджер").describe()
        == "списки.xlsx, лист «Установки», строка 4, столбец B «Менеджер»"
    )


def test_workbook_numbers_read_as_typed() -> None:
    (table,) = read_source("x.xlsx", xlsx({"Лист": [["client", -1, 3600, 2.5, True]]}))

    assert table.rows[0].cells == ["client", "-1", "3600", "2.5", "да"]


def test_an_old_xls_file_is_refused_with_a_way_out() -> None:
    with pytest.raises(ReadError, match=r"\.xlsx"):
        read_source("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)


def test_a_broken_workbook_or_a_binary_file_is_refused() -> None:
    with pytest.raises(ReadError, match="XLSX"):
        read_source("list.xlsx", b"PK\x03\x04garbage")
    with pytest.raises(ReadError, match="текстовый"):
        decode_text(b"abc\x00def")
