"""The JSON admin API of onboarding: import lists, download templates and agent kits.

Every route needs an administrator (operator or dealer admin, HTTP Basic, `deps.require_admin`) and is
confined to the principal's scope: a dealer admin works with his own dealer only, and a dealer outside
the scope answers 404 exactly like a dealer that does not exist.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.onboarding import formats, kits
from kodeks_smart.onboarding.formats import KINDS, TEMPLATE_KINDS, Kind, TemplateFormat
from kodeks_smart.onboarding.plan import ImportOptions
from kodeks_smart.onboarding.service import Source, run_import
from kodeks_smart.runtime import Services
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.models import Dealer
from kodeks_smart.web.deps import Principal, get_services, require_admin

router = APIRouter(prefix="/api/v1", tags=["onboarding"])

MAX_IMPORT_BYTES = 20 * 1024 * 1024
NOT_FOUND = "Дистрибьютор не найден"

Admin = Annotated[Principal, Depends(require_admin)]
ServicesDep = Annotated[Services, Depends(get_services)]


def _dealer(session: Session, principal: Principal, code: str | None) -> Dealer:
    """The dealer the request is about: the operator names it, a dealer admin has his own."""
    if code:
        dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    elif principal.dealer_id is not None:
        dealer = session.get(Dealer, principal.dealer_id)
    else:
        raise HTTPException(422, "Укажите дистрибьютора (параметр dealer)")
    if dealer is None or not principal.scope.allows(dealer.id):
        raise HTTPException(404, NOT_FOUND)
    return dealer


def _dealer_code(services: Services, principal: Principal, code: str | None) -> str:
    with services.db.session() as session:
        return _dealer(session, principal, code).code


@router.post("/import")
def import_lists(
    principal: Admin,
    services: ServicesDep,
    file: Annotated[list[UploadFile], File(description="CSV or XLSX files with the lists")],
    dealer: Annotated[str | None, Form()] = None,
    cabinet: Annotated[str | None, Form()] = None,
    kind: Annotated[str, Form()] = "auto",
    dry_run: Annotated[bool, Form()] = False,
    prune: Annotated[bool, Form()] = False,
    allow_shared_email: Annotated[list[str] | None, Form()] = None,
) -> JSONResponse:
    """Validate every list, then apply all of it in one transaction or nothing; answers the report.

    200 — applied (or a clean dry run); 422 — rejected, nothing changed; the body lists every problem.
    """
    if kind != "auto" and kind not in KINDS:
        raise HTTPException(422, f"kind: ожидается auto или один из: {', '.join(KINDS)}")
    code = _dealer_code(services, principal, dealer)
    sources: list[Source] = []
    total = 0
    for upload in file:
        data = upload.file.read(MAX_IMPORT_BYTES + 1)
        total += len(data)
        if total > MAX_IMPORT_BYTES:
            raise HTTPException(413, f"Файлы списков больше {MAX_IMPORT_BYTES // (1024 * 1024)} МБ")
        sources.append(Source(upload.filename or "список", data))
    options = ImportOptions(
        dealer=code,
        cabinet=cabinet or None,
        kind=None if kind == "auto" else cast(Kind, kind),
        dry_run=dry_run,
        prune=prune,
        allow_shared_emails=frozenset(a.strip().lower() for a in allow_shared_email or [] if a.strip()),
    )
    report = run_import(services.db, services.box, sources, options)
    return JSONResponse(report.as_dict(), status_code=200 if report.ok else 422)


@router.get("/templates/{kind}")
def download_template(principal: Admin, kind: str, format: Annotated[str, Query()] = "xlsx") -> Response:
    """A list template: SMART's own (CSV or XLSX with Russian headers) or the original format (CSV)."""
    if kind not in TEMPLATE_KINDS:
        raise HTTPException(404, f"Нет такого шаблона: ожидается один из {', '.join(TEMPLATE_KINDS)}")
    fmt = "csv" if kind.startswith("original-") else format
    if fmt not in ("csv", "xlsx"):
        raise HTTPException(422, "format: ожидается csv или xlsx")
    try:
        data = formats.template(kind, cast(TemplateFormat, fmt))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        data,
        media_type=media,
        headers=_attachment(formats.template_filename(kind, cast(TemplateFormat, fmt))),
    )


@router.get("/kits/{client}")
def download_kit(
    principal: Admin,
    services: ServicesDep,
    client: str,
    os: Annotated[str, Query(description="windows | linux")],
    dealer: Annotated[str | None, Query()] = None,
    server_url: Annotated[str | None, Query()] = None,
    proxy: Annotated[str | None, Query()] = None,
    pk: Annotated[str | None, Query()] = None,
    install_dir: Annotated[str | None, Query()] = None,
    quiet_window: Annotated[str | None, Query()] = None,
) -> Response:
    """A ZIP with the client's agent kit. The upload token is left as a placeholder to fill in."""
    if os not in ("windows", "linux"):
        raise HTTPException(422, "os: ожидается windows или linux")
    with services.db.session() as session:
        dealer_row = _dealer(session, principal, dealer)
        try:
            request = kits.request_for_client(
                session,
                services.box,
                dealer_row,
                client,
                cast(kits.OS, os),
                server_url=server_url or services.settings.effective_public_url,
                pk_url=pk,
                proxy=proxy,
                install_dir=install_dir,
                quiet_window=quiet_window,
            )
        except kits.ClientNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except AdminError as exc:
            raise HTTPException(422, str(exc)) from None
    folder = f"smart-{request.client}-{os}"
    data = kits.kit_zip(kits.build_kit(request), folder)
    return Response(data, media_type="application/zip", headers=_attachment(folder + ".zip"))


def _attachment(filename: str) -> dict[str, str]:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace(" ", "_")
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    }
