"""Validation and normalisation of single cell values. Each function raises `Invalid` with a Russian
message that tells the distributor what to write instead.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from kodeks_smart.onboarding.problems import Invalid
from kodeks_smart.store.models import CATEGORIES

# -- client short names -------------------------------------------------------------------------

CLIENT_NAME_MAX = 64
CLIENT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: The characters the original manual forbids in client names (they are forbidden in file names on
#: Windows or Linux, or break the agents' command lines), with their Russian names.
FORBIDDEN_CHARS = {
    "#": "решётка",
    "%": "процент",
    "&": "амперсанд",
    "{": "фигурная скобка",
    "}": "фигурная скобка",
    "\\": "обратный слеш",
    "<": "знак «меньше»",
    ">": "знак «больше»",
    "*": "звёздочка",
    "?": "вопросительный знак",
    "/": "слеш",
    " ": "пробел",
    "$": "доллар",
    "!": "восклицательный знак",
    "'": "одинарная кавычка",
    '"': "двойная кавычка",
    ":": "двоеточие",
    "@": "собачка",
    "+": "плюс",
    "`": "обратная кавычка",
    "|": "вертикальная черта",
    "=": "знак равенства",
}
#: Device names Windows refuses as file names, with or without an extension.
WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
CLIENT_NAME_RULE = "допустимы только латинские буквы, цифры и символы «_», «-», «.»"

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def transliterate(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        if low in _TRANSLIT:
            latin = _TRANSLIT[low]
            out.append(latin.capitalize() if ch != low else latin)
        else:
            out.append(ch)
    return "".join(out)


def suggest_short_name(text: str) -> str | None:
    """A valid client short name made from any name (``ООО «Ромашка»`` → ``OOO_Romashka``), or None."""
    latin = transliterate(text)
    latin = re.sub(r"[«»\"'`“”„]", "", latin)
    latin = re.sub(r"[^A-Za-z0-9.-]+", "_", latin).strip("_.-")
    latin = re.sub(r"_{2,}", "_", latin)[:CLIENT_NAME_MAX].rstrip("_.-")
    if not latin or not CLIENT_NAME_RE.fullmatch(latin) or _is_reserved(latin):
        return None
    return latin


def _is_reserved(name: str) -> bool:
    return name.split(".", 1)[0].lower() in WINDOWS_RESERVED


def client_name(text: str) -> str:
    """A client short name as the agents use it in file names (spec §3.1, manual 051/053/058)."""
    if not text:
        raise Invalid("не указано краткое имя клиента", "client-empty")
    if re.search(r"[А-Яа-яЁё]", text):
        hint = suggest_short_name(text)
        raise Invalid(
            f"в кратком имени клиента «{text}» есть кириллица: агенты передают его в имени файла, "
            f"{CLIENT_NAME_RULE}" + (f" (например, «{hint}»)" if hint else ""),
            "client-cyrillic",
        )
    forbidden = sorted({ch for ch in text if ch in FORBIDDEN_CHARS}, key=text.index)
    if forbidden:
        named = ", ".join("пробел" if ch == " " else f"«{ch}» ({FORBIDDEN_CHARS[ch]})" for ch in forbidden)
        raise Invalid(
            f"краткое имя клиента «{text}» содержит запрещённые в именах файлов символы: {named}; "
            f"{CLIENT_NAME_RULE}",
            "client-forbidden-char",
        )
    other = sorted({ch for ch in text if not re.fullmatch(r"[A-Za-z0-9_.-]", ch)}, key=text.index)
    if other:
        raise Invalid(
            f"краткое имя клиента «{text}» содержит недопустимые символы "
            f"{', '.join(f'«{c}»' for c in other)}; "
            f"{CLIENT_NAME_RULE}",
            "client-bad-char",
        )
    if not text[0].isalnum():
        raise Invalid(
            f"краткое имя клиента «{text}» должно начинаться с латинской буквы или цифры", "client-bad-start"
        )
    if text.endswith("."):
        raise Invalid(
            f"краткое имя клиента «{text}» не может оканчиваться точкой: Windows отбрасывает её в "
            "имени файла",
            "client-trailing-dot",
        )
    if _is_reserved(text):
        raise Invalid(
            f"«{text}» — зарезервированное в Windows имя устройства, файл с таким именем создать нельзя",
            "client-reserved",
        )
    if len(text) > CLIENT_NAME_MAX:
        raise Invalid(
            f"краткое имя клиента длиннее {CLIENT_NAME_MAX} символов ({len(text)})", "client-too-long"
        )
    return text


# -- e-mail -------------------------------------------------------------------------------------

_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(
    r"^[A-Za-z0-9\u0400-\u04ff]([A-Za-z0-9\u0400-\u04ff-]{0,61}[A-Za-z0-9\u0400-\u04ff])?$"
)
_TLD_RE = re.compile(r"^([A-Za-z\u0400-\u04ff]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


def email(text: str) -> str:
    """One e-mail address, lower-cased (addresses are compared case-insensitively everywhere)."""
    value = text.strip().strip("<>").strip()
    bad = Invalid(f"некорректный адрес e-mail «{text}»", "bad-email")
    if value.count("@") != 1:
        if "@" not in value:
            raise Invalid(f"некорректный адрес e-mail «{text}»: нет знака «@»", "bad-email")
        raise bad
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _LOCAL_RE.fullmatch(local):
        raise bad
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        raise Invalid(f"некорректный адрес e-mail «{text}»: в домене нет точки", "bad-email")
    if not all(_LABEL_RE.fullmatch(label) for label in labels) or not _TLD_RE.fullmatch(labels[-1]):
        raise bad
    return value.lower()


def emails(text: str) -> list[str]:
    """Several addresses in one cell, separated by ``,``, ``;`` or spaces; duplicates dropped."""
    found: list[str] = []
    for part in re.split(r"[,;\s]+", text.strip()):
        if part and (address := email(part)) not in found:
            found.append(address)
    return found


# -- addresses, protocols, ports ----------------------------------------------------------------

_HOST_LABEL_RE = re.compile(
    r"^[A-Za-z0-9\u0400-\u04ff_]([A-Za-z0-9\u0400-\u04ff_-]{0,61}[A-Za-z0-9\u0400-\u04ff])?$"
)


def protocol(text: str) -> str:
    value = text.strip().lower()
    if value in ("http", "https"):
        return value
    if not value:
        raise Invalid("не указан протокол: напишите http или https", "protocol-empty")
    if "http" in value and ("/" in value or " or " in value or "или" in value):
        raise Invalid(
            f"«{text}»: оставьте один протокол — http или https (тот, что в адресе установки)",
            "protocol-choose",
        )
    raise Invalid(f"неизвестный протокол «{text}»: ожидается http или https", "bad-protocol")


def hostname(text: str) -> str:
    """A DNS name (IDN allowed), an IPv4 address or a bracketed IPv6 address, lower-cased."""
    value = text.strip().rstrip(".").lower()
    if not value:
        raise Invalid("не указан адрес сервера", "host-empty")
    if value.startswith("[") and value.endswith("]"):
        try:
            ipaddress.IPv6Address(value[1:-1])
        except ValueError:
            raise Invalid(f"некорректный IPv6-адрес «{text}»", "bad-host") from None
        return value
    if re.fullmatch(r"[0-9.]+", value):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise Invalid(f"некорректный IP-адрес «{text}»", "bad-host") from None
        return value
    labels = value.split(".")
    if len(value) > 253 or not all(_HOST_LABEL_RE.fullmatch(label) for label in labels):
        raise Invalid(
            f"некорректное имя сервера «{text}»: допустимы буквы, цифры, «-» и точки между частями имени",
            "bad-host",
        )
    return value


def port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise Invalid(f"порт «{text}» должен быть числом от 1 до 65535", "bad-port")
    return int(text)


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    #: the protocol written in the address itself (``https://…``), if any.
    scheme: str | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


DEFAULT_PORTS = {"http": 80, "https": 443}


def address(text: str, default_protocol: str | None = None) -> Address:
    """``host:port``, ``host`` or ``http(s)://host[:port][/]`` → Address (port defaults by protocol)."""
    value = text.strip()
    if not value:
        raise Invalid("не указан адрес установки", "address-empty")
    scheme: str | None = None
    if "://" in value:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise Invalid(f"адрес «{text}»: протокол должен быть http или https", "bad-address")
        if parts.username or parts.password:
            raise Invalid(f"адрес «{text}»: уберите логин и пароль из адреса", "bad-address")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise Invalid(
                f"адрес «{text}»: укажите только сервер и порт, без пути (например, «{parts.netloc}»)",
                "address-path",
            )
        value = parts.netloc
    elif "/" in value:
        head = value.split("/", 1)[0]
        raise Invalid(
            f"адрес «{text}»: укажите только сервер и порт, без пути (например, «{head}»)", "address-path"
        )
    host_text, port_text = value, ""
    if value.startswith("["):
        close = value.find("]")
        host_text, rest = value[: close + 1], value[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise Invalid(f"некорректный адрес «{text}»", "bad-address")
            port_text = rest[1:]
    elif ":" in value:
        host_text, _, port_text = value.rpartition(":")
    host = hostname(host_text)
    if port_text:
        number = port(port_text)
    else:
        chosen = scheme or default_protocol or "http"
        number = DEFAULT_PORTS[chosen]
    return Address(host, number, scheme)


def catalog(text: str) -> str:
    value = text.strip()
    if not value:
        raise Invalid("не указан каталог онлайн-доступа (например, kodeks02)", "catalog-empty")
    inner = value.strip("/")
    value = inner if inner and "/" not in inner else value
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        raise Invalid(
            f"каталог «{text}»: укажите только имя каталога без «/» (например, kodeks02)", "bad-catalog"
        )
    return value


# -- ping, time zones, categories ---------------------------------------------------------------

_YES = {"ping", "да", "yes", "y", "true", "1", "+", "вкл", "on", "истина"}
_NO = {"donotping", "нет", "no", "n", "false", "0", "-", "выкл", "off", "ложь"}


def ping(text: str) -> bool:
    value = text.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise Invalid(f"«{text}»: ожидается ping или donotping (да или нет)", "bad-ping")


#: The original lists give the installation's offset from Saratov time (MSK+1 = UTC+4) in hours
#: (manual 058): Moscow → -1, MSK+3 → 2. The UTC offset is therefore 4 + value.
SARATOV_UTC_OFFSET = 4


def tz_saratov(text: str) -> int:
    """The original lists' time-zone field → offset from UTC in minutes."""
    value = text.strip().replace("−", "-")
    if not re.fullmatch(r"[+-]?\d{1,2}", value):
        raise Invalid(
            f"часовой пояс «{text}»: нужно целое число часов относительно Саратова (МСК+1), "
            "например -1 для Москвы или 2 для МСК+3",
            "bad-tz",
        )
    hours = SARATOV_UTC_OFFSET + int(value)
    if not -12 <= hours <= 14:
        raise Invalid(f"часовой пояс «{text}» вне допустимого диапазона (от -16 до 10)", "bad-tz")
    return hours * 60


_TZ_RE = re.compile(r"^(?P<base>utc|gmt|мск|msk)?\s*(?:(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?$")


def tz_utc(text: str) -> int:
    """SMART templates: ``+3``, ``UTC+3``, ``+03:00``, ``5:30``, ``МСК``, ``МСК+2`` → minutes from UTC."""
    value = text.strip().lower().replace("−", "-").replace(" ", "")
    if re.fullmatch(r"\d{1,2}(:\d{2})?", value):
        value = "+" + value
    match = _TZ_RE.fullmatch(value)
    if not value or match is None or (match["base"] is None and match["sign"] is None):
        raise Invalid(
            f"часовой пояс «{text}»: укажите смещение от UTC (например, +3 или UTC+5) или от Москвы (МСК+2)",
            "bad-tz",
        )
    minutes = 0
    if match["sign"]:
        minutes = int(match["h"]) * 60 + int(match["m"] or 0)
        minutes = -minutes if match["sign"] == "-" else minutes
    if match["base"] in ("мск", "msk"):
        minutes += 180
    if not -12 * 60 <= minutes <= 14 * 60:
        raise Invalid(f"часовой пояс «{text}» вне диапазона UTC-12…UTC+14", "bad-tz")
    return minutes


def describe_tz(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


#: Words a distributor may use for the alert categories of a mailbox (spec/alerts.md, audiences).
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "critical": (
        "critical", "высокий приоритет", "высокоприоритетные", "аварии", "аварийные", "критические",
        "критичные", "срочные", "важные",
    ),
    "technical": ("technical", "технические", "техника", "техподдержка"),
    "analytics": (
        "analytics", "аналитика", "активность", "активность пользователей", "пользователи",
        "работа пользователей", "пустой поиск",
    ),
    "online": ("online", "онлайн", "онлайн-доступы", "онлайн доступы"),
}  # fmt: skip
CATEGORY_TITLES = {
    "critical": "высокий приоритет",
    "technical": "технические",
    "analytics": "активность пользователей",
    "online": "онлайн-доступы",
}
_ALL_WORDS = ("все", "all", "всё")


def categories(text: str) -> list[str]:
    words = [w.strip().lower().replace("ё", "е") for w in re.split(r"[,;/+|\n]+", text) if w.strip()]
    if not words:
        raise Invalid(
            "не указаны категории оповещений: " + ", ".join(CATEGORY_TITLES.values()) + " (или «все»)",
            "categories-empty",
        )
    found: set[str] = set()
    for word in words:
        if word in _ALL_WORDS:
            found.update(CATEGORIES)
            continue
        for category, aliases in CATEGORY_WORDS.items():
            if word in aliases:
                found.add(category)
                break
        else:
            raise Invalid(
                f"неизвестная категория «{word}»: допустимы "
                + ", ".join(f"«{t}»" for t in CATEGORY_TITLES.values())
                + " или «все»",
                "bad-category",
            )
    return [c for c in CATEGORIES if c in found]


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian word form for a count: 1 клиент, 2 клиента, 5 клиентов."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def text_value(text: str, what: str, limit: int, code: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise Invalid(f"не указано: {what}", code)
    if len(value) > limit:
        raise Invalid(f"{what}: не длиннее {limit} символов (сейчас {len(value)})", code)
    return value
