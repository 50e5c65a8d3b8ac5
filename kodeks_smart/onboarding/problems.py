"""Problems found while reading, validating and planning an import: where, what, how bad.

Every problem names its place as precisely as it is known (file, sheet, line, column) and carries a
Russian message that is shown to the distributor as is. Errors reject the whole import; warnings
(recommendations) are shown but do not block it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


def column_letters(index: int) -> str:
    """1 → A, 27 → AA: the way Excel names a column."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class Location:
    """A place in the imported files. ``line`` and ``column`` are 1-based."""

    file: str
    sheet: str | None = None
    line: int | None = None
    column: int | None = None
    column_name: str | None = None
    #: XLSX columns are shown as letters (C), CSV columns as numbers (3).
    letters: bool = False

    def at(self, column: int | None, column_name: str | None = None) -> Location:
        return Location(self.file, self.sheet, self.line, column, column_name, self.letters)

    def describe(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"лист «{self.sheet}»")
        if self.line is not None:
            parts.append(f"строка {self.line}")
        if self.column is not None:
            label = column_letters(self.column) if self.letters else str(self.column)
            parts.append(f"столбец {label}" + (f" «{self.column_name}»" if self.column_name else ""))
        elif self.column_name:
            parts.append(f"столбец «{self.column_name}»")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sheet": self.sheet,
            "line": self.line,
            "column": (column_letters(self.column) if self.letters else self.column)
            if self.column is not None
            else None,
            "column_name": self.column_name,
        }


@dataclass(frozen=True)
class Problem:
    location: Location | None
    message: str
    severity: Severity = "error"
    #: a stable identifier for programs and tests, e.g. ``bad-email``.
    code: str = ""

    def describe(self) -> str:
        where = self.location.describe() if self.location else "весь импорт"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        loc = self.location.as_dict() if self.location else {}
        return {
            **loc,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "where": self.location.describe() if self.location else None,
        }


@dataclass
class Problems:
    """Collects problems in the order they are found."""

    items: list[Problem] = field(default_factory=list)

    def error(self, location: Location | None, message: str, code: str) -> None:
        self.items.append(Problem(location, message, "error", code))

    def warning(self, location: Location | None, message: str, code: str) -> None:
        self.items.append(Problem(location, message, "warning", code))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.items)

    def sorted(self) -> list[Problem]:
        """Errors first, then by file and line, keeping the order of discovery within a line."""

        def key(item: tuple[int, Problem]) -> tuple[int, str, str, int, int]:
            index, p = item
            loc = p.location
            return (
                0 if p.severity == "error" else 1,
                loc.file if loc else "",
                (loc.sheet or "") if loc else "",
                (loc.line or 0) if loc else 0,
                index,
            )

        return [p for _, p in sorted(enumerate(self.items), key=key)]


class Invalid(ValueError):
    """A cell value that cannot be used; ``message`` is Russian, ``code`` is stable."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
