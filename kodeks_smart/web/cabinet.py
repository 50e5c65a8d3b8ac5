"""The web cabinet (личный кабинет): login, logout, cabinet switching and the dashboards.

Every cabinet page lives under ``/c/{cabinet_id}/``. The page dependency resolves the session, the
account's scope and the cabinet; a cabinet outside the scope is answered exactly like a missing one
(404), so a user of cabinet A cannot even learn which ids cabinet B's objects have.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import or_
from sqlalchemy.orm import Session

from kodeks_smart.alerts.catalogue import RULES
from kodeks_smart.lib.ratelimit import KeyedRateLimiter
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.models import Cabinet, Client, Dealer, Manager
from kodeks_smart.store.scope import Scope, Tenant
from kodeks_smart.store.types import utcnow
from kodeks_smart.web import nav, sessions
from kodeks_smart.web.deps import get_services
from kodeks_smart.web.tables import Column, export, paginate

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["nav_menu"] = nav.menu
LOGIN_CSRF_COOKIE = "smart_login_csrf"

router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@dataclass
class Page:
    """Everything a cabinet page needs: who, which cabinet, and a scoped session."""

    request: Request
    services: Services
    db: Session
    info: sessions.SessionInfo
    scope: Scope
    cabinet: Cabinet
    dealer: Dealer
    cabinets: list[Cabinet] = field(default_factory=list)

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.db, self.scope)

    def render(self, template: str, **context: Any) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "page": self,
                "account": self.info.account,
                "cabinet": self.cabinet,
                "dealer": self.dealer,
                "cabinets": self.cabinets,
                "csrf_token": self.info.csrf_token,
                **context,
            },
        )


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_limiter(request: Request) -> KeyedRateLimiter:
    limiter: KeyedRateLimiter | None = getattr(request.app.state, "web_login_limiter", None)
    if limiter is None:
        limiter = KeyedRateLimiter(capacity=10, refill_per_second=1 / 6)
        request.app.state.web_login_limiter = limiter
    return limiter


def _session_info(
    request: Request, services: Services, cabinet_id: int | None = None
) -> sessions.SessionInfo:
    """The request's session, checked and touched in a short write transaction of its own, so that
    the page itself reads without holding SQLite's write lock (a page may write in its own transaction)."""
    with services.db.write() as db:
        info = sessions.load_session(db, request.cookies.get(sessions.COOKIE), utcnow())
        if info is not None and cabinet_id is not None and info.cabinet_id != cabinet_id:
            sessions.remember_cabinet(db, info.session_id, cabinet_id)
    if info is None:
        raise LoginRequired(str(request.url.path))
    return info


def page_db(services: Services = Depends(get_services)) -> Any:
    """A read session for the page (reads see one consistent snapshot)."""
    with services.db.session() as session:
        yield session


def cabinet_page(
    cabinet_id: int,
    request: Request,
    services: Services = Depends(get_services),
    db: Session = Depends(page_db),
) -> Page:
    info = _session_info(request, services)
    account_scope = Scope.for_account(db, info.account)
    visible = Tenant(db, account_scope).list(Cabinet, order_by=Cabinet.name)
    cabinet = next((c for c in visible if c.id == cabinet_id), None)
    if cabinet is None:
        raise HTTPException(404, "Кабинет не найден")
    if info.cabinet_id != cabinet.id:
        _session_info(request, services, cabinet.id)
    dealer = db.get(Dealer, cabinet.dealer_id)
    assert dealer is not None
    scope = account_scope.narrowed_to(cabinet.id, cabinet.dealer_id)
    return Page(request, services, db, info, scope, cabinet, dealer, visible)


def require_csrf(page: Page, token: str | None) -> None:
    if not sessions.csrf_ok(page.info.csrf_token, token):
        raise HTTPException(403, "Форма устарела: обновите страницу и повторите действие")


# -- login / logout -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", error: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = TEMPLATES.TemplateResponse(
        request, "login.html", {"csrf_token": token, "next": _safe_next(next), "error": error}
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


def _safe_next(url: str) -> str:
    # Only local paths: never redirect a freshly logged-in user to another site.
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"


@router.post("/login")
async def login(
    request: Request,
    login: str = Form(...),
    password: str = Form(...),
    csrf_token: str = Form(""),
    next: str = Form("/"),
    services: Services = Depends(get_services),
) -> Response:
    if not sessions.csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return login_form(request, next, "Форма входа устарела, попробуйте ещё раз")
    address = _client_address(request)
    limiter = _login_limiter(request)
    if not limiter.allowed(address, consume=False):
        response = login_form(request, next, "Слишком много неудачных попыток. Подождите минуту.")
        response.status_code = 429
        return response

    def check() -> str | None:
        with services.db.write() as s:
            account = admin.authenticate(s, services.hashing, login.strip(), password)
            if account is None:
                return None
            return sessions.create_session(
                s, account, utcnow(), address=address, user_agent=request.headers.get("user-agent", "")
            )

    token = await asyncio.to_thread(check)
    if token is None:
        limiter.allowed(address)
        response = login_form(request, next, "Неверный логин или пароль")
        response.status_code = 401
        return response
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    redirect.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=services.settings.effective_public_url.startswith("https://"),
        max_age=int(sessions.MAX_LIFETIME.total_seconds()),
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE)
    return redirect


@router.post("/logout")
def logout(
    request: Request, csrf_token: str = Form(""), services: Services = Depends(get_services)
) -> Response:
    with services.db.write() as db:
        info = sessions.load_session(db, request.cookies.get(sessions.COOKIE), utcnow())
        if info is not None and sessions.csrf_ok(info.csrf_token, csrf_token):
            sessions.end_session(db, request.cookies.get(sessions.COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE)
    return response


@router.get("/")
def home(
    request: Request, services: Services = Depends(get_services), db: Session = Depends(page_db)
) -> Response:
    info = _session_info(request, services)
    visible = Tenant(db, Scope.for_account(db, info.account)).list(Cabinet, order_by=Cabinet.name)
    if not visible:
        return TEMPLATES.TemplateResponse(
            request, "error.html", {"title": "Нет кабинетов", "message": "Вам не выдан ни один кабинет."}, 403
        )
    target = next((c for c in visible if c.id == info.cabinet_id), visible[0])
    return RedirectResponse(f"/c/{target.id}/alerts", status_code=303)


# -- «Текущие аварийные ситуации» -------------------------------------------------------------------

ALERT_COLUMNS = [
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
    Column("priority", "Пр-т", fmt=lambda p: f"К{p}"),
    Column("severity", "Важность"),
    Column("rule", "Тип аварии"),
    Column(
        "status",
        "Состояние",
        fmt=lambda s: {"firing": "активна", "pending": "ожидает", "resolved": "устранена"}[s],
    ),
    Column("since", "Начало"),
    Column("resolved_at", "Устранена"),
    Column("text", "Описание"),
    Column("clientname", "clientname"),
    Column("regnum", "regnum"),
    Column("catalog", "catalog"),
    Column("url", "url"),
    Column("user", "user"),
    Column("filename", "filename"),
]


def alert_rows(page: Page, days: int) -> list[dict[str, Any]]:
    since = utcnow() - timedelta(days=days)
    t = page.tenant
    stmt = t.select(
        AlertState,
        or_(AlertState.status != "resolved", AlertState.resolved_at >= since),
    )
    clients = {c.id: c for c in t.list(Client)}
    managers = {m.id: m.name for m in t.list(Manager)}
    rows = []
    for a in page.db.scalars(stmt):
        labels = a.labels or {}
        client = clients.get(a.client_id) if a.client_id else None
        rows.append(
            {
                "id": a.id,
                "client": client.short_name if client else labels.get("client", ""),
                "manager": managers.get(client.manager_id, "") if client and client.manager_id else "",
                "priority": a.priority,
                "severity": a.severity,
                "rule": a.rule,
                "status": a.status,
                "since": a.fired_at or a.started_at,
                "resolved_at": a.resolved_at,
                "text": a.summary,
                **{k: labels.get(k) for k in ("clientname", "regnum", "catalog", "url", "user", "filename")},
            }
        )
    return rows


def _filtered(rows: list[dict[str, Any]], filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = rows
    for key, wanted in filters.items():
        if wanted:
            allowed = set(wanted)
            out = [r for r in out if str(r.get(key)) in allowed]
    return out


@router.get("/c/{cabinet_id}/alerts", response_class=HTMLResponse)
def alerts_page(
    page: Page = Depends(cabinet_page),
    rule: list[str] = Query(default=[]),
    priority: list[str] = Query(default=[]),
    severity: list[str] = Query(default=[]),
    client: list[str] = Query(default=[]),
    manager: list[str] = Query(default=[]),
    status: list[str] = Query(default=[]),
    days: int = Query(30, ge=1, le=400),
    sort: str = "priority",
    desc: bool = False,
    p: int = 1,
    per_page: int = 50,
    format: str = "",
) -> Response:
    rows = alert_rows(page, days)
    options = {
        "rule": sorted({r["rule"] for r in rows} | set(RULES)),
        "priority": [str(i) for i in range(1, 6)],
        "severity": ["critical", "warning", "info"],
        "client": sorted({r["client"] for r in rows if r["client"]}),
        "manager": sorted({r["manager"] for r in rows if r["manager"]}),
        "status": ["firing", "pending", "resolved"],
    }
    filters = {
        "rule": rule,
        "priority": priority,
        "severity": severity,
        "client": client,
        "manager": manager,
        "status": status,
    }
    rows = _filtered(rows, filters)
    if format in ("csv", "xlsx"):
        return export(ALERT_COLUMNS, rows, format, f"avarii-{page.cabinet.id}")
    table = paginate(ALERT_COLUMNS, rows, sort=sort, desc=desc, page=p, per_page=per_page)
    query = [(k, v) for k, values in filters.items() for v in values] + [("days", str(days))]
    return page.render(
        "alerts.html",
        title="Текущие аварийные ситуации",
        table=table,
        options=options,
        filters=filters,
        days=days,
        query=urlencode(query),
        firing=sum(1 for r in rows if r["status"] == "firing"),
    )
