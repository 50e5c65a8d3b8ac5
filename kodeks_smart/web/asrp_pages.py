"""«Загрузка sysinfo в АСРП»: the forwarding log of the cabinet (filters, CSV/XLSX export, retry) and the
dealer's forwarder settings (administrators only; the stored secret is never shown back).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kodeks_smart.asrp import configure, queue
from kodeks_smart.asrp.service import STATE_RU, log_lines
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.models import Client
from kodeks_smart.store.scope import Tenant
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.cabinet import Page, cabinet_page, require_csrf
from kodeks_smart.web.tables import Column, export, paginate

router = APIRouter(include_in_schema=False)

COLUMNS = [
    Column("time", "Время"),
    Column("client", "Клиент"),
    Column("state", "Состояние", fmt=lambda s: STATE_RU.get(s, s)),
    Column("response", "Ответ сервера"),
    Column("answer", "Ответ АСРП"),
    Column("number", "Номер загрузки"),
    Column("ident", "Идентификатор"),
    Column("attempts", "Попыток"),
    Column("dealer", "dealername"),
]
RESPONSES = {"ok": "ок", "warning": "warning"}


def _is_admin(page: Page) -> bool:
    return page.info.account.role in ("operator", "dealer-admin")


@router.get("/c/{cabinet_id}/asrp", response_class=HTMLResponse)
def asrp_log(
    page: Annotated[Page, Depends(cabinet_page)],
    client: str = "",
    state: str = "",
    response: str = "",
    sort: str = "time",
    desc: bool = True,
    p: int = 1,
    per_page: int = 50,
    format: str = "",
    message: str = "",
) -> Response:
    lines = log_lines(
        page.tenant,
        client=client or None,
        state=state if state in STATE_RU else None,
        response=response if response in RESPONSES else None,
    )
    rows: list[dict[str, Any]] = [
        {
            "time": ln.time,
            "client": ln.client,
            "state": ln.state,
            "response": ln.response,
            "answer": ln.answer,
            "number": ln.number,
            "ident": ln.ident,
            "attempts": ln.attempts,
            "dealer": ln.dealer,
        }
        for ln in lines
    ]
    if format in ("csv", "xlsx"):
        return export(COLUMNS, rows, format, f"asrp-{page.cabinet.id}")
    table = paginate(COLUMNS, rows, sort=sort, desc=desc, page=p, per_page=per_page)
    accepted = sum(1 for ln in lines if ln.state == "accepted")
    return page.render(
        "asrp.html",
        title="Загрузка sysinfo в АСРП",
        table=table,
        clients=sorted(c.short_name for c in page.tenant.list(Client)),
        client=client,
        state=state,
        states=STATE_RU,
        response=response,
        responses=RESPONSES,
        accepted=accepted,
        not_ok=len(lines) - accepted,
        is_admin=_is_admin(page),
        message=message,
        query=urlencode({"client": client, "state": state, "response": response}),
    )


@router.post("/c/{cabinet_id}/asrp/retry")
def asrp_retry(
    page: Annotated[Page, Depends(cabinet_page)], csrf_token: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(page, csrf_token)
    with page.services.db.write() as s:
        count = queue.retry(Tenant(s, page.scope), utcnow())
    return RedirectResponse(
        f"/c/{page.cabinet.id}/asrp?message=Снова в очереди отчётов: {count}", status_code=303
    )


# -- settings -------------------------------------------------------------------------------------


def _require_admin(page: Page) -> None:
    if not _is_admin(page):
        raise HTTPException(403, "Раздел доступен администратору дистрибьютора")


@router.get("/c/{cabinet_id}/asrp/settings", response_class=HTMLResponse)
def asrp_settings(page: Annotated[Page, Depends(cabinet_page)], message: str = "") -> Response:
    _require_admin(page)
    row = configure.forwarder_of(page.db, page.dealer.id)
    current = configure.input_of(row) if row is not None else configure.ForwarderInput()
    return page.render(
        "asrp_settings.html",
        title="Настройки передачи в АСРП",
        f=current,
        has_secret=row is not None and row.secret_enc is not None,
        folder_enabled=bool(page.services.settings.asrp_folder_root),
        message=message,
        error="",
    )


@router.post("/c/{cabinet_id}/asrp/settings", response_class=HTMLResponse)
def asrp_settings_save(
    page: Annotated[Page, Depends(cabinet_page)],
    kind: Annotated[str, Form()] = "http",
    enabled: Annotated[bool, Form()] = False,
    url: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "POST",
    file_field: Annotated[str, Form()] = "file",
    fields: Annotated[str, Form()] = "",
    auth: Annotated[str, Form()] = "none",
    auth_name: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    success_statuses: Annotated[str, Form()] = "200",
    success_regex: Annotated[str, Form()] = "",
    duplicate_regex: Annotated[str, Form()] = "",
    number_regex: Annotated[str, Form()] = "",
    ident_regex: Annotated[str, Form()] = "",
    timeout: Annotated[float, Form()] = 60.0,
    directory: Annotated[str, Form()] = "",
    filename_pattern: Annotated[str, Form()] = "{dealer}_{client}_{upload_id}.zip",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _require_admin(page)
    require_csrf(page, csrf_token)
    settings = page.services.settings
    data = configure.ForwarderInput(kind=kind, url=url, auth=auth, auth_name=auth_name)
    try:
        data = configure.ForwarderInput(
            kind=kind,
            enabled=enabled,
            url=url,
            method=method,
            file_field=file_field.strip(),
            fields=configure.parse_fields(fields.splitlines()),
            auth=auth,
            auth_name=auth_name,
            secret=secret or None,
            success_statuses=configure.parse_statuses(success_statuses),
            success_regex=success_regex,
            duplicate_regex=duplicate_regex,
            number_regex=number_regex,
            ident_regex=ident_regex,
            timeout=timeout,
            directory=directory,
            filename_pattern=filename_pattern,
        )
        with page.services.db.write() as s:
            configure.save(s, page.services.box, page.dealer.id, data, folder_root=settings.asrp_folder_root)
    except AdminError as exc:
        row = configure.forwarder_of(page.db, page.dealer.id)
        response = page.render(
            "asrp_settings.html",
            title="Настройки передачи в АСРП",
            f=data,
            has_secret=row is not None and row.secret_enc is not None,
            folder_enabled=bool(settings.asrp_folder_root),
            message="",
            error=str(exc),
        )
        response.status_code = 422
        return response
    return RedirectResponse(
        f"/c/{page.cabinet.id}/asrp/settings?message=Настройки сохранены", status_code=303
    )
