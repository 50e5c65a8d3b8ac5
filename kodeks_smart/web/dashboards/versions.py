"""«Контроль версий ПК, Kassist и других» (spec §3.16): every installation's software versions in one place.

«Используемые в компании версии ПО» lists each (installation, component type, version) that a sysinfo
report of the range showed; «Статистика» is the newest report of each installation: the server (ПК)
version and the sysinfo module version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kodeks_smart.store.ingest_models import SysinfoComponent
from kodeks_smart.web.dashboards.framework import Panel, Stat, Table, View, dashboard
from kodeks_smart.web.dashboards.newest import newest_reports
from kodeks_smart.web.dashboards.usage import REPORT_LOOKBACK
from kodeks_smart.web.tables import Column

#: The component type of the Kodeks server itself in the report.
SERVER_TYPE = "ksrv"

USED_COLUMNS = [
    Column("client", "Клиент"),
    Column("type", "Тип"),
    Column("name", "Компонент"),
    Column("version", "Версия ПО"),
    Column("host", "Адрес"),
    Column("manager", "Менеджер"),
    Column("seen", "Последний отчёт"),
]
STAT_COLUMNS = [
    Column("client", "Клиент"),
    Column("server", "Версия ПК"),
    Column("module", "Вер. SysInfo"),
    Column("os", "ОС"),
    Column("host", "адрес"),
    Column("manager", "Менеджер"),
    Column("report_at", "Отчёт sysinfo"),
]


@dashboard(
    "versions",
    "Контроль версий ПК, Kassist и др.",
    default_range="30d",
    description="Отображается информация о версиях ПК и его компонент по отчётам sysinfo за период."
    " Доступна сортировка по клиенту и менеджеру.",
)
def versions(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    c = SysinfoComponent
    type_filter = view.multi(
        "type",
        "Тип",
        view.db.scalars(
            select(c.type)
            .where(
                view.tenant.scope.condition(c), view.in_range(c.report_at), targets.where(c.installation_id)
            )
            .distinct()
        ),
    )
    stmt = (
        select(c.installation_id, c.type, c.name, c.version, func.max(c.report_at))
        .where(view.tenant.scope.condition(c), view.in_range(c.report_at), targets.where(c.installation_id))
        .group_by(c.installation_id, c.type, c.name, c.version)
    )
    by_id = targets.by_id
    used: list[dict[str, Any]] = []
    for inst, kind, name, version, seen in view.db.execute(stmt):
        t = by_id.get(inst or 0)
        if t is None or not type_filter.allows(kind):
            continue
        used.append(
            {
                "client": t.client,
                "type": kind,
                "name": name,
                "version": version,
                "host": t.host,
                "manager": t.manager,
                "seen": seen,
            }
        )
    latest = newest_reports(view, targets, REPORT_LOOKBACK)
    server_versions: dict[int, str] = {}
    for inst, version in view.db.execute(
        select(c.installation_id, c.version)
        .where(
            view.tenant.scope.condition(c),
            c.type == SERVER_TYPE,
            view.in_range(c.report_at),
            targets.where(c.installation_id),
        )
        .order_by(c.report_at)
    ):
        if inst is not None and version:
            server_versions[inst] = version
    stats: list[dict[str, Any]] = []
    for inst, report in latest.items():
        t = by_id.get(inst)
        if t is None or report.created_at is None or report.created_at < view.time.start:
            continue
        stats.append(
            {
                "client": t.client,
                "server": server_versions.get(inst) or report.extra.get("server_version"),
                "module": report.module_version,
                "os": report.server_os,
                "host": t.host,
                "manager": t.manager,
                "report_at": report.created_at,
            }
        )
    return [
        Stat("installations", "Установок с отчётами", value=len(stats)),
        Stat(
            "server_versions",
            "Разных версий ПК",
            value=len({r["server"] for r in stats if r["server"]}),
        ),
        Table(
            "used",
            "Используемые в компании версии ПО за период",
            columns=USED_COLUMNS,
            rows=used,
            sort="client",
            description="Версии, которые показали отчёты sysinfo за выбранный период (по умолчанию 30 дней).",
        ),
        Table("stats", "Статистика", columns=STAT_COLUMNS, rows=stats, sort="client"),
    ]
