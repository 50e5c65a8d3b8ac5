"""Browser sessions of the web cabinet: random cookie tokens, hashed at rest, sliding expiry, CSRF."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kodeks_smart.lib.secrets import hash_token
from kodeks_smart.store.models import Account
from kodeks_smart.store.web_models import WebSession

COOKIE = "smart_session"
IDLE_LIFETIME = timedelta(hours=12)
MAX_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    account: Account
    csrf_token: str
    cabinet_id: int | None


def create_session(
    session: Session, account: Account, now: datetime, *, address: str = "", user_agent: str = ""
) -> str:
    """Open a session for ``account``; returns the cookie token (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=hash_token(token),
            account_id=account.id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            expires_at=now + IDLE_LIFETIME,
            address=address[:64],
            user_agent=user_agent[:300],
        )
    )
    session.flush()
    return token


def load_session(session: Session, token: str | None, now: datetime) -> SessionInfo | None:
    """The live session behind a cookie token (extending its idle expiry), or None."""
    if not token or len(token) > 200:
        return None
    row = session.scalars(select(WebSession).where(WebSession.token_hash == hash_token(token))).first()
    if row is None:
        return None
    if row.expires_at <= now or row.created_at + MAX_LIFETIME <= now:
        session.delete(row)
        return None
    account = session.get(Account, row.account_id)
    if account is None or account.disabled:
        session.delete(row)
        return None
    if (now - row.last_seen_at) > timedelta(minutes=1):
        row.last_seen_at = now
        row.expires_at = min(now + IDLE_LIFETIME, row.created_at + MAX_LIFETIME)
    return SessionInfo(row.id, account, row.csrf_token, row.cabinet_id)


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))


def end_all_sessions(session: Session, account_id: int) -> None:
    """Log an account out everywhere (after a password change or when it is disabled)."""
    session.execute(delete(WebSession).where(WebSession.account_id == account_id))


def remember_cabinet(session: Session, session_id: int, cabinet_id: int) -> None:
    row = session.get(WebSession, session_id)
    if row is not None:
        row.cabinet_id = cabinet_id


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")


def purge_expired(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
