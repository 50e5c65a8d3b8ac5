"""«Подключённые пользователи» (spec §3.18): who held a licence when the newest sysinfo was taken."""

from __future__ import annotations

from sqlalchemy import func, select

from kodeks_smart.store.ingest_models import SysinfoSession
from kodeks_smart.web.dashboards.framework import Panel, Stat, Table, View, dashboard
from kodeks_smart.web.tables import Column

COLUMNS = [
    Column("client", "Клиент"),
    Column("host", "host"),
    Column("login", "login"),
    Column("ip", "ip"),
    Column("domain", "domain"),
    Column("login_at", "Время на сервере"),
    Column("last_activity_at", "Последняя активность"),
    Column("browser", "Браузер"),
    Column("catalog", "Каталог"),
    Column("report_at", "Отчёт sysinfo"),
]
UNDEFINED_DOMAIN = "НеОпределён"


@dashboard(
    "connected-users",
    "Подключённые пользователи",
    default_range="24h",
    description="Пользователи, занимавшие лицензии в момент получения последнего за период отчёта sysinfo.",
)
def connected_users(view: View) -> list[Panel]:
    targets = view.targets(host=False)
    scope = view.tenant.scope.condition(SysinfoSession)
    where = (scope, view.in_range(SysinfoSession.report_at), targets.narrow(SysinfoSession))
    newest = (
        select(SysinfoSession.client_id, func.max(SysinfoSession.report_at).label("at"))
        .where(*where)
        .group_by(SysinfoSession.client_id)
        .subquery()
    )
    sessions = list(
        view.db.scalars(
            select(SysinfoSession)
            .join(
                newest,
                (newest.c.client_id == SysinfoSession.client_id) & (newest.c.at == SysinfoSession.report_at),
            )
            .where(scope)
        )
    )
    domain = view.multi("domain", "домен", {s.domain or UNDEFINED_DOMAIN for s in sessions})
    names = targets.by_id
    rows = []
    for s in sessions:
        t = names.get(s.installation_id or 0)
        if t is None or not domain.allows(s.domain or UNDEFINED_DOMAIN):
            continue
        rows.append(
            {
                "client": t.client,
                "host": t.host,
                "login": s.login,
                "ip": s.ip,
                "domain": s.domain or UNDEFINED_DOMAIN,
                "login_at": s.login_at,
                "last_activity_at": s.last_activity_at,
                "browser": s.browser,
                "catalog": s.catalog,
                "report_at": s.report_at,
            }
        )
    logins = {(r["client"], r["login"]) for r in rows}
    return [
        Stat("seats", "Занято лицензий", value=len(rows)),
        Stat("logins", "Разных пользователей", value=len(logins)),
        Table(
            "sessions",
            "Пользователи, занимающие лицензии на момент получения sysinfo",
            columns=COLUMNS,
            rows=rows,
            sort="client",
        ),
    ]
