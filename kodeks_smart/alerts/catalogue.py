"""The alert catalogue: every alert of the original product, with SMART's decisions.

Names are the original ones (spec/alerts.csv). For each rule: severity, priority К1 (highest) … К5, routing
category, data source, the ``for`` duration before a pending alert fires, the repeat interval while it keeps
firing, and the Russian summary line used in notifications. Where the original is vague the decision is ours;
the runbook pages (``/docs/alerts/NAME``) say so.

Routing categories (audience codes of spec/alerts.md §3):
* ``critical`` — TECH-HP: the server or part of it does not work → high-priority mailbox + Telegram + manager;
* ``technical`` — TECH: technical mailbox + manager;
* ``analytics`` — USER: user-activity mailbox + manager (e-mail only);
* ``online`` — ONL: online accesses and their billing → online mailbox + manager.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE = 60
HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class RuleSpec:
    name: str
    severity: str  # critical | warning | info
    priority: int  # 1 (К1, highest) … 5 (К5)
    category: str  # critical | technical | analytics | online
    source: str  # probe | sysinfo | sysmon | online | meta
    summary: str  # Russian, one line per object; formatted with the instance's labels
    for_seconds: int = 0
    repeat_seconds: int = 24 * HOUR
    #: For "…Count" rules: the per-object rule they aggregate and the count above which they replace it.
    count_of: str | None = None
    count_threshold: int = 0

    @property
    def priority_label(self) -> str:
        return f"К{self.priority}"

    @property
    def is_count(self) -> bool:
        return self.count_of is not None


def _r(
    name: str,
    severity: str,
    priority: int,
    category: str,
    source: str,
    summary: str,
    for_seconds: int = 0,
    repeat_seconds: int | None = None,
) -> RuleSpec:
    if repeat_seconds is None:
        repeat_seconds = 4 * HOUR if severity == "critical" else 24 * HOUR
    return RuleSpec(name, severity, priority, category, source, summary, for_seconds, repeat_seconds)


def _count(base: RuleSpec, threshold: int, priority: int = 1) -> RuleSpec:
    return RuleSpec(
        name=base.name + "Count",
        severity="critical",
        priority=priority,
        category="critical",
        source=base.source,
        summary=f"Массовая однотипная ошибка {base.name}: затронуто объектов — {{count}}",
        for_seconds=base.for_seconds,
        repeat_seconds=4 * HOUR,
        count_of=base.name,
        count_threshold=threshold,
    )


_BASE: list[RuleSpec] = [
    # -- DB errors and OperUp (sysinfo) ---------------------------------------------------------------
    _r(
        "KodeksDBerrorsNoCode",
        "warning",
        3,
        "technical",
        "sysinfo",
        "Ошибка БД без кода: {text} (БД: {database})",
    ),
    _r(
        "KodeksDBerrorsCode2007",
        "critical",
        2,
        "critical",
        "sysinfo",
        "Нет прав на использование БД (ошибка 2007): {database}",
    ),
    _r(
        "KodeksDBerrorsCodeXXX",
        "warning",
        3,
        "technical",
        "sysinfo",
        "Ошибка БД с кодом {code}: {text} (БД: {database})",
    ),
    _r(
        "KodeksDBOperUpToOld",
        "info",
        5,
        "critical",
        "sysinfo",
        "Файлы OperUp старее 3 дней: {filename} от {date}",
    ),
    # -- network availability (probe) -----------------------------------------------------------------
    _r(
        "KodeksBehindProxyDown",
        "critical",
        1,
        "critical",
        "probe",
        "Reverse-proxy отвечает, а ПК ТЭ за ним не работает ({address})",
        for_seconds=2 * MINUTE,
    ),
    _r(
        "KodeksHttp200Status",
        "critical",
        1,
        "critical",
        "probe",
        "Главная страница ПК не отвечает кодом 200 ({address}: {value})",
        for_seconds=2 * MINUTE,
    ),
    _r(
        "KodeksIcmp",
        "warning",
        3,
        "technical",
        "probe",
        "Сервер ПК не отвечает на ping ({address})",
        for_seconds=3 * MINUTE,
    ),
    _r(
        "KodeksTcpStatus",
        "critical",
        1,
        "critical",
        "probe",
        "Порт ПК не принимает соединения ({address})",
        for_seconds=2 * MINUTE,
    ),
    # -- online accesses ------------------------------------------------------------------------------
    *[
        _r(
            f"OnlineBilling{kind}Left{level}",
            sev,
            prio,
            "online",
            "online",
            f"Биллинг онлайн-доступа ({label}): осталось {{value}} шт. — {{login}}@{{url}}/{{catalog}}",
        )
        for kind, label in (
            ("Docs", "документы"),
            ("Print", "печать"),
            ("Search", "поиск"),
            ("Upload", "выгрузка"),
        )
        for level, sev, prio in (("150", "warning", 4), ("50", "critical", 4), ("Zero", "critical", 3))
    ],
    _r(
        "OnlineLoginFailed",
        "critical",
        3,
        "online",
        "online",
        "Авторизация по онлайн-доступу не прошла: {login}@{url}/{catalog} ({text})",
        for_seconds=2 * HOUR,
    ),
    _r(
        "OnlineUserActivityIsLow10",
        "info",
        5,
        "analytics",
        "online",
        "К 10-му числу использовано {value}% месячного лимита документов (< 3%): {login}@{url}/{catalog}",
    ),
    _r(
        "OnlineUserActivityIsLow20",
        "info",
        5,
        "analytics",
        "online",
        "К 20-му числу использовано {value}% месячного лимита документов (< 10%): {login}@{url}/{catalog}",
    ),
    _r(
        "OnlineUserActivityIsLow30",
        "info",
        5,
        "analytics",
        "online",
        "К концу месяца использовано {value}% месячного лимита документов (< 15%): {login}@{url}/{catalog}",
    ),
    _r("KodeksSearchIsEmpty", "info", 5, "analytics", "sysinfo", "Пустой поиск: «{query}» ({user})"),
    # -- maintenance (probe) --------------------------------------------------------------------------
    _r(
        "KodeksMaintenance",
        "warning",
        3,
        "technical",
        "probe",
        "ПК ТЭ в режиме технического обслуживания ({address})",
        for_seconds=30 * MINUTE,
    ),
    _r(
        "KodeksNeedSupport",
        "warning",
        3,
        "technical",
        "probe",
        "На главной странице ПК сообщение «Требуется обслуживание» ({address})",
        for_seconds=5 * MINUTE,
    ),
    _r(
        "KodeksMaintenanceToLong",
        "critical",
        2,
        "critical",
        "probe",
        "ПК ТЭ в режиме обслуживания больше 3 часов подряд ({address})",
    ),
    # -- licence manager (probe) ----------------------------------------------------------------------
    _r(
        "LicmanIcmp",
        "warning",
        3,
        "technical",
        "probe",
        "Менеджер лицензий не отвечает на ping ({licman})",
        for_seconds=3 * MINUTE,
    ),
    _r(
        "LicmanTcpStatus",
        "critical",
        2,
        "critical",
        "probe",
        "Порт менеджера лицензий закрыт ({licman})",
        for_seconds=2 * MINUTE,
    ),
    # -- SenseLock keys -------------------------------------------------------------------------------
    _r(
        "KodeksOfflineSensLockCheck",
        "critical",
        1,
        "critical",
        "sysinfo",
        "По данным sysinfo ключ SenseLock недоступен: {text}",
    ),
    _r(
        "KodeksOnlineSensLockCheck",
        "critical",
        1,
        "critical",
        "probe",
        "ПК не видит активный ключ защиты: {text}",
        for_seconds=2 * MINUTE,
    ),
    _r(
        "KodeksXmlSensLockStatus",
        "critical",
        1,
        "critical",
        "sysinfo",
        "По информации xml sysinfo ключ SensLock не работает: {text}",
    ),
    # -- licences and seats ---------------------------------------------------------------------------
    _r(
        "KodeksDetectOverUserError",
        "warning",
        4,
        "analytics",
        "sysinfo",
        "Отказ во входе — нет свободных рабочих мест: {user}, {value} раз(а) за день",
    ),
    _r(
        "KodeksLicenseExpiring2day",
        "critical",
        2,
        "critical",
        "sysinfo",
        "Лицензия истечёт менее чем через 2 дня: {database} до {date}",
    ),
    _r(
        "KodeksLicenseExpiring7day",
        "critical",
        5,
        "technical",
        "sysinfo",
        "Лицензия истечёт менее чем через 7 дней: {database} до {date}",
        repeat_seconds=24 * HOUR,
    ),
    _r(
        "KodeksLicenseExpiring90day",
        "info",
        5,
        "analytics",
        "sysinfo",
        "Лицензия истечёт менее чем через 90 дней: {database} до {date}",
    ),
    _r(
        "KodeksLimitsUsers",
        "warning",
        3,
        "technical",
        "probe",
        "Не осталось свободных рабочих мест по лицензии: занято {value} — {address}",
    ),
    _r(
        "KodeksUnsupportedButUsed",
        "info",
        5,
        "analytics",
        "sysinfo",
        "Сопровождение прекращено, но система используется: {value} активных пользователей",
    ),
    # -- users ----------------------------------------------------------------------------------------
    _r("KodeksNewUser", "info", 5, "analytics", "sysinfo", "Новый пользователь ПК: {user}"),
    _r(
        "KodeksUserActivityIsLow",
        "info",
        5,
        "analytics",
        "sysinfo",
        "Активность пользователей за месяц ниже нормы: {value} (< 20)",
    ),
    _r(
        "KodeksUserAInvolvementIsLow",
        "info",
        5,
        "analytics",
        "sysinfo",
        "Вовлечённость пользователей за месяц ниже нормы: {value}% (< 60%)",
    ),
    _r(
        "KodeksSearchError",
        "warning",
        4,
        "technical",
        "sysinfo",
        "Поисковый запрос не обработан поиском ПК: «{query}» ({user})",
    ),
    # -- other ----------------------------------------------------------------------------------------
    _r(
        "KodeksAuthNotWork",
        "critical",
        1,
        "critical",
        "probe",
        "Не работает вход в ПК тестового пользователя {login} ({address})",
        for_seconds=3 * MINUTE,
    ),
    _r(
        "KodeksSppStatus",
        "warning",
        3,
        "technical",
        "probe",
        "Не работает служба поддержки пользователей (СПП): {text}",
        for_seconds=5 * MINUTE,
    ),
    _r(
        "KodeksWarning",
        "critical",
        1,
        "critical",
        "probe",
        "Нештатное состояние ПК: {text}",
        for_seconds=2 * MINUTE,
    ),
    _r(
        "SmartXMLfileIsToOld",
        "critical",
        2,
        "critical",
        "meta",
        "От клиента не поступает sysinfo больше 2 дней: последний отчёт {date}",
    ),
    _r(
        "KodeksDBLicensesZero",
        "warning",
        3,
        "technical",
        "sysinfo",
        "В sysinfo нет заполненного блока срока действия лицензии: {database}",
    ),
    # -- SMART's own rules (not in the original catalogue) ---------------------------------------------
    _r(
        "SmartAsrpForwardFailing",
        "warning",
        3,
        "technical",
        "meta",
        "Отчёты sysinfo не передаются в АСРП уже {value}: {text}",
    ),
]

_BY_NAME = {r.name: r for r in _BASE}

_COUNTS: list[RuleSpec] = [
    _count(_BY_NAME["KodeksDBerrorsNoCode"], 10),
    _count(_BY_NAME["KodeksDBerrorsCode2007"], 10),
    _count(_BY_NAME["KodeksDBerrorsCodeXXX"], 10),
    _count(_BY_NAME["KodeksDBOperUpToOld"], 10),
    _count(_BY_NAME["KodeksHttp200Status"], 10),
    _count(_BY_NAME["KodeksIcmp"], 10),
    _count(_BY_NAME["KodeksTcpStatus"], 10),
    _count(_BY_NAME["KodeksMaintenance"], 30),
    _count(_BY_NAME["KodeksMaintenanceToLong"], 10),
]

#: Every rule by name, the Count variants included.
RULES: dict[str, RuleSpec] = {r.name: r for r in (*_BASE, *_COUNTS)}

#: Names used in the original documents for the same alerts; notifications use the canonical name.
ALIASES: dict[str, str] = {
    "KodeksDBerrorsCode1": "KodeksDBerrorsNoCode",
    "KodeksDBerrorsCode1Count": "KodeksDBerrorsNoCodeCount",
    "OnlineBillingSearch150": "OnlineBillingSearchLeft150",
    "OnlineBillingSearch50": "OnlineBillingSearchLeft50",
}

#: Count rule replacing each per-object rule when it fires for many objects of one cabinet.
COUNT_FOR: dict[str, RuleSpec] = {r.count_of: r for r in _COUNTS if r.count_of}


def rule(name: str) -> RuleSpec:
    """The rule for a canonical name or an alias; KeyError for an unknown name."""
    return RULES[ALIASES.get(name, name)]
