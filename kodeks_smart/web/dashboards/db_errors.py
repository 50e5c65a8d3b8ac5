"""«Ошибки БД» (spec §3.17): database volume errors recorded in sysinfo reports."""

from __future__ import annotations

from sqlalchemy import func, select

from kodeks_smart.store.ingest_models import SysinfoDbError
from kodeks_smart.web.dashboards.framework import Chart, Panel, Table, View, bucket, dashboard, points_by
from kodeks_smart.web.tables import Column

COLUMNS = [
    Column("host", "host"),
    Column("client", "Клиент"),
    Column("manager", "Менеджер"),
    Column("error", "Ошибка"),
    Column("code", "Код"),
    Column("database", "БД"),
    Column("volume", "Том"),
    Column("occurred_at", "Время ошибки"),
    Column("report_at", "Отчёт sysinfo"),
]


def error_name(code: int | None, text: str | None) -> str:
    if text:
        return text if code is None else f"{code}: {text}"
    return f"Код {code}" if code is not None else "Ошибка без кода"


@dashboard(
    "db-errors",
    "Ошибки БД",
    default_range="30d",
    description="Сколько томов баз данных с каждой ошибкой показывает sysinfo каждой инсталляции.",
)
def db_errors(view: View) -> list[Panel]:
    targets = view.targets()
    scope = view.tenant.scope.condition(SysinfoDbError)
    where = (scope, view.in_range(SysinfoDbError.report_at), targets.narrow(SysinfoDbError))
    per_report = (
        select(
            SysinfoDbError.installation_id.label("inst"),
            SysinfoDbError.code.label("code"),
            SysinfoDbError.text.label("text"),
            SysinfoDbError.report_at.label("report_at"),
            func.count().label("volumes"),
        )
        .where(*where)
        .group_by(
            SysinfoDbError.installation_id, SysinfoDbError.code, SysinfoDbError.text, SysinfoDbError.report_at
        )
        .subquery()
    )
    point = bucket(per_report.c.report_at, view)
    stmt = select(
        per_report.c.inst, per_report.c.code, per_report.c.text, point, func.max(per_report.c.volumes)
    ).group_by(per_report.c.inst, per_report.c.code, per_report.c.text, point)
    names = targets.by_id
    rows = [
        ((inst, error_name(code, text)), ts, n)
        for inst, code, text, ts, n in view.db.execute(stmt)
        if inst in names
    ]
    series = points_by(rows, lambda k: f"{names[k[0]].host}: {k[1]}")

    newest = (
        select(
            SysinfoDbError.client_id,
            SysinfoDbError.installation_id,
            func.max(SysinfoDbError.report_at).label("at"),
        )
        .where(*where)
        .group_by(SysinfoDbError.client_id, SysinfoDbError.installation_id)
        .subquery()
    )
    latest = view.db.scalars(
        select(SysinfoDbError)
        .join(
            newest,
            (newest.c.client_id == SysinfoDbError.client_id)
            & (newest.c.at == SysinfoDbError.report_at)
            & (newest.c.installation_id == SysinfoDbError.installation_id),
        )
        .where(*where)  # the join implies it; it lets the planner use the (client_id, time) index
    )
    table_rows = []
    for e in latest:
        t = names.get(e.installation_id or 0)
        if t is None:
            continue
        table_rows.append(
            {
                "host": t.host,
                "client": t.client,
                "manager": t.manager,
                "error": error_name(e.code, e.text),
                "code": e.code,
                "database": e.database,
                "volume": e.volume,
                "occurred_at": e.occurred_at,
                "report_at": e.report_at,
            }
        )
    return [
        Chart(
            "errors",
            "Количество ошибок с файлами базы данных",
            series=series,
            kind="points",
            log=True,
            legend=("last", "max"),
            unit="томов",
            rank_by="last",
            description="Для каждой инсталляции и ошибки — число томов БД, на которых она записана.",
        ),
        Table(
            "latest",
            "Ошибки в последнем отчёте",
            columns=COLUMNS,
            rows=table_rows,
            sort="host",
        ),
    ]
