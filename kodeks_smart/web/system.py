"""Liveness, readiness and Prometheus metrics of the SMART process itself."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kodeks_smart.runtime import Services
from kodeks_smart.store import migrate

router = APIRouter()


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is alive and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migrations' head."""
    svc = services(request)
    try:
        svc.db.ping()
        current = migrate.current_revision(svc.db)
    except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
        return JSONResponse(
            {"status": "unavailable", "error": f"база данных недоступна: {type(exc).__name__}"},
            status_code=503,
        )
    head = migrate.head_revision(svc.db)
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "error": "схема БД не обновлена: выполните `smart db upgrade`",
                "revision": current,
                "head": head,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "revision": current})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(services(request).registry), media_type=CONTENT_TYPE_LATEST)
