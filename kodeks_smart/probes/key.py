"""The ``key`` check: does the server see its SenseLock key / licence binding? (logged-in test user)

The catalog page a user sees after login carries the protection error when the binding does not work:
"Привязка: SenseLock ключ - Ошибка защиты 4111 Not connected", headed "Ключ не найден" when the key is
missing (spec §6, error formats in kodeks-error-codes.csv). No such line: the key works.
A failed login makes this check unknown (spec §7.3: without smartlogin the key reads 0).
"""

from __future__ import annotations

import html
import re

from kodeks_smart.probes.http import Connection, HttpError, describe
from kodeks_smart.probes.mainpage import decode_page
from kodeks_smart.probes.model import AbnormalState, Check, Report, fail, ok, unknown

KEY_MARKERS = ("ключ не найден", "ошибка защиты")
_BINDING = re.compile(r"привязка:\s*([^<\n]{1,300})", re.IGNORECASE)
_CODE = re.compile(r"ошибка защиты\s*\(?(\d+)", re.IGNORECASE)


def classify_key(report: Report, text: str) -> None:
    """``text``: the catalog page of the logged-in user."""
    lowered = text.lower()
    if not any(marker in lowered for marker in KEY_MARKERS):
        report.add(ok(Check.KEY, "ok", "сервер не сообщает об ошибке ключа защиты"))
        return
    found = _BINDING.search(text)
    binding = html.unescape(" ".join(found.group(1).split())) if found else "ошибка защиты"
    code = _CODE.search(text)
    value = code.group(1) if code else "error"
    why = f"Привязка: {binding}"
    report.add(fail(Check.KEY, value, why))
    report.enter(AbnormalState.KEY_NOT_FOUND, 200, why)


async def check_key(report: Report, conn: Connection, path: str) -> None:
    try:
        response = await conn.request("GET", path)
    except HttpError as exc:
        report.add(unknown(Check.KEY, f"страница каталога не получена: {describe(exc)}"))
        return
    if response.status != 200:
        report.add(unknown(Check.KEY, f"страница каталога не получена: код {response.status}"))
        return
    classify_key(report, decode_page(response))
