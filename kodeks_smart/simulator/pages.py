"""Page texts of the simulated Kodeks server, in Russian as the real server writes them.

Markers taken from spec/kodeks-server-interfaces.md §3 and §6 are reproduced verbatim (login form with
``id="user"`` and "Авторизация", ``toomanyusers`` / "максимальное число подключений", "ошибка
авторизации", "нет свободных рабочих мест для входа", the ``/admin/title``, ``/admin/lic`` and
``/admin/pref`` lines). The maintenance page, the "need support" banner and the other abnormal-state
pages are **assumed** texts: the literal pages are not published (spec §11); each carries the state's
name from the "Время нештатного состояния сервера" chart so a monitor can tell them apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from html import escape

# Marker strings, shared with the tests.
LOGIN_FORM_MARKER = 'id="user"'
TOO_MANY_USERS = "toomanyusers"
MAX_CONNECTIONS_TEXT = "максимальное число подключений"
NO_FREE_SEATS_TEXT = "нет свободных рабочих мест для входа"
AUTH_ERROR_TEXT = "Ошибка авторизации"
MAINTENANCE_TEXT = "режиме тех.обслуживания"
NEED_SUPPORT_TEXT = "Требуется обслуживание"
NOT_STARTED_TEXT = "Сервер не стартовал"
SERVER_ERROR_TEXT = "Ошибки на сервере"
KEY_NOT_FOUND_TEXT = "Ключ не найден"

CATALOG_TITLES = {
    "/docs": "Техэксперт",
    "/kodeks": "Кодекс",
    "/stroyka": "Стройэксперт",
    "/ohrana": "Охрана труда",
}


def _page(title: str, body: str) -> bytes:
    return (
        '<HTML>\n<HEAD>\n<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=utf-8">\n'
        f"<TITLE>{escape(title)}</TITLE>\n</HEAD>\n<BODY>\n{body}\n</BODY>\n</HTML>\n"
    ).encode()


def catalog_title(catalog: str) -> str:
    return CATALOG_TITLES.get(catalog, "Кодекс")


def need_support_banner() -> str:
    return (
        '<DIV class="service-message" id="needsupport"><B>Требуется обслуживание.</B> '
        "Программному комплексу необходимо сервисное обслуживание. "
        "Обратитесь к администратору или в службу сопровождения.</DIV>"
    )


def protection_banner(binding: str, key_not_found: bool) -> str:
    head = f"{KEY_NOT_FOUND_TEXT}." if key_not_found else "Ошибка защиты."
    return f'<DIV class="protect-error" id="protecterror"><B>{head}</B> Привязка: {escape(binding)}</DIV>'


def _login_form(path: str) -> str:
    return (
        '<FORM id="loginform" METHOD="POST" ACTION="/users/login.asp">\n'
        "<H2>Авторизация</H2>\n"
        f'<INPUT TYPE="HIDDEN" NAME="path" VALUE="{escape(path)}">\n'
        'Имя пользователя: <INPUT TYPE="TEXT" id="user" NAME="user"><BR>\n'
        'Пароль: <INPUT TYPE="PASSWORD" id="pass" NAME="pass"><BR>\n'
        '<INPUT TYPE="SUBMIT" VALUE="Войти">\n'
        "</FORM>"
    )


def main_page(
    *,
    catalog: str,
    owner: str,
    user: str | None,
    banners: Iterable[str] = (),
    error: str = "",
    catalogs: Iterable[str] = (),
) -> bytes:
    """A catalog's main page: the login form for anonymous visitors, the start page for a user."""
    title = catalog_title(catalog) if catalog != "/" else "Кодекс"
    parts = [f'<DIV id="header"><B>{escape(title)}</B> — {escape(owner)}</DIV>', *banners]
    if error:
        parts.append(error)
    if user is None:
        parts.append(_login_form(catalog if catalog != "/" else "/docs"))
    else:
        parts.append(
            f'<DIV id="userinfo">Пользователь: <B>{escape(user)}</B> '
            '<A HREF="/users/logout.asp">Выход</A></DIV>'
        )
        if catalog == "/":
            links = "".join(
                f'<LI><A HREF="{escape(c)}/">{escape(catalog_title(c))}</A></LI>' for c in catalogs
            )
            parts.append(f'<UL id="catalogs">{links}</UL>')
        else:
            parts.append(
                f'<DIV id="main"><H1>{escape(title)}</H1>'
                f'<FORM id="searchform" ACTION="{escape(catalog)}/ifind_list" METHOD="POST">'
                '<INPUT TYPE="TEXT" NAME="query" id="context"> <INPUT TYPE="SUBMIT" VALUE="Найти"></FORM>'
                "<P>Новые документы, обзоры изменений законодательства, справочная информация.</P></DIV>"
            )
    return _page(title, "\n".join(parts))


def auth_error(reason: str = "неверное имя пользователя или пароль") -> str:
    return f'<DIV class="error" id="autherror">{AUTH_ERROR_TEXT}: {escape(reason)}.</DIV>'


def too_many_users_error() -> str:
    return (
        f'<DIV class="error {TOO_MANY_USERS}" id="{TOO_MANY_USERS}">Превышено {MAX_CONNECTIONS_TEXT}: '
        f"{NO_FREE_SEATS_TEXT}. Повторите попытку позже.</DIV>"
    )


def maintenance_page() -> bytes:
    return _page(
        "Режим тех.обслуживания",
        "<H2>Режим тех.обслуживания</H2>\n"
        f"<P>Программный комплекс находится в {MAINTENANCE_TEXT}: применяются оперативные обновления "
        "или перестраиваются индексы базы данных. Повторите попытку позже.</P>",
    )


def not_started_page() -> bytes:
    return _page(
        NOT_STARTED_TEXT,
        f"<H2>{NOT_STARTED_TEXT}</H2>\n<P>Сервер программного комплекса не запущен. "
        "Обратитесь к администратору.</P>",
    )


def server_error_page() -> bytes:
    return _page(
        SERVER_ERROR_TEXT,
        f"<H2>{SERVER_ERROR_TEXT}</H2>\n<P>При обработке запроса на сервере произошла ошибка.</P>",
    )


def not_found_page() -> bytes:
    return _page("Страница не найдена", "<H2>Страница не найдена</H2>")


def unauthorized_page() -> bytes:
    return _page("Требуется авторизация", "<H2>Требуется авторизация</H2>")


PROXY_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# -- /admin ------------------------------------------------------------------------------------


def admin_index() -> bytes:
    items = (
        ("title", "Регистрация"),
        ("lic", "Лицензии"),
        ("pref", "Настройки"),
        ("cookies", "Подключения"),
        ("dirs", "Каталоги"),
    )
    links = "".join(f'<LI><A HREF="/admin/{name}">{label}</A></LI>' for name, label in items)
    return _page("Администрирование", f"<CENTER><H3>Администрирование</H3></CENTER><UL>{links}</UL>")


def admin_title(
    *, version: str, regnum: str, owner: str, until: date, seats: int, connections: int, users: int
) -> bytes:
    return _page(
        "Регистрация",
        "<CENTER><H3>Регистрационные данные</H3></CENTER><BR>\n"
        f"Версия: <B>{escape(version)}</B><BR>\n"
        f"Регистрационный номер: <B>{escape(regnum)}</B><BR>\n"
        f"Зарегистрирована на: <B>{escape(owner)}</B><BR>\n"
        f"Ограничение по сроку работы системы: установлено, до {until:%d.%m.%Y}<BR>\n"
        f"Ограничение рег. файла: {seats}<BR>\n"
        f"Всего соединений (сессии): {connections}<BR>\n"
        f"Пользователи работающие с продуктами (стандартные, расширенные лицензии): {users}, 0<BR>",
    )


def admin_lic(*, binding: str, products: Iterable[tuple[str, str, date]]) -> bytes:
    rows = "\n".join(
        f"<TR><td>{escape(code)}</td><td>{escape(name)}</td><td>{until:%d.%m.%Y}</td></TR>"
        for code, name, until in products
    )
    return _page(
        "Лицензии",
        f"<CENTER><H3>Лицензии</H3></CENTER><BR> Привязка: {escape(binding)}<br>\n"
        "<TABLE BORDER=1>\n<TR><TH>Продукт</TH><TH>Название</TH><TH>Срок действия</TH></TR>\n"
        f"{rows}\n</TABLE>",
    )


def admin_pref(*, backup_time: str, restart_time: str) -> bytes:
    return _page(
        "Настройки",
        "<CENTER><H3>Настройки сервера</H3></CENTER>\n"
        '<FORM METHOD="POST" ACTION="/admin/pref">\n'
        "Время резервного копирования: "
        f'<INPUT TYPE="TEXT" NAME="reservtime" VALUE="{escape(backup_time)}"><BR>\n'
        "Время перезапуска сервера: "
        f'<INPUT TYPE="TEXT" NAME="restarttime" VALUE="{escape(restart_time)}"><BR>\n'
        "</FORM>\n"
        f"<P>Ежедневно: резервное копирование: {escape(backup_time)}, "
        f"перезапуск сервера {escape(restart_time)}</P>",
    )


def admin_cookies(sessions: Iterable[tuple[str, str, str]]) -> bytes:
    rows = "\n".join(
        f"<TR><td>{escape(login)}</td><td>{escape(ip)}</td><td>{escape(until)}</td></TR>"
        for login, ip, until in sessions
    )
    return _page(
        "Подключения",
        "<CENTER><H3>Подключенные пользователи</H3></CENTER>\n"
        "<TABLE BORDER=1>\n<TR><TH>Пользователь</TH><TH>IP</TH><TH>До</TH></TR>\n"
        f"{rows}\n</TABLE>",
    )


def admin_dirs(catalogs: Iterable[str]) -> bytes:
    fixed = [
        ("/admin/", "admin.dbs"),
        ("/", "main.dbs"),
        *((f"{c}/", "kodeks6.dbs") for c in catalogs),
        ("/users/", "users.dbs"),
        ("/sysinfo/", "sysinfo.dbs"),
        ("/sysmon/", "plugins.dbs"),
    ]
    rows = "\n".join(f"<TR><td>{escape(d)}</td><td>{escape(db)}</td></TR>" for d, db in fixed)
    return _page(
        "Каталоги",
        "<CENTER><H3>Виртуальные каталоги</H3></CENTER>\n"
        "<TABLE BORDER=1>\n<TR><TH>Каталог</TH><TH>База</TH></TR>\n"
        f"{rows}\n</TABLE>",
    )


def search_list(items: Iterable[tuple[int, str]], catalog: str) -> bytes:
    lis = "\n".join(
        f'<li data-nd="{nd}"><a href="{escape(catalog)}/text?nd={nd}">{escape(title)}</a></li>'
        for nd, title in items
    )
    return f"<ul>\n{lis}\n</ul>\n".encode()


def limit_exhausted_page() -> bytes:
    return _page(
        "Лимит исчерпан",
        '<DIV class="error" id="limit">Лимит на текущий месяц исчерпан. '
        "Обратитесь к вашему дистрибьютору.</DIV>",
    )


def document_page(nd: int, title: str) -> bytes:
    body = "<P>" + "Текст документа. " * 60 + "</P>"
    return _page(title, f'<DIV id="text"><H1>{escape(title)}</H1>\n<P>nd={nd}</P>\n{body}</DIV>')
