"""Cabinet pages of the reports: the two prolongation dashboards and the reports form with downloads.

* ``/c/{id}/d/prolongation`` — "Данные для пролонгации": one client, one calendar year, 12 months;
* ``/c/{id}/d/prolongation-online`` — "Биллинг Онлайн. Данные для пролонгации";
* ``/c/{id}/reports`` — a form per report (renewal, trial, quarterly) with PDF / XLSX / page buttons;
  ``/c/{id}/reports/{kind}`` answers the file or the report as a page.

The pages read only through the cabinet's scope: a client, installation or manager of another cabinet
is answered 404 exactly like a missing one. The dashboards and the reports share `reports.data` and
the report templates, so a report and the dashboard show the same numbers for the same months.
Downloads are GET requests: they change nothing, so they need no CSRF token.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from kodeks_smart.reports import data, render
from kodeks_smart.store.models import Client, Installation, Manager
from kodeks_smart.store.scope import NotFound
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.cabinet import Page, cabinet_page

router = APIRouter(include_in_schema=False)

REPORT_CSS = Markup((Path(data.__file__).parent / "templates" / "_report.css").read_text(encoding="utf-8"))  # noqa: S704


def _bad(message: str) -> HTTPException:
    return HTTPException(400, message)


def _clients(page: Page) -> list[Client]:
    return data.cabinet_clients(page.tenant, page.cabinet.id)


def _client(page: Page, client_id: int | None, clients: list[Client]) -> Client | None:
    if client_id is None:
        return clients[0] if clients else None
    try:
        return page.tenant.get(Client, client_id)
    except NotFound:
        raise HTTPException(404, "Клиент не найден") from None


def _year(year: int | None) -> int:
    today = utcnow().date()
    if year is None:
        return today.year
    if not 2000 <= year <= today.year + 1:
        raise _bad(f"Год {year} вне допустимого диапазона")
    return year


@router.get("/c/{cabinet_id}/d/prolongation", response_class=HTMLResponse)
def prolongation(
    page: Page = Depends(cabinet_page),
    client: int | None = Query(None),
    year: int | None = Query(None),
) -> Response:
    clients = _clients(page)
    chosen = _client(page, client, clients)
    y = _year(year)
    table: Markup | None = None
    header = ""
    if chosen is not None:
        months = [date(y, m, 1) for m in range(1, 13)]
        rows = data.monthly_indicators(page.tenant, chosen.id, [date(y - 1, 12, 1), *months])
        table = render.prolongation_fragment(rows[1:], rows[0])
        info = data.client_info(page.tenant, chosen.id)
        header = f"{info.display_name} | {info.manager}"
    return page.render(
        "prolongation.html",
        title="Данные для пролонгации",
        clients=clients,
        chosen=chosen,
        year=y,
        years=list(range(utcnow().year, utcnow().year - 3, -1)),
        table=table,
        header=header,
        report_css=REPORT_CSS,
        online=False,
    )


@router.get("/c/{cabinet_id}/d/prolongation-online", response_class=HTMLResponse)
def prolongation_online(
    page: Page = Depends(cabinet_page),
    client: int | None = Query(None),
    year: int | None = Query(None),
) -> Response:
    clients = _clients(page)
    chosen = _client(page, client, clients)
    y = _year(year)
    table: Markup | None = None
    header = ""
    if chosen is not None:
        info = data.client_info(page.tenant, chosen.id)
        usage = data.online_usage(page.tenant, info, [date(y, m, 1) for m in range(1, 13)])
        table = render.online_fragment(usage)
        header = f"{info.display_name} | {info.manager}"
    return page.render(
        "prolongation.html",
        title="Биллинг Онлайн. Данные для пролонгации",
        clients=clients,
        chosen=chosen,
        year=y,
        years=list(range(utcnow().year, utcnow().year - 3, -1)),
        table=table,
        header=header,
        report_css=REPORT_CSS,
        online=True,
    )


@router.get("/c/{cabinet_id}/reports", response_class=HTMLResponse)
def reports_form(page: Page = Depends(cabinet_page)) -> Response:
    today = utcnow().date()
    first, last = data.last_full_months(12, today)
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    prev_quarter = data.add_months(this_quarter, -3)
    installations = page.tenant.list(Installation, Installation.cabinet_id == page.cabinet.id)
    names = {c.id: c.short_name for c in _clients(page)}
    return page.render(
        "reports.html",
        title="Отчёты",
        clients=_clients(page),
        installations=[(i.id, f"{names.get(i.client_id, '?')} — {i.address or i.id}") for i in installations],
        managers=page.tenant.list(Manager, Manager.cabinet_id == page.cabinet.id, order_by=Manager.name),
        renewal_from=f"{first:%Y-%m}",
        renewal_to=f"{last:%Y-%m}",
        trial_from=(today.replace(day=1)).isoformat(),
        trial_to=today.isoformat(),
        quarter=f"{prev_quarter.year}Q{(prev_quarter.month - 1) // 3 + 1}",
    )


def _answer(page: Page, report: render.Report, fmt: str) -> Response:
    if fmt == "html":
        return page.render(
            "report_view.html",
            title=render.title_of(report),
            content=render.fragment(report),
            report_css=REPORT_CSS,
            query=str(page.request.url.query),
        )
    if fmt not in ("pdf", "xlsx"):
        raise _bad("Формат: pdf, xlsx или html")
    content = _guard(render.render, report, fmt)
    name = render.filename(report, fmt)
    return Response(
        content,
        media_type=render.CONTENT_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"},
    )


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except data.ReportError as exc:
        raise _bad(str(exc)) from None
    except NotFound:
        raise HTTPException(404, "Объект не найден") from None


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _bad(f"{name}: ожидается дата ГГГГ-ММ-ДД") from None


@router.get("/c/{cabinet_id}/reports/renewal")
def renewal(
    page: Page = Depends(cabinet_page),
    client: int = Query(...),
    from_: str = Query(..., alias="from", max_length=10),
    to: str = Query(..., max_length=10),
    format: str = Query("pdf", max_length=5),
) -> Response:
    first = _guard(data.parse_month, from_)
    last = _guard(data.parse_month, to)
    report = _guard(data.renewal_report, page.tenant, client, first, last)
    return _answer(page, report, format)


@router.get("/c/{cabinet_id}/reports/trial")
def trial(
    page: Page = Depends(cabinet_page),
    installation: int = Query(...),
    from_: str = Query(..., alias="from", max_length=10),
    to: str = Query(..., max_length=10),
    format: str = Query("pdf", max_length=5),
) -> Response:
    report = _guard(data.trial_report, page.tenant, installation, _day(from_, "Начало"), _day(to, "Конец"))
    return _answer(page, report, format)


@router.get("/c/{cabinet_id}/reports/quarterly")
def quarterly(
    page: Page = Depends(cabinet_page),
    quarter: str = Query(..., max_length=8),
    manager: int | None = Query(None),
    format: str = Query("pdf", max_length=5),
) -> Response:
    first = _guard(data.parse_quarter, quarter)
    report = _guard(data.quarterly_report, page.tenant, page.cabinet.id, first, manager_id=manager)
    return _answer(page, report, format)
