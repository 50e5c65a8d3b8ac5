"""Tables of the cabinet: columns, sorting, pagination and export to CSV and XLSX.

Every dashboard table is described once (`Column`s + rows as dicts); the page renders a sorted page
of it and the same description exports the whole filtered table, so the export always matches
what the user sees.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Response
from openpyxl import Workbook

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZES = (25, 50, 100, 500)


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    fmt: Callable[[Any], str] | None = None
    align: str = "left"
    #: The cell's colour by its value (the original's thresholds): "crit", "warn", "ok" or None.
    tone: Callable[[Any], str | None] | None = None

    def tone_of(self, row: Mapping[str, Any]) -> str | None:
        """The colour class of this column's cell in ``row`` (None: no colour; empty cells never get one)."""
        value = row.get(self.key)
        if self.tone is None or value is None:
            return None
        return self.tone(value)

    def text(self, row: Mapping[str, Any]) -> str:
        value = row.get(self.key)
        if value is None:
            return ""
        if self.fmt is not None:
            return self.fmt(value)
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        if isinstance(value, float):
            return f"{value:.1f}"
        return str(value)


@dataclass
class TablePage:
    columns: Sequence[Column]
    rows: list[Mapping[str, Any]]
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    desc: bool


def _sort_key(key: str) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    def k(row: Mapping[str, Any]) -> tuple[int, Any]:
        value = row.get(key)
        if value is None:
            return (1, "")
        if isinstance(value, str):
            return (0, value.casefold())
        return (0, value)

    return k


def paginate(
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    *,
    sort: str | None,
    desc: bool,
    page: int,
    per_page: int,
) -> TablePage:
    keys = {c.key for c in columns}
    ordered = list(rows)
    if sort in keys:
        ordered.sort(key=_sort_key(sort), reverse=desc)
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]
    pages = max(1, -(-len(ordered) // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return TablePage(
        columns, ordered[start : start + per_page], len(ordered), page, pages, per_page, sort or "", desc
    )


def _safe_cell(text: str) -> str:
    # A cell starting with = + - @ would run as a formula in Excel: neutralise it (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], fmt: str, filename: str) -> Response:
    """The whole table as CSV (UTF-8 with BOM, `;`, as Russian Excel opens it) or XLSX."""
    header = [c.title for c in columns]
    body = [[_safe_cell(c.text(r)) for c in columns] for r in rows]
    if fmt == "xlsx":
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(header)
        for line in body:
            ws.append(line)
        buf = io.BytesIO()
        wb.save(buf)
        return Response(
            buf.getvalue(),
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
        )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(body)
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
