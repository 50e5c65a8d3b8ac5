"""Configuration and switchable state of simulated installations and online accesses.

A simulated object has two parts:

* a *config* (client name, registration number, seats, credentials, schedule…), fixed when the
  simulator starts and derived deterministically from the simulator seed and the object's index;
* a *state*, switched at run time through the control API. ``Mode`` holds the mutually exclusive
  availability modes; the other fields are independent flags that combine with any mode.

Both are ``__slots__`` dataclasses: 10,000 installations live in one process.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    """Availability modes; exactly one is active at a time."""

    NORMAL = "normal"
    DOWN = "down"  # port closed: connection refused
    NOT_STARTED = "not-started"  # kodwebd answers, the server core did not start
    MAINTENANCE = "maintenance"  # "режим тех.обслуживания", HTTP 503
    SERVER_ERROR = "server-error"  # "Ошибки на сервере", HTTP 500
    PROXY_ONLY = "proxy-only"  # reverse proxy answers 502, Kodeks behind it is down


class SearchMode(StrEnum):
    """How the catalog search endpoints answer."""

    OK = "ok"
    EMPTY = "empty"  # every query finds nothing (KodeksSearchIsEmpty)
    ERROR = "error"  # the query is not parsed (KodeksSearchError)


class StateError(ValueError):
    """A state patch names an unknown field or carries an invalid value."""


class SimulatorError(RuntimeError):
    """The simulator cannot do what was asked (port taken, descriptor limit too low…)."""


# Protection errors at reg-file check, as the PK shows them to the user ([appendix-2],
# spec/kodeks-error-codes.csv, section regfile_protection, plus 51 from product_connection_protection).
# ``{lm}`` is the licence manager address, ``{key}`` the key number.
KEY_ERRORS: dict[int, str] = {
    5: "Ошибка защиты (5) - Неверная лицензия",
    6: "Ошибка защиты (6) - Неверный открытый ключ",
    50: "Ошибка защиты (50) - Программа не зарегистрирована на данном компьютере",
    51: "Ошибка защиты (51) - Ошибка доступа к электронному ключу",
    665: "Ошибка защиты (1) - Нет доступа к драйверу",
    4111: "Ошибка защиты 4111 Not connected",
    4112: "Ошибка защиты 4112 Response code not supported by LM (license manager configured at {lm})",
    4113: "Ошибка защиты 4113 Ключ не обнаружен (license manager configured at {lm})",
    4116: "Ошибка защиты 4116 Could not acquire license manager address",
    4117: (
        "Ошибка защиты 4117 License manager says key {key} ({key}) blacklisted "
        "(license manager configured at {lm})"
    ),
    4118: "Ошибка защиты 4118 Wrong proxy login or password (license manager configured at {lm})",
}
# Codes that mean "no key for this reg file" — the state "Ключ не найден" of the abnormal-state chart.
KEY_NOT_FOUND_CODES = frozenset({4111, 4113})

# Billing counters of an online access: kind → label used as the SOAP ``billing`` string (assumed: the
# real strings are not published; these are the column names of the "Биллинг Онлайн" dashboard).
BILLING_KINDS: dict[str, str] = {
    "docs": "Документы",
    "search": "Поиск",
    "print": "Печать",
    "upload": "Выгрузка",
}
# Remaining units that the "billing nearly exhausted" switch leaves on the documents counter: below
# the 150 and 50 alert thresholds of OnlineBillingDocsLeft*, above zero.
NEARLY_EXHAUSTED_LEFT = 40

DEFAULT_CATALOGS: tuple[str, ...] = ("/docs",)
_EXTRA_CATALOGS = ("/kodeks", "/stroyka", "/ohrana")
_SEATS = (5, 10, 10, 15, 20, 20, 25, 30, 50, 100)
_TZ_OFFSETS = (120, 180, 180, 180, 180, 240, 300, 360, 420, 480, 540, 600, 720)
_VERSION = "6.4.5.127"
_ONLINE_HOSTS = ("nps2.cntd.ru", "buh1.kodeks.ru", "design.cntd.ru", "lab4.cntd.ru", "fs.kodeks.ru")
_ONLINE_CATALOGS = ("kodeks01", "kodeks02", "doc5", "stroika_prof", "docs")
_LIMITS = (300, 400, 1000, 4000)


@dataclass(slots=True)
class Credentials:
    """Accounts every simulated server knows; shared defaults keep 10,000 configs small."""

    test_login: str = "smartlogin"
    test_password: str = "smartpass"  # noqa: S105 - a simulator default, documented
    admin_login: str = "admin"
    admin_password: str = "adminpass"  # noqa: S105 - a simulator default, documented
    # Any other login (user1, ivanov…) with this password may log in.
    user_password: str = "userpass"  # noqa: S105 - a simulator default, documented


@dataclass(slots=True)
class InstallationConfig:
    """What a simulated installation is; fixed for the simulator's lifetime."""

    index: int
    client: str  # short Latin name used by the agents
    regnum: str  # <distributor>_<client code>, as on /admin/title
    owner: str  # "Зарегистрирована на"
    seats: int  # "Ограничение рег. файла"
    catalogs: tuple[str, ...]
    backup_time: str  # HH:MM, /admin/pref reservtime
    restart_time: str  # HH:MM, /admin/pref restarttime
    tz_offset_minutes: int
    licence_until: date
    seed: int
    users: int  # user accounts in the generated sysinfo report
    credentials: Credentials
    version: str = _VERSION
    key_number: int = 0


@dataclass(slots=True)
class Session:
    """A logged-in user holding a seat until logout or expiry."""

    login: str
    expires: float
    ip: str


@dataclass(slots=True)
class InstallationState:
    """Run-time switches of one installation (see docs/simulator.md for the markers of each)."""

    mode: Mode = Mode.NORMAL
    need_support: bool = False
    key_error: int | None = None
    busy_seats: int = 0  # seats held by simulated other users, on top of real sessions
    delay: float = 0.0  # seconds before every HTTP answer
    licman_down: bool = False
    stale_operup: bool = False
    login_refused: bool = False
    search: SearchMode = SearchMode.OK
    cookie_redirect: bool = False  # 307 + cookies on /sysinfo/* requests that carry no Kodeks cookie
    scenarios: frozenset[str] = frozenset()  # extra sysinfo generator scenarios


@dataclass(slots=True)
class BillingCounter:
    """One monthly counter of GetBillingStatus: ``max`` units per month, ``cnt`` used so far."""

    max: int
    cnt: int

    @property
    def left(self) -> int:
        return max(self.max - self.cnt, 0)


@dataclass(slots=True)
class OnlineConfig:
    """A simple online access: a login on a vendor catalog."""

    index: int
    name: str  # access name, also the virtual host label
    client: str
    host: str  # vendor host shown in reports (the simulator serves it on 127.0.0.1)
    catalog: str  # e.g. "kodeks02" (without slashes)
    login: str
    password: str
    limits: dict[str, int]
    seed: int
    seats: int = 1


@dataclass(slots=True)
class OnlineState:
    mode: Mode = Mode.NORMAL
    delay: float = 0.0
    login_refused: bool = False
    search: SearchMode = SearchMode.OK
    billing: dict[str, BillingCounter] = field(default_factory=dict)
    month: tuple[int, int] = (0, 0)  # (year, month) the counters belong to


def object_rng(seed: int, kind: str, index: int) -> random.Random:
    """The deterministic random source of one simulated object."""
    return random.Random(f"{seed}:{kind}:{index}")


def make_installation_config(
    index: int,
    *,
    seed: int = 0,
    distributor: str = "460",
    today: date | None = None,
    credentials: Credentials | None = None,
) -> InstallationConfig:
    """Derive installation ``index`` from ``seed``: the same arguments always give the same config."""
    rng = object_rng(seed, "installation", index)
    today = today or date.today()
    catalogs = DEFAULT_CATALOGS
    if rng.random() < 0.3:
        catalogs = (*DEFAULT_CATALOGS, rng.choice(_EXTRA_CATALOGS))
    seats = rng.choice(_SEATS)
    backup = f"{rng.randint(0, 3):02d}:{rng.choice((0, 15, 30, 45)):02d}"
    restart = f"{rng.randint(4, 6):02d}:{rng.choice((0, 30)):02d}"
    return InstallationConfig(
        index=index,
        client=f"client{index:05d}",
        regnum=f"{distributor}_{100000 + index}",
        owner=f"ООО «Клиент {index:05d}»",
        seats=seats,
        catalogs=catalogs,
        backup_time=backup,
        restart_time=restart,
        tz_offset_minutes=rng.choice(_TZ_OFFSETS),
        licence_until=today + timedelta(days=rng.randint(10, 400)),
        seed=seed * 100_003 + index,
        users=max(3, seats + rng.randint(-seats // 2, seats)),
        credentials=credentials or Credentials(),
        key_number=rng.randint(10_000_000, 99_999_999),
    )


def make_online_config(index: int, *, seed: int = 0) -> OnlineConfig:
    """Derive online access ``index`` from ``seed``."""
    rng = object_rng(seed, "online", index)
    limits = {kind: rng.choice(_LIMITS) for kind in BILLING_KINDS}
    return OnlineConfig(
        index=index,
        name=f"online{index:05d}",
        client=f"onlineclient{index:05d}",
        host=rng.choice(_ONLINE_HOSTS),
        catalog=rng.choice(_ONLINE_CATALOGS),
        login=f"user{index:05d}",
        password=f"online-{index:05d}",
        limits=limits,
        seed=seed * 100_003 + index,
    )


def initial_billing(config: OnlineConfig) -> dict[str, BillingCounter]:
    """Counters at the start of a month: a deterministic share of each limit already used."""
    rng = object_rng(config.seed, "billing", config.index)
    return {
        kind: BillingCounter(limit, int(limit * rng.uniform(0.0, 0.5)))
        for kind, limit in config.limits.items()
    }


# -- patches ------------------------------------------------------------------------------------


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise StateError(f"{name}: expected true or false, got {value!r}")


def _delay(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value > 3600:
        raise StateError(f"delay: expected seconds between 0 and 3600, got {value!r}")
    return float(value)


def _mode(value: Any) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise StateError(f"mode: expected one of {', '.join(m.value for m in Mode)}, got {value!r}") from None


def _search(value: Any) -> SearchMode:
    try:
        return SearchMode(value)
    except ValueError:
        choices = ", ".join(m.value for m in SearchMode)
        raise StateError(f"search: expected one of {choices}, got {value!r}") from None


def _count(name: str, value: Any, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
        raise StateError(f"{name}: expected an integer between 0 and {upper}, got {value!r}")
    return value


INSTALLATION_FIELDS = (
    "mode",
    "need_support",
    "key_error",
    "seats_taken",
    "busy_seats",
    "delay",
    "licman_down",
    "stale_operup",
    "login_refused",
    "search",
    "cookie_redirect",
    "scenarios",
)


def apply_installation_patch(
    state: InstallationState,
    config: InstallationConfig,
    patch: Mapping[str, Any],
    known_scenarios: frozenset[str] | None = None,
) -> None:
    """Validate ``patch`` completely, then apply it; on any error nothing changes."""
    unknown = sorted(set(patch) - set(INSTALLATION_FIELDS))
    if unknown:
        raise StateError(f"unknown state field(s): {', '.join(unknown)}")
    new = copy_state(state)
    for name, value in patch.items():
        if name == "mode":
            new.mode = _mode(value)
        elif name == "key_error":
            if value in (None, 0, False):
                new.key_error = None
            elif isinstance(value, int) and not isinstance(value, bool) and value in KEY_ERRORS:
                new.key_error = value
            else:
                codes = ", ".join(str(c) for c in KEY_ERRORS)
                raise StateError(f"key_error: expected null or one of {codes}, got {value!r}")
        elif name == "seats_taken":
            new.busy_seats = config.seats if _bool(name, value) else 0
        elif name == "busy_seats":
            new.busy_seats = _count(name, value, config.seats)
        elif name == "delay":
            new.delay = _delay(value)
        elif name == "search":
            new.search = _search(value)
        elif name == "scenarios":
            new.scenarios = _scenarios(value, known_scenarios)
        else:
            setattr(new, name, _bool(name, value))
    for name in InstallationState.__slots__:
        setattr(state, name, getattr(new, name))


def copy_state(state: InstallationState) -> InstallationState:
    return InstallationState(**{name: getattr(state, name) for name in InstallationState.__slots__})


def _scenarios(value: Any, known: frozenset[str] | None) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(v, str) for v in value):
        raise StateError(f"scenarios: expected a list of scenario names, got {value!r}")
    names = frozenset(value)
    if known is not None and not names <= known:
        bad = ", ".join(sorted(names - known))
        raise StateError(f"scenarios: unknown scenario(s) {bad}; known: {', '.join(sorted(known))}")
    return names


ONLINE_FIELDS = (
    "mode",
    "delay",
    "login_refused",
    "search",
    "billing",
    "billing_left",
    "billing_nearly_exhausted",
)


def apply_online_patch(state: OnlineState, config: OnlineConfig, patch: Mapping[str, Any]) -> None:
    """Validate ``patch`` completely, then apply it to an online access; on any error nothing changes."""
    unknown = sorted(set(patch) - set(ONLINE_FIELDS))
    if unknown:
        raise StateError(f"unknown state field(s): {', '.join(unknown)}")
    mode, delay, refused, search = state.mode, state.delay, state.login_refused, state.search
    billing = {kind: BillingCounter(c.max, c.cnt) for kind, c in state.billing.items()}
    for name, value in patch.items():
        if name == "mode":
            mode = _mode(value)
        elif name == "delay":
            delay = _delay(value)
        elif name == "login_refused":
            refused = _bool(name, value)
        elif name == "search":
            search = _search(value)
        elif name == "billing":
            for kind, counter in _kinds(name, value).items():
                if not isinstance(counter, Mapping) or set(counter) - {"max", "cnt"}:
                    raise StateError(f"billing.{kind}: expected {{'max': int, 'cnt': int}}, got {counter!r}")
                top = _count(f"billing.{kind}.max", counter.get("max", billing[kind].max), 10_000_000)
                used = _count(f"billing.{kind}.cnt", counter.get("cnt", billing[kind].cnt), 10_000_000)
                billing[kind] = BillingCounter(top, used)
        elif name == "billing_left":
            for kind, left in _kinds(name, value).items():
                top = billing[kind].max
                billing[kind].cnt = top - _count(f"billing_left.{kind}", left, top)
        elif _bool(name, value):  # billing_nearly_exhausted
            docs = billing["docs"]
            docs.cnt = max(docs.max - NEARLY_EXHAUSTED_LEFT, 0)
        else:
            billing = initial_billing(config)
    state.mode, state.delay, state.login_refused, state.search = mode, delay, refused, search
    state.billing = billing


def _kinds(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise StateError(f"{name}: expected an object keyed by {', '.join(BILLING_KINDS)}")
    bad = sorted(set(value) - set(BILLING_KINDS))
    if bad:
        raise StateError(f"{name}: unknown counter(s) {', '.join(bad)}; known: {', '.join(BILLING_KINDS)}")
    return dict(value)


def installation_state_dict(state: InstallationState) -> dict[str, Any]:
    return {
        "mode": state.mode.value,
        "need_support": state.need_support,
        "key_error": state.key_error,
        "busy_seats": state.busy_seats,
        "delay": state.delay,
        "licman_down": state.licman_down,
        "stale_operup": state.stale_operup,
        "login_refused": state.login_refused,
        "search": state.search.value,
        "cookie_redirect": state.cookie_redirect,
        "scenarios": sorted(state.scenarios),
    }


def online_state_dict(state: OnlineState) -> dict[str, Any]:
    return {
        "mode": state.mode.value,
        "delay": state.delay,
        "login_refused": state.login_refused,
        "search": state.search.value,
        "billing": {
            kind: {"billing": BILLING_KINDS[kind], "max": c.max, "cnt": c.cnt, "left": c.left}
            for kind, c in state.billing.items()
        },
    }
