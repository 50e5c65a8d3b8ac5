"""What a synthetic sysinfo report should look like: the profile and the scenario catalogue.

``SysinfoProfile`` and ``SCENARIOS`` are re-exported by ``kodeks_smart.simulator.sysinfo``; import them from
there. The scenario names and what each one changes are documented in ``docs/sysinfo-format.md`` §6.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from kodeks_smart.simulator import sysinfo_data as vocab

#: Report time used when ``SysinfoProfile.now`` is None: Monday 20 April 2026, 10:48:03 at UTC+3. The 20th is
#: the day SMART checks the month-to-date activity and involvement alerts, and a Monday morning has users
#: connected, so the default report exercises most of the format.
DEFAULT_NOW: Final[datetime] = datetime(2026, 4, 20, 7, 48, 3, tzinfo=UTC)

#: Days left until the licence expiry date that each expiry scenario produces (local calendar days).
EXPIRY_DAYS_LEFT: Final[Mapping[str, int]] = {
    "licence-expiring-2d": 1,
    "licence-expiring-7d": 5,
    "licence-expiring-90d": 60,
}

#: Age of the OperUp files in the ``stale-operup`` scenario.
STALE_OPERUP_DAYS: Final[int] = 5

_DESCRIPTIONS: dict[str, str] = {
    "normal": "no fault: fresh OperUp, valid licences, key OK, free seats (same as no scenario)",
    "stale-operup": f"every OperUp file is {STALE_OPERUP_DAYS} days old (KodeksDBOperUpToOld)",
    "db-error-nocode": "a volume connected twice, code-less 'Том базы данных уже подключен' (…NoCode)",
    "db-errors": "one DB with 2007, one with 613 and one code-less duplicate volume",
    "db-errors-many": "code-less 'Invalid protect string' on >= 41 volumes of 3 DBs (…NoCodeCount)",
    "licence-expiring-2d": "the licence of the first DB ends tomorrow (KodeksLicenseExpiring2day)",
    "licence-expiring-7d": "the licence of the second DB ends in 5 days (KodeksLicenseExpiring7day)",
    "licence-expiring-90d": "the licence of the third DB ends in 60 days (KodeksLicenseExpiring90day)",
    "no-licence-block": "the last DB has no <license> element (KodeksDBLicensesZero)",
    "no-senselock-block": "the <protection> element is missing (KodeksXmlSensLockStatus)",
    "seats-exhausted": "seats below demand: logins refused with 2008, all seats taken (…DetectOverUserError)",
    "new-user": "one extra user created 150 minutes before the report (KodeksNewUser)",
    "low-activity": "two users with one tiny session each this month, activity < 20 (…UserActivityIsLow)",
    "low-involvement": "only 40 % of seats' worth of users work (KodeksUserAInvolvementIsLow)",
    "unsupported-but-used": "support ended 45 days ago, updates frozen, users work (…UnsupportedButUsed)",
    "search-errors": "about 2.5 % of searches end with result='error' (KodeksSearchError)",
    "no-empty-searches": "every search finds something (negative case for KodeksSearchIsEmpty)",
}  # fmt: skip

#: DB-level error codes for ``db-error-<code>`` (spec/kodeks-error-codes.csv, DB and file-access sections).
DB_ERROR_SCENARIO_CODES: Final[tuple[int, ...]] = tuple(sorted(vocab.DB_ERRORS))
#: OperUp package error codes for ``operup-error-<code>``.
OPERUP_ERROR_SCENARIO_CODES: Final[tuple[int, ...]] = tuple(sorted(vocab.OPERUP_ERRORS))
#: Protection (key / binding) error codes for ``key-error-<code>``.
KEY_ERROR_SCENARIO_CODES: Final[tuple[int, ...]] = tuple(sorted(vocab.KEY_ERRORS))

for _code in DB_ERROR_SCENARIO_CODES:
    _alert = "KodeksDBerrorsCode2007" if _code == 2007 else "KodeksDBerrorsCodeXXX"
    _DESCRIPTIONS[f"db-error-{_code}"] = f"one DB volume reports error {_code} ({_alert})"
for _code in OPERUP_ERROR_SCENARIO_CODES:
    _DESCRIPTIONS[f"operup-error-{_code}"] = f"one OperUp package was skipped with error {_code} (…CodeXXX)"
for _code in KEY_ERROR_SCENARIO_CODES:
    _DESCRIPTIONS[f"key-error-{_code}"] = (
        f"the key fails with error {_code} 95 minutes before the report; later logins are refused "
        "(KodeksXmlSensLockStatus, KodeksOfflineSensLockCheck)"
    )

#: Scenario name -> one-line English description, for ``smart simulate sysinfo --help``.
SCENARIO_DESCRIPTIONS: Final[Mapping[str, str]] = dict(_DESCRIPTIONS)

#: Every scenario name ``SysinfoProfile.scenarios`` accepts.
SCENARIOS: Final[tuple[str, ...]] = tuple(_DESCRIPTIONS)

# Scenarios that cannot be combined: each group describes one property (activity level, key state).
_EXCLUSIVE_GROUPS: Final[tuple[frozenset[str], ...]] = (
    frozenset({"low-activity", "low-involvement", "seats-exhausted"}),
    frozenset({"no-senselock-block", *(f"key-error-{c}" for c in KEY_ERROR_SCENARIO_CODES)}),
    frozenset({"search-errors", "no-empty-searches"}),
)

_MAX_USER_DAYS: Final = 200_000
_CLIENT_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_REGNUM_RE: Final = re.compile(r"^\d{3,4}_\d{5,7}$")
_VERSION_RE: Final = re.compile(r"^\d+(\.\d+){1,3}$")
_HHMM_RE: Final = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_CATALOG_RE: Final = re.compile(r"^/[A-Za-z0-9_.-]{1,40}$")


@dataclass(frozen=True)
class SysinfoProfile:
    """The installation a synthetic sysinfo report describes.

    Equal profiles give byte-identical reports. Every optional field left as None gets a value derived from
    ``client`` and ``seed`` (never from the clock or the global random state).

    Raises ValueError (from ``__post_init__``) for an unknown or conflicting scenario and for out-of-range
    values, with a message naming the field.
    """

    client: str
    """Short Latin client name, as the agents and managers.csv use it (``romashka``)."""
    users: int = 20
    """Registered users (the ``new-user`` scenario adds one more)."""
    days: int = 7
    """Days of history in the hourly usage block, the search log, the refusals and kAssist days."""
    seed: int = 0
    scenarios: frozenset[str] = frozenset()
    now: datetime | None = None
    """Report time, timezone-aware; None means ``DEFAULT_NOW``."""
    tz_offset_minutes: int = 180
    """Offset of the installation's local time from UTC; every time in the report is local."""
    seats: int | None = None
    """Licensed seats ("число в ключе"); None derives it from the users and their demand."""
    regnum: str | None = None
    """Registration number ``DDDD_CCCCCC``; None derives it from client and seed."""
    legal_name: str | None = None
    """Client legal name as the report shows it; None builds one from ``client`` (``ООО «Ромашка»``)."""
    server_version: str | None = None
    """PK server (ksrv) version such as ``6.4.5.121``; None picks a released one."""
    sysinfo_version: str | None = None
    """sysinfo module version such as ``2.0.6.15``."""
    kassist: bool = True
    """Whether kAssist is installed (its component, per-user counters and link statistics)."""
    databases: int | None = None
    """Number of connected databases (4..24); None picks 8..14."""
    cloud: bool = False
    """Techexpert.Cloud installation: Linux paths, one public IP for every user, no AD domain."""
    licence_until: date | None = None
    """Last valid day of the licence contract (all DBs but those an expiry scenario moves); None picks
    120..330 days after the report date."""
    backup_time: str | None = None
    """Daily backup time ``HH:MM`` (as on /admin/pref); None picks one between 02:00 and 04:30."""
    restart_time: str | None = None
    """Daily restart time ``HH:MM``; None picks 04:00..05:30."""
    catalogs: tuple[str, ...] | None = None
    """Virtual catalog paths, main first (``("/docs", "/ohrana")``); None gives ``/docs``, sometimes one
    more."""

    def __post_init__(self) -> None:
        scenarios = frozenset(self.scenarios)
        object.__setattr__(self, "scenarios", scenarios)
        if not _CLIENT_RE.match(self.client):
            raise ValueError(f"client: expected a short Latin name like 'romashka', got {self.client!r}")
        if not 1 <= self.users <= 20000:
            raise ValueError(f"users: expected 1..20000, got {self.users}")
        if not 1 <= self.days <= 400:
            raise ValueError(f"days: expected 1..400, got {self.days}")
        if self.users * self.days > _MAX_USER_DAYS:
            # About 20 KB of XML and 150 KB of memory per user-day: keep one report under ~4 GB of RAM.
            raise ValueError(
                f"days: users x days must not exceed {_MAX_USER_DAYS:,} (got {self.users} x {self.days}); "
                "a 1,000-user installation over 30 days is already ~20 MB of XML"
            )
        if not -720 <= self.tz_offset_minutes <= 840:
            raise ValueError(f"tz_offset_minutes: expected -720..840, got {self.tz_offset_minutes}")
        if self.now is not None and self.now.utcoffset() is None:
            raise ValueError("now: expected a timezone-aware datetime")
        if self.now is not None and not 2000 <= self.now.year <= 2099:
            raise ValueError(f"now: expected a year in 2000..2099, got {self.now.year}")
        if self.seats is not None and not 1 <= self.seats <= 100000:
            raise ValueError(f"seats: expected 1..100000, got {self.seats}")
        if self.regnum is not None and not _REGNUM_RE.match(self.regnum):
            raise ValueError(f"regnum: expected DDDD_CCCCCC such as '0460_197505', got {self.regnum!r}")
        if self.databases is not None and not 4 <= self.databases <= len(vocab.PRODUCTS):
            raise ValueError(f"databases: expected 4..{len(vocab.PRODUCTS)}, got {self.databases}")
        for name in ("server_version", "sysinfo_version"):
            value = getattr(self, name)
            if value is not None and not _VERSION_RE.match(value):
                raise ValueError(f"{name}: expected a dotted version such as '6.4.5.121', got {value!r}")
        for name in ("backup_time", "restart_time"):
            value = getattr(self, name)
            if value is not None and not _HHMM_RE.match(value):
                raise ValueError(f"{name}: expected HH:MM, got {value!r}")
        if self.catalogs is not None:
            object.__setattr__(self, "catalogs", tuple(self.catalogs))
            bad = [c for c in self.catalogs if not _CATALOG_RE.match(c)]
            if not self.catalogs or bad or len(set(self.catalogs)) != len(self.catalogs):
                raise ValueError(f"catalogs: expected distinct paths such as '/docs', got {self.catalogs!r}")
        unknown = sorted(scenarios - set(SCENARIOS))
        if unknown:
            raise ValueError(f"scenarios: unknown {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
        for group in _EXCLUSIVE_GROUPS:
            clash = sorted(scenarios & group)
            if len(clash) > 1:
                raise ValueError(f"scenarios: {' and '.join(clash)} cannot be combined")
        if "low-involvement" in scenarios and self.seats is not None and self.seats < 2:
            raise ValueError("scenarios: low-involvement needs at least 2 seats")

    @property
    def report_time(self) -> datetime:
        """The report time as an aware UTC datetime (``now`` or ``DEFAULT_NOW``)."""
        return (self.now or DEFAULT_NOW).astimezone(UTC)

    def with_scenarios(self, *names: str | Iterable[str]) -> SysinfoProfile:
        """Return a copy with the given scenarios added (strings or iterables of strings)."""
        added: set[str] = set()
        for name in names:
            added.update([name] if isinstance(name, str) else name)
        return dataclasses.replace(self, scenarios=self.scenarios | added)
