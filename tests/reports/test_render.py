"""Each report in each format: the PDF's text, the workbook's cells and the HTML carry the store's numbers."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from kodeks_smart.reports import data, render
from kodeks_smart.store.db import Database
from kodeks_smart.store.scope import Scope, Tenant
from tests.conftest import Tenants
from tests.reports.conftest import FIRST, LAST, needs_poppler
from tests.reports.helpers import Built

TRIAL = (date(2026, 3, 1), date(2026, 3, 31))
Q3 = date(2026, 7, 1)


def reports(db: Database, tenants: Tenants, alpha: Built) -> list[render.Report]:
    with db.session() as s:
        t = Tenant(s, Scope.cabinets(tenants.dealer_id, [tenants.cabinet_a]))
        return [
            data.renewal_report(t, alpha.client_id, FIRST, LAST),
            data.trial_report(t, alpha.installation_id, *TRIAL),
            data.quarterly_report(t, tenants.cabinet_a, Q3),
        ]


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(content)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout


@needs_poppler
def test_renewal_pdf_shows_the_months_numbers(
    db: Database, tenants: Tenants, year: tuple[Built, Built], tmp_path: Path
) -> None:
    alpha, _ = year
    renewal = reports(db, tenants, alpha)[0]
    assert isinstance(renewal, data.RenewalReport)
    content = render.pdf(renewal)
    assert content.startswith(b"%PDF")
    text = pdf_text(content, tmp_path)
    assert "Данные для пролонгации: ООО «alpha»" in text
    assert "Декабрь" in text and "Ноябрь" in text and "Нет данных" in text
    for m in renewal.months:
        if m.has_data:
            assert data.fmt_number(m.docs) in text
    assert data.fmt_number(renewal.total("docs")) in text
    assert "СП 60.13330" in text and "ГОСТ 12.1.004" in text
    assert "Онлайн-доступ alpha_online" in text


@needs_poppler
def test_first_page_of_the_renewal_pdf_renders_to_png(
    db: Database, tenants: Tenants, year: tuple[Built, Built], tmp_path: Path
) -> None:
    alpha, _ = year
    (tmp_path / "r.pdf").write_bytes(render.pdf(reports(db, tenants, alpha)[0]))
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            str(tmp_path / "r.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


@needs_poppler
def test_trial_and_quarterly_pdfs(
    db: Database, tenants: Tenants, year: tuple[Built, Built], tmp_path: Path
) -> None:
    alpha, _ = year
    _, trial, quarterly = reports(db, tenants, alpha)
    assert isinstance(trial, data.TrialReport) and isinstance(quarterly, data.QuarterlyReport)
    text = pdf_text(render.pdf(trial), tmp_path)
    assert "Отчёт об апробации" in text and "01.03.2026 — 31.03.2026" in text
    for user in trial.users[:3]:
        assert user.login in text
    assert data.fmt_number(trial.total("docs")) in text
    text = pdf_text(render.pdf(quarterly), tmp_path)
    assert "Квартальная аналитика: 3 квартал 2026" in text
    assert "alpha_client" in text and "beta_client" not in text
    assert data.fmt_number(quarterly.rows[0].activity) in text


def test_workbooks_have_one_sheet_per_section_with_the_numbers(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    renewal, trial, quarterly = reports(db, tenants, alpha)
    assert isinstance(renewal, data.RenewalReport)
    wb = load_workbook(io.BytesIO(render.xlsx(renewal)))
    assert wb.sheetnames == ["Пролонгация", "Пустые поиски", "Отказы во входе", "Онлайн alpha_online"]
    ws = wb["Пролонгация"]
    header = [c.value for c in ws[1]]
    assert header[1] == "Декабрь 2025" and header[-1] == "Ноябрь 2026"
    docs = [c.value for c in ws[2]]
    assert docs[0] == "Количество запрошенных из БД документов"
    assert docs[1:] == [m.docs if m.has_data else "Нет данных" for m in renewal.months]
    assert isinstance(trial, data.TrialReport)
    wb = load_workbook(io.BytesIO(render.xlsx(trial)))
    assert wb.sheetnames == ["Пользователи", "По дням", "Что искали", "Не нашлось", "Отказы во входе"]
    assert sum(row[3].value for row in wb["Пользователи"].iter_rows(min_row=2)) == trial.total("docs")
    wb = load_workbook(io.BytesIO(render.xlsx(quarterly)))
    assert [c.value for c in wb["Квартал"]["A"]][1:] == ["alpha_client"]


def test_html_document_is_self_contained_and_escapes_queries(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    with db.write() as s:
        from kodeks_smart.store.ingest_models import SysinfoSearch

        row = (
            s.query(SysinfoSearch)
            .filter(
                SysinfoSearch.client_id == alpha.client_id,
                SysinfoSearch.result == "empty",
                SysinfoSearch.query_key.startswith("5-"),
            )
            .first()
        )
        assert row is not None
        row.query = "<script>alert(1)</script>"
    html = render.document(reports(db, tenants, alpha)[0])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "<svg" in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert (
        render.filename(reports(db, tenants, alpha)[0], "pdf")
        == "prolongaciya-alpha_client-2025-12-2026-11.pdf"
    )
