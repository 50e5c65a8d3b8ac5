"""Reading list files into tables of text cells, whatever program wrote them.

* CSV in UTF-8, UTF-8 with BOM, UTF-16 with BOM (Excel's "Unicode text") and Windows-1251 (what a
  Russian Excel writes), with ``,``, ``;`` or tab as delimiter, detected from the content.
* XLSX (and XLSM) through openpyxl: every sheet is a table, except sheets named like an instruction.
* An Excel 97–2003 ``.xls`` file is refused with a message that says how to save it instead.

Cells are stripped of surrounding spaces (also non-breaking ones), trailing empty cells are dropped
(Excel pads short rows with ``;;;``), and blank rows and comment rows (first cell starting with ``#``)
are skipped. Every row keeps the number of the line it starts on.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time

from kodeks_smart.onboarding.problems import Location

#: Sheets that carry explanations for people, not data.
INSTRUCTION_SHEETS = frozenset({"инструкция", "справка", "пояснения", "instructions", "help", "readme"})

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_STRIP = " \t\r\n\u00a0\u2007\u202f\ufeff\u200b"


class ReadError(ValueError):
    """A file that cannot be read at all; the message is Russian."""


@dataclass
class Row:
    line: int
    cells: list[str]


@dataclass
class Table:
    """The rows of one CSV file or one XLSX sheet."""

    source: str
    rows: list[Row]
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    letters: bool = False
    #: placeholder lines of the original templates («.....», «и т.д.») that were skipped.
    skipped: list[int] = field(default_factory=list)

    def location(self, line: int | None = None) -> Location:
        return Location(self.source, self.sheet, line, None, None, self.letters)

    def describe_format(self) -> str:
        if self.letters:
            return "XLSX"
        delimiter = {",": "«,»", ";": "«;»", "\t": "табуляция"}.get(self.delimiter or "", "?")
        return f"CSV, {self.encoding}, разделитель {delimiter}"


def read_source(name: str, data: bytes) -> list[Table]:
    """Read one uploaded file. Raises ReadError when the file is not a readable list at all."""
    lowered = name.lower()
    if data.startswith(XLS_MAGIC) or lowered.endswith(".xls"):
        raise ReadError(
            "формат Excel 97–2003 (.xls) не поддерживается: сохраните файл как «Книга Excel (.xlsx)» "
            "или «CSV (разделители — запятые)»"
        )
    if data.startswith(XLSX_MAGIC) or lowered.endswith((".xlsx", ".xlsm")):
        return read_xlsx(name, data)
    return [read_csv(name, data)]


# -- CSV ----------------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes; returns the text and a Russian name of the encoding that was used."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 с BOM"
        except UnicodeDecodeError as exc:
            raise ReadError(
                f"файл помечен как UTF-8, но содержит неверные байты (позиция {exc.start})"
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise ReadError("файл помечен как UTF-16, но содержит неверные байты") from exc
    if b"\x00" in data:
        raise ReadError("файл не похож на текстовый CSV: сохраните его как CSV или XLSX")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251"), "Windows-1251"
    except UnicodeDecodeError as exc:
        raise ReadError(
            "не удалось определить кодировку файла: сохраните его в UTF-8 или в Windows-1251"
        ) from exc


def _clean(cell: str) -> str:
    return cell.strip(_STRIP)


def _trim(cells: list[str]) -> list[str]:
    cells = [_clean(c) for c in cells]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _parse(text: str, delimiter: str) -> list[Row]:
    """Rows with the line each starts on (a quoted cell may span several lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[Row] = []
    previous_end = 0
    try:
        for raw in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            rows.append(Row(start, _trim(raw)))
    except csv.Error as exc:
        raise ReadError(f"строка {reader.line_num + 1}: файл CSV повреждён ({exc})") from exc
    return rows


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the most lines into several cells, consistently.

    A ``;`` file whose e-mail cells hold ``a@x.ru, b@x.ru`` splits every line on ``;`` and only a few on
    ``,``; a ``,`` file whose firm names hold ``;`` is the mirror case. Comment lines do not count. Ties
    go to the delimiter whose lines have the same number of cells most often, then to ``,``.
    """
    best = ","
    best_score: tuple[int, int] = (-1, -1)
    for delimiter in (",", ";", "\t"):
        try:
            rows = _parse(text, delimiter)
        except ReadError:
            continue
        widths = [len(r.cells) for r in rows if len(r.cells) >= 2 and not r.cells[0].startswith("#")]
        consistent = Counter(widths).most_common(1)[0][1] if widths else 0
        score = (len(widths), consistent)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(name: str, data: bytes) -> Table:
    text, encoding = decode_text(data)
    delimiter = detect_delimiter(text)
    rows = [r for r in _parse(text, delimiter) if r.cells and not r.cells[0].startswith("#")]
    return Table(name, rows, encoding=encoding, delimiter=delimiter)


# -- XLSX ---------------------------------------------------------------------------------------


def cell_text(value: object) -> str:
    """What a cell shows, as text: whole numbers without ``.0``, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return _clean(str(value))


def read_xlsx(name: str, data: bytes) -> list[Table]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it does not read (data validation, styles); they do not matter.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ReadError(
            "файл XLSX повреждён или это не книга Excel: откройте и сохраните его заново"
        ) from exc
    tables: list[Table] = []
    try:
        for sheet in workbook.worksheets:
            if sheet.title.strip().lower() in INSTRUCTION_SHEETS:
                continue
            rows: list[Row] = []
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = _trim([cell_text(v) for v in values])
                if cells and not cells[0].startswith("#"):
                    rows.append(Row(number, cells))
            if rows:
                tables.append(Table(name, rows, sheet=sheet.title, letters=True))
    finally:
        workbook.close()
    return tables
