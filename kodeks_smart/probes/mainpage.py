"""One fetch of the main page answers four checks: ``http200``, ``maintenance``, ``needsupport``, ``proxy``.

Markers (spec §6, and the simulator's assumed texts where the real ones are not published):

* a Kodeks answer: ``Server: WWW-Kodeks/…``, or the ``Kodeks``/``KodeksData`` cookies, or the login form
  (``id="user"`` + "Авторизация") — a reverse proxy in front may replace the Server header, not the rest;
* maintenance: "тех.обслуживания" / "технического обслуживания" on the page (HTTP 503 observed, [061]);
* need support: "Требуется обслуживание" / "необходимо сервисное обслуживание" on a working main page;
* server did not start: "Сервер не стартовал"; server errors: a 5xx from Kodeks itself.

Anything else that answers (nginx's 502, a foreign page) means the reverse proxy works and the Kodeks
server behind it does not: ``proxy`` fails, and the checks above it are unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from kodeks_smart.probes.http import Connection, HttpError, Response, describe
from kodeks_smart.probes.model import AbnormalState, Check, Report, expected, fail, ok, unknown

MAINTENANCE_MARKERS = ("тех.обслуживани", "тех. обслуживани", "технического обслуживани")
NEED_SUPPORT_MARKERS = ("требуется обслуживание", "необходимо сервисное обслуживание")
NOT_STARTED_MARKERS = ("сервер не стартовал",)
SERVER_ERROR_MARKERS = ("ошибки на сервере",)
LOGIN_FORM_MARKERS = ('id="user"', "авторизац")


def decode_page(response: Response) -> str:
    """The body as text: UTF-8, or Windows-1251 when it is not valid UTF-8."""
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        return response.body.decode("cp1251", errors="replace")


def page_text(response: Response) -> str:
    """The body as lower-case text, for marker search."""
    return decode_page(response).lower()


def is_kodeks(response: Response, text: str) -> bool:
    server = response.header("server") or ""
    if server.lower().startswith("www-kodeks"):
        return True
    if any(value.startswith(("KodeksData=", "Kodeks=")) for value in response.header_all("set-cookie")):
        return True
    return all(marker in text for marker in LOGIN_FORM_MARKERS)


def has(text: str, markers: tuple[str, ...]) -> bool:
    return any(marker in text for marker in markers)


@dataclass(slots=True)
class MainPage:
    """What the main page told: may the test user try to log in, and is the server in maintenance."""

    kodeks_answers: bool
    maintenance: bool
    status: int | None


def classify_main_page(report: Report, outcome: Response | HttpError, url: str) -> MainPage:
    """Add the four main-page checks and the states they show to ``report``."""
    if isinstance(outcome, HttpError):
        why = f"главная страница {url}: {describe(outcome)}"
        report.add(fail(Check.HTTP200, outcome.kind, why))
        because = "главная страница не получена"
        for check in (Check.PROXY, Check.MAINTENANCE, Check.NEEDSUPPORT):
            report.add(unknown(check, because))
        report.enter(AbnormalState.SERVER_DOWN, None, why)
        return MainPage(False, False, None)

    response = outcome
    code = response.status
    text = page_text(response)
    if not is_kodeks(response, text):
        server = response.header("server") or "неизвестный сервер"
        why = f"{url} отвечает {server} с кодом {code}, сервер ПК за ним не отвечает"
        report.add(fail(Check.PROXY, str(code), why))
        report.add(fail(Check.HTTP200, str(code), f"главная страница {url}: код {code}, ответ не от ПК"))
        because = "ПК за reverse-proxy не отвечает"
        report.add(unknown(Check.MAINTENANCE, because))
        report.add(unknown(Check.NEEDSUPPORT, because))
        report.enter(AbnormalState.SERVER_DOWN, code, why)
        return MainPage(False, False, code)

    report.add(ok(Check.PROXY, str(code), "отвечает сервер ПК"))
    if has(text, MAINTENANCE_MARKERS):
        why = f"ПК в режиме тех.обслуживания (код {code})"
        report.add(fail(Check.MAINTENANCE, str(code), why))
        report.add(expected(Check.HTTP200, str(code), f"код {code}: режим тех.обслуживания"))
        report.add(unknown(Check.NEEDSUPPORT, "вместо главной страницы — страница режима обслуживания"))
        report.enter(AbnormalState.MAINTENANCE, code, why)
        return MainPage(True, True, code)

    report.add(ok(Check.MAINTENANCE, str(code), "режим обслуживания не включён"))
    if code == 200:
        ms = response.elapsed * 1000
        report.add(ok(Check.HTTP200, "200", f"главная страница открывается ({ms:.0f} мс)", response.elapsed))
        if has(text, NEED_SUPPORT_MARKERS):
            why = "на главной странице сообщение «Требуется обслуживание»"
            report.add(fail(Check.NEEDSUPPORT, "200", why))
            report.enter(AbnormalState.NEED_SUPPORT, 200, why)
        else:
            report.add(ok(Check.NEEDSUPPORT, "200", "служебного сообщения нет"))
        return MainPage(True, False, code)

    if has(text, NOT_STARTED_MARKERS):
        why = f"сервер ПК не стартовал (код {code})"
        report.enter(AbnormalState.NOT_STARTED, code, why)
    elif code >= 500 or has(text, SERVER_ERROR_MARKERS):
        why = f"ошибки на сервере ПК (код {code})"
        report.enter(AbnormalState.SERVER_ERRORS, code, why)
    else:
        why = f"главная страница {url}: код {code}"
    report.add(fail(Check.HTTP200, str(code), why, response.elapsed))
    report.add(unknown(Check.NEEDSUPPORT, "главная страница не получена"))
    return MainPage(True, False, code)


async def check_main_page(report: Report, conn: Connection) -> MainPage:
    """GET the main page on ``conn`` (opened by the tcp check) and classify it."""
    path = conn.endpoint.path
    url = conn.endpoint.base_url + path
    try:
        response: Response | HttpError = await conn.request("GET", path)
    except HttpError as exc:
        response = exc
    return classify_main_page(report, response, url)
