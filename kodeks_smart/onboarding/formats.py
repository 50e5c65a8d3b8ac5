"""The lists a distributor prepares, their columns, and the templates SMART hands out for them.

SMART's own templates have a header row with Russian column names; English names and the usual
variants are accepted too (`Column.aliases`). The original product's files (`managers.csv` with its
two blocks in the 9- and 11-field forms, `online.csv`) have no header and are read by position in
`parse.py`; their documented template texts are kept here so they can be downloaded as well.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from typing import Literal, get_args

Kind = Literal["installations", "closed", "online", "mailboxes", "cabinets"]
KINDS: tuple[Kind, ...] = get_args(Kind)
TemplateFormat = Literal["csv", "xlsx"]


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    aliases: tuple[str, ...]
    help: str
    example: str = ""
    required: bool = False
    secret: bool = False


@dataclass(frozen=True)
class ListSpec:
    kind: Kind
    title: str
    sheet: str
    description: str
    columns: tuple[Column, ...]

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def _c(
    key: str,
    title: str,
    aliases: tuple[str, ...],
    help: str,
    example: str = "",
    *,
    required: bool = False,
    secret: bool = False,
) -> Column:
    return Column(key, title, aliases, help, example, required, secret)


_EMAIL = _c(
    "email",
    "E-mail",
    (
        "email",
        "e-mail менеджера",
        "почта",
        "почта менеджера",
        "эл. почта",
        "электронная почта",
        "emails",
        "mail",
    ),
    "E-mail менеджера; несколько адресов — через пробел или «;». Можно не заполнять, если менеджер уже "
    "есть в кабинете. Список адресов менеджера заменяется тем, что указан в импорте.",
    "ivanov@example.ru",
)
_MANAGER = _c(
    "manager",
    "Менеджер",
    ("ответственный", "ответственный менеджер", "manager"),
    "Менеджер, ответственный за клиента: ему приходят оповещения по его клиентам.",
    "Иванов И.И.",
    required=True,
)
_CABINET = _c(
    "cabinet",
    "Кабинет",
    ("личный кабинет", "филиал", "cabinet"),
    "Личный кабинет (филиал). Можно не заполнять: тогда кабинет берётся из параметра импорта, из списка "
    "кабинетов или, если кабинет у дистрибьютора один, — он.",
    "Филиал Саратов",
)
_TZ = _c(
    "tz",
    "Часовой пояс (UTC)",
    ("часовой пояс", "пояс", "utc", "смещение от utc", "tz", "timezone", "time zone", "utc offset"),
    "Часовой пояс компьютера с ПК: смещение от UTC (+3, UTC+5, +05:30) или от Москвы (МСК, МСК+2). "
    "По умолчанию — московское время.",
    "+3",
)
_TEST_LOGIN = _c(
    "test_login",
    "Тестовый логин",
    ("логин smartlogin", "тестовый пользователь", "test login", "test_login"),
    "Пользователь ПК с доступом к /sysmon (обычно smartlogin): для smartstatus и проверки авторизации.",
    "smartlogin",
)
_TEST_PASSWORD = _c(
    "test_password",
    "Тестовый пароль",
    ("пароль smartlogin", "test password", "test_password"),
    "Пароль тестового пользователя. Хранится в зашифрованном виде и нигде не показывается.",
    "",
    secret=True,
)
_CLIENT = _c(
    "client",
    "Клиент",
    ("краткое имя", "краткое имя клиента", "имя клиента", "имяклиента", "short name", "short_name", "client"),
    "Краткое имя клиента латиницей — то же, что в скриптах агентов: латинские буквы, цифры, «_», «-», «.».",
    "romashka",
)
_NAME = _c(
    "name",
    "Наименование",
    ("наименование клиента", "название", "название клиента", "организация", "display name", "display_name"),
    "Полное название клиента для кабинета и отчётов (необязательно).",
    "ООО «Ромашка»",
)
_PROTOCOL = _c(
    "protocol",
    "Протокол",
    ("http/https", "http or https", "protocol", "scheme"),
    "http или https — как в адресе.",
    "http",
)

LISTS: dict[Kind, ListSpec] = {
    "installations": ListSpec(
        "installations",
        "Установки, доступные из интернета",
        "Установки в интернете",
        "Установки в «Техэксперт.Облаке», в ЦОДе дистрибьютора или у клиента с адресом, доступным из "
        "интернета: SMART сам опрашивает их по адресу.",
        (
            _c(
                "address",
                "Адрес",
                ("адрес:порт", "адрес установки", "url", "host:port", "address"),
                "Адрес установки: сервер:порт или URL (например, 170239.te-cloud.ru:80).",
                "170239.te-cloud.ru:80",
                required=True,
            ),
            _c(
                "client",
                _CLIENT.title,
                _CLIENT.aliases,
                "Краткое имя клиента латиницей; если пусто — имя сервера из адреса.",
                "romashka",
            ),
            _NAME,
            _MANAGER,
            _EMAIL,
            _PROTOCOL,
            _c(
                "ping",
                "Пинг",
                ("ping", "icmp", "проверять пинг", "ping/donotping"),
                "Проверять доступность пингом: да (ping) или нет (donotping). По умолчанию — да.",
                "да",
            ),
            _TZ,
            _TEST_LOGIN,
            _TEST_PASSWORD,
            _CABINET,
        ),
    ),
    "closed": ListSpec(
        "closed",
        "Установки у клиентов: агенты, закрытый контур",
        "Закрытый контур",
        "Установки на мощностях клиента, данные от которых приходят от агентов smartupload и smartstatus, "
        "в том числе в закрытом контуре и без выхода в интернет.",
        (
            _c(
                "client",
                _CLIENT.title,
                _CLIENT.aliases,
                _CLIENT.help,
                _CLIENT.example,
                required=True,
            ),
            _NAME,
            _MANAGER,
            _EMAIL,
            _TZ,
            _TEST_LOGIN,
            _TEST_PASSWORD,
            _CABINET,
        ),
    ),
    "online": ListSpec(
        "online",
        "Онлайн-доступы на площадке ДЦ",
        "Онлайн-доступы",
        "Простые онлайн-доступы на серверах правообладателя: адрес «сервер/каталог», логин и пароль, "
        "выданные ДЦ.",
        (
            _c(
                "firm",
                "Фирма",
                ("наименование", "название", "организация", "firmname", "firm name", "firm", "company"),
                "Краткое название клиента (юрлица) — можно кириллицей.",
                "ООО «Ромашка»",
                required=True,
            ),
            _c(
                "client",
                _CLIENT.title,
                _CLIENT.aliases,
                "Краткое имя клиента латиницей; если пусто — получается из названия фирмы.",
                "romashka",
            ),
            _c(
                "login",
                "Логин",
                ("userlogin", "login", "user"),
                "Логин, выданный ДЦ.",
                "romashka01",
                required=True,
            ),
            _c(
                "password",
                "Пароль",
                ("password",),
                "Пароль, выданный ДЦ. Хранится в зашифрованном виде и нигде не показывается.",
                "",
                required=True,
                secret=True,
            ),
            _c(
                "host",
                "Сервер",
                ("адрес", "адрес сервера", "url", "хост", "host", "server"),
                "Только «поддомен.домен.зона» из адреса, выданного ДЦ (например, nps2.cntd.ru).",
                "nps2.cntd.ru",
                required=True,
            ),
            _c(
                "catalog",
                "Каталог",
                ("папка", "folder", "catalog"),
                "Только каталог из адреса, без «/» (например, kodeks02).",
                "kodeks02",
                required=True,
            ),
            _c(
                "protocol",
                _PROTOCOL.title,
                _PROTOCOL.aliases,
                "http или https — как в адресе, выданном ДЦ.",
                "https",
                required=True,
            ),
            _MANAGER,
            _EMAIL,
            _CABINET,
        ),
    ),
    "mailboxes": ListSpec(
        "mailboxes",
        "Почтовые ящики для оповещений",
        "Почтовые ящики",
        "Ящики для высокоприоритетных оповещений (падение ПК, битые OperUp, лицензии), для информации об "
        "активности пользователей (пустой поиск, низкая активность) и ящики зон ответственности.",
        (
            _c(
                "email",
                "E-mail",
                ("email", "адрес", "почтовый ящик", "ящик", "почта", "mailbox", "address"),
                "Адрес почтового ящика.",
                "alert@example.ru",
                required=True,
            ),
            _c(
                "categories",
                "Категории",
                ("категории оповещений", "оповещения", "categories", "alerts"),
                "Какие оповещения получает ящик: высокий приоритет, технические, активность пользователей, "
                "онлайн-доступы или все (через запятую).",
                "высокий приоритет, технические",
                required=True,
            ),
            _c(
                "note",
                "Зона ответственности",
                ("роль", "примечание", "комментарий", "назначение", "note", "role", "zone"),
                "Чья это зона: сопровождение, обучение, онлайн-доступы, сисадмин, руководитель "
                "(необязательно).",
                "сисадмин",
            ),
            _CABINET,
        ),
    ),
    "cabinets": ListSpec(
        "cabinets",
        "Кабинеты: менеджеры и клиенты",
        "Кабинеты",
        "Личные кабинеты (по одному на филиал; для потокового сбыта больше 500 клиентов — отдельный) и "
        "какие менеджеры и клиенты к ним относятся. Строка только с кабинетом создаёт кабинет.",
        (
            _c(
                "cabinet",
                "Кабинет",
                ("личный кабинет", "филиал", "cabinet"),
                "Название кабинета.",
                "Филиал Саратов",
                required=True,
            ),
            _c(
                "manager",
                "Менеджер",
                ("ответственный", "manager"),
                "Менеджер, который работает в этом кабинете (необязательно).",
                "Иванов И.И.",
            ),
            _c("email", "E-mail", _EMAIL.aliases, "E-mail менеджера.", "ivanov@example.ru"),
            _c(
                "client",
                "Клиент",
                _CLIENT.aliases,
                "Краткое имя клиента, который относится к этому кабинету (необязательно).",
                "romashka",
            ),
        ),
    ),
}

#: Russian names of the lists as used in messages and in ``--kind`` help.
KIND_TITLES: dict[Kind, str] = {kind: spec.title for kind, spec in LISTS.items()}


def normalize_header(text: str) -> str:
    """``Часовой пояс (UTC)`` → ``часовойпояс``, ``E-mail`` → ``email``: case and punctuation ignored."""
    text = re.sub(r"\(.*?\)", "", text.lower().replace("ё", "е"))
    return re.sub(r"[\W_]+", "", text)


def _names(column: Column) -> set[str]:
    return {normalize_header(column.title), normalize_header(column.key)} | {
        normalize_header(a) for a in column.aliases
    }


def match_columns(spec: ListSpec, header: list[str]) -> tuple[dict[str, int], list[int]]:
    """Map column keys to header positions; returns the mapping and the positions not recognised."""
    mapping: dict[str, int] = {}
    unknown: list[int] = []
    for index, cell in enumerate(header):
        norm = normalize_header(cell)
        if not norm:
            continue
        for column in spec.columns:
            if column.key not in mapping and norm in _names(column):
                mapping[column.key] = index
                break
        else:
            unknown.append(index)
    return mapping, unknown


_ALL_NAMES = {name for spec in LISTS.values() for column in spec.columns for name in _names(column)}


def looks_like_header(cells: list[str]) -> bool:
    """A header row: at least two cells, most of them known column names, no data-like cells."""
    filled = [c for c in cells if c]
    if len(filled) < 2 or any("@" in c for c in filled):
        return False
    known = sum(1 for c in filled if normalize_header(c) in _ALL_NAMES)
    return known >= 2 and known * 10 >= len(filled) * 6


def detect_kind(header: list[str]) -> Kind | None:
    """Which list a header row belongs to, by its distinctive columns."""
    keys: dict[Kind, set[str]] = {kind: set(match_columns(spec, header)[0]) for kind, spec in LISTS.items()}
    if "categories" in keys["mailboxes"]:
        return "mailboxes"
    if keys["online"] & {"password", "login", "catalog"}:
        return "online"
    if "address" in keys["installations"]:
        return "installations"
    if keys["closed"] & {"tz", "test_login", "test_password", "name"}:
        return "closed"
    first = normalize_header(header[0]) if header else ""
    if "cabinet" in keys["cabinets"] and first in _names(LISTS["cabinets"].column("cabinet")):
        return "cabinets"
    if "client" in keys["closed"]:
        return "closed"
    return None


# -- templates ----------------------------------------------------------------------------------

TEMPLATE_KINDS = (*KINDS, "all", "original-managers", "original-managers-9", "original-online")

#: The original product's templates, exactly as the manual shows them (spec §4.1, §4.2).
ORIGINAL_TEMPLATES: dict[str, tuple[str, str]] = {
    "original-managers": (
        "managers_EXAMPLE_04 2026.csv",
        "адрес:порт,менеджер,email@email.com,протокол,download,upload,process,ping,-1,3600,604800\n"
        ".....\n.....\n.....\n\n"
        "имяклиента,менеджер,email@email.com,smartupload,download,upload,process,donotping,2,3600,604800\n"
        ".....\n.....\n.....\n",
    ),
    "original-managers-9": (
        "managers_example.csv",
        "URL-01:port,manager01,mail-manager01@postbox.com,http/https,download,upload,process,ping,-1\n"
        "URL-02:port,manager02,mail-manager02@postbox.com,http/https,download,upload,process,ping,-1\n"
        "URL-03:port,manager03,mail-manager03@postbox.com,http/https,download,upload,process,ping,-1\n"
        "URL....\n\n"
        "short_client_name_01,manager01,mail-manager01@postbox.com,smartupload,download,upload,process,donotping,2\n"
        "short_client_name_02,manager02,mail-manager02@postbox.com,smartupload,download,upload,process,donotping,2\n"
        "short_client_name_03,manager03,mail-manager03@postbox.com,smartupload,download,upload,process,donotping,2\n"
        "short_client_name.....\n",
    ),
    "original-online": (
        "EXAMPLE_online_042026.csv",
        "".join(
            f"firmname{i},userlogin{i},password{p},URL{i},folder{i},http OR https,manager,email@email.mail\n"
            for i, p in ((1, 1), (2, 2), (3, 3), (4, 1), (5, 1))
        )
        + "..... и так далее....\n",
    ),
}


def template_filename(kind: str, fmt: TemplateFormat) -> str:
    if kind in ORIGINAL_TEMPLATES:
        return ORIGINAL_TEMPLATES[kind][0]
    return f"smart-{kind}.{fmt}"


def template(kind: str, fmt: TemplateFormat) -> bytes:
    """A template to fill in. Raises ValueError for an unknown kind or a kind/format mismatch."""
    if kind in ORIGINAL_TEMPLATES:
        if fmt != "csv":
            raise ValueError("шаблоны исходного формата бывают только в CSV")
        return ORIGINAL_TEMPLATES[kind][1].encode("utf-8")
    if kind == "all":
        if fmt != "xlsx":
            raise ValueError("все списки в одном файле — только в формате XLSX")
        return _xlsx(list(KINDS))
    if kind not in LISTS:
        raise ValueError(f"неизвестный вид списка {kind!r}: ожидается один из {', '.join(TEMPLATE_KINDS)}")
    return _xlsx([kind]) if fmt == "xlsx" else _csv(LISTS[kind])


def _csv(spec: ListSpec) -> bytes:
    """UTF-8 with BOM and ``;``: a Russian Excel opens it in columns; ``#`` lines are ignored on import."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.title for c in spec.columns])
    out.write(f"# {spec.title}. {spec.description}\r\n")
    out.write("# Строки, начинающиеся с «#», при импорте пропускаются. Пример заполнения:\r\n")
    example = [c.example for c in spec.columns]
    out.write("# " + ";".join(example).rstrip(";") + "\r\n")
    for column in spec.columns:
        mark = " (обязательно)" if column.required else ""
        out.write(f"# {column.title}{mark}: {column.help}\r\n")
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _xlsx(kinds: list[Kind]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    first = workbook.active
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for kind in kinds:
        spec = LISTS[kind]
        sheet = workbook.create_sheet(spec.sheet)
        for index, column in enumerate(spec.columns, start=1):
            cell = sheet.cell(row=1, column=index, value=column.title)
            cell.font = bold
            cell.fill = fill
            cell.comment = Comment(column.help, "SMART")
            sheet.column_dimensions[get_column_letter(index)].width = max(16, len(column.title) + 4)
            # Text format keeps "-1", "+3" and addresses as typed instead of turning them into numbers.
            sheet.column_dimensions[get_column_letter(index)].number_format = "@"
        sheet.freeze_panes = "A2"
    help_sheet = workbook.create_sheet("Инструкция")
    help_sheet.append(["Список", "Столбец", "Обязательный", "Что писать", "Пример"])
    for cell in help_sheet[1]:
        cell.font = bold
    for kind in kinds:
        spec = LISTS[kind]
        help_sheet.append([spec.title, "", "", spec.description, ""])
        help_sheet.cell(row=help_sheet.max_row, column=1).font = bold
        for column in spec.columns:
            help_sheet.append(
                ["", column.title, "да" if column.required else "", column.help, column.example]
            )
    for letter, width in (("A", 34), ("B", 22), ("C", 14), ("D", 90), ("E", 28)):
        help_sheet.column_dimensions[letter].width = width
    for row in help_sheet.iter_rows(min_row=2):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")
    workbook.remove(first)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook.save(out)
    return out.getvalue()
