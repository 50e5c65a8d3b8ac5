"""One error handler: a Russian HTML page for the browser, JSON for the APIs and agents."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kodeks_smart.web.cabinet import TEMPLATES, LoginRequired

#: Paths whose clients are programs: always JSON (or the body the route chose itself).
MACHINE_PREFIXES = ("/api/", "/upload", "/files/", "/healthz", "/readyz", "/metrics")

TITLES = {
    400: "Неверный запрос",
    401: "Требуется вход",
    403: "Доступ запрещён",
    404: "Страница не найдена",
    405: "Метод не поддерживается",
    413: "Слишком большой файл",
    422: "Неверные параметры запроса",
    429: "Слишком много запросов",
}


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": "Требуется вход"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        message = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Ошибка")
        if exc.status_code == 404 and message == "Not Found":
            message = "Такой страницы нет или у вас нет к ней доступа."
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {"title": TITLES.get(exc.status_code, "Ошибка"), "message": message},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {"title": TITLES[422], "message": "Проверьте параметры в адресе страницы."},
            status_code=422,
        )
