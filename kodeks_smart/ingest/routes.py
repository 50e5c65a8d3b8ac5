"""The agents' HTTP API, wire-compatible with the deployed smartupload / smartstatus scripts.

``POST /upload?token=TOKEN`` (headers ``upload: yes``, ``dealer: CODE``, multipart field ``file``) answers
``200 text/plain; charset=utf-8`` with exactly ``{"ok":true,"path":"/files/NAME"}``;
``HEAD|GET /files/NAME?token=TOKEN`` (header ``dealer``) says whether the file landed.
Every refusal is a JSON body ``{"ok":false,"error":CODE,"message":RU,"message_en":EN}``.

The handler never parses the report: it streams the multipart body into the spool (size limit enforced
while reading), makes the file durable, records it with its queue row, wakes the consumer and answers.
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect

from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import wakeup_for
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.ingest.errors import IngestError, bad_credentials, too_large, too_many_failures
from kodeks_smart.ingest.names import UploadName, missing_file, parse_upload_name
from kodeks_smart.ingest.spool import SpoolTooLarge, SpoolWriter
from kodeks_smart.lib.ratelimit import KeyedRateLimiter
from kodeks_smart.runtime import Services

log = logging.getLogger(__name__)
router = APIRouter()

#: Room for the multipart framing and small extra fields on top of the file limit.
MULTIPART_OVERHEAD = 1024 * 1024
_MEDIA_TYPES = {
    "zip": "application/zip",
    "xml": "text/xml; charset=utf-8",
    "status": "text/plain; charset=utf-8",
}


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def _limiter(request: Request) -> KeyedRateLimiter:
    limiter: KeyedRateLimiter | None = getattr(request.app.state, "upload_limiter", None)
    if limiter is None:
        # 20 failed attempts at once, then one every 3 seconds, per client address.
        limiter = KeyedRateLimiter(capacity=20, refill_per_second=1 / 3)
        request.app.state.upload_limiter = limiter
    return limiter


def error_response(exc: IngestError) -> JSONResponse:
    body = {"ok": False, "error": exc.code, "message": exc.message, "message_en": exc.message_en}
    return JSONResponse(body, status_code=exc.status)


def success_body(filename: str) -> bytes:
    """The agents' expected answer, byte for byte: compact JSON, no spaces."""
    return json.dumps(
        {"ok": True, "path": f"/files/{filename}"}, separators=(",", ":"), ensure_ascii=False
    ).encode()


async def _authenticate(request: Request, services: Services) -> service.DealerIdentity:
    address = request.client.host if request.client else "unknown"
    limiter = _limiter(request)
    if not limiter.allowed(address, consume=False):
        raise too_many_failures()
    dealer = await asyncio.to_thread(
        service.authenticate_dealer,
        services.db,
        request.headers.get("dealer"),
        request.query_params.get("token"),
    )
    if dealer is None:
        limiter.allowed(address)  # a failure consumes a token
        raise bad_credentials()
    return dealer


class _FormReader:
    """Feeds a multipart body to python-multipart and spools the part named ``file`` as it arrives."""

    def __init__(self, boundary: bytes, ctx: IngestContext) -> None:
        self.ctx = ctx
        self.name: UploadName | None = None
        self.writer: SpoolWriter | None = None
        self.ended = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._other_bytes = 0
        self.parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_cb,
                "on_header_value": self._header_value_cb,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_end": self._end,
            },
        )

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != b"file":
            return
        if self.name is not None:
            raise IngestError(
                400,
                "several-files",
                "В запросе несколько полей file: загрузите по одному файлу",
                "several files",
            )
        raw = options.get(b"filename")
        filename = _decode_filename(raw) if raw is not None else None
        self.name = parse_upload_name(filename)
        self.writer = SpoolWriter(self.ctx.data_dir, self.ctx.max_upload_bytes)
        self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file and self.writer is not None:
            self.writer.write(data[start:end])
        else:
            self._other_bytes += end - start
            if self._other_bytes > MULTIPART_OVERHEAD:
                raise too_large(self.ctx.max_upload_bytes)

    def _end(self) -> None:
        self.ended = True

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def _decode_filename(raw: bytes) -> str:
    # A name with a path in it is not shortened here: the name check refuses it (400).
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


async def _receive(request: Request, ctx: IngestContext) -> _FormReader:
    content_type = request.headers.get("content-type", "")
    media, options = parse_options_header(content_type.encode("latin-1", errors="replace"))
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise IngestError(
            400,
            "not-multipart",
            "Ожидается multipart/form-data с полем file (curl -F file=@КЛИЕНТ.zip)",
            "expected multipart/form-data with a field named file",
        )
    declared = request.headers.get("content-length")
    limit = ctx.max_upload_bytes + MULTIPART_OVERHEAD
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(ctx.max_upload_bytes)
    reader = _FormReader(boundary, ctx)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large(ctx.max_upload_bytes)
            reader.parser.write(chunk)
        reader.parser.finalize()
    except SpoolTooLarge:
        reader.abort()
        raise too_large(ctx.max_upload_bytes) from None
    except BaseException:
        reader.abort()
        raise
    if reader.name is None or reader.writer is None:
        reader.abort()
        raise missing_file()
    if not reader.ended:
        reader.abort()
        raise IngestError(400, "incomplete", "Тело запроса оборвано", "the request body is incomplete")
    return reader


@router.post("/upload", include_in_schema=False)
async def upload(request: Request) -> Response:
    """Accept one agent file: auth, stream to the spool, fsync, record with its queue row, answer."""
    services = _services(request)
    ctx = IngestContext.from_services(services)
    try:
        dealer = await _authenticate(request, services)
        if request.headers.get("upload", "").strip().lower() != "yes":
            raise IngestError(
                400, "upload-header", "Нет заголовка «upload: yes»", "missing header 'upload: yes'"
            )
        reader = await _receive(request, ctx)
    except IngestError as exc:
        return error_response(exc)
    except ClientDisconnect:
        return Response(status_code=400)
    assert reader.name is not None and reader.writer is not None
    name = reader.name
    try:
        spooled = await asyncio.to_thread(reader.writer.commit, dealer.code, name.fmt)
        accepted = await asyncio.to_thread(
            service.record_upload,
            services.db,
            dealer,
            name,
            spooled,
            source="agent",
            remote_addr=request.client.host if request.client else None,
        )
    except (OSError, SQLAlchemyError):
        reader.abort()
        log.exception("upload of %s for dealer %s could not be stored", name.filename, dealer.code)
        return error_response(
            IngestError(
                503,
                "storage",
                "Файл не сохранён из-за временной ошибки хранилища, повторите загрузку",
                "the file could not be stored, retry the upload",
            )
        )
    wakeup_for(services.db).notify()
    log.info(
        "upload %s",
        name.filename,
        extra={"dealer": dealer.code, "upload_id": accepted.upload_id, "status": accepted.status},
    )
    if accepted.status == "quarantined":
        body = {
            "ok": True,
            "path": f"/files/{name.filename}",
            "quarantined": True,
            "message": f"Клиент {name.client_name!r} не зарегистрирован: файл сохранён в карантине и будет"
            " обработан после регистрации клиента",
            "message_en": "unknown client name: the file is kept in quarantine and will be processed once"
            " the client is registered",
        }
        return JSONResponse(body, status_code=202)
    return Response(success_body(name.filename), status_code=200, media_type="text/plain; charset=utf-8")


@router.api_route("/files/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def files(name: str, request: Request) -> Response:
    """200 (GET: the file) when this dealer's file of that name has landed, 404 when not."""
    services = _services(request)
    try:
        dealer = await _authenticate(request, services)
    except IngestError as exc:
        return error_response(exc)
    landed = await asyncio.to_thread(service.find_landed, services.db, dealer.id, name)
    ctx = IngestContext.from_services(services)
    path = service.raw_file_path(ctx, landed) if landed is not None else None
    if landed is None or path is None:
        return error_response(
            IngestError(404, "not-found", f"Файл {name!r} не найден", "the file has not been uploaded")
        )
    media_type = _MEDIA_TYPES.get(landed.fmt, "application/octet-stream")
    headers = {"x-smart-status": landed.status}
    if request.method == "HEAD":
        headers["content-length"] = str(landed.size)
        return Response(status_code=200, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers, filename=name)
