"""The main dashboards of the original SMART cabinet (spec dashboards.md §3), as code.

Every panel is one raw SQL query against SMART's own tables, run by Grafana with a cabinet's database
role: row-level security (`kodeks_smart.store.rls`) confines it to that cabinet, so no query needs a
cabinet filter. Macros used (and expanded by `kodeks_smart.grafana.macros` in the tests):
``$__timeFilter(col)``, ``$__timeFrom()``, ``$__timeTo()``, ``$__unixEpochFrom()``, ``$__unixEpochTo()``,
``$__timeGroupAlias(col, 'interval')``, and the template variables ``$client``, ``$manager``, ``$host`` …
(multi-value, default All; Grafana expands them to a quoted list).
"""

# ruff: noqa: S608 - panel SQL is composed from this module's constants only; Grafana fills in the rest.
from __future__ import annotations

from kodeks_smart.grafana.builder import Dashboard, Panel, Threshold, Variable

# -- shared fragments ------------------------------------------------------------------------------

HOST = "COALESCE(i.address, c.short_name)"
CLIENT = Variable("client", "Клиент", "SELECT display_name AS __text, id AS __value FROM clients ORDER BY 1")
MANAGER = Variable(
    "manager",
    "Менеджер",
    "SELECT name AS __text, id AS __value FROM managers UNION ALL SELECT 'Без менеджера', 0 ORDER BY 1",
)
HOST_VAR = Variable(
    "host",
    "host",
    "SELECT COALESCE(i.address, c.short_name) AS __text, i.id AS __value "
    "FROM installations i JOIN clients c ON c.id = i.client_id ORDER BY 1",
)
CLIENT_FILTER = "c.id IN ($client) AND COALESCE(c.manager_id, 0) IN ($manager)"
HOST_FILTER = "i.id IN ($host) AND COALESCE(c.manager_id, 0) IN ($manager)"


def fact_join(alias: str, *, manager: bool = False) -> str:
    """Client, installation (and manager ``m``) of a fact row, filtered by the client and manager."""
    managers = "LEFT JOIN managers m ON m.id = c.manager_id " if manager else ""
    return (
        f"JOIN clients c ON c.id = {alias}.client_id "
        f"LEFT JOIN installations i ON i.id = {alias}.installation_id {managers}"
        f"WHERE {CLIENT_FILTER}"
    )


def client_join(alias: str, *, manager: bool = False) -> str:
    """Client (and manager ``m``) of a row without an installation (online accesses)."""
    managers = "LEFT JOIN managers m ON m.id = c.manager_id " if manager else ""
    return f"JOIN clients c ON c.id = {alias}.client_id {managers}WHERE {CLIENT_FILTER}"


def inst_join(alias: str) -> str:
    """Installation of a probe row, filtered by the host and manager variables."""
    return (
        f"JOIN installations i ON i.id = {alias}.installation_id "
        f"JOIN clients c ON c.id = i.client_id WHERE {HOST_FILTER}"
    )


# -- Текущие аварийные ситуации [076] ------------------------------------------------------------

ALERT_CLIENT = Variable(
    "client",
    "Клиент",
    "SELECT display_name AS __text, id AS __value FROM clients UNION ALL SELECT 'Без клиента', 0 ORDER BY 1",
)
ALERT_FROM = (
    "FROM alert_states a LEFT JOIN clients c ON c.id = a.client_id "
    "LEFT JOIN managers m ON m.id = c.manager_id "
    "WHERE COALESCE(a.client_id, 0) IN ($client) AND COALESCE(c.manager_id, 0) IN ($manager) "
    "AND a.rule IN ($rule) AND a.priority IN ($priority)"
)

CURRENT_ALERTS = Dashboard(
    uid="smart-alerts",
    title="Текущие аварийные ситуации",
    description="Аварии по клиентам: активные и начавшиеся в выбранном интервале.",
    variables=(
        ALERT_CLIENT,
        MANAGER,
        Variable("rule", "Тип аварии", "SELECT DISTINCT rule FROM alert_states ORDER BY 1"),
        Variable(
            "priority",
            "Приоритет",
            "SELECT DISTINCT 'К' || priority AS __text, priority AS __value FROM alert_states ORDER BY 2",
        ),
    ),
    refresh="1m",
    panels=(
        Panel(
            "Активные аварии",
            "stat",
            f"SELECT count(*) AS \"Активные аварии\" {ALERT_FROM} AND a.status = 'firing'",
            fmt="table",
            thresholds=(Threshold("green"), Threshold("red", 1)),
            width=6,
            height=4,
        ),
        Panel(
            "Критические",
            "stat",
            f'SELECT count(*) AS "Критические" {ALERT_FROM} '
            "AND a.status = 'firing' AND a.severity = 'critical'",
            fmt="table",
            thresholds=(Threshold("green"), Threshold("red", 1)),
            width=6,
            height=4,
        ),
        Panel(
            "Аварии по дням",
            "timeseries",
            "SELECT $__timeGroupAlias(a.started_at, '1d'), a.rule AS metric, count(*) AS value "
            f"{ALERT_FROM} AND $__timeFilter(a.started_at) GROUP BY 1, 2 ORDER BY 1",
            legend=("sum",),
            height=4,
        ),
        Panel(
            "Аварийные ситуации",
            "table",
            'SELECT a.started_at AS "Начало", c.short_name AS "Клиент", m.name AS "Менеджер", '
            '\'К\' || a.priority AS "Пр-т", a.severity AS "Важность", a.rule AS "Авария", '
            'a.summary AS "Описание", '
            "CASE a.status WHEN 'firing' THEN 'Активна' WHEN 'pending' THEN 'Ожидание' "
            'ELSE \'Завершена\' END AS "Состояние", a.resolved_at AS "Окончание" '
            f"{ALERT_FROM} AND (a.status <> 'resolved' OR $__timeFilter(a.started_at)) "
            "ORDER BY a.started_at DESC LIMIT 1000",
            fmt="table",
            width=24,
            height=14,
        ),
    ),
)

# -- Kodeks server metrics [061] -----------------------------------------------------------------

STATE_LABEL = (
    "CASE p.state WHEN 'maintenance' THEN 'Режим обслуживания' "
    "WHEN 'need_support' THEN 'Требуется обслуживание' WHEN 'server_down' THEN 'Сервер не работает' "
    "WHEN 'key_not_found' THEN 'Ключ не найден' WHEN 'not_started' THEN 'Сервер не стартовал' "
    "WHEN 'server_errors' THEN 'Ошибки на сервере' WHEN 'licences_exhausted' THEN 'Кончились лицензии' "
    "ELSE p.state END"
)

SERVER_METRICS = Dashboard(
    uid="smart-server-metrics",
    title="Kodeks server metrics",
    description="Техническое состояние установок глазами SMART: нештатные состояния, проверки, отклик.",
    variables=(HOST_VAR, MANAGER),
    time_from="now-7d",
    panels=(
        Panel(
            "Время нештатного состояния сервера",
            "timeseries",
            "SELECT t.time, t.metric, t.value FROM ("
            f"SELECT p.started_at AS time, {STATE_LABEL} || ' ' || {HOST} AS metric, "
            "COALESCE(p.http_code, 1) AS value "
            f"FROM probe_state_intervals p {inst_join('p')} AND $__timeFilter(p.started_at) "
            f"UNION ALL SELECT p.ended_at, {STATE_LABEL} || ' ' || {HOST}, 0 "
            f"FROM probe_state_intervals p {inst_join('p')} "
            "AND p.ended_at IS NOT NULL AND $__timeFilter(p.ended_at)"
            ") t ORDER BY 1",
            description="0 — нештатного состояния нет; иначе код HTTP-ответа сервера "
            "(1 — сервер не ответил).",
            legend=("lastNotNull",),
            width=24,
        ),
        Panel(
            "Статусы on-line проверок",
            "table",
            f'SELECT {HOST} AS "host", pc.check_name AS "Проверка", '
            "CASE pc.status WHEN 'ok' THEN 1 WHEN 'unknown' THEN NULL ELSE 0 END AS \"Статус\", "
            'pc.since AS "С", pc.checked_at AS "Проверено", pc.detail AS "Подробности" '
            f"FROM probe_checks pc {inst_join('pc')} ORDER BY 1, 2",
            fmt="table",
            description="1 — проверка прошла, 0 — не прошла (в режиме обслуживания часть проверок 0 штатно).",
            thresholds=(Threshold("red"), Threshold("green", 1)),
        ),
        Panel(
            "Время отклика",
            "timeseries",
            "SELECT $__timeGroupAlias(l.at, '1h'), "
            f"{HOST} || ' ' || l.check_name AS metric, avg(l.mean_ms) AS value "
            f"FROM probe_latency l {inst_join('l')} AND $__timeFilter(l.at) GROUP BY 1, 2 ORDER BY 1",
            unit="ms",
            legend=("mean", "max"),
        ),
    ),
)

# -- Доступность серверов [079] ------------------------------------------------------------------

INTERFACE_DOWN = "('server_down', 'not_started', 'server_errors', 'maintenance', 'key_not_found')"
PORT_DOWN = "('server_down')"


def _trailing_availability(states: str) -> str:
    """Per installation and day: % of the preceding 30 days without an abnormal state of ``states``."""
    overlap = (
        "SELECT sum(EXTRACT(EPOCH FROM LEAST(COALESCE(p.ended_at, d.day), d.day) "
        "- GREATEST(p.started_at, d.day - interval '30 days'))) FROM probe_state_intervals p "
        f"WHERE p.installation_id = i.id AND p.state IN {states} AND p.started_at < d.day "
        "AND (p.ended_at IS NULL OR p.ended_at > d.day - interval '30 days')"
    )
    return (
        f"SELECT d.day AS time, {HOST} AS metric, "
        f"round((100 * (1 - COALESCE(({overlap}), 0) / 2592000))::numeric, 2) AS value "
        "FROM generate_series(date_trunc('day', $__timeFrom()::timestamptz), $__timeTo()::timestamptz, "
        "interval '1 day') AS d(day) CROSS JOIN installations i JOIN clients c ON c.id = i.client_id "
        f"WHERE {HOST_FILTER} AND i.kind <> 'closed' AND d.day >= date_trunc('day', i.created_at) "
        "ORDER BY 1, 2"
    )


AVAILABILITY = Dashboard(
    uid="smart-availability",
    title="Доступность серверов",
    description="Насколько стабильны и доступны серверы с ПК клиентов (норма 95–99 %).",
    variables=(HOST_VAR, MANAGER),
    panels=(
        Panel(
            "Доступность интерфейса ПК в % за последние 30 дней",
            "timeseries",
            _trailing_availability(INTERFACE_DOWN),
            unit="percent",
            legend=("lastNotNull",),
        ),
        Panel(
            "Доступность открытого порта к ПК в % за последние 30 дней",
            "timeseries",
            _trailing_availability(PORT_DOWN),
            unit="percent",
            legend=("lastNotNull",),
        ),
        Panel(
            "Доступность интерфейса ПК в % за выбранный интервал",
            "table",
            f'SELECT {HOST} AS "host", round((100 * (1 - COALESCE(sum(GREATEST(0, EXTRACT(EPOCH FROM '
            "LEAST(COALESCE(p.ended_at, $__timeTo()), $__timeTo()) "
            "- GREATEST(p.started_at, $__timeFrom())))) FILTER (WHERE p.id IS NOT NULL), 0) "
            '/ ($__unixEpochTo() - $__unixEpochFrom())))::numeric, 2) AS "Доступность, %" '
            "FROM installations i JOIN clients c ON c.id = i.client_id "
            "LEFT JOIN probe_state_intervals p ON p.installation_id = i.id "
            f"AND p.state IN {INTERFACE_DOWN} AND p.started_at < $__timeTo() "
            "AND (p.ended_at IS NULL OR p.ended_at > $__timeFrom()) "
            f"WHERE {HOST_FILTER} AND i.kind <> 'closed' GROUP BY 1 ORDER BY 2, 1",
            fmt="table",
            unit="percent",
            thresholds=(Threshold("red"), Threshold("yellow", 95), Threshold("green", 99)),
            width=24,
        ),
    ),
)

# -- Kodeks аналитика [062] (home dashboard) -------------------------------------------------------


def _usage_panel(title: str, expression: str, description: str) -> Panel:
    return Panel(
        title,
        "timeseries",
        f"SELECT $__timeGroupAlias(u.hour, '1d'), {HOST} AS metric, sum({expression}) AS value "
        f"FROM sysinfo_usage u {fact_join('u')} AND $__timeFilter(u.hour) GROUP BY 1, 2 ORDER BY 1",
        description=description,
        legend=("max", "lastNotNull"),
        width=8,
    )


ANALYTICS = Dashboard(
    uid="smart-kodeks-analytics",
    title="Kodeks аналитика",
    description="Главная аналитика установок: лицензии, запросы, документы, поиски (sysinfo раз в час).",
    variables=(CLIENT, MANAGER),
    time_from="now-90d",
    panels=(
        Panel(
            "Используемые лицензии",
            "timeseries",
            f"SELECT s.report_at AS time, {HOST} AS metric, count(*) AS value "
            f"FROM sysinfo_sessions s {fact_join('s')} AND $__timeFilter(s.report_at) "
            "GROUP BY 1, 2 ORDER BY 1",
            legend=("min", "max", "lastNotNull"),
            width=8,
        ),
        Panel(
            "Разница между используемыми лицензиями и регом",
            "timeseries",
            f"SELECT r.created_at AS time, {HOST} AS metric, r.seats - COALESCE(n.used, 0) AS value "
            "FROM sysinfo_reports r LEFT JOIN (SELECT upload_id, count(*) AS used FROM sysinfo_sessions "
            f"GROUP BY upload_id) n ON n.upload_id = r.upload_id {fact_join('r')} "
            "AND r.seats IS NOT NULL AND r.created_at IS NOT NULL AND $__timeFilter(r.created_at) ORDER BY 1",
            legend=("min", "max", "lastNotNull"),
            width=8,
        ),
        Panel(
            "Количество лицензий на инсталляции",
            "timeseries",
            f"SELECT r.created_at AS time, {HOST} AS metric, r.seats AS value "
            f"FROM sysinfo_reports r {fact_join('r')} AND r.seats IS NOT NULL "
            "AND r.created_at IS NOT NULL AND $__timeFilter(r.created_at) ORDER BY 1",
            legend=("max", "lastNotNull"),
            width=8,
        ),
        Panel(
            "Количество неудачных поисков за сутки",
            "timeseries",
            f"SELECT $__timeGroupAlias(s.occurred_at, '1d'), {HOST} AS metric, count(*) AS value "
            f"FROM sysinfo_searches s {fact_join('s')} AND s.result = 'empty' "
            "AND $__timeFilter(s.occurred_at) GROUP BY 1, 2 ORDER BY 1",
            legend=("mean", "lastNotNull", "max"),
            width=8,
        ),
        _usage_panel("Запросы к БД", "u.db_requests", "Запросы к базам данных всех учёток, за сутки."),
        _usage_panel("Учитываемые документы", "u.docs", "Открытые документы всех учёток, за сутки."),
        _usage_panel("Сохранение документов", "u.saved", "Сохранённые документы, за сутки."),
        _usage_panel(
            "Doc or Service",
            "COALESCE(u.searches, 0) + COALESCE(u.docs, 0) + COALESCE(u.services, 0)",
            "Поиски + открытые документы + использования сервисов, за сутки.",
        ),
        _usage_panel("Печать документов", "u.printed", "Документы, отправленные на печать, за сутки."),
        _usage_panel("Среднее число запросов kassist за месяц", "u.kassist", "Запросы через kassist."),
        Panel(
            "Не пользуются системой в течении 60 дней",
            "table",
            f'SELECT {HOST} AS "host", count(*) FILTER (WHERE COALESCE(su.last_login_at, su.first_seen_at) '
            "< $__timeTo()::timestamptz - interval '60 days') AS \"Не заходили 60 дней\", "
            f'count(*) AS "Всего учёток" FROM sysinfo_users su {fact_join("su")} GROUP BY 1 ORDER BY 2 DESC',
            fmt="table",
            width=8,
        ),
    ),
)

# -- Для менеджеров [066] --------------------------------------------------------------------------

MANAGERS = Dashboard(
    uid="smart-managers",
    title="Для менеджеров",
    description="Параметры клиентов, пустые поиски, свежесть OperUp, отказы в подключении.",
    variables=(CLIENT, MANAGER),
    panels=(
        Panel(
            "Параметры клиентов",
            "table",
            f'SELECT c.display_name AS "Клиент", {HOST} AS "host", m.name AS "Менеджер", '
            'r.seats AS "Лицензий в ключе", r.support_until AS "Сопровождение до", '
            'r.regnum AS "Рег. номер", r.module_version AS "Вер. SysInfo", '
            'r.created_at AS "Последний sysinfo" '
            "FROM (SELECT DISTINCT ON (client_id, installation_id) client_id, installation_id, seats, "
            "support_until, regnum, module_version, created_at FROM sysinfo_reports "
            "ORDER BY client_id, installation_id, created_at DESC NULLS LAST, id DESC) r "
            f"{fact_join('r', manager=True)} ORDER BY 1, 2",
            fmt="table",
            width=24,
        ),
        Panel(
            "Детектирование что ничего не нашлось",
            "table",
            f'SELECT s.occurred_at AS "Time", {HOST} AS "host", m.name AS "manager", s.login AS "name", '
            's.query AS "query", s.type AS "searchtype" FROM sysinfo_searches s '
            f"{fact_join('s', manager=True)} AND s.result = 'empty' AND $__timeFilter(s.occurred_at) "
            "ORDER BY 1 DESC LIMIT 1000",
            fmt="table",
        ),
        Panel(
            "Сколько часов назад обновились файлы в OperUp",
            "timeseries",
            f"SELECT f.report_at AS time, {HOST} || ' ' || COALESCE(f.path, '') AS metric, "
            "EXTRACT(EPOCH FROM f.report_at - f.modified_at) AS value "
            f"FROM sysinfo_operup_files f {fact_join('f')} AND f.modified_at IS NOT NULL "
            "AND $__timeFilter(f.report_at) ORDER BY 1",
            description="Зелёная зона — обновление моложе 3 суток, красная — 3 суток и старше.",
            unit="s",
            legend=("lastNotNull",),
            thresholds=(Threshold("green"), Threshold("red", 259200)),
        ),
        Panel(
            "Запросы к БД за час",
            "timeseries",
            f"SELECT u.hour AS time, {HOST} || ' ' || u.login AS metric, u.db_requests AS value "
            f"FROM sysinfo_usage u {fact_join('u')} AND u.db_requests IS NOT NULL "
            "AND $__timeFilter(u.hour) ORDER BY 1",
            legend=("max",),
        ),
        Panel(
            "Количество пользователей не смогли подключиться за один час",
            "timeseries",
            "SELECT $__timeGroupAlias(f.occurred_at, '1h'), "
            f"{HOST} AS metric, count(DISTINCT f.login) AS value "
            f"FROM sysinfo_refusals f {fact_join('f')} AND $__timeFilter(f.occurred_at) "
            "GROUP BY 1, 2 ORDER BY 1",
            legend=("sum",),
        ),
        Panel(
            "Пользователи и количесто раз которые не смогли подключиться из-за использования всех "
            "лицензий в течении 1 дня",
            "table",
            'SELECT date_trunc(\'day\', f.occurred_at) AS "День", c.short_name AS "Клиент", '
            'f.login AS "Логин", count(*) AS "Количество за день" '
            f"FROM sysinfo_refusals f {fact_join('f')} AND f.reason = 'no-seats' "
            "AND $__timeFilter(f.occurred_at) GROUP BY 1, 2, 3 ORDER BY 1 DESC, 4 DESC",
            fmt="table",
        ),
        Panel(
            "Активность пользователей в текущем месяце",
            "table",
            f'SELECT {HOST} AS "host", sum(COALESCE(su.month_searches, 0) + COALESCE(su.month_docs, 0) '
            "+ COALESCE(su.month_free_docs, 0) + COALESCE(su.month_saved, 0) + COALESCE(su.month_printed, 0) "
            '+ COALESCE(su.month_services, 0)) AS "Активность" '
            f"FROM sysinfo_users su {fact_join('su')} GROUP BY 1 ORDER BY 2",
            fmt="table",
            description="Сумма действий пользователей с 1-го числа; меньше 20 — красный.",
            thresholds=(Threshold("red"), Threshold("green", 20)),
        ),
    ),
)

# -- Поисковые запросы [072] -----------------------------------------------------------------------

SEARCH_FILTER = "COALESCE(s.catalog, '—') IN ($catalog) AND s.result IN ($status)"
RESULT_LABEL = "CASE s.result WHEN 'found' THEN 'Успешный' WHEN 'empty' THEN 'Пустой' ELSE 'Ошибка' END"

SEARCHES = Dashboard(
    uid="smart-searches",
    title="Поисковые запросы",
    description="Все поисковые запросы пользователей установок: успешные, пустые и с ошибкой.",
    variables=(
        CLIENT,
        MANAGER,
        Variable(
            "catalog", "Каталог", "SELECT DISTINCT COALESCE(catalog, '—') FROM sysinfo_searches ORDER BY 1"
        ),
        Variable(
            "status",
            "Статус поиска",
            "SELECT * FROM (VALUES ('Успешный', 'found'), ('Пустой', 'empty'), ('Ошибка', 'error')) "
            "AS v(__text, __value)",
        ),
    ),
    panels=(
        Panel(
            "Поисковые запросы за сутки",
            "timeseries",
            f"SELECT $__timeGroupAlias(s.occurred_at, '1d'), {RESULT_LABEL} AS metric, count(*) AS value "
            f"FROM sysinfo_searches s {fact_join('s')} AND {SEARCH_FILTER} "
            "AND $__timeFilter(s.occurred_at) GROUP BY 1, 2 ORDER BY 1",
            legend=("sum",),
            width=24,
            height=6,
        ),
        Panel(
            "Поисковые запросы",
            "table",
            'SELECT s.occurred_at AS "Время", c.display_name AS "ЮрЛицо", s.login AS "Пользователь", '
            's.query AS "Запрос", s.catalog AS "Каталог", s.type AS "Тип поиска", s.source AS "ПК\\КА", '
            f'{RESULT_LABEL} AS "Статус", c.short_name AS "Клиент" '
            f"FROM sysinfo_searches s {fact_join('s')} AND {SEARCH_FILTER} "
            "AND $__timeFilter(s.occurred_at) ORDER BY 1 DESC LIMIT 5000",
            fmt="table",
            width=24,
            height=12,
        ),
        Panel(
            "Пустой поиск",
            "table",
            f'SELECT s.occurred_at AS "Time", {HOST} AS "host", m.name AS "manager", '
            's.login AS "Пользователь", \'Пустой\' AS "Статус", s.query AS "Запрос", s.type AS "searchtype" '
            f"FROM sysinfo_searches s {fact_join('s', manager=True)} "
            "AND COALESCE(s.catalog, '—') IN ($catalog) AND s.result = 'empty' "
            "AND $__timeFilter(s.occurred_at) ORDER BY 1 DESC LIMIT 5000",
            fmt="table",
            width=24,
            height=12,
        ),
    ),
)

# -- Ошибки БД [070] -------------------------------------------------------------------------------

DB_ERRORS = Dashboard(
    uid="smart-db-errors",
    title="Ошибки БД",
    description="Ошибки с файлами баз данных по установкам (по данным sysinfo).",
    variables=(CLIENT, MANAGER),
    panels=(
        Panel(
            "Количество ошибок с файлами базы данных",
            "timeseries",
            f"SELECT e.report_at AS time, {HOST} || ' ' || COALESCE(e.text, 'код ' || e.code) AS metric, "
            "count(DISTINCT COALESCE(e.volume, e.database, '')) AS value "
            f"FROM sysinfo_db_errors e {fact_join('e')} AND $__timeFilter(e.report_at) "
            "GROUP BY 1, 2 ORDER BY 1",
            description="Число томов базы данных, на которых зафиксирована ошибка.",
            legend=("lastNotNull",),
            log_scale=10,
            width=24,
        ),
        Panel(
            "Ошибки БД",
            "table",
            f'SELECT e.report_at AS "Время отчёта", c.short_name AS "Клиент", {HOST} AS "host", '
            'e.database AS "База", e.volume AS "Том", e.code AS "Код", e.text AS "Текст" '
            f"FROM sysinfo_db_errors e {fact_join('e')} AND $__timeFilter(e.report_at) "
            "ORDER BY 1 DESC LIMIT 1000",
            fmt="table",
            width=24,
        ),
    ),
)

# -- Загрузка sysinfo [067] ------------------------------------------------------------------------

UPLOAD_FROM = (
    "FROM uploads up JOIN clients c ON c.id = up.client_id "
    f"WHERE {CLIENT_FILTER} AND up.status IN ($status) AND up.kind = 'sysinfo' "
    "AND $__timeFilter(up.received_at)"
)
UPLOADS = Dashboard(
    uid="smart-uploads",
    title="Загрузка sysinfo",
    description="Какие отчёты sysinfo получены и чем закончилась их обработка.",
    variables=(
        CLIENT,
        MANAGER,
        Variable(
            "status",
            "Состояние",
            "SELECT * FROM (VALUES ('Обработан', 'done'), ('В очереди', 'queued'), ('Ошибка', 'failed')) "
            "AS v(__text, __value)",
        ),
    ),
    panels=(
        Panel(
            "Статус: Обработан",
            "table",
            'SELECT date_trunc(\'hour\', up.received_at) AS "Time", count(*) AS "Число за час" '
            f"{UPLOAD_FROM} AND up.status = 'done' GROUP BY 1 ORDER BY 1 DESC",
            fmt="table",
        ),
        Panel(
            "Статус: не «ок»",
            "table",
            'SELECT date_trunc(\'hour\', up.received_at) AS "Time", count(*) AS "Число за час" '
            f"{UPLOAD_FROM} AND up.status <> 'done' GROUP BY 1 ORDER BY 1 DESC",
            fmt="table",
        ),
        Panel(
            "Загрузка sysinfo",
            "table",
            'SELECT up.received_at AS "Время", c.short_name AS "Клиент", up.filename AS "Файл", '
            "CASE up.status WHEN 'done' THEN 'Обработан' WHEN 'queued' THEN 'В очереди' "
            'ELSE \'Ошибка\' END AS "Состояние", up.error AS "Ошибка", up.size AS "Размер", '
            f'up.report_time AS "Время отчёта" {UPLOAD_FROM} ORDER BY 1 DESC LIMIT 1000',
            fmt="table",
            width=24,
            height=12,
        ),
    ),
)

# -- Подключённые пользователи [071] ---------------------------------------------------------------

CONNECTED = Dashboard(
    uid="smart-connected-users",
    title="Подключённые пользователи",
    description="Кто занимал лицензии в момент получения последнего sysinfo каждой установки.",
    variables=(CLIENT, MANAGER),
    time_from="now-1d",
    panels=(
        Panel(
            "Пользователи занимающие лицензии на момент получения sysinfo",
            "table",
            f'SELECT c.short_name AS "Клиент", {HOST} AS "host", s.login AS "login", s.ip AS "ip", '
            's.domain AS "domain", s.login_at AS "Время на сервере", s.browser AS "Браузер" '
            f"FROM sysinfo_sessions s {fact_join('s')} AND s.upload_id IN ("
            "SELECT DISTINCT ON (client_id, installation_id) upload_id FROM sysinfo_reports "
            "ORDER BY client_id, installation_id, created_at DESC NULLS LAST, id DESC) ORDER BY 1, 2, 3",
            fmt="table",
            width=24,
            height=12,
        ),
    ),
)

# -- kAssist. Аналитика [078] ----------------------------------------------------------------------


def _kassist_daily(title: str, column: str) -> Panel:
    return Panel(
        title,
        "timeseries",
        f"SELECT k.day::timestamp AS time, c.short_name AS metric, sum(k.{column}) AS value "
        f"FROM sysinfo_kassist_days k {fact_join('k')} AND k.{column} IS NOT NULL "
        "AND $__timeFilter(k.day::timestamp) GROUP BY 1, 2 ORDER BY 1",
        legend=("max", "lastNotNull"),
        log_scale=2,
    )


def _kassist_total(title: str, column: str) -> Panel:
    return Panel(
        title,
        "table",
        f'SELECT c.short_name AS "Клиент", sum(k.{column}) AS "Сумма" '
        f"FROM sysinfo_kassist_days k {fact_join('k')} AND $__timeFilter(k.day::timestamp) "
        "GROUP BY 1 ORDER BY 2 DESC NULLS LAST",
        fmt="table",
    )


KASSIST = Dashboard(
    uid="smart-kassist",
    title="kAssist. Аналитика",
    description="Как часто и насколько успешно клиенты пользуются kAssist (данные с мая 2024 года).",
    variables=(CLIENT, MANAGER),
    panels=(
        _kassist_daily("Количество уникальных ссылок при добавлении за сутки", "unique_links"),
        _kassist_daily("Количество ссылок по которым не было найдено совпадений за сутки", "not_matched"),
        _kassist_daily("Количество всех ссылок добавленных за сутки", "links_added"),
        _kassist_daily("Количество проверенных активных ссылок за сутки", "active_checked"),
        _kassist_total("Количество уникальных ссылок при добавлении за интервал", "unique_links"),
        _kassist_total("Кол-во проверенных активных ссылок за интервал", "active_checked"),
    ),
)

# -- Биллинг Онлайн. Статистика [063] -----------------------------------------------------------------

BILLING_LAST = (
    "(SELECT DISTINCT ON (online_access_id) online_access_id, read_at, docs_max, docs_used, search_max, "
    "search_used, print_max, print_used, upload_max, upload_used FROM online_billing_readings "
    "WHERE $__timeFilter(read_at) ORDER BY online_access_id, read_at DESC, id DESC) b"
)
BILLING = Dashboard(
    uid="smart-online-billing",
    title="Биллинг Онлайн. Статистика",
    description="Остатки лимитов простых онлайн-доступов в текущем месяце (последнее чтение в интервале).",
    variables=(CLIENT, MANAGER),
    time_from="now-1d",
    panels=(
        Panel(
            "Биллинг Онлайн",
            "table",
            'SELECT c.display_name AS "Клиент", oa.login AS "Логин", '
            'b.docs_max - b.docs_used AS "Документы", '
            'round(100.0 * b.docs_used / NULLIF(b.docs_max, 0), 1) AS "% исп. док", '
            'b.search_max - b.search_used AS "Поиск", '
            'round(100.0 * b.search_used / NULLIF(b.search_max, 0), 1) AS "% исп. поиска", '
            'b.print_max - b.print_used AS "Печать", b.upload_max - b.upload_used AS "Выгрузка", '
            f'm.name AS "Менеджер" FROM {BILLING_LAST} '
            "JOIN online_accesses oa ON oa.id = b.online_access_id "
            f"{client_join('oa', manager=True)} ORDER BY 1, 2",
            fmt="table",
            description="Документы: жёлтый — меньше 150, красный — меньше 50.",
            thresholds=(Threshold("red"), Threshold("yellow", 50), Threshold("green", 150)),
            width=24,
            height=10,
        ),
        Panel(
            "Остаток документов",
            "timeseries",
            "SELECT r.read_at AS time, c.short_name || ' ' || oa.login AS metric, "
            "r.docs_max - r.docs_used AS value FROM online_billing_readings r "
            "JOIN online_accesses oa ON oa.id = r.online_access_id "
            f"{client_join('oa')} AND r.docs_max IS NOT NULL AND $__timeFilter(r.read_at) ORDER BY 1",
            legend=("min", "lastNotNull"),
            width=24,
        ),
    ),
)

#: Every dashboard SMART provisions; the first is the recommended home dashboard.
DASHBOARDS: tuple[Dashboard, ...] = (
    ANALYTICS,
    CURRENT_ALERTS,
    SERVER_METRICS,
    AVAILABILITY,
    MANAGERS,
    SEARCHES,
    DB_ERRORS,
    UPLOADS,
    CONNECTED,
    KASSIST,
    BILLING,
)
