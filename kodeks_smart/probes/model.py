"""What a probe produces: check results with the dependency rules, abnormal states, targets.

A check result has one of four statuses:

* ``ok`` — the check passed;
* ``fail`` — the check failed; this is what alert rules fire on;
* ``expected`` — the check failed as a documented consequence of another state (in maintenance mode the
  main page and the test-user login fail, spec §7.3): shown as failed on dashboards, never alerted;
* ``unknown`` — the check could not be made because a check it depends on failed (the port is closed,
  the test user could not log in…); the detail says which. An unknown check never fires its rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    EXPECTED = "expected"
    UNKNOWN = "unknown"


class Check(StrEnum):
    """Check names as in the original product (spec §7.1), one row each in ``probe_checks``."""

    ICMP = "icmp"
    TCP = "tcp"
    HTTP200 = "http200"
    PROXY = "proxy"
    MAINTENANCE = "maintenance"
    NEEDSUPPORT = "needsupport"
    AUTH = "auth"
    KEY = "key"
    WARNING = "warning"
    LIMIT = "limit"
    SEARCH = "search"
    LICMAN_ICMP = "licman_icmp"
    LICMAN_TCP = "licman_tcp"
    #: СПП (user-support service): the rule KodeksSppStatus reads it; no probe produces it yet
    #: (no SPP endpoint is known).
    SPP = "spp"
    SYSINFO_PULL = "sysinfo_pull"
    SYSMON_PULL = "sysmon_pull"
    #: Online access: login with the client's credentials (SOAP GetBillingStatus).
    ONLINE = "online"


#: Checks of one installation cycle, in display order.
INSTALLATION_CHECKS: tuple[Check, ...] = (
    Check.ICMP,
    Check.TCP,
    Check.HTTP200,
    Check.PROXY,
    Check.MAINTENANCE,
    Check.NEEDSUPPORT,
    Check.AUTH,
    Check.KEY,
    Check.WARNING,
    Check.LIMIT,
    Check.SEARCH,
    Check.LICMAN_ICMP,
    Check.LICMAN_TCP,
)

#: Checks that need the test user's login.
SESSION_CHECKS: tuple[Check, ...] = (Check.AUTH, Check.KEY, Check.WARNING, Check.LIMIT, Check.SEARCH)


class AbnormalState(StrEnum):
    """The seven states of the chart "Время нештатного состояния сервера" (spec §7.2)."""

    MAINTENANCE = "maintenance"
    NEED_SUPPORT = "need_support"
    SERVER_DOWN = "server_down"
    KEY_NOT_FOUND = "key_not_found"
    NOT_STARTED = "not_started"
    SERVER_ERRORS = "server_errors"
    LICENCES_EXHAUSTED = "licences_exhausted"


STATE_LABELS: dict[AbnormalState, str] = {
    AbnormalState.MAINTENANCE: "Режим обслуживания",
    AbnormalState.NEED_SUPPORT: "Требуется обслуживание",
    AbnormalState.SERVER_DOWN: "Сервер не работает",
    AbnormalState.KEY_NOT_FOUND: "Ключ не найден",
    AbnormalState.NOT_STARTED: "Сервер не стартовал",
    AbnormalState.SERVER_ERRORS: "Ошибки на сервере",
    AbnormalState.LICENCES_EXHAUSTED: "Кончились лицензии",
}

STATUS_LABELS: dict[Status, str] = {
    Status.OK: "работает",
    Status.FAIL: "ошибка",
    Status.EXPECTED: "ожидаемый отказ",
    Status.UNKNOWN: "неизвестно",
}


@dataclass(slots=True)
class CheckResult:
    check: Check
    status: Status
    #: Short value: HTTP code, error class, seats…
    value: str = ""
    #: Russian, for people and alert texts.
    detail: str = ""
    #: Seconds the measured operation took (round trip, connect, page), when measured.
    latency: float | None = None


def ok(check: Check, value: str = "", detail: str = "", latency: float | None = None) -> CheckResult:
    return CheckResult(check, Status.OK, value, detail, latency)


def fail(check: Check, value: str = "", detail: str = "", latency: float | None = None) -> CheckResult:
    return CheckResult(check, Status.FAIL, value, detail, latency)


def unknown(check: Check, because: str) -> CheckResult:
    return CheckResult(check, Status.UNKNOWN, "", because)


def expected(check: Check, value: str, because: str) -> CheckResult:
    return CheckResult(check, Status.EXPECTED, value, because)


@dataclass(slots=True)
class Report:
    """Everything one cycle learned about a target."""

    results: dict[Check, CheckResult] = field(default_factory=dict)
    #: Abnormal states present now → the HTTP code seen (None: no HTTP answer).
    states: dict[AbnormalState, int | None] = field(default_factory=dict)
    #: Short Russian text per state (what was seen).
    state_details: dict[AbnormalState, str] = field(default_factory=dict)

    def add(self, result: CheckResult) -> None:
        self.results[result.check] = result

    def status(self, check: Check) -> Status | None:
        result = self.results.get(check)
        return result.status if result is not None else None

    def enter(self, state: AbnormalState, code: int | None, detail: str = "") -> None:
        self.states[state] = code
        self.state_details[state] = detail or STATE_LABELS[state]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an installation's web server is reached."""

    scheme: str  # http | https
    host: str
    port: int
    #: Path of the main page; "/" unless the address names a catalog.
    path: str = "/"

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.hostport}"

    @property
    def catalog(self) -> str:
        """The catalog the test user logs into: the address's first path segment, else ``/docs``."""
        head = self.path.strip("/").split("/", 1)[0]
        return f"/{head}" if head else "/docs"


@dataclass(slots=True)
class InstallationTarget:
    """An internet-reachable installation as the probes see it (credentials decrypted)."""

    id: int
    dealer_id: int
    cabinet_id: int
    client_id: int
    client: str  # short name
    dealer: str  # dealer code
    endpoint: Endpoint
    ping: bool = True
    licman_host: str | None = None
    licman_port: int = 8888
    test_login: str | None = None
    test_password: str | None = None
    interval: float = 60.0
    tz_offset_minutes: int = 180
    backup_time: str | None = None
    restart_time: str | None = None
    pull: bool = True

    @property
    def has_credentials(self) -> bool:
        return bool(self.test_login) and self.test_password is not None

    @property
    def licman_address(self) -> str | None:
        if not self.licman_host:
            return None
        host = f"[{self.licman_host}]" if ":" in self.licman_host else self.licman_host
        return f"{host}:{self.licman_port}"


@dataclass(slots=True)
class OnlineTarget:
    """A simple online access (credentials decrypted)."""

    id: int
    dealer_id: int
    cabinet_id: int
    client_id: int
    client: str
    dealer: str
    scheme: str
    host: str  # host[:port] as registered
    catalog: str  # without slashes
    login: str
    password: str
    interval: float = 3600.0

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"
