"""Self-service pages of the cabinet: clients and agent kits, the sysinfo upload log with a manual
upload form, and the import of the distributor's lists.

Kits and imports change or reveal a dealer's configuration, so they are for administrators (operator,
dealer admin); the upload log and the manual upload are for every user of the cabinet.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.alerts.silences import add_silence, expire_silence, parse_duration, silences_in_scope
from kodeks_smart.ingest.consumer import wakeup_for
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.errors import IngestError
from kodeks_smart.ingest.service import ingest_file, list_uploads
from kodeks_smart.onboarding import formats, kits
from kodeks_smart.onboarding.formats import KINDS, TEMPLATE_KINDS, Kind, TemplateFormat
from kodeks_smart.onboarding.plan import ImportOptions
from kodeks_smart.onboarding.report import render as render_import
from kodeks_smart.onboarding.service import Source, run_import
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.models import Client, Installation, Manager, OnlineAccess
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.cabinet import Page, cabinet_page, require_csrf
from kodeks_smart.web.tables import XLSX_TYPE, Column, export, paginate

router = APIRouter(include_in_schema=False)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
KIND_RU = {"internet": "доступна из интернета", "closed": "закрытый контур", "cloud": "Техэксперт.Облако"}
STATUS_RU = {"queued": "в очереди", "quarantined": "карантин", "done": "обработан", "failed": "ошибка"}


def _require_admin(page: Page) -> None:
    if page.info.account.role not in ("operator", "dealer-admin"):
        raise HTTPException(403, "Раздел доступен администратору дистрибьютора")


# -- clients and agent kits -----------------------------------------------------------------------

CLIENT_COLUMNS = [
    Column("short_name", "Клиент"),
    Column("display_name", "Название"),
    Column("manager", "Менеджер"),
    Column("objects", "Объекты мониторинга"),
]


@router.get("/c/{cabinet_id}/clients", response_class=HTMLResponse)
def clients_page(
    page: Annotated[Page, Depends(cabinet_page)],
    sort: str = "short_name",
    desc: bool = False,
    p: int = 1,
    per_page: int = 50,
    format: str = "",
) -> Response:
    t = page.tenant
    managers = {m.id: m.name for m in t.list(Manager)}
    objects: dict[int, list[str]] = {}
    for inst in t.list(Installation):
        objects.setdefault(inst.client_id, []).append(f"{KIND_RU[inst.kind]}: {inst.address or '—'}")
    for access in t.list(OnlineAccess):
        objects.setdefault(access.client_id, []).append(
            f"онлайн: {access.host}/{access.catalog} ({access.login})"
        )
    rows: list[dict[str, Any]] = [
        {
            "short_name": c.short_name,
            "display_name": c.display_name,
            "manager": managers.get(c.manager_id or 0, ""),
            "objects": "; ".join(objects.get(c.id, [])),
        }
        for c in t.list(Client)
    ]
    if format in ("csv", "xlsx"):
        return export(CLIENT_COLUMNS, rows, format, f"klienty-{page.cabinet.id}")
    table = paginate(CLIENT_COLUMNS, rows, sort=sort, desc=desc, page=p, per_page=per_page)
    is_admin = page.info.account.role in ("operator", "dealer-admin")
    return page.render("clients.html", title="Клиенты и агенты", table=table, is_admin=is_admin, query="")


@router.get("/c/{cabinet_id}/kits/{client}")
def kit_download(
    page: Annotated[Page, Depends(cabinet_page)],
    client: str,
    os: Annotated[str, Query()] = "windows",
) -> Response:
    _require_admin(page)
    if os not in ("windows", "linux"):
        raise HTTPException(422, "os: ожидается windows или linux")
    row = page.db.scalars(page.tenant.select(Client, Client.short_name == client)).first()
    if row is None:
        raise HTTPException(404, "Клиент не найден")
    try:
        request = kits.request_for_client(
            page.db,
            page.services.box,
            page.dealer,
            row.short_name,
            cast(kits.OS, os),
            server_url=page.services.settings.effective_public_url,
        )
    except (kits.ClientNotFound, AdminError) as exc:
        raise HTTPException(422, str(exc)) from None
    folder = f"smart-{request.client}-{os}"
    return Response(
        kits.kit_zip(kits.build_kit(request), folder),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{folder}.zip"'},
    )


# -- sysinfo upload log and manual upload ---------------------------------------------------------

UPLOAD_COLUMNS = [
    Column("received_at", "Получен"),
    Column("client", "Клиент"),
    Column("kind", "Тип"),
    Column("size", "Размер, КБ", fmt=lambda v: f"{v / 1024:.0f}"),
    Column("source", "Источник"),
    Column("status", "Состояние", fmt=lambda s: STATUS_RU.get(s, s)),
    Column("report_time", "Время отчёта"),
    Column("error", "Ошибка"),
    Column("sha256", "SHA-256", fmt=lambda v: v[:12]),
]


@router.get("/c/{cabinet_id}/uploads", response_class=HTMLResponse)
def uploads_page(
    page: Annotated[Page, Depends(cabinet_page)],
    status: str = "",
    sort: str = "received_at",
    desc: bool = True,
    p: int = 1,
    per_page: int = 50,
    format: str = "",
    message: str = "",
) -> Response:
    uploads = list_uploads(page.tenant, status=status or None, limit=5000)
    names = {c.id: c.short_name for c in page.tenant.list(Client)}
    rows: list[dict[str, Any]] = [
        {
            "received_at": u.last_received_at,
            "client": names.get(u.client_id or 0, u.client_name),
            "kind": u.kind,
            "size": u.size,
            "source": u.source,
            "status": u.status,
            "report_time": u.report_time,
            "error": u.error or "",
            "sha256": u.sha256,
        }
        for u in uploads
    ]
    if format in ("csv", "xlsx"):
        return export(UPLOAD_COLUMNS, rows, format, f"zagruzki-{page.cabinet.id}")
    table = paginate(UPLOAD_COLUMNS, rows, sort=sort, desc=desc, page=p, per_page=per_page)
    clients = sorted(names.values())
    return page.render(
        "uploads.html",
        title="Загрузка sysinfo",
        table=table,
        clients=clients,
        status=status,
        statuses=STATUS_RU,
        message=message,
        query=f"status={status}",
    )


@router.post("/c/{cabinet_id}/uploads")
def upload_by_hand(
    page: Annotated[Page, Depends(cabinet_page)],
    file: Annotated[UploadFile, File()],
    client: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(page, csrf_token)
    row = page.db.scalars(page.tenant.select(Client, Client.short_name == client)).first()
    if row is None:
        raise HTTPException(404, "Клиент не найден")
    name = (file.filename or "").lower()
    fmt = next((ext for ext in ("zip", "xml", "status") if name.endswith("." + ext)), None)
    if fmt is None:
        raise HTTPException(415, "Нужен файл .zip, .xml или .status")
    ctx = IngestContext.from_services(page.services)
    data = file.file.read(ctx.max_upload_bytes + 1)
    try:
        accepted = ingest_file(ctx, page.dealer.code, row.short_name, data=data, fmt=fmt, source="manual")
    except IngestError as exc:
        raise HTTPException(exc.status, exc.message) from None
    wakeup_for(page.services.db).notify()
    note = (
        "Такой файл уже был загружен" if accepted.duplicate else "Файл принят и поставлен в очередь обработки"
    )
    return RedirectResponse(f"/c/{page.cabinet.id}/uploads?message={note}", status_code=303)


# -- import of the lists --------------------------------------------------------------------------


@router.get("/c/{cabinet_id}/import", response_class=HTMLResponse)
def import_form(page: Annotated[Page, Depends(cabinet_page)]) -> Response:
    _require_admin(page)
    return page.render(
        "import.html", title="Импорт списков", kinds=KINDS, templates=TEMPLATE_KINDS, report=""
    )


@router.post("/c/{cabinet_id}/import", response_class=HTMLResponse)
def import_lists(
    page: Annotated[Page, Depends(cabinet_page)],
    file: Annotated[list[UploadFile], File()],
    kind: Annotated[str, Form()] = "auto",
    dry_run: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _require_admin(page)
    require_csrf(page, csrf_token)
    if kind != "auto" and kind not in KINDS:
        raise HTTPException(422, "Неизвестный вид списка")
    sources: list[Source] = []
    total = 0
    for upload in file:
        data = upload.file.read(MAX_IMPORT_BYTES + 1)
        total += len(data)
        if total > MAX_IMPORT_BYTES:
            raise HTTPException(413, "Файлы списков больше 20 МБ")
        sources.append(Source(upload.filename or "список", data))
    options = ImportOptions(
        dealer=page.dealer.code,
        cabinet=page.cabinet.name,
        kind=None if kind == "auto" else cast(Kind, kind),
        dry_run=dry_run,
    )
    report = run_import(page.services.db, page.services.box, sources, options)
    response = page.render(
        "import.html",
        title="Импорт списков",
        kinds=KINDS,
        templates=TEMPLATE_KINDS,
        report=render_import(report),
        ok=report.ok,
    )
    response.status_code = 200 if report.ok else 422
    return response


@router.get("/c/{cabinet_id}/templates/{kind}")
def template_download(
    page: Annotated[Page, Depends(cabinet_page)], kind: str, format: Annotated[str, Query()] = "xlsx"
) -> Response:
    """A list template, as in `smart template` (the original formats are CSV only)."""
    if kind not in TEMPLATE_KINDS:
        raise HTTPException(404, "Нет такого шаблона")
    fmt = "csv" if kind.startswith("original-") else format
    if fmt not in ("csv", "xlsx"):
        raise HTTPException(422, "format: ожидается csv или xlsx")
    data = formats.template(kind, cast(TemplateFormat, fmt))
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE
    filename = formats.template_filename(kind, cast(TemplateFormat, fmt))
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{ascii_name}"'}
    )


# -- silences -------------------------------------------------------------------------------------

DURATIONS = (("1h", "1 час"), ("4h", "4 часа"), ("1d", "сутки"), ("3d", "3 дня"), ("7d", "неделя"))


@router.get("/c/{cabinet_id}/silences", response_class=HTMLResponse)
def silences_page(page: Annotated[Page, Depends(cabinet_page)], message: str = "") -> Response:
    now = utcnow()
    silences = silences_in_scope(page.db, page.scope, now, include_expired=True)[:200]
    return page.render(
        "silences.html",
        title="Тишина (отключение оповещений)",
        silences=silences,
        now=now,
        clients=sorted(c.short_name for c in page.tenant.list(Client)),
        rules=sorted(RULES),
        durations=DURATIONS,
        message=message,
    )


@router.post("/c/{cabinet_id}/silences")
def silence_add(
    page: Annotated[Page, Depends(cabinet_page)],
    duration: Annotated[str, Form()],
    comment: Annotated[str, Form()],
    client: Annotated[str, Form()] = "",
    rule: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(page, csrf_token)
    if client and page.db.scalars(page.tenant.select(Client, Client.short_name == client)).first() is None:
        raise HTTPException(404, "Клиент не найден")
    if not comment.strip():
        raise HTTPException(422, "Укажите причину: её увидят коллеги")
    now = utcnow()
    with page.services.db.write() as s:
        try:
            silence = add_silence(
                s,
                author=page.info.account.login,
                ends_at=now + parse_duration(duration),
                now=now,
                dealer_code=page.dealer.code,
                cabinet_name=page.cabinet.name,
                matchers={"client": client, "rule": rule},
                comment=comment.strip(),
            )
        except AdminError as exc:
            raise HTTPException(422, str(exc)) from None
        ident = silence.id
    return RedirectResponse(
        f"/c/{page.cabinet.id}/silences?message=Тишина %23{ident} включена", status_code=303
    )


@router.post("/c/{cabinet_id}/silences/{silence_id}/expire")
def silence_expire(
    page: Annotated[Page, Depends(cabinet_page)], silence_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(page, csrf_token)
    with page.services.db.write() as s:
        found = next((x for x in silences_in_scope(s, page.scope, utcnow()) if x.id == silence_id), None)
        # A cabinet user ends only his cabinet's silences; dealer-wide ones belong to the administrator.
        if found is None or (found.cabinet_id != page.cabinet.id and page.info.account.role == "cabinet"):
            raise HTTPException(404, "Тишина не найдена")
        expire_silence(s, page.scope, silence_id, utcnow())
    return RedirectResponse(
        f"/c/{page.cabinet.id}/silences?message=Тишина %23{silence_id} снята", status_code=303
    )
