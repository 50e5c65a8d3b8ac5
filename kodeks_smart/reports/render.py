"""Reports as HTML (Jinja2 templates of this package), PDF (WeasyPrint from the same HTML) and XLSX.

The web pages embed `fragment` — the very markup the PDF is printed from — so a page, its PDF and its
numbers never differ. `prolongation_rows` is the one description of the "Данные для пролонгации"
table: the HTML renders it with Russian number formats, the XLSX writes its numbers.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from openpyxl import Workbook

from kodeks_smart.reports import charts
from kodeks_smart.reports.data import (
    MonthRow,
    OnlineUsage,
    QuarterlyReport,
    RenewalReport,
    ReportError,
    TrialReport,
    fmt_change,
    fmt_number,
    month_label,
    pct_change,
)

Format = Literal["html", "pdf", "xlsx"]
FORMATS: tuple[Format, ...] = ("pdf", "xlsx", "html")
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Report = RenewalReport | TrialReport | QuarterlyReport

ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["num"] = fmt_number
ENV.filters["change"] = fmt_change
ENV.filters["month"] = month_label


def _pct(value: float | None) -> str:
    return "Нет данных" if value is None else fmt_number(value, 1) + " %"


ENV.filters["pct"] = _pct


def _date(value: date | None) -> str:
    return "—" if value is None else value.strftime("%d.%m.%Y")


ENV.filters["date"] = _date


# -- the prolongation table -------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """One row of the prolongation table: a label and one value per month (None: no data; inf: ∞)."""

    label: str
    values: list[float | None]
    kind: Literal["count", "change", "pct"] = "count"
    #: CSS class per cell (threshold colours), same length as values.
    marks: tuple[str, ...] = ()

    def cells(self) -> list[str]:
        if self.kind == "change":
            return [fmt_change(v) for v in self.values]
        if self.kind == "pct":
            return [_pct(v) for v in self.values]
        return [fmt_number(v) for v in self.values]


#: (label, MonthRow attribute, with a % change row)
PROLONGATION_ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("Количество запрошенных из БД документов", "docs", "% изменения документов к предыдущему месяцу"),
    ("Количество сохранённых документов", "saved", "% изменения сохранённых документов"),
    ("Количество распечатанных", "printed", "% изменения количества распечатанных"),
    (
        "Количество отвергнутых попыток подключения из-за окончания свободных лицензий",
        "refusals",
        "% отвергнутых попыток к предыдущему",
    ),
    (
        "Активность пользователей — поисковые запросы интеллектуального поиска + открытые документы",
        "activity",
        None,
    ),
)
EXTRA_ROWS: tuple[tuple[str, str, Literal["count", "pct"]], ...] = (
    ("Вовлечённость пользователей, %", "involvement", "pct"),
    ("Пользователей с запросами к БД", "users", "count"),
    ("Рабочих мест по рег-файлу", "seats", "count"),
    ("Максимум занятых рабочих мест", "max_used", "count"),
    ("Запросов к БД", "db_requests", "count"),
    ("Поисковых запросов", "searches", "count"),
    ("Пустых поисков", "empty_searches", "count"),
    ("Ошибок томов БД (макс. в отчёте)", "db_errors", "count"),
    ("Ошибок файлов OperUp (макс. в отчёте)", "operup_errors", "count"),
    ("Доступность сервера, %", "availability", "pct"),
)


def _involvement_mark(v: float | None) -> str:
    if v is None:
        return ""  # a month without data is not coloured: "Нет данных" says it
    if v < 60:
        return "bad"
    if v < 80:
        return "warn"
    return "bad" if v > 150 else "good"


def prolongation_rows(months: Sequence[MonthRow], previous: MonthRow) -> list[TableRow]:
    rows: list[TableRow] = []
    chain = [previous, *months]
    for label, key, change_label in PROLONGATION_ROWS:
        values = [m.value(key) for m in months]
        marks: tuple[str, ...] = ()
        if key == "activity":
            marks = tuple("" if v is None else ("bad" if v < 20 else "good") for v in values)
        rows.append(TableRow(label, values, marks=marks))
        if change_label:
            changes = [pct_change(cur.value(key), prev.value(key)) for prev, cur in itertools.pairwise(chain)]
            rows.append(TableRow(change_label, changes, "change"))
    for label, key, kind in EXTRA_ROWS:
        values = [m.value(key) for m in months]
        marks = tuple(_involvement_mark(v) for v in values) if key == "involvement" else ()
        rows.append(TableRow(label, values, kind, marks))
    return rows


def online_rows(usage: OnlineUsage) -> list[TableRow]:
    def left(attr: str) -> list[float | None]:
        return [None if (v := getattr(m, attr)) is None else float(v) for m in usage.months]

    return [
        TableRow("Остаток биллинга документов", left("docs_left")),
        TableRow("Остаток поиска", left("search_left")),
        TableRow("Остаток печати", left("print_left")),
        TableRow("Остаток выгрузки", left("upload_left")),
        TableRow("Использовано документов, %", [m.docs_used_pct for m in usage.months], "pct"),
    ]


# -- HTML -------------------------------------------------------------------------------------------


def _renewal_context(report: RenewalReport) -> dict[str, Any]:
    labels = [m.short_label for m in report.months]
    return {
        "r": report,
        "table": prolongation_rows(report.months, report.previous),
        "online": [(u, online_rows(u)) for u in report.online],
        "month_labels": [m.label for m in report.months],
        "charts": [
            charts.bar_chart(
                "Вовлечённость пользователей, %",
                labels,
                [m.involvement for m in report.months],
                bands=charts.INVOLVEMENT_BANDS,
            ),
            charts.bar_chart(
                "Активность: интеллектуальный поиск + открытые документы",
                labels,
                [m.value("activity") for m in report.months],
                bands=charts.ACTIVITY_BANDS,
            ),
            charts.bar_chart(
                "Запрошено из БД документов",
                labels,
                [m.value("docs") for m in report.months],
            ),
            charts.bar_chart(
                "Отказы во входе из-за нехватки рабочих мест",
                labels,
                [m.value("refusals") for m in report.months],
                colour="#c0392b",
            ),
        ],
    }


def _trial_context(report: TrialReport) -> dict[str, Any]:
    labels = [f"{d.day:%d.%m}" for d in report.days]
    return {
        "r": report,
        "charts": [
            charts.bar_chart(
                "Активность по дням: интеллектуальный поиск + открытые документы",
                labels,
                [float(d.activity) for d in report.days],
            ),
            charts.bar_chart(
                "Пользователей с запросами к БД по дням", labels, [float(d.users) for d in report.days]
            ),
        ],
    }


def _quarterly_context(report: QuarterlyReport) -> dict[str, Any]:
    return {"r": report}


TEMPLATES = {RenewalReport: "renewal.html", TrialReport: "trial.html", QuarterlyReport: "quarterly.html"}
TITLES = {
    RenewalReport: "Данные для пролонгации",
    TrialReport: "Отчёт об апробации",
    QuarterlyReport: "Квартальная аналитика",
}


def title_of(report: Report) -> str:
    return TITLES[type(report)]


def fragment(report: Report) -> Markup:
    """The report's content (no <html>): embedded in the web pages and in the printable document."""
    if isinstance(report, RenewalReport):
        context = _renewal_context(report)
    elif isinstance(report, TrialReport):
        context = _trial_context(report)
    else:
        context = _quarterly_context(report)
    return Markup(ENV.get_template(TEMPLATES[type(report)]).render(**context))  # noqa: S704 - autoescaped


def prolongation_fragment(months: Sequence[MonthRow], previous: MonthRow) -> Markup:
    """The prolongation table alone (the dashboard page)."""
    template = ENV.get_template("_prolongation_table.html")
    rows = prolongation_rows(months, previous)
    return Markup(template.render(table=rows, month_labels=[m.label for m in months]))  # noqa: S704


def online_fragment(usage: Sequence[OnlineUsage]) -> Markup:
    template = ENV.get_template("_online_table.html")
    labels = [month_label(m.month) for m in usage[0].months] if usage else []
    return Markup(template.render(online=[(u, online_rows(u)) for u in usage], month_labels=labels))  # noqa: S704


def document(report: Report) -> str:
    """A whole printable HTML document (what `pdf` prints)."""
    return ENV.get_template("document.html").render(
        title=title_of(report), r=report, content=fragment(report)
    )


def pdf(report: Report) -> bytes:
    """The report as PDF, printed by WeasyPrint from `document`."""
    try:
        # Imported on use: it loads pango and fonts, slow for a CLI start.
        from weasyprint import HTML  # type: ignore[import-untyped]
    except OSError as exc:  # the system libraries WeasyPrint needs are missing
        raise ReportError(
            "PDF недоступен: на сервере нет библиотек Pango для WeasyPrint "
            "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core); "
            f"отчёт можно получить в XLSX или HTML ({exc})"
        ) from exc

    result: bytes = HTML(string=document(report)).write_pdf()
    return result


# -- XLSX -------------------------------------------------------------------------------------------


def _cell(value: float | None) -> float | str | None:
    if value is None:
        return "Нет данных"
    if math.isinf(value):
        return "∞"
    return round(value, 2)


def _sheet(wb: Workbook, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    ws = wb.create_sheet(title[:31])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    ws.freeze_panes = "B2"
    ws.column_dimensions["A"].width = 60


def xlsx(report: Report) -> bytes:
    """The report as a workbook, one sheet per section."""
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    if isinstance(report, RenewalReport):
        header = ["Показатель", *(m.label for m in report.months)]
        table = prolongation_rows(report.months, report.previous)
        _sheet(wb, "Пролонгация", header, [[t.label, *(_cell(v) for v in t.values)] for t in table])
        _sheet(
            wb, "Пустые поиски", ["Запрос", "Количество"], [[q.query, q.count] for q in report.empty_queries]
        )
        _sheet(
            wb,
            "Отказы во входе",
            ["Логин", "Отказов", "Последний (UTC)"],
            [[u.login, u.count, u.last.strftime("%Y-%m-%d %H:%M")] for u in report.refused_users],
        )
        for usage in report.online:
            _sheet(
                wb,
                f"Онлайн {usage.login}",
                header,
                [[t.label, *(_cell(v) for v in t.values)] for t in online_rows(usage)],
            )
    elif isinstance(report, TrialReport):
        _sheet(
            wb,
            "Пользователи",
            [
                "Логин",
                "ФИО",
                "Запросов к БД",
                "Документов",
                "Сохранено",
                "Распечатано",
                "Поисков",
                "Пустых",
                "Часов",
            ],
            [
                [
                    u.login,
                    u.full_name,
                    u.db_requests,
                    u.docs,
                    u.saved,
                    u.printed,
                    u.searches,
                    u.empty_searches,
                    u.hours,
                ]
                for u in report.users
            ],
        )
        _sheet(
            wb,
            "По дням",
            ["День", "Документов", "Интеллектуальных поисков", "Активность", "Пользователей"],
            [[d.day.isoformat(), d.docs, d.intelligent_searches, d.activity, d.users] for d in report.days],
        )
        _sheet(wb, "Что искали", ["Запрос", "Количество"], [[q.query, q.count] for q in report.top_queries])
        _sheet(wb, "Не нашлось", ["Запрос", "Количество"], [[q.query, q.count] for q in report.empty_queries])
        _sheet(
            wb,
            "Отказы во входе",
            ["Логин", "Отказов", "Последний (UTC)"],
            [[u.login, u.count, u.last.strftime("%Y-%m-%d %H:%M")] for u in report.refused_users],
        )
    else:
        _sheet(
            wb,
            "Квартал",
            [
                "Клиент",
                "Менеджер",
                "Риск",
                "Причины",
                "Рабочих мест",
                "Вовлечённость, %",
                "Активность",
                "Активность (пред. квартал)",
                "Изменение активности, %",
                "Документов",
                "Документов (пред. квартал)",
                "Отказов во входе",
                "Пустых поисков",
                "Лицензия до",
            ],
            [
                [
                    r.client.short_name,
                    r.client.manager,
                    r.risk,
                    "; ".join(r.reasons),
                    r.seats,
                    _cell(r.involvement),
                    r.activity,
                    r.prev_activity,
                    _cell(r.activity_change),
                    r.docs,
                    r.prev_docs,
                    r.refusals,
                    r.empty_searches,
                    r.licence_to.isoformat() if r.licence_to else None,
                ]
                for r in report.rows
            ],
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def render(report: Report, fmt: str) -> bytes:
    if fmt == "pdf":
        return pdf(report)
    if fmt == "xlsx":
        return xlsx(report)
    if fmt == "html":
        return document(report).encode()
    raise ValueError(f"формат «{fmt}»: ожидается pdf, xlsx или html")


def filename(report: Report, fmt: str) -> str:
    """A safe download name, e.g. ``prolongaciya-alpha_client-2025-11-2026-10.pdf``."""
    if isinstance(report, RenewalReport):
        stem = f"prolongaciya-{report.client.short_name}-{report.first:%Y-%m}-{report.last:%Y-%m}"
    elif isinstance(report, TrialReport):
        stem = f"aprobaciya-{report.client.short_name}-{report.first:%Y%m%d}-{report.last:%Y%m%d}"
    else:
        q = (report.first.month - 1) // 3 + 1
        stem = f"kvartal-{report.first.year}Q{q}"
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in stem)
    return f"{safe}.{fmt}"
