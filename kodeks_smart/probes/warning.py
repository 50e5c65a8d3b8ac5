"""The ``warning`` check: catalog health as the server reports it at ``/sysinfo/metrics`` (spec §5.1).

``kserver_main_page{…} 1`` — the catalog's main page is not built correctly (with a ``status`` label:
"update DB", "unexpected change list products", "no required volume DB"); ``kserver_product_control{…} 1``
— the set of databases must be checked. Read in the test user's session: a failed login makes this check
unknown (spec §7.3). A server without the endpoint (sysinfo module 2.0.6.7 or older) leaves it unknown.
"""

from __future__ import annotations

from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.metrics import parse_metrics
from kodeks_smart.probes.http import Connection, HttpError, describe
from kodeks_smart.probes.model import Check, Report, fail, ok, unknown

STATUS_TEXT = {
    "update DB": "идёт обновление или подключение БД",
    "unexpected change list products": "изменился состав продуктов",
    "no required volume DB": "не подключены нужные тома БД",
}


def classify_warning(report: Report, body: bytes) -> None:
    try:
        metrics = parse_metrics(body)
    except ParseError as exc:
        report.add(unknown(Check.WARNING, f"/sysinfo/metrics не разобран: {exc}"))
        return
    if not metrics.catalogs:
        report.add(
            unknown(Check.WARNING, "в /sysinfo/metrics нет kserver_main_page / kserver_product_control")
        )
        return
    problems: list[str] = []
    for catalog in metrics.catalogs:
        if catalog.main_page:
            status = catalog.main_page_status or ""
            reason = STATUS_TEXT.get(status, status) or "причина не указана"
            problems.append(f"{catalog.path}: главная страница собрана неверно ({reason})")
        if catalog.product_control:
            problems.append(f"{catalog.path}: необходимо проверить состав БД")
    if problems:
        report.add(fail(Check.WARNING, str(len(problems)), "; ".join(problems)))
    else:
        paths = ", ".join(c.path for c in metrics.catalogs)
        report.add(ok(Check.WARNING, "0", f"каталоги в порядке: {paths}"))


async def check_warning(report: Report, conn: Connection) -> None:
    try:
        response = await conn.request("GET", "/sysinfo/metrics")
    except HttpError as exc:
        report.add(unknown(Check.WARNING, f"/sysinfo/metrics: {describe(exc)}"))
        return
    if response.status != 200:
        report.add(unknown(Check.WARNING, f"/sysinfo/metrics недоступен (код {response.status})"))
        return
    classify_warning(report, response.body)
