"""The online-access check (SMART.Online): log in with the client's own credentials and read the billing.

The counters come from the Kodweb SOAP API, ``GetBillingStatus`` at ``/<catalog>/api`` with HTTP Basic
auth of the access's login (spec §3.1): ``ArrayOfBillingStatus`` of ``{billing, max, cnt}`` — limit and
units used this month for documents, search, print and upload. A SOAP call opens no web session, so it
takes no seat, and reading the counters spends no billing unit ([010]: SMART never does either).

Page scraping of the user profile is the documented fallback of the original, but logging in through the
web form would take the access's only session (a vendor access allows one session per login and a new
login replaces the old one, throwing the client's user out). SMART therefore does not log in through the
form: when the API is not available the billing is reported as unavailable.

Failures are classified like the original's "Проблемы с получением статистики" table (spec §4.2):
``LoginPasswordError``, ``ConnectionTimeout``, ``ReadTimeOut``, ``OtherErrorCode400+``, ``HTTPError``,
``ConnectionError``, ``RequestException``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from kodeks_smart.probes.http import USER_AGENT
from kodeks_smart.probes.model import Check, CheckResult, OnlineTarget, fail, ok

SOAP_NS = "http://kodekssoap.org/"
BILLING_ACTION = SOAP_NS + "GetBillingStatus"
KINDS = ("docs", "search", "print", "upload")
KIND_LABELS = {"docs": "документы", "search": "поиск", "print": "печать", "upload": "выгрузка"}

ERROR_TEXT = {
    "LoginPasswordError": "комбинация логина, пароля, адреса и каталога неверна",
    "ConnectionTimeout": "подключение к серверу ДЦ не получилось (таймаут соединения)",
    "ReadTimeOut": "сервер ДЦ не прислал данные (таймаут ответа)",
    "OtherErrorCode400+": "сервер ДЦ отклонил запрос",
    "HTTPError": "ошибка на сервере ДЦ",
    "ConnectionError": "не удалось соединиться с сервером ДЦ",
    "RequestException": "непредвиденная ошибка запроса",
    "BillingUnavailable": "сервер ДЦ не отдаёт биллинг через API (GetBillingStatus)",
}


def billing_kind(label: str) -> str | None:
    """The counter a ``billing`` string names (the real strings are not published: match by stem)."""
    text = label.strip().lower()
    if text.startswith("док"):
        return "docs"
    if "поиск" in text or text.startswith("search"):
        return "search"
    if "печат" in text or text.startswith("print"):
        return "print"
    if "выгруз" in text or "сохран" in text or "экспорт" in text or text.startswith("upload"):
        return "upload"
    return None


def envelope() -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:tns="{SOAP_NS}"><soap:Body><tns:GetBillingStatus/></soap:Body></soap:Envelope>'
    ).encode()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_billing(body: bytes) -> dict[str, tuple[int, int]]:
    """``{kind: (max, used)}`` from a GetBillingStatus response; raises ValueError if it is not one."""
    try:
        root: Element = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise ValueError(f"ответ не XML: {exc}") from None
    if any(_local(el.tag) == "Fault" for el in root.iter()):
        raise ValueError("SOAP Fault")
    found: dict[str, tuple[int, int]] = {}
    seen_rows = False
    for el in root.iter():
        children = {_local(child.tag): (child.text or "").strip() for child in el}
        if not {"billing", "max", "cnt"} <= children.keys():
            continue
        seen_rows = True
        kind = billing_kind(children["billing"])
        try:
            top, used = int(children["max"]), int(children["cnt"])
        except ValueError:
            continue
        if kind is not None:
            found[kind] = (top, used)
    if not seen_rows and not any(_local(el.tag) == "GetBillingStatusResponse" for el in root.iter()):
        raise ValueError("в ответе нет GetBillingStatusResponse")
    return found


@dataclass(slots=True)
class OnlineReport:
    result: CheckResult
    #: ``{kind: (max, used)}`` when read.
    billing: dict[str, tuple[int, int]] = field(default_factory=dict)
    read: bool = False


def failure(error_class: str, detail: str = "", seconds: float | None = None) -> OnlineReport:
    text = ERROR_TEXT.get(error_class, error_class)
    return OnlineReport(fail(Check.ONLINE, error_class, f"{text}{': ' + detail if detail else ''}", seconds))


def classify_exception(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "ConnectionTimeout"
    if isinstance(exc, httpx.TimeoutException):
        return "ReadTimeOut"
    if isinstance(exc, httpx.ConnectError):
        return "ConnectionError"
    return "RequestException"


async def check_online(client: httpx.AsyncClient, target: OnlineTarget, timeout: float) -> OnlineReport:
    """Read the billing of one online access; never raises for a server-side problem."""
    url = f"{target.base_url}/{target.catalog.strip('/')}/api"
    started = time.perf_counter()
    try:
        response = await client.post(
            url,
            content=envelope(),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f'"{BILLING_ACTION}"',
                "User-Agent": USER_AGENT,
            },
            auth=httpx.BasicAuth(target.login, target.password),
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return failure(classify_exception(exc), str(exc) or type(exc).__name__)
    seconds = time.perf_counter() - started
    code = response.status_code
    if code in (401, 403):
        return failure("LoginPasswordError", f"код {code}", seconds)
    if code in (404, 405, 501):
        return failure("BillingUnavailable", f"код {code}", seconds)
    if 400 <= code < 500:
        return failure("OtherErrorCode400+", f"код {code}", seconds)
    if code >= 500:
        return failure("HTTPError", f"код {code}", seconds)
    try:
        billing = parse_billing(response.content)
    except ValueError as exc:
        return failure("BillingUnavailable", str(exc), seconds)
    parts = ", ".join(
        f"{KIND_LABELS[kind]}: осталось {top - used} из {top}" for kind, (top, used) in billing.items()
    )
    result = ok(Check.ONLINE, "ok", f"вход выполнен, биллинг прочитан ({parts or 'счётчиков нет'})", seconds)
    return OnlineReport(result, billing, True)
