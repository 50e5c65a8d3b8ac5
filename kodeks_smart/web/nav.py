"""The cabinet's side menu: one registry that every page module adds its entry to.

Each entry is a path under ``/c/{cabinet_id}``; ``dashboard`` marks the analytic dashboards (the UI
tests open every one of them and take a screenshot), ``roles`` limits an entry to some account roles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    section: str
    title: str
    path: str  # relative to /c/{cabinet_id}, e.g. "alerts"
    dashboard: bool = False
    roles: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return self.path.replace("/", "-")

    def visible_to(self, role: str) -> bool:
        return not self.roles or role in self.roles


MONITORING = "Мониторинг"
ANALYTICS = "Аналитика"
REPORTS = "Отчёты"
SELF_SERVICE = "Самообслуживание"

SECTIONS = (MONITORING, ANALYTICS, REPORTS, SELF_SERVICE)

# Order within a section is the order of this list.
NAV: list[NavEntry] = [
    NavEntry(MONITORING, "Текущие аварийные ситуации", "alerts", dashboard=True),
    NavEntry(MONITORING, "Загрузка sysinfo", "uploads", dashboard=True),
    NavEntry(MONITORING, "Загрузка sysinfo в АСРП", "asrp", dashboard=True),
    NavEntry(MONITORING, "Kodeks server metrics", "d/server-metrics", dashboard=True),
    NavEntry(MONITORING, "Доступность серверов", "d/availability", dashboard=True),
    NavEntry(MONITORING, "Доступность серверов. Онлайн", "d/availability-online", dashboard=True),
    NavEntry(MONITORING, "Ошибки БД", "d/db-errors", dashboard=True),
    NavEntry(MONITORING, "Дисковое пространство", "d/disk-space", dashboard=True),
    NavEntry(ANALYTICS, "Kodeks аналитика", "d/analytics", dashboard=True),
    NavEntry(ANALYTICS, "Для менеджеров", "d/managers", dashboard=True),
    NavEntry(ANALYTICS, "Подключённые пользователи", "d/connected-users", dashboard=True),
    NavEntry(ANALYTICS, "Биллинг Онлайн. Статистика", "d/billing", dashboard=True),
    NavEntry(ANALYTICS, "Биллинг Онлайн. Аналитика", "d/billing-analytics", dashboard=True),
    NavEntry(ANALYTICS, "Поисковые запросы", "d/searches", dashboard=True),
    NavEntry(ANALYTICS, "Поисковые запросы. Онлайн.", "d/searches-online", dashboard=True),
    NavEntry(ANALYTICS, "Время выполнения поисковых запросов", "d/search-time", dashboard=True),
    NavEntry(ANALYTICS, "Контроль версий ПК, Kassist и др.", "d/versions", dashboard=True),
    NavEntry(ANALYTICS, "Статистика в разрезе MS Active Directory", "d/ad", dashboard=True),
    NavEntry(ANALYTICS, "Карточки пользователей", "d/user-cards", dashboard=True),
    NavEntry(ANALYTICS, "kAssist. Аналитика", "d/kassist", dashboard=True),
    NavEntry(REPORTS, "Данные для пролонгации", "d/prolongation", dashboard=True),
    NavEntry(REPORTS, "Биллинг Онлайн. Данные для пролонгации", "d/prolongation-online", dashboard=True),
    NavEntry(REPORTS, "Отчёты PDF / XLSX", "reports"),
    NavEntry(SELF_SERVICE, "Клиенты и агенты", "clients"),
    NavEntry(SELF_SERVICE, "Тишина", "silences"),
    NavEntry(SELF_SERVICE, "Каналы оповещений", "channels"),
    NavEntry(SELF_SERVICE, "Очередь оповещений", "outbox"),
    NavEntry(SELF_SERVICE, "Импорт списков", "import", roles=("operator", "dealer-admin")),
]


def menu(role: str) -> list[tuple[str, list[NavEntry]]]:
    """The entries an account of ``role`` sees, grouped by section in SECTIONS order."""
    grouped: list[tuple[str, list[NavEntry]]] = []
    for section in SECTIONS:
        entries = [e for e in NAV if e.section == section and e.visible_to(role)]
        if entries:
            grouped.append((section, entries))
    return grouped
