"""Tables → typed records, in SMART's header format or in the original headerless formats.

Which form a table is in:
1. its first row is a header of known column names → a SMART list (kind from ``--kind`` or from the
   columns, `formats.detect_kind`);
2. rows carry the constants ``download,upload,process`` in fields 5–7 → the original ``managers.csv``
   (9 fields before 2026, 11 since; block 1 rows have ``http``/``https`` in field 4, block 2 rows
   ``smartupload``);
3. rows have 8+ fields with the protocol in field 6 → the original ``online.csv``;
4. otherwise, with an explicit ``--kind``, a SMART list without a header, columns in template order.

Every cell is validated; a row with any bad cell produces problems and no record, so that all
problems of a file are reported in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from kodeks_smart.onboarding import values
from kodeks_smart.onboarding.formats import (
    KIND_TITLES,
    LISTS,
    Kind,
    detect_kind,
    looks_like_header,
    match_columns,
)
from kodeks_smart.onboarding.problems import Invalid, Location, Problems
from kodeks_smart.onboarding.reading import Row, Table
from kodeks_smart.onboarding.records import (
    CabinetRecord,
    InstallationRecord,
    MailboxRecord,
    ManagerRef,
    OnlineRecord,
    ReadTable,
    Records,
)

T = TypeVar("T")

TE_CLOUD_SUFFIX = ".te-cloud.ru"
MANAGERS_CONSTANTS = ("download", "upload", "process")
MANAGERS_PERIODS = ("3600", "604800")

#: Field names of the original files, for messages (the manual's own words).
MANAGERS_FIELDS = {
    "address": "адрес:порт / имяклиента",
    "manager": "менеджер",
    "email": "email",
    "protocol": "протокол",
    "c1": "download",
    "c2": "upload",
    "c3": "process",
    "ping": "ping / donotping",
    "tz": "часовой пояс",
    "p1": "3600",
    "p2": "604800",
}
ONLINE_FIELDS = {
    "firm": "firmname",
    "login": "userlogin",
    "password": "password",
    "host": "URL",
    "catalog": "folder",
    "protocol": "http OR https",
    "manager": "manager",
    "email": "email",
}

_PLACEHOLDER_RE = re.compile(r"^\.{2,}|\.{3,}$|и\s*т\.\s*д|и\s+так\s+далее", re.IGNORECASE)
#: First cells of the sample rows in the original templates («адрес:порт,менеджер,…», «URL-01:port,…»).
_SAMPLE_RE = re.compile(r"^(адрес:порт|имяклиента|url-?\d*:port)$", re.IGNORECASE)


def is_placeholder(cells: list[str]) -> bool:
    """«.....», «URL....», «и т.д.»: the filler lines of the original templates."""
    filled = [c for c in cells if c]
    return len(filled) == 1 and bool(_PLACEHOLDER_RE.search(filled[0]))


class Cells:
    """Typed access to one row's cells, reporting each bad cell at its column."""

    def __init__(
        self,
        table: Table,
        row: Row,
        positions: dict[str, int],
        titles: dict[str, str],
        problems: Problems,
    ) -> None:
        self.table = table
        self.row = row
        self.positions = positions
        self.titles = titles
        self.problems = problems
        self.ok = True

    @property
    def at(self) -> Location:
        return self.table.location(self.row.line)

    def text(self, key: str) -> str:
        index = self.positions.get(key)
        if index is None or index >= len(self.row.cells):
            return ""
        return self.row.cells[index]

    def loc(self, key: str) -> Location:
        index = self.positions.get(key)
        return self.at.at(index + 1 if index is not None else None, self.titles.get(key))

    def fail(self, key: str, message: str, code: str) -> None:
        self.problems.error(self.loc(key), message, code)
        self.ok = False

    def value(self, key: str, parse: Callable[[str], T], *, required: str | None = None) -> T | None:
        raw = self.text(key)
        if not raw:
            if required:
                self.fail(key, required, "missing-value")
            return None
        try:
            return parse(raw)
        except Invalid as exc:
            self.fail(key, exc.message, exc.code)
            return None

    def manager(self, *, emails_required: bool = False) -> ManagerRef | None:
        name = self.value(
            "manager",
            lambda t: values.text_value(t, "имя менеджера", 200, "bad-manager"),
            required="не указан менеджер",
        )
        found = self.value(
            "email",
            values.emails,
            required="не указан e-mail менеджера" if emails_required else None,
        )
        if name is None:
            return None
        return ManagerRef(name, found or [], self.loc("manager"), self.loc("email"))

    def cabinet(self) -> str | None:
        return self.value("cabinet", lambda t: values.text_value(t, "название кабинета", 100, "bad-cabinet"))


def parse_tables(tables: list[Table], kind: Kind | None, problems: Problems) -> Records:
    records = Records()
    for table in tables:
        records.tables.append(_parse_table(table, kind, problems, records))
    return records


def _parse_table(table: Table, forced: Kind | None, problems: Problems, out: Records) -> ReadTable:
    rows: list[Row] = []
    for row in table.rows:
        if is_placeholder(row.cells):
            table.skipped.append(row.line)
        else:
            rows.append(row)
    if not rows:
        return ReadTable(table, (forced,) if forced else (), "пустой список")
    first = rows[0]
    if looks_like_header(first.cells):
        return _parse_smart(table, first, rows[1:], forced, problems, out)
    if any(_is_managers_row(r.cells) for r in rows):
        if forced not in (None, "installations", "closed"):
            problems.error(
                table.location(),
                f"файл похож на managers.csv (установки), а указан вид списка «{KIND_TITLES[forced]}»",
                "kind-mismatch",
            )
            return ReadTable(table, (), "managers.csv")
        return _parse_managers(table, rows, problems, out)
    if any(_is_online_row(r.cells) for r in rows):
        if forced not in (None, "online"):
            problems.error(
                table.location(),
                f"файл похож на online.csv (онлайн-доступы), а указан вид списка «{KIND_TITLES[forced]}»",
                "kind-mismatch",
            )
            return ReadTable(table, (), "online.csv")
        return _parse_online(table, rows, problems, out)
    if forced is not None:
        spec = LISTS[forced]
        positions = {c.key: i for i, c in enumerate(spec.columns)}
        titles = {c.key: c.title for c in spec.columns}
        count = _parse_smart_rows(table, rows, forced, positions, titles, problems, out)
        return ReadTable(table, (forced,), "шаблон SMART без заголовка", count)
    problems.error(
        table.location(first.line),
        "не удалось понять, что это за список: в первой строке нет заголовков столбцов шаблона SMART, "
        "и строки не похожи на managers.csv или online.csv. Скачайте шаблон (smart template) или "
        "укажите вид списка (--kind)",
        "unknown-format",
    )
    return ReadTable(table, (), "не распознан")


# -- SMART templates ----------------------------------------------------------------------------


def _parse_smart(
    table: Table, header: Row, rows: list[Row], forced: Kind | None, problems: Problems, out: Records
) -> ReadTable:
    kind = forced or detect_kind(header.cells)
    if kind is None:
        problems.error(
            table.location(header.line),
            "по заголовкам не понять, какой это список: укажите вид списка (--kind) или используйте "
            "шаблон SMART",
            "unknown-kind",
        )
        return ReadTable(table, (), "шаблон SMART")
    spec = LISTS[kind]
    positions, unknown = match_columns(spec, header.cells)
    titles = {c.key: header.cells[positions[c.key]] if c.key in positions else c.title for c in spec.columns}
    for index in unknown:
        problems.warning(
            table.location(header.line).at(index + 1, header.cells[index]),
            f"столбец «{header.cells[index]}» не относится к списку «{spec.title}» и пропущен",
            "unknown-column",
        )
    missing = [c.title for c in spec.columns if c.required and c.key not in positions]
    if missing:
        problems.error(
            table.location(header.line),
            "нет обязательных столбцов: " + ", ".join(f"«{m}»" for m in missing),
            "missing-column",
        )
        return ReadTable(table, (), "шаблон SMART")
    count = _parse_smart_rows(table, rows, kind, positions, titles, problems, out)
    return ReadTable(table, (kind,), "шаблон SMART", count)


def _parse_smart_rows(
    table: Table,
    rows: list[Row],
    kind: Kind,
    positions: dict[str, int],
    titles: dict[str, str],
    problems: Problems,
    out: Records,
) -> int:
    before = _count(out)
    for row in rows:
        cells = Cells(table, row, positions, titles, problems)
        if kind == "installations":
            _smart_installation(cells, out)
        elif kind == "closed":
            _smart_closed(cells, out)
        elif kind == "online":
            _smart_online(cells, out)
        elif kind == "mailboxes":
            _smart_mailboxes(cells, out)
        else:
            _smart_cabinet(cells, out)
    return _count(out) - before


def _count(out: Records) -> int:
    return len(out.installations) + len(out.online) + len(out.mailboxes) + len(out.cabinets)


def _optional_text(cells: Cells, key: str, what: str, limit: int) -> str | None:
    return cells.value(key, lambda t: values.text_value(t, what, limit, "too-long"))


def _smart_installation(cells: Cells, out: Records) -> None:
    proto = cells.value("protocol", values.protocol)
    addr = cells.value("address", lambda t: values.address(t, proto), required="не указан адрес установки")
    if addr is not None and proto is not None and addr.scheme and addr.scheme != proto:
        cells.fail(
            "protocol",
            f"протокол в адресе ({addr.scheme}) не совпадает со столбцом «Протокол» ({proto})",
            "protocol-mismatch",
        )
    client = cells.value("client", values.client_name)
    if client is None and not cells.text("client") and addr is not None:
        client = _client_from_host(cells, addr.host)
    name = _optional_text(cells, "name", "наименование клиента", 300)
    manager = cells.manager()
    ping = cells.value("ping", values.ping)
    tz = cells.value("tz", values.tz_utc)
    login = _optional_text(cells, "test_login", "тестовый логин", 100)
    password = cells.text("test_password") or None
    cabinet = cells.cabinet()
    if not cells.ok or addr is None or client is None or manager is None:
        return
    out.installations.append(
        InstallationRecord(
            at=cells.at,
            kind=_address_kind(addr.host),
            address=addr,
            client=client,
            client_at=cells.loc("client") if cells.text("client") else cells.loc("address"),
            display_name=name,
            manager=manager,
            protocol=proto or addr.scheme,
            ping=ping,
            tz_minutes=tz,
            test_login=login,
            test_password=password,
            cabinet=cabinet,
            cabinet_at=cells.loc("cabinet") if cabinet else None,
        )
    )


def _client_from_host(cells: Cells, host: str) -> str | None:
    try:
        return values.client_name(host)
    except Invalid:
        suggested = values.suggest_short_name(host)
        if suggested is None:
            cells.fail(
                "client",
                f"из адреса «{host}» не получается краткое имя клиента: заполните его",
                "client-empty",
            )
        return suggested


def _address_kind(host: str) -> str:
    return "cloud" if host.endswith(TE_CLOUD_SUFFIX) else "internet"


def _smart_closed(cells: Cells, out: Records) -> None:
    client = cells.value("client", values.client_name, required="не указано краткое имя клиента")
    name = _optional_text(cells, "name", "наименование клиента", 300)
    manager = cells.manager()
    tz = cells.value("tz", values.tz_utc)
    login = _optional_text(cells, "test_login", "тестовый логин", 100)
    password = cells.text("test_password") or None
    cabinet = cells.cabinet()
    if not cells.ok or client is None or manager is None:
        return
    out.installations.append(
        InstallationRecord(
            at=cells.at,
            kind="closed",
            address=None,
            client=client,
            client_at=cells.loc("client"),
            display_name=name,
            manager=manager,
            protocol="http",
            ping=False,
            tz_minutes=tz,
            test_login=login,
            test_password=password,
            cabinet=cabinet,
            cabinet_at=cells.loc("cabinet") if cabinet else None,
        )
    )


def online_host(text: str) -> str:
    value = text.strip()
    if "://" in value or "/" in value:
        rest = value.split("://", 1)[-1]
        host, _, path = rest.partition("/")
        hint = f" (например, «{host}»" + (f", а «{path.strip('/')}» — в каталог)" if path.strip("/") else ")")
        raise Invalid(f"«{text}»: укажите только сервер без протокола и каталога{hint}", "online-host-url")
    return values.hostname(value)


def _online_client(cells: Cells, firm: str | None) -> str | None:
    if cells.text("client"):
        return cells.value("client", values.client_name)
    if firm is None:
        return None
    suggested = values.suggest_short_name(firm)
    if suggested is None:
        cells.fail(
            "firm",
            f"из названия «{firm}» не получается краткое латинское имя клиента: заполните столбец «Клиент» "
            "в шаблоне SMART",
            "client-from-firm",
        )
    return suggested


def _smart_online(cells: Cells, out: Records) -> None:
    firm = cells.value(
        "firm", lambda t: values.text_value(t, "название фирмы", 300, "bad-firm"), required="не указана фирма"
    )
    client = _online_client(cells, firm)
    _online_common(cells, out, firm, client)


def _online_common(
    cells: Cells, out: Records, firm: str | None, client: str | None, *, emails_required: bool = False
) -> None:
    login = cells.value(
        "login",
        lambda t: values.text_value(t, "логин", 100, "bad-login"),
        required="не указан логин онлайн-доступа",
    )
    password = cells.text("password")
    if not password:
        cells.fail("password", "онлайн-доступ без пароля: укажите пароль, выданный ДЦ", "online-no-password")
    host = cells.value(
        "host", online_host, required="не указан сервер онлайн-доступа (например, nps2.cntd.ru)"
    )
    catalog = cells.value(
        "catalog", values.catalog, required="не указан каталог онлайн-доступа (например, kodeks02)"
    )
    scheme = cells.value("protocol", values.protocol, required="не указан протокол: http или https")
    manager = cells.manager(emails_required=emails_required)
    cabinet = cells.cabinet()
    if not cells.ok or None in (firm, client, login, host, catalog, scheme) or manager is None:
        return
    assert firm and client and login and host and catalog and scheme
    out.online.append(
        OnlineRecord(
            at=cells.at,
            firm=firm,
            client=client,
            client_at=cells.loc("client") if cells.text("client") else cells.loc("firm"),
            login=login,
            password=password,
            host=host,
            catalog=catalog,
            scheme=scheme,
            manager=manager,
            cabinet=cabinet,
            cabinet_at=cells.loc("cabinet") if cabinet else None,
        )
    )


def _smart_mailboxes(cells: Cells, out: Records) -> None:
    addresses = cells.value("email", values.emails, required="не указан адрес почтового ящика")
    found = cells.value("categories", values.categories, required="не указаны категории оповещений")
    note = _optional_text(cells, "note", "зона ответственности", 300)
    cabinet = cells.cabinet()
    if not cells.ok or not addresses or not found:
        return
    for address in addresses:
        out.mailboxes.append(
            MailboxRecord(
                cells.at, address, found, note or "", cabinet, cells.loc("cabinet") if cabinet else None
            )
        )


def _smart_cabinet(cells: Cells, out: Records) -> None:
    cabinet = cells.value(
        "cabinet",
        lambda t: values.text_value(t, "название кабинета", 100, "bad-cabinet"),
        required="не указан кабинет",
    )
    manager: ManagerRef | None = None
    if cells.text("manager"):
        manager = cells.manager()
    elif cells.text("email"):
        cells.fail("email", "e-mail указан без менеджера: впишите имя менеджера", "email-without-manager")
    client = cells.value("client", values.client_name)
    if not cells.ok or cabinet is None:
        return
    out.cabinets.append(
        CabinetRecord(
            cells.at,
            cabinet,
            cells.loc("cabinet"),
            manager,
            client,
            cells.loc("client") if client else None,
        )
    )


# -- the original managers.csv ------------------------------------------------------------------


def _is_managers_row(cells: list[str]) -> bool:
    return len(cells) >= 7 and tuple(c.lower() for c in cells[4:7]) == MANAGERS_CONSTANTS


def _parse_managers(table: Table, rows: list[Row], problems: Problems, out: Records) -> ReadTable:
    before = _count(out)
    widths: set[int] = set()
    keys = list(MANAGERS_FIELDS)
    for row in rows:
        if _SAMPLE_RE.match(row.cells[0]):
            problems.warning(
                table.location(row.line),
                "строка-образец из шаблона («адрес:порт», «имяклиента») пропущена",
                "template-sample",
            )
            continue
        if len(row.cells) not in (9, 11):
            problems.error(
                table.location(row.line),
                f"в строке {len(row.cells)} полей, а в managers.csv их 9 (шаблон до 2026 года) или 11 "
                "(шаблон 2026 года): проверьте запятые",
                "field-count",
            )
            continue
        widths.add(len(row.cells))
        positions = {key: i for i, key in enumerate(keys[: len(row.cells)])}
        cells = Cells(table, row, positions, MANAGERS_FIELDS, problems)
        _managers_row(cells, out)
    form = (
        "managers.csv (" + " и ".join(f"{w} полей" for w in sorted(widths)) + ")"
        if widths
        else "managers.csv"
    )
    return ReadTable(table, ("installations", "closed"), form, _count(out) - before)


def _managers_row(cells: Cells, out: Records) -> None:
    for key, expected in zip(("c1", "c2", "c3"), MANAGERS_CONSTANTS, strict=True):
        if cells.text(key).lower() != expected:
            cells.fail(
                key, f"здесь должна стоять константа «{expected}»: менять её нельзя", "constant-changed"
            )
    if len(cells.row.cells) == 11:
        for key, expected in zip(("p1", "p2"), MANAGERS_PERIODS, strict=True):
            if cells.text(key) != expected:
                cells.fail(
                    key, f"здесь должна стоять константа «{expected}»: менять её нельзя", "constant-changed"
                )
    ping = cells.value("ping", values.ping, required="не указано ping или donotping")
    tz = cells.value("tz", values.tz_saratov, required="не указан часовой пояс относительно Саратова")
    manager = cells.manager(emails_required=True)
    mode = cells.text("protocol").lower()
    if mode == "smartupload":
        client = cells.value("address", values.client_name, required="не указано краткое имя клиента")
        if not cells.ok or client is None or manager is None:
            return
        out.installations.append(
            InstallationRecord(
                at=cells.at,
                kind="closed",
                address=None,
                client=client,
                client_at=cells.loc("address"),
                display_name=None,
                manager=manager,
                protocol="http",
                ping=False,
                tz_minutes=tz,
            )
        )
        return
    try:
        proto: str | None = values.protocol(cells.text("protocol"))
    except Invalid as exc:
        message = exc.message
        if exc.code == "bad-protocol":
            message += " (или smartupload для установки у клиента с агентом)"
        cells.fail("protocol", message, exc.code)
        proto = None
    addr = cells.value("address", lambda t: values.address(t, proto), required="не указан адрес установки")
    if addr is not None and proto is not None and addr.scheme and addr.scheme != proto:
        cells.fail(
            "protocol",
            f"протокол в адресе ({addr.scheme}) не совпадает с полем 4 ({proto})",
            "protocol-mismatch",
        )
    client = _client_from_host(cells, addr.host) if addr is not None else None
    if not cells.ok or addr is None or client is None or manager is None or proto is None:
        return
    out.installations.append(
        InstallationRecord(
            at=cells.at,
            kind=_address_kind(addr.host),
            address=addr,
            client=client,
            client_at=cells.loc("address"),
            display_name=None,
            manager=manager,
            protocol=proto,
            ping=True if ping is None else ping,
            tz_minutes=tz,
        )
    )


# -- the original online.csv --------------------------------------------------------------------


def _is_online_row(cells: list[str]) -> bool:
    return len(cells) >= 8 and "http" in cells[5].lower() and "@" in cells[7]


def _parse_online(table: Table, rows: list[Row], problems: Problems, out: Records) -> ReadTable:
    before = _count(out)
    keys = list(ONLINE_FIELDS)
    for row in rows:
        if len(row.cells) < 8:
            problems.error(
                table.location(row.line),
                f"в строке {len(row.cells)} полей, а в online.csv их 8: фирма, логин, пароль, сервер, "
                "каталог, "
                "протокол, менеджер, e-mail",
                "field-count",
            )
            continue
        positions = {key: i for i, key in enumerate(keys)}
        extra = row.cells[8:]
        if extra:
            # Several e-mails of the manager may follow the first one as further fields.
            cells_ = list(row.cells)
            cells_[7] = " ".join([row.cells[7], *extra])
            row = Row(row.line, cells_[:8])
            if not all("@" in e for e in extra):
                problems.error(
                    table.location(row.line),
                    f"в строке {8 + len(extra)} полей, а в online.csv их 8: возможно, в названии фирмы есть "
                    "запятая — заключите название в кавычки",
                    "field-count",
                )
                continue
        cells = Cells(table, row, positions, ONLINE_FIELDS, problems)
        firm = cells.value(
            "firm",
            lambda t: values.text_value(t, "название фирмы", 300, "bad-firm"),
            required="не указана фирма",
        )
        client = _online_client(cells, firm)
        _online_common(cells, out, firm, client, emails_required=True)
    return ReadTable(table, ("online",), "online.csv", _count(out) - before)
