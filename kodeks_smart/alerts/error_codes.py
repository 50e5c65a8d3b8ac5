"""Kodeks / Techexpert error codes (appendix 2 of the original manual) and code extraction from messages.

The catalogue is package data (``data/kodeks-error-codes.csv``, a copy of ``spec/kodeks-error-codes.csv``):
39 rows in five sections. Codes are not unique across sections (``5`` is both a protection error and an OS
"access denied"; ``4101`` is both the new-style code of 2020 and an OperUp package error), so rows are keyed
by ``(section, code)``. Parenthesised numbers in the source's code column are alternate (new-style) codes of
the same error, e.g. ``2007 (4103)``. A ``-*-`` ("ditto") description is resolved to the previous row's.

`extract_codes` pulls error codes out of a message as the server prints it («Ошибка защиты (2007) -Нет прав…»,
«Не могу открыть файл … (ошибка 53)», «Ошибка 696 (Area: …)»); `db_error_rule` picks the DB-error alert a
message belongs to (spec/alerts.md §6).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

#: Section slug → Russian heading (as in appendix 2, shortened).
SECTIONS: dict[str, str] = {
    "regfile_protection": "Ошибки защиты при проверке регистрационного файла",
    "product_connection_protection": "Ошибки защиты при подключении информационных продуктов",
    "db_volume": "Ошибки при работе с томами БД",
    "operup_update": "Ошибки при обновлении оперативными пакетами (OperUp)",
    "os_file_access": "Ошибки доступа к файлам в операционной системе",
}
DITTO = "-*-"
NO_CODE = "-"
_HEADER = ["section", "code", "description_ru", "user_message_ru", "description_en"]
_CODE_CELL = re.compile(r"^(\d{1,5})(?:\s*\((\d{1,5}(?:\s*,\s*\d{1,5})*)\))?$")

#: The code (and its new-style alternate) of the one error with an alert of its own.
CODE_2007: frozenset[int] = frozenset({2007, 4103})
RULE_2007 = "KodeksDBerrorsCode2007"
RULE_CODED = "KodeksDBerrorsCodeXXX"
RULE_NO_CODE = "KodeksDBerrorsNoCode"


@dataclass(frozen=True)
class ErrorCode:
    """One row of the catalogue. ``code`` is None for the code-less «Том базы данных уже подключен»."""

    section: str
    code: int | None
    alt_codes: tuple[int, ...]
    description_ru: str
    user_message_ru: str
    description_en: str

    @property
    def codes(self) -> tuple[int, ...]:
        """The main code followed by the alternate ones."""
        return ((self.code,) if self.code is not None else ()) + self.alt_codes

    @property
    def label(self) -> str:
        """The code as the manual writes it: ``2010 (4100, 4109)``; ``—`` for a code-less row."""
        if self.code is None:
            return "—"
        if not self.alt_codes:
            return str(self.code)
        return f"{self.code} ({', '.join(str(c) for c in self.alt_codes)})"

    @property
    def section_title(self) -> str:
        return SECTIONS[self.section]


class ErrorCodeCatalogue:
    """The rows in source order, with lookups by ``(section, code)`` and by code alone."""

    def __init__(self, rows: Sequence[ErrorCode]) -> None:
        self.rows: tuple[ErrorCode, ...] = tuple(rows)
        self._by_key: dict[tuple[str, int], ErrorCode] = {}
        for row in self.rows:
            for code in row.codes:
                key = (row.section, code)
                if key in self._by_key:
                    raise ValueError(f"error code {code} appears twice in section {row.section}")
                self._by_key[key] = row

    def __iter__(self) -> Iterator[ErrorCode]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, section: str, code: int) -> ErrorCode:
        """The row of ``section`` whose main or alternate code is ``code``; KeyError if there is none."""
        return self._by_key[(section, code)]

    def find(self, code: int) -> list[ErrorCode]:
        """Every row, in any section, whose main or alternate code is ``code`` (source order)."""
        return [row for row in self.rows if code in row.codes]

    def section(self, section: str) -> list[ErrorCode]:
        if section not in SECTIONS:
            raise KeyError(section)
        return [row for row in self.rows if row.section == section]

    @property
    def known_codes(self) -> frozenset[int]:
        return frozenset(code for _, code in self._by_key)


def parse_code_cell(cell: str) -> tuple[int | None, tuple[int, ...]]:
    """``"2010 (4100, 4109)"`` → ``(2010, (4100, 4109))``; ``"-"`` → ``(None, ())``."""
    text = cell.strip()
    if text == NO_CODE:
        return None, ()
    match = _CODE_CELL.match(text)
    if match is None:
        raise ValueError(f"unreadable error code cell: {cell!r}")
    alternates = tuple(int(c) for c in match.group(2).split(",")) if match.group(2) else ()
    return int(match.group(1)), alternates


def parse(text: str) -> ErrorCodeCatalogue:
    """Read the CSV text; raises ValueError on an unknown section, code cell or header."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != _HEADER:
        raise ValueError(f"unexpected error-code CSV header: {header!r}")
    rows: list[ErrorCode] = []
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(_HEADER):
            raise ValueError(f"line {line_no}: expected {len(_HEADER)} columns, got {len(cells)}")
        section, code_cell, description_ru, user_message_ru, description_en = (c.strip() for c in cells)
        if section not in SECTIONS:
            raise ValueError(f"line {line_no}: unknown section {section!r}")
        code, alternates = parse_code_cell(code_cell)
        if description_ru == DITTO:
            previous = rows[-1] if rows else None
            if previous is None or previous.section != section:
                raise ValueError(f"line {line_no}: ditto mark without a previous row in {section}")
            description_ru = previous.description_ru
        rows.append(ErrorCode(section, code, alternates, description_ru, user_message_ru, description_en))
    return ErrorCodeCatalogue(rows)


@cache
def catalogue() -> ErrorCodeCatalogue:
    """The packaged catalogue (read once)."""
    text = files("kodeks_smart.alerts").joinpath("data", "kodeks-error-codes.csv").read_text("utf-8")
    return parse(text)


# -- extraction -------------------------------------------------------------------------------------------

_NOT_MORE_DIGITS = r"(?!\d|[.,]\d)"
#: Patterns whose number is an error code whatever its value.
_EXPLICIT = (
    # «Ошибка защиты (2007)», «Ошибка защиты 4111 Not connected», «Ошибка защиты 5.0 665 …»
    re.compile(r"ошибк[аи]\s+защиты\s*(?:5\.0\s+)?\(?\s*(\d{1,4})" + _NOT_MORE_DIGITS, re.IGNORECASE),
    # «ошибка 615», «(ошибка 53)», «Ошибка 696 (Area: …)»
    re.compile(r"(?<![\w-])ошибк[аи]\s+(\d{1,4})" + _NOT_MORE_DIGITS, re.IGNORECASE),
    # «error 4103», «error code 53»
    re.compile(r"\berror\s+(?:code\s+)?(\d{1,4})" + _NOT_MORE_DIGITS, re.IGNORECASE),
)
#: A bare parenthesised number («Внутренняя ошибка (600)», «… (4103)») counts only if it is a known code:
#: parentheses also hold inventory numbers, years and counters.
_BARE = re.compile(r"\(\s*(\d{1,4})\s*\)")
#: Messages whose printed number is not the catalogue code: error 669 prints «Ошибка в структуре базы данных
#: <том> (0)» and error 665 may print «Ошибка защиты (1) - Нет доступа к драйверу».
_RENUMBERED = (
    (re.compile(r"структур\w*\s+базы\s+данных\b[^()]*\(\s*(0)\s*\)", re.IGNORECASE), 669),
    (
        re.compile(r"ошибк[аи]\s+защиты\s*\(\s*(1)\s*\)\s*-?\s*нет\s+доступа\s+к\s+драйверу", re.IGNORECASE),
        665,
    ),
)


def extract_codes(text: str) -> list[int]:
    """Kodeks error codes in ``text``, in order of appearance, without repeats; [] when there is none."""
    found: dict[int, int] = {}  # position of the digits → code
    for pattern in _EXPLICIT:
        for match in pattern.finditer(text):
            found.setdefault(match.start(1), int(match.group(1)))
    known = catalogue().known_codes
    for match in _BARE.finditer(text):
        code = int(match.group(1))
        if code in known:
            found.setdefault(match.start(1), code)
    for pattern, actual in _RENUMBERED:
        for match in pattern.finditer(text):
            found[match.start(1)] = actual
    codes: list[int] = []
    for _, code in sorted(found.items()):
        if code != 0 and code not in codes:
            codes.append(code)
    return codes


def db_error_rule(text: str) -> str:
    """The DB-error alert a message belongs to: Code2007 (2007/4103), CodeXXX (any other code) or NoCode."""
    codes = extract_codes(text)
    if CODE_2007.intersection(codes):
        return RULE_2007
    return RULE_CODED if codes else RULE_NO_CODE
