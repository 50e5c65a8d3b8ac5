"""Runbook pages: one Russian Markdown page per alert rule, served at ``/docs/alerts/NAME``.

Pages are package data (``alerts/runbooks/<RuleName>.md``), one per rule of `catalogue.RULES`, Count
variants included. A page has a fixed skeleton the tests check against the catalogue:

* ``# <RuleName> — <русское название>``;
* ``## Параметры`` — a two-column facts table (важность, приоритет, категория, …, задержка ``for``, повтор);
* ``## Что это значит``, ``## Возможные причины``, ``## Что делать``, ``## Связанные алерты``,
  ``## Решение SMART`` (what SMART decided where the original product is vague or contradictory).

A line ``<!-- error-codes: SELECTORS -->`` is replaced by tables generated from the Kodeks error-code
catalogue (`error_codes`); selectors are ``*`` (every row), ``section``, ``section/code`` (``-`` for the
code-less row) and the same with a leading ``!`` to leave rows out. Rendering uses markdown-it-py with raw
HTML disabled, so page text can never inject markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from markdown_it import MarkdownIt

from kodeks_smart.alerts.catalogue import ALIASES, RULES, RuleSpec
from kodeks_smart.alerts.error_codes import SECTIONS, ErrorCode, catalogue

#: Section headings every page must have, in this order.
REQUIRED_SECTIONS: tuple[str, ...] = (
    "Параметры",
    "Что это значит",
    "Возможные причины",
    "Что делать",
    "Связанные алерты",
    "Решение SMART",
)

SEVERITY_RU: dict[str, str] = {
    "critical": "критическая",
    "warning": "предупреждение",
    "info": "информационная",
}


@dataclass(frozen=True)
class Category:
    code: str
    title: str
    recipients: str


#: Routing categories in the order the index lists them.
CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category(
            "critical",
            "Высокий приоритет",
            "почтовые ящики кабинета с категорией «высокий приоритет», Telegram-чат оповещений кабинета "
            "и ответственный менеджер клиента (e-mail)",
        ),
        Category(
            "technical",
            "Технические",
            "почтовые ящики кабинета с категорией «технические» и ответственный менеджер клиента (e-mail); "
            "в Telegram — только если чат кабинета подписан на эту категорию",
        ),
        Category(
            "online",
            "Онлайн-доступы",
            "почтовые ящики кабинета с категорией «онлайн-доступы» и менеджер, ответственный "
            "за онлайн-доступ (e-mail); в Telegram — только если чат кабинета подписан на эту категорию",
        ),
        Category(
            "analytics",
            "Активность пользователей",
            "почтовые ящики кабинета с категорией «активность пользователей» и ответственный менеджер "
            "(e-mail); в Telegram по умолчанию не отправляется",
        ),
    )
}

SOURCE_RU: dict[str, str] = {
    "probe": "активная проверка с сервера СМАРТ (установки, доступные из интернета)",
    "sysinfo": "отчёт sysinfo, который агент smartupload присылает с сервера ПК (примерно раз в час)",
    "sysmon": "метрики sysmon, которые присылает агент smartstatus",
    "online": "профиль и биллинг простого онлайн-доступа, которые опрашивает СМАРТ",
    "meta": "учёт приёма файлов в самом СМАРТ",
}

#: Misspelled names of the original product's documentation links that still deserve the right page.
URL_ALIASES: dict[str, str] = {
    "OnlineBillingSearch500": "OnlineBillingSearchLeft50",
}

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,79}$")
_CODES_MARKER = re.compile(
    r"^<!--[ \t]*error-codes:[ \t]*(?P<selectors>[^>\n]*?)[ \t]*-->[ \t]*$", re.MULTILINE
)
_TABLE_ROW = re.compile(r"^\|\s*(?P<key>[^|]+?)\s*\|\s*(?P<value>.+?)\s*\|\s*$")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


@dataclass(frozen=True)
class Resolved:
    """A requested name and the canonical rule it stands for.

    ``kind`` is ``rule`` (the canonical name itself), ``alias`` (a documented other name, exactly spelt)
    or ``variant`` (another spelling of either, e.g. different letter case: worth a redirect).
    """

    requested: str
    name: str
    kind: str


@dataclass(frozen=True)
class RunbookPage:
    name: str
    requested: str
    title: str
    markdown: str
    html: str

    @property
    def is_alias(self) -> bool:
        return self.requested != self.name


@dataclass(frozen=True)
class IndexEntry:
    rule: RuleSpec
    title: str


@dataclass(frozen=True)
class IndexGroup:
    category: Category
    entries: tuple[IndexEntry, ...]


def format_duration(seconds: int) -> str:
    """``0`` → ``0``, ``120`` → ``2 мин``, ``14400`` → ``4 ч``; as the facts tables write durations."""
    if seconds == 0:
        return "0"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} ч"
    if seconds % 60 == 0:
        return f"{seconds // 60} мин"
    return f"{seconds} с"


def resolve(name: str) -> Resolved | None:
    """The canonical rule for a rule name, a documented alias or an old link spelling; None if unknown.

    Exact names win; otherwise the match is case-insensitive (the original linked
    ``KodeksDBerrorsNOCodeCount.md``).
    """
    if not NAME_PATTERN.match(name):
        return None
    if name in RULES:
        return Resolved(name, name, "rule")
    other_names = aliases()
    if name in other_names:
        return Resolved(name, other_names[name], "alias")
    spelt = _lowercase_names().get(name.lower())
    if spelt is None:
        return None
    return Resolved(name, other_names.get(spelt, spelt), "variant")


@cache
def _lowercase_names() -> dict[str, str]:
    names = [*RULES, *ALIASES, *URL_ALIASES]
    return {n.lower(): n for n in names}


def source_markdown(name: str) -> str:
    """The page file of a canonical rule name as stored (markers not expanded); KeyError if missing."""
    if name not in RULES:
        raise KeyError(name)
    path = files("kodeks_smart.alerts").joinpath("runbooks", f"{name}.md")
    if not path.is_file():
        raise KeyError(name)
    return path.read_text("utf-8")


@cache
def page_markdown(name: str) -> str:
    """The page of a canonical rule name with the error-code tables expanded; KeyError if missing."""
    return expand_error_codes(source_markdown(name))


def expand_error_codes(markdown: str) -> str:
    return _CODES_MARKER.sub(lambda m: error_codes_markdown(m.group("selectors")), markdown)


def select_error_codes(selectors: str) -> list[ErrorCode]:
    """Rows chosen by a selector list such as ``"*, !product_connection_protection/2007"``."""
    rows = list(catalogue())
    chosen: list[ErrorCode] = []
    excluded: list[ErrorCode] = []
    for raw in re.split(r"[\s,]+", selectors.strip()):
        if not raw:
            continue
        negative = raw.startswith("!")
        selector = raw.removeprefix("!")
        if selector == "*":
            matched = rows
        else:
            section, _, code = selector.partition("/")
            if section not in SECTIONS:
                raise ValueError(f"unknown error-code section in selector {raw!r}")
            matched = [r for r in rows if r.section == section and (not code or _code_matches(r, code))]
            if not matched:
                raise ValueError(f"selector {raw!r} matches no error code")
        (excluded if negative else chosen).extend(matched)
    result: list[ErrorCode] = []
    for row in rows:  # catalogue order, no repeats
        if row in chosen and row not in excluded and row not in result:
            result.append(row)
    if not result:
        raise ValueError(f"error-code selectors {selectors!r} select nothing")
    return result


def _code_matches(row: ErrorCode, code: str) -> bool:
    if code == "-":
        return row.code is None
    return code.isdigit() and int(code) in row.codes


def _cell(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def error_codes_markdown(selectors: str) -> str:
    """Markdown tables (one per section) of the rows chosen by ``selectors``."""
    rows = select_error_codes(selectors)
    parts: list[str] = []
    for section, title in SECTIONS.items():
        in_section = [r for r in rows if r.section == section]
        if not in_section:
            continue
        parts.append(f"### {title}\n")
        parts.append("| Код | Что означает | Что видит пользователь |")
        parts.append("|---|---|---|")
        parts.extend(
            f"| {_cell(r.label)} | {_cell(r.description_ru)} | {_cell(r.user_message_ru)} |"
            for r in in_section
        )
        parts.append("")
    return "\n".join(parts).rstrip("\n")


def render_markdown(markdown: str) -> str:
    """HTML of a Markdown text; raw HTML in the source is shown as text, never passed through."""
    rendered: str = _MARKDOWN.render(markdown)
    return rendered


def page_title(markdown: str) -> str:
    """The Russian title from the first line ``# Name — Title``."""
    first = markdown.lstrip().splitlines()[0] if markdown.strip() else ""
    _, _, title = first.lstrip("# ").partition(" — ")
    return title.strip()


def sections(markdown: str) -> dict[str, str]:
    """Level-2 sections: heading → body text."""
    found: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            if current is not None:
                found[current] = "\n".join(lines).strip()
            current, lines = line[3:].strip(), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        found[current] = "\n".join(lines).strip()
    return found


def facts(markdown: str) -> dict[str, str]:
    """The «Параметры» table: parameter → value (Markdown as written)."""
    table: dict[str, str] = {}
    for line in sections(markdown).get("Параметры", "").splitlines():
        match = _TABLE_ROW.match(line.strip())
        if match and not set(match["key"]) <= {"-", ":"} and match["key"] != "Параметр":
            table[match["key"]] = match["value"]
    return table


def page(name: str) -> RunbookPage | None:
    """The page for a rule name or alias (with a note naming the canonical rule); None if unknown.

    Another spelling of a name (``variant``) gets the canonical page without a note.
    """
    resolved = resolve(name)
    if resolved is None:
        return None
    try:
        return _page(resolved.requested if resolved.kind == "alias" else resolved.name, resolved.name)
    except KeyError:  # a catalogue rule without a page file
        return None


@lru_cache(maxsize=128)
def _page(requested: str, name: str) -> RunbookPage:
    markdown = page_markdown(name)
    if requested != name:
        markdown = (
            f"> «{requested}» — другое имя алерта **{name}**, под которым он встречается в документации "
            f"оригинального СМАРТ. Уведомления приходят под именем {name}; ниже — его описание.\n\n"
            + markdown
        )
    return RunbookPage(name, requested, page_title(page_markdown(name)), markdown, render_markdown(markdown))


def index() -> list[IndexGroup]:
    """Every rule grouped by routing category; within a group by priority (К1 first), then name."""
    groups: list[IndexGroup] = []
    for category in CATEGORIES.values():
        rules = sorted((r for r in RULES.values() if r.category == category.code), key=_order)
        entries = [IndexEntry(rule, page_title(page_markdown(rule.name))) for rule in rules]
        if entries:
            groups.append(IndexGroup(category, tuple(entries)))
    return groups


def _order(rule: RuleSpec) -> tuple[int, str]:
    return rule.priority, rule.name


def aliases() -> dict[str, str]:
    """Every alternative name a runbook answers to → canonical name."""
    return {**ALIASES, **URL_ALIASES}
