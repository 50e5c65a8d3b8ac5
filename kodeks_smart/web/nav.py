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
    NavEntry(SELF_SERVICE, "Клиенты и агенты", "clients"),
    NavEntry(SELF_SERVICE, "Тишина", "silences"),
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
