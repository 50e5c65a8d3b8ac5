"""Request dependencies: services, the authenticated account and its cabinet scope.

The JSON admin API authenticates with HTTP Basic over an account's login and password (argon2id
verified). Repeated failures from one address are slowed down by a token bucket. The web cabinet
(session cookies, CSRF) builds on the same `Principal`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from kodeks_smart.lib.ratelimit import KeyedRateLimiter
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.scope import Scope, Tenant

UNAUTHORIZED = {"WWW-Authenticate": 'Basic realm="SMART", charset="UTF-8"'}


def get_services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


@dataclass(frozen=True)
class Principal:
    account_id: int
    login: str
    role: str
    dealer_id: int | None
    scope: Scope

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def is_admin(self) -> bool:
        """Operators and dealer admins may change lists, tokens and mailboxes."""
        return self.role in ("operator", "dealer-admin")


def _login_limiter(request: Request) -> KeyedRateLimiter:
    limiter: KeyedRateLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        # 10 failed attempts at once, then one every 6 seconds, per client address.
        limiter = KeyedRateLimiter(capacity=10, refill_per_second=1 / 6)
        request.app.state.login_limiter = limiter
    return limiter


def _decode_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


async def require_principal(request: Request, services: Services = Depends(get_services)) -> Principal:
    """The account behind the request's Basic credentials, or 401 (429 after repeated failures)."""
    creds = _decode_basic(request.headers.get("authorization", ""))
    if creds is None:
        raise HTTPException(401, "Требуется вход: укажите логин и пароль SMART", headers=UNAUTHORIZED)
    address = request.client.host if request.client else "unknown"
    limiter = _login_limiter(request)
    if not limiter.allowed(address, consume=False):
        raise HTTPException(429, "Слишком много неудачных попыток входа, повторите позже")

    def check() -> Principal | None:
        with services.db.write() as s:
            account = admin.authenticate(s, services.hashing, *creds)
            if account is None:
                return None
            return Principal(
                account.id, account.login, account.role, account.dealer_id, Scope.for_account(s, account)
            )

    principal = await asyncio.to_thread(check)
    if principal is None:
        limiter.allowed(address)  # a failure consumes a token
        raise HTTPException(401, "Неверный логин или пароль", headers=UNAUTHORIZED)
    return principal


async def require_admin(principal: Principal = Depends(require_principal)) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "Действие доступно администратору дистрибьютора или оператору")
    return principal


def tenant_session(
    principal: Principal = Depends(require_principal), services: Services = Depends(get_services)
) -> Iterator[Tenant]:
    """A read session confined to the principal's scope (sync dependency: runs in the thread pool)."""
    with services.db.session() as session:
        yield Tenant(session, principal.scope)


def write_session(services: Services = Depends(get_services)) -> Iterator[Session]:
    with services.db.write() as session:
        yield session
