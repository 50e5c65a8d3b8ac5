"""The ``auth`` and ``limit`` checks: the test user ``smartlogin`` logs in through ``/users/login.asp``.

A login refused because every licensed seat is taken ("toomanyusers", "максимальное число подключений",
"нет свободных рабочих мест", spec §6) is the ``limit`` check failing, not ``auth``: the test user is the
N+1-th user (spec §7.3). Wrong credentials ("Ошибка авторизации", or the login form shown again) fail
``auth``.

SMART never keeps a seat (spec §2, [010]): a successful login is always followed by
``/users/logout.asp`` (`logout`), also when a later step of the cycle fails, so the seat is held only for
the second or so the session checks take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from kodeks_smart.probes.http import Connection, HttpError, describe
from kodeks_smart.probes.mainpage import LOGIN_FORM_MARKERS, MAINTENANCE_MARKERS, has, page_text
from kodeks_smart.probes.model import AbnormalState, Check, Report, expected, fail, ok, unknown

SEATS_MARKERS = ("toomanyusers", "максимальное число подключений", "нет свободных рабочих мест")
AUTH_ERROR_MARKERS = ("ошибка авторизации",)
_TAG = re.compile(r"<[^>]+>")


@dataclass(slots=True)
class Login:
    """Outcome of the login attempt: logged in (``location`` is where the server sent the user) or not."""

    logged_in: bool
    location: str | None = None


def _error_text(text: str) -> str:
    """The first sentence around an error marker, without tags (for the detail)."""
    plain = " ".join(_TAG.sub(" ", text).split())
    for marker in (*AUTH_ERROR_MARKERS, *SEATS_MARKERS):
        at = plain.find(marker)
        if at >= 0:
            return plain[at : at + 160].split(". ", 1)[0]
    return ""


async def login(report: Report, conn: Connection, user: str, password: str) -> Login:
    """POST the login form; adds ``auth`` and ``limit`` to ``report``."""
    catalog = conn.endpoint.catalog
    body = urlencode({"user": user, "pass": password, "path": catalog}).encode()
    try:
        response = await conn.request(
            "POST",
            "/users/login.asp",
            headers=[("Content-Type", "application/x-www-form-urlencoded")],
            body=body,
        )
    except HttpError as exc:
        report.add(fail(Check.AUTH, exc.kind, f"вход пользователя {user}: {describe(exc)}"))
        report.add(unknown(Check.LIMIT, "вход тестового пользователя не выполнен"))
        return Login(False)

    code = response.status
    if code in (301, 302, 303, 307, 308):
        location = response.header("location")
        _logged_in(report, user, response.elapsed)
        return Login(True, location)
    text = page_text(response)
    if has(text, SEATS_MARKERS):
        why = "нет свободных рабочих мест: вход тестового пользователя отклонён"
        detail = _error_text(text)
        report.add(fail(Check.LIMIT, "0", f"{why} ({detail})" if detail else why))
        report.add(unknown(Check.AUTH, "вход отклонён из-за нехватки мест, учётные данные не проверены"))
        report.enter(AbnormalState.LICENCES_EXHAUSTED, code, why)
        return Login(False)
    if code == 503 and has(text, MAINTENANCE_MARKERS):
        report.add(expected(Check.AUTH, str(code), "вход закрыт: режим тех.обслуживания"))
        report.add(unknown(Check.LIMIT, "вход закрыт: режим тех.обслуживания"))
        return Login(False)
    if code >= 400:
        report.add(fail(Check.AUTH, str(code), f"вход пользователя {user}: код {code}"))
        report.add(unknown(Check.LIMIT, "вход тестового пользователя не выполнен"))
        return Login(False)
    if has(text, AUTH_ERROR_MARKERS) or all(marker in text for marker in LOGIN_FORM_MARKERS):
        detail = _error_text(text) or "сервер снова показал форму входа"
        report.add(fail(Check.AUTH, "refused", f"вход пользователя {user} не выполнен: {detail}"))
        report.add(unknown(Check.LIMIT, "вход тестового пользователя не выполнен"))
        return Login(False)
    _logged_in(report, user, response.elapsed)
    return Login(True, None)


def _logged_in(report: Report, user: str, seconds: float) -> None:
    report.add(ok(Check.AUTH, "ok", f"пользователь {user} вошёл ({seconds * 1000:.0f} мс)", seconds))
    report.add(ok(Check.LIMIT, "ok", "свободные рабочие места есть"))


def user_page_path(conn: Connection, location: str | None) -> str:
    """The catalog page to open as the logged-in user: the redirect target on this server, or the catalog."""
    if location:
        parts = urlsplit(location)
        if not parts.netloc or parts.netloc == conn.endpoint.hostport:
            path = parts.path or "/"
            return path + (f"?{parts.query}" if parts.query else "")
    return conn.endpoint.catalog + "/"


async def logout(conn: Connection) -> bool:
    """End the test user's session so that it holds no seat; True if the server answered."""
    try:
        await conn.request("GET", "/users/logout.asp")
    except HttpError:
        return False
    return True
