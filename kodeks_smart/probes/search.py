"""The ``search`` check: a cheap synthetic search in the test user's session.

``POST /<catalog>/check_iquery`` asks the search engine to parse a query without running it (spec §3,
the web UI's AJAX call): ``{"good": true}`` means the search subsystem answers. It finds nothing, opens
nothing and, on a server without billing, costs nothing. Only when the test user is logged in.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from kodeks_smart.probes.http import Connection, HttpError, describe
from kodeks_smart.probes.model import Check, Report, fail, ok, unknown

QUERY = "трудовой кодекс"


def classify_search(report: Report, status: int, body: bytes, seconds: float) -> None:
    if status != 200:
        report.add(unknown(Check.SEARCH, f"поиск недоступен для проверки (код {status})"))
        return
    try:
        answer = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        report.add(unknown(Check.SEARCH, "поиск ответил не в формате JSON"))
        return
    if not isinstance(answer, dict) or "good" not in answer:
        report.add(unknown(Check.SEARCH, "ответ поиска не распознан"))
        return
    if answer.get("good") is True:
        report.add(ok(Check.SEARCH, "ok", f"поиск разбирает запросы ({seconds * 1000:.0f} мс)", seconds))
        return
    error = str(answer.get("error") or "запрос не разобран")
    report.add(fail(Check.SEARCH, "bad-query", f"поиск не обработал запрос «{QUERY}»: {error}"))


async def check_search(report: Report, conn: Connection) -> None:
    catalog = conn.endpoint.catalog
    form = {"query": QUERY, "_t": time.strftime("%d-%m-%Y %H:%M:%S")}
    try:
        response = await conn.request(
            "POST",
            f"{catalog}/check_iquery",
            headers=[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Requested-With", "XMLHttpRequest"),
            ],
            body=urlencode(form).encode(),
        )
    except HttpError as exc:
        report.add(unknown(Check.SEARCH, f"поиск: {describe(exc)}"))
        return
    classify_search(report, response.status, response.body, response.elapsed)
