"""Onboarding test helpers: list files as Excel would write them, imports, database snapshots."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

from sqlalchemy import func, select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.plan import ImportOptions
from kodeks_smart.onboarding.service import ImportReport, Source, run_import
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import TENANT_MODELS, Cabinet

DATA = Path(__file__).parent / "data"
DEALER = "0700SMARTTEST"


def data(name: str) -> Source:
    return Source(name, (DATA / name).read_bytes())


def text_source(name: str, text: str, encoding: str = "utf-8") -> Source:
    return Source(name, text.encode(encoding))


def excel_csv(text: str, *, encoding: str = "cp1251", delimiter: str = ";") -> bytes:
    """A CSV as a Russian Excel saves it: Windows-1251, ``;``, CRLF, every row padded to the same width."""
    rows = list(csv.reader(io.StringIO(text)))
    width = max(len(r) for r in rows)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row + [""] * (width - len(row)))
    return out.getvalue().encode(encoding)


def xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    """A real workbook written by openpyxl, one sheet per entry."""
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.remove(first)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook.save(out)
    return out.getvalue()


def run(
    db: Database, box: SecretBox, *sources: Source, dealer: str = DEALER, **options: object
) -> ImportReport:
    allow = options.pop("allow_shared_emails", ())
    return run_import(
        db,
        box,
        list(sources),
        ImportOptions(dealer=dealer, allow_shared_emails=frozenset(allow), **options),  # type: ignore[arg-type]
    )


def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every tenant row's columns, to prove that a rejected import changed nothing."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with db.session() as s:
        for model in (Cabinet, *TENANT_MODELS):
            table = model.__table__
            out[table.name] = sorted(
                (tuple(str(v) for v in row) for row in s.execute(select(table))), key=lambda r: r
            )
    return out


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def codes(report: ImportReport) -> list[str]:
    return [p.code for p in report.problems]
