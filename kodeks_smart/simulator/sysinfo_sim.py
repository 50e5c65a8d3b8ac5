"""Simulation behind the synthetic sysinfo report: the installation, its users and their working days.

``simulate(profile)`` returns a ``Report``: plain data that ``sysinfo_xml`` renders. Times are *local
minutes*: minutes since 1970-01-01 00:00 of the installation's local clock (seconds for search, login and
refusal times).

Randomness: every decision draws from a ``random.Random`` seeded by (profile seed, client, a purpose key), so
adding a scenario or a user does not reshuffle unrelated parts, and the past of a report does not depend on
its ``now`` (two reports an hour apart agree on the hours they share, which is what ingest de-duplication
expects). The three phases of the timeline are:

1. plan: for every (user, day), whether the user works, when they log in and in which hours;
2. seats: replay the logins in time order against the licensed seats (a seat is held for 24 h after a login,
   [066]); a login with no free seat is refused with code 2008 and retried up to twice;
3. activity: for every accepted (user, day), hourly counters and the searches, cut at the report time.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final, NamedTuple

from kodeks_smart.simulator import sysinfo_data as vocab
from kodeks_smart.simulator.sysinfo_profile import (
    EXPIRY_DAYS_LEFT,
    STALE_OPERUP_DAYS,
    SysinfoProfile,
)

_EPOCH: Final = datetime(1970, 1, 1)
_DAY: Final = 1440
_SEAT_HOLD_MINUTES: Final = 1440  # a logged-in user holds a seat for 24 h [066]
_KEY_FAILURE_BEFORE_NOW: Final = 95  # minutes, key-error-* scenarios
_NEW_USER_BEFORE_NOW: Final = 150  # minutes, new-user scenario
_UNSUPPORTED_DAYS: Final = 45  # support ended this many days ago, unsupported-but-used scenario
_MANY_ERRORS_VOLUMES: Final = 41  # volumes with 'Invalid protect string' in db-errors-many (as observed)

# Relative activity per local hour of a working day: starts at 8, lunch dip at 13, tails off after 18.
HOUR_WEIGHTS: Final[dict[int, float]] = {
    7: 0.15, 8: 0.55, 9: 0.95, 10: 1.0, 11: 1.0, 12: 0.85, 13: 0.35, 14: 0.9, 15: 1.0, 16: 0.9,
    17: 0.65, 18: 0.25, 19: 0.1,
}  # fmt: skip

# Fixed-date Russian public holidays (month, day); working days moved by decree are not modelled.
_HOLIDAYS: Final[frozenset[tuple[int, int]]] = frozenset(
    [(1, d) for d in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)

# Persona: (share of users, P(works on a working day), P(works on a day off), hours per working day,
# intensity)
_PERSONAS: Final[dict[str, tuple[float, float, float, tuple[int, int], float]]] = {
    "heavy": (0.15, 0.92, 0.05, (5, 8), 1.8),
    "regular": (0.42, 0.68, 0.015, (3, 6), 1.0),
    "occasional": (0.28, 0.2, 0.0, (1, 3), 0.6),
    "dormant": (0.15, 0.0, 0.0, (1, 1), 0.0),
}

# Search result codes and types, as rendered.
FOUND, EMPTY, ERROR = 0, 1, 2
INTELLIGENT, ATTRIBUTE = 0, 1
KSRV, KASSIST = 0, 1


class HourRow(NamedTuple):
    """One user's counters for one local hour (only hours with activity are listed)."""

    start: int  # local minute of the hour start
    user: int
    db_requests: int
    docs: int
    free_docs: int
    saved: int
    printed: int
    kassist: int
    services: int
    searches: int


class SearchRow(NamedTuple):
    """One search query as the server logs it."""

    time: int  # local second
    user: int
    catalog: str
    kind: int  # INTELLIGENT | ATTRIBUTE
    result: int  # FOUND | EMPTY | ERROR
    found: int
    source: int  # KSRV | KASSIST
    duration_ms: int
    query: str
    error: str


@dataclass
class Refusal:
    """A login the server refused: no free seat (code 2008), a key failure, or a wrong password."""

    time: int  # local second
    user: int
    ip: str
    browser: str
    kind: str  # "no-seats" | "protection" | "bad-password"
    code: int | None
    text: str


class Login(NamedTuple):
    """A successful login (the seat is then held for 24 h)."""

    time: int  # local second
    user: int
    ip: str
    browser: str


@dataclass
class Session:
    """A user holding a seat at report time."""

    user: int
    login: int  # local second
    ip: str
    browser: str
    catalog: str


@dataclass
class Person:
    """A registered user: identity, card, behaviour and (after the simulation) results."""

    idx: int
    login: str
    full_name: str
    first_name: str
    surname: str
    phone: str
    email: str
    position: str
    department: str
    topic: str
    domain: str
    ad_group: str
    group: str
    created: int  # local minute
    enabled: bool
    kind: str
    p_work: float
    p_off: float
    hours: tuple[int, int]
    intensity: float
    start_pref: float  # minutes after midnight
    kassist_user: bool
    ips: tuple[str, ...]
    browser: str
    catalog: str
    last_login: int | None = None  # local second
    last_activity: int | None = None
    month: list[int] = field(default_factory=lambda: [0] * 9)
    """Month-to-date: db_requests, docs, free_docs, saved, printed, kassist, services, searches, empty."""


@dataclass
class DbError:
    code: int | None
    alt_code: str | None
    text: str
    volume: str
    time: int  # local minute


@dataclass
class Volume:
    path: str
    update: str
    size: int
    errors: list[DbError] = field(default_factory=list)


@dataclass
class Licence:
    valid_from: date
    valid_to: date
    max_update: str


@dataclass
class Database:
    code: str
    name: str
    product: int
    catalog: str
    update: str
    licence: Licence | None
    volumes: list[Volume]


@dataclass
class OperUpFile:
    path: str
    database: str
    modified: int  # local minute
    size: int
    error_code: int | None = None
    error_text: str = ""


@dataclass
class Protection:
    binding: str  # "senselock-usb" | "senselock-lm"
    key_number: str
    status: str  # "ok" | "error"
    code: int | None
    message: str
    checked: int  # local minute
    failed_since: int | None
    lm_host: str
    lm_port: int
    lm_configured: bool


@dataclass
class KassistDay:
    day: date
    links_added: int
    unique_links: int
    not_matched: int
    active_checked: int


@dataclass
class Report:
    """Everything the XML report contains, in local time."""

    profile: SysinfoProfile
    created: int  # local second
    period_from: int  # local minute
    month_from: date
    offset_minutes: int
    regnum: str
    legal_name: str
    seats: int
    support_until: date
    host: str
    os: str
    install_path: str
    port: int
    started: int  # local minute
    backup_time: str
    restart_time: str
    server_version: str
    server_title: str
    sysinfo_version: str
    kassist_version: str | None
    windows: bool
    catalogs: list[tuple[str, str, list[str]]]  # (path, title, db codes)
    databases: list[Database]
    operup_dir: str
    operup: list[OperUpFile]
    protection: Protection | None
    persons: list[Person]
    sessions: list[Session]
    refusals: list[Refusal]
    logins: list[Login]
    hours: list[list[HourRow]]  # per day, time-ordered
    searches: list[list[SearchRow]]  # per day, time-ordered
    kassist_days: list[KassistDay]


def default_regnum(profile: SysinfoProfile) -> str:
    """``profile.regnum``, or a registration number ``DDDD_CCCCCC`` derived from client and seed."""
    if profile.regnum:
        return profile.regnum
    rng = _Rngs(profile.seed, profile.client).named("regnum")
    return f"{rng.randint(1000, 9999)}_{rng.randint(100000, 999999)}"


def local_report_time(profile: SysinfoProfile) -> datetime:
    """The report time on the installation's local clock (naive)."""
    return profile.report_time.replace(tzinfo=None) + timedelta(minutes=profile.tz_offset_minutes)


def local_minute(dt: datetime) -> int:
    """Minutes since the local epoch for a naive local datetime."""
    return int((dt - _EPOCH).total_seconds()) // 60


def minute_to_datetime(minute: int) -> datetime:
    """Naive local datetime of a local minute."""
    return _EPOCH + timedelta(minutes=minute)


def update_number(day: date) -> str:
    """Kodeks update number of the weekly update released in the ISO week of ``day``: ``YYWW``.

    Inferred from "7475 обн.2309" and the OperUp name ``2330nvd.ud6`` next to ``30725DNK.ud6`` (2023-07-25 is
    in ISO week 30 of 2023).
    """
    iso = day.isocalendar()
    return f"{iso.year % 100:02d}{iso.week:02d}"


def is_working_day(day: date) -> bool:
    """Monday to Friday except the fixed-date public holidays."""
    return day.weekday() < 5 and (day.month, day.day) not in _HOLIDAYS


class _Rngs:
    """Factory of independent, reproducible ``random.Random`` streams keyed by purpose."""

    def __init__(self, seed: int, client: str) -> None:
        digest = hashlib.sha256(f"sysinfo|{seed}|{client}".encode()).digest()
        self._base = int.from_bytes(digest[:8], "big")

    def named(self, purpose: str) -> random.Random:
        return random.Random(f"{self._base}|{purpose}")

    def keyed(self, user: int, day: int, tag: int) -> random.Random:
        # Integer seeds are much cheaper than string seeds; the layout keeps (user, day, tag) unique.
        return random.Random((self._base << 48) | (user << 24) | ((day & 0x1FFFF) << 3) | tag)


# --- static parts -----------------------------------------------------------------------------------------


def _weighted_index(rng: random.Random, weights: tuple[int, ...] | list[float]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def _make_persons(
    profile: SysinfoProfile, rngs: _Rngs, first_minute: int, domain: str, cloud_ip: str
) -> list[Person]:
    inst = rngs.named("people")
    card_discipline = inst.uniform(0.3, 0.95)
    subnets = [f"192.168.{inst.randint(1, 254)}" for _ in range(inst.randint(1, 3))]
    mail_domain = profile.client.lower().replace("_", "-").replace(".", "-") + ".ru"
    count = profile.users + (1 if "new-user" in profile.scenarios else 0)
    persons: list[Person] = []
    used_logins: set[str] = set()
    kinds = _persona_kinds(profile.users, rngs.named("personas"))
    # People in large organisations use the system less each (many occasional readers per seat).
    per_capita = 1.0 / (1.0 + profile.users / 2000)
    browsers = [b for b, _ in vocab.BROWSERS]
    browser_weights = [w for _, w in vocab.BROWSERS]
    for idx in range(count):
        rng = rngs.named(f"person|{idx}")
        female = rng.random() < 0.55
        first = rng.choice(vocab.FEMALE_FIRST_NAMES if female else vocab.MALE_FIRST_NAMES)
        patronymic = rng.choice(vocab.PATRONYMICS)[1 if female else 0]
        surname = rng.choice(vocab.SURNAMES)
        if female:
            surname = vocab.female_surname(surname)
        login = f"{vocab.translit(surname)}_{vocab.translit(first)[0]}_{vocab.translit(patronymic)[0]}"
        base_login, n = login, 2
        while login in used_logins:
            login, n = f"{base_login}{n}", n + 1
        used_logins.add(login)
        dep_name, positions, topic = vocab.DEPARTMENTS[_weighted_index(rng, vocab.DEPARTMENT_WEIGHTS)]
        kind = kinds[idx] if idx < len(kinds) else "regular"
        _, p_work, p_off, hours, intensity = _PERSONAS[kind]
        filled = [rng.random() < card_discipline for _ in range(4)]
        phone = f"+7 ({rng.choice(vocab.PHONE_AREA_CODES)}) {rng.randint(200, 799)}-{rng.randint(10, 99)}-"
        phone += f"{rng.randint(10, 99)}"
        email = f"{vocab.translit(first)[0]}.{vocab.translit(surname)}@{mail_domain}"
        in_domain = bool(domain) and rng.random() < 0.9
        if cloud_ip:
            ips: tuple[str, ...] = (cloud_ip,)
        else:
            ip = f"{rng.choice(subnets)}.{rng.randint(2, 250)}"
            ips = (ip, f"{rng.choice(subnets)}.{rng.randint(2, 250)}") if rng.random() < 0.1 else (ip,)
        created = first_minute - rng.randint(30, 2000) * _DAY + rng.randint(540, 1080)
        persons.append(
            Person(
                idx=idx,
                login=login,
                full_name=f"{surname} {first} {patronymic}" if rng.random() < 0.95 else "",
                first_name=first,
                surname=surname,
                phone=phone if filled[0] else "",
                email=email if filled[1] else "",
                position=rng.choice(positions) if filled[2] else "",
                department=dep_name if filled[3] else "",
                topic=topic,
                domain=domain if in_domain else "",
                ad_group=dep_name if in_domain else "",
                group=rng.choice(vocab.KODEKS_GROUPS),
                created=created,
                enabled=kind != "dormant" or rng.random() < 0.8,
                kind=kind,
                p_work=p_work,
                p_off=p_off,
                hours=hours,
                intensity=intensity * per_capita * math.exp(rng.gauss(0.0, 0.25)),
                start_pref=rng.gauss(8.9 * 60, 35.0),
                kassist_user=profile.kassist and rng.random() < 0.35,
                ips=ips,
                browser=rng.choices(browsers, weights=browser_weights)[0],
                catalog="/docs",
            )
        )
    return persons


def _persona_kinds(users: int, rng: random.Random) -> list[str]:
    """Personas of ``users`` users in the shares of ``_PERSONAS`` (largest remainder), shuffled.

    Quotas instead of independent draws keep installations of the same size alike in volume; user 0 is
    always a heavy user so even the smallest installation has a regular reader.
    """
    quotas = {kind: share * users for kind, (share, *_rest) in _PERSONAS.items()}
    counts = {kind: int(q) for kind, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda k: (quotas[k] - counts[k], k), reverse=True)
    for kind in by_remainder[: users - sum(counts.values())]:
        counts[kind] += 1
    kinds = [kind for kind in _PERSONAS for _ in range(counts[kind])]
    rng.shuffle(kinds)
    if "heavy" in kinds:
        first_heavy = kinds.index("heavy")
        kinds[0], kinds[first_heavy] = kinds[first_heavy], kinds[0]
    else:
        kinds[0] = "heavy"
    return kinds


def _volume_paths(install: str, windows: bool, code: str, count: int) -> list[str]:
    sep = "\\" if windows else "/"
    return [f"{install}{sep}Db{sep}{code}{sep}{code.lower()}{n:03d}.kdb" for n in range(1, count + 1)]


def _pick(rng: random.Random, seq: list[Database]) -> Database:
    return seq[rng.randrange(len(seq))]


def _db_error(code: int | None, text: str, volume: Volume, time: int) -> DbError:
    alt = vocab.DB_ERROR_ALT_CODES.get(code) if code is not None else None
    return DbError(code=code, alt_code=alt, text=text, volume=volume.path, time=time)


def _format_db_error(code: int, volume: Volume, rng: random.Random) -> str:
    name = volume.path.replace("\\", "/").rsplit("/", 1)[-1]
    return vocab.DB_ERRORS[code].format(
        path=volume.path, volume=name, code=code, area=rng.randint(1000, 9999), atr=rng.randint(1, 400)
    )


# --- the report -------------------------------------------------------------------------------------------


def simulate(profile: SysinfoProfile) -> Report:
    """Build the full report model for ``profile``; deterministic for equal profiles."""
    rngs = _Rngs(profile.seed, profile.client)
    scen = profile.scenarios
    offset = profile.tz_offset_minutes
    now_local_dt = local_report_time(profile)
    created_sec = int((now_local_dt - _EPOCH).total_seconds())
    now = created_sec // 60
    today = now_local_dt.date()
    period_from = (now - profile.days * _DAY) // 60 * 60
    month_from = today.replace(day=1)
    month_start = local_minute(datetime.combine(month_from, datetime.min.time()))
    # Simulate from the earlier of the window and the month start, plus one day so seats held at the start
    # of the window are known.
    sim_start_day = minute_to_datetime(min(period_from, month_start)).date() - timedelta(days=1)

    inst = rngs.named("installation")
    windows = not profile.cloud and inst.random() < 0.8
    if profile.cloud:
        install = f"/srv/kodeks/{profile.client.lower()}"
        os_name = inst.choice(vocab.LINUX_SYSTEMS)
        host = f"tecloud-{inst.randint(10, 99)}"
    elif windows:
        install = f"{inst.choice('CDDE')}:\\Kodeks\\Techexpert-Intranet"
        os_name = inst.choice(vocab.WINDOWS_SYSTEMS)
        host = f"SRV-KODEKS{inst.randint(1, 9):02d}"
    else:
        install = "/opt/kodeks/techexpert-intranet"
        os_name = inst.choice(vocab.LINUX_SYSTEMS)
        host = f"kodeks-srv{inst.randint(1, 9)}"
    sep = "\\" if windows else "/"
    port = 80 if profile.cloud else inst.choice((80, 80, 80, 8080, 7070, 1210))
    regnum = default_regnum(profile)
    legal_name = profile.legal_name or f"{inst.choice(vocab.LEGAL_FORMS)} «{vocab.cyrillize(profile.client)}»"
    server_version = profile.server_version or inst.choice(vocab.SERVER_VERSIONS)
    arch = "x86_64" if not windows else inst.choice(("x64", "x64", "x86_64"))
    patch = f" [patch {inst.randint(1, 9)}]" if inst.random() < 0.3 else ""
    sysinfo_version = profile.sysinfo_version or inst.choice(vocab.SYSINFO_VERSIONS)
    kassist_version = inst.choice(vocab.KASSIST_VERSIONS) if profile.kassist else None
    restart_minute = inst.choice((240, 270, 300, 330))
    backup_minute = restart_minute - inst.choice((60, 90, 120))
    if profile.restart_time:
        restart_minute = int(profile.restart_time[:2]) * 60 + int(profile.restart_time[3:])
    if profile.backup_time:
        backup_minute = int(profile.backup_time[:2]) * 60 + int(profile.backup_time[3:])
    restart_today = local_minute(datetime.combine(today, datetime.min.time())) + restart_minute
    started = restart_today if restart_today <= now else restart_today - _DAY
    started += inst.randint(1, 4)
    domain = ""
    if not profile.cloud and inst.random() < 0.6:
        letters = "".join(ch for ch in profile.client.upper() if ch.isalnum())[:12]
        domain = letters + inst.choice(vocab.AD_DOMAIN_SUFFIXES)
    cloud_ip = f"{inst.choice((31, 46, 77, 85, 91, 95, 178, 188, 212))}.{inst.randint(1, 254)}."
    cloud_ip += f"{inst.randint(1, 254)}.{inst.randint(2, 254)}"

    support_until = profile.licence_until or today + timedelta(days=inst.randint(120, 330))
    if "unsupported-but-used" in scen:
        support_until = today - timedelta(days=_UNSUPPORTED_DAYS)
    frozen = "unsupported-but-used" in scen

    # Databases and their licences.
    db_rng = rngs.named("databases")
    n_db = profile.databases or db_rng.randint(8, 14)
    products = [vocab.PRODUCTS[0], vocab.PRODUCTS[1], vocab.PRODUCTS[2]]
    products += db_rng.sample(vocab.PRODUCTS[3:], n_db - 3)
    current_update = update_number(support_until if frozen else today)
    contract_to = support_until if not frozen else today + timedelta(days=db_rng.randint(120, 330))
    databases: list[Database] = []
    for code, name, _topic in products:
        own_date = db_rng.random() < 0.2 and profile.licence_until is None
        valid_to = today + timedelta(days=db_rng.randint(95, 360)) if own_date else contract_to
        valid_from = valid_to - timedelta(days=364)
        n_vol = db_rng.randint(1, 5)
        volumes = [
            Volume(
                path=p,
                update=current_update,
                size=db_rng.randint(40, 2400) * 1_048_576 + db_rng.randint(0, 1 << 20),
            )
            for p in _volume_paths(install, windows, code, n_vol)
        ]
        databases.append(
            Database(
                code=code,
                name=name,
                product=333_000_000 + db_rng.randint(100_000, 999_999),
                catalog="/docs",
                update=current_update,
                licence=Licence(valid_from, valid_to, update_number(valid_to)),
                volumes=volumes,
            )
        )
    paths = list(profile.catalogs or ["/docs"])
    if profile.catalogs is None and not profile.cloud and inst.random() < 0.3:
        paths.append("/kodeks01")
    catalogs: list[tuple[str, str, list[str]]] = [(paths[0], "Техэксперт", [db.code for db in databases])]
    for n, path in enumerate(paths[1:]):
        start = (n * 3) % len(databases)
        subset = [db.code for db in (databases[start:] + databases[:start])[: max(2, len(databases) // 3)]]
        catalogs.append((path, f"Дополнительный каталог {path}", subset))
    for db in databases:
        db.catalog = paths[0]

    for scenario, days_left in EXPIRY_DAYS_LEFT.items():
        if scenario in scen:
            db = databases[list(EXPIRY_DAYS_LEFT).index(scenario)]
            assert db.licence is not None
            valid_to = today + timedelta(days=days_left)
            db.licence = Licence(valid_to - timedelta(days=364), valid_to, update_number(valid_to))
    if "no-licence-block" in scen:
        databases[-1].licence = None  # the last DB, so the expiry scenarios can be combined with this one

    _apply_db_errors(scen, databases, rngs, now, install, windows, today)

    # OperUp: one daily package per database plus the thesaurus file.
    op_rng = rngs.named("operup")
    operup_dir = f"{install}{sep}OperUp"
    operup: list[OperUpFile] = []
    if "stale-operup" in scen:
        package_day = today - timedelta(days=STALE_OPERUP_DAYS)
    elif frozen:
        package_day = support_until
    else:
        package_day = today
    day_start = local_minute(datetime.combine(package_day, datetime.min.time()))
    files: list[tuple[str, str, int]] = []
    for db in databases:
        arrival = day_start + 240 + op_rng.randint(0, 150)
        if arrival > now:  # today's package has not arrived yet
            arrival -= _DAY
        day = minute_to_datetime(arrival).date()
        name = f"{day.year % 10}{day.month:02d}{day.day:02d}{db.code}.ud6"
        files.append((name, db.code, arrival))
    thes_arrival = max(m for _, _, m in files)
    files.append((f"{current_update}thes.udt", "", thes_arrival))
    for name, code, arrival in files:
        operup.append(
            OperUpFile(
                path=f"{operup_dir}{sep}{name}",
                database=code,
                modified=arrival,
                size=op_rng.randint(2_000, 9_000_000),
            )
        )
    for scenario in sorted(s for s in scen if s.startswith("operup-error-")):
        op_code = int(scenario.rsplit("-", 1)[1])
        target = operup[op_rng.randrange(len(operup) - 1)]
        target.error_code, target.error_text = op_code, vocab.OPERUP_ERRORS[op_code]

    protection = _protection(scen, rngs, now, windows, regnum.split("_", 1)[1])

    first_minute = local_minute(datetime.combine(sim_start_day, datetime.min.time()))
    persons = _make_persons(profile, rngs, first_minute, domain, cloud_ip if profile.cloud else "")
    for person in persons:
        person.catalog = catalogs[0][0]
        if len(catalogs) > 1 and rngs.keyed(person.idx, 0, 7).random() < 0.25:
            person.catalog = catalogs[1 + person.idx % (len(catalogs) - 1)][0]

    timeline = _Timeline(
        profile=profile,
        rngs=rngs,
        persons=persons,
        now=now,
        created_sec=created_sec,
        period_from=period_from,
        month_start=month_start,
        sim_start_day=sim_start_day,
        today=today,
        key_failure=protection.failed_since if protection is not None else None,
    )
    timeline.run()

    return Report(
        profile=profile,
        created=created_sec,
        period_from=period_from,
        month_from=month_from,
        offset_minutes=offset,
        regnum=regnum,
        legal_name=legal_name,
        seats=timeline.seats,
        support_until=support_until,
        host=host,
        os=os_name,
        install_path=install,
        port=port,
        started=started,
        backup_time=f"{backup_minute // 60:02d}:{backup_minute % 60:02d}",
        restart_time=f"{restart_minute // 60:02d}:{restart_minute % 60:02d}",
        server_version=server_version,
        server_title=f"{server_version} ({arch}){patch}",
        sysinfo_version=sysinfo_version,
        kassist_version=kassist_version,
        windows=windows,
        catalogs=catalogs,
        databases=databases,
        operup_dir=operup_dir,
        operup=operup,
        protection=protection,
        persons=persons,
        sessions=timeline.sessions,
        refusals=timeline.refusals,
        logins=timeline.logins,
        hours=timeline.hour_rows,
        searches=timeline.search_rows,
        kassist_days=timeline.kassist_days(),
    )


def _apply_db_errors(
    scen: frozenset[str],
    databases: list[Database],
    rngs: _Rngs,
    now: int,
    install: str,
    windows: bool,
    today: date,
) -> None:
    """Attach the scenario's DB errors to volumes (and keep licences consistent with 2020 / 2021)."""
    rng = rngs.named("db-errors")
    codes: list[int] = sorted(int(s.rsplit("-", 1)[1]) for s in scen if s[len("db-error-") :].isdigit())
    nocode = "db-error-nocode" in scen
    if "db-errors" in scen:
        codes = sorted({*codes, 2007, 613})
        nocode = True
    for code in codes:
        db = _pick(rng, databases)
        volume = db.volumes[rng.randrange(len(db.volumes))]
        when = now - rng.randint(5, 600)
        volume.errors.append(_db_error(code, _format_db_error(code, volume, rng), volume, when))
        if code == 2020 and db.licence is not None:
            # The volume carries a newer update than the licence covers.
            lic = db.licence
            older = update_number(today - timedelta(days=21))
            db.licence = Licence(lic.valid_from, lic.valid_to, older)
        if code == 2021 and db.licence is not None:
            valid_to = today - timedelta(days=rng.randint(1, 20))
            db.licence = Licence(valid_to - timedelta(days=364), valid_to, update_number(valid_to))
    if nocode:
        db = _pick(rng, databases)
        original = db.volumes[0]
        duplicate = Volume(path=original.path, update=original.update, size=original.size)
        duplicate.errors.append(_db_error(None, vocab.DUPLICATE_VOLUME, duplicate, now - rng.randint(5, 600)))
        db.volumes.append(duplicate)
    if "db-errors-many" in scen:
        targets = rng.sample(databases, min(3, len(databases)))
        total = sum(len(db.volumes) for db in targets)
        last = targets[-1]
        while total < _MANY_ERRORS_VOLUMES:
            n = len(last.volumes) + 1
            last.volumes.extend(
                Volume(path=p, update=last.update, size=rng.randint(40, 900) * 1_048_576)
                for p in _volume_paths(install, windows, last.code, n)[-1:]
            )
            total += 1
        when = now - rng.randint(5, 600)
        for db in targets:
            for volume in db.volumes:
                volume.errors.append(_db_error(None, vocab.INVALID_PROTECT, volume, when))


def _protection(
    scen: frozenset[str], rngs: _Rngs, now: int, windows: bool, inventory: str
) -> Protection | None:
    if "no-senselock-block" in scen:
        return None
    rng = rngs.named("protection")
    key_codes = [int(s.rsplit("-", 1)[1]) for s in scen if s.startswith("key-error-")]
    code = key_codes[0] if key_codes else None
    network = rng.random() < (0.35 if windows else 0.6)
    if code is not None and (code in vocab.KEY_ERRORS_NEEDING_LM or code == 4116):
        network = True
    lm_host = f"192.168.{rng.randint(1, 254)}.{rng.randint(2, 250)}"
    lm_port = rng.choice((8888, 8888, 8888, 8890))
    key_number = str(rng.randint(1_000_000, 99_999_999))
    configured = network and code != 4116
    if code is None:
        return Protection(
            binding="senselock-lm" if network else "senselock-usb",
            key_number=key_number,
            status="ok",
            code=None,
            message=vocab.KEY_OK_MESSAGE,
            checked=now - rng.randint(0, 5),
            failed_since=None,
            lm_host=lm_host if configured else "",
            lm_port=lm_port if configured else 0,
            lm_configured=configured,
        )
    message = vocab.KEY_ERRORS[code].format(lm=f"{lm_host}:{lm_port}", key=key_number, inventory=inventory)
    return Protection(
        binding="senselock-lm" if network else "senselock-usb",
        key_number=key_number,
        status="error",
        code=code,
        message=message,
        checked=now - rng.randint(0, 5),
        failed_since=now - _KEY_FAILURE_BEFORE_NOW,
        lm_host=lm_host if configured else "",
        lm_port=lm_port if configured else 0,
        lm_configured=configured,
    )


# --- the timeline -----------------------------------------------------------------------------------------


class _Plan(NamedTuple):
    login: int  # local minute
    hours: tuple[int, ...]  # local hours of the day with activity, ascending, first = login hour
    micro: bool  # low-activity: one search, one document


@dataclass
class _SeatOutcome:
    accepted: dict[tuple[int, int], int]
    accepted_at: dict[tuple[int, int], int]  # same logins, local second
    refusals: list[Refusal]
    holders: dict[int, int]  # user -> login second of the seat held at report time
    peak: int
    demand_now: int


class _Timeline:
    """Plans, seats and activity of every user; see the module docstring for the three phases."""

    def __init__(
        self,
        *,
        profile: SysinfoProfile,
        rngs: _Rngs,
        persons: list[Person],
        now: int,
        created_sec: int,
        period_from: int,
        month_start: int,
        sim_start_day: date,
        today: date,
        key_failure: int | None,
    ) -> None:
        self.profile = profile
        self.rngs = rngs
        self.persons = persons
        self.now = now
        self.now_sec = created_sec
        self.period_from = period_from
        self.month_start = month_start
        self.sim_start_day = sim_start_day
        self.first_minute = local_minute(datetime.combine(sim_start_day, datetime.min.time()))
        self.n_days = (today - sim_start_day).days + 1
        self.today = today
        self.key_failure = key_failure
        self.end = min(now, key_failure) if key_failure is not None else now
        self.seats = 0
        self.sessions: list[Session] = []
        self.refusals: list[Refusal] = []
        self.logins: list[Login] = []
        self.hour_rows: list[list[HourRow]] = []
        self.search_rows: list[list[SearchRow]] = []
        self._kassist_per_day: dict[date, int] = {}

    # phase 1 ------------------------------------------------------------------------------------------------

    def _forced_plans(self) -> dict[int, dict[int, _Plan]]:
        """Plans imposed by scenarios (low-activity, new-user), by user and day index."""
        scen = self.profile.scenarios
        forced: dict[int, dict[int, _Plan]] = {}
        if "low-activity" in scen:
            month_day0 = (minute_to_datetime(self.month_start).date() - self.sim_start_day).days
            workdays = [
                d
                for d in range(month_day0, self.n_days)
                if is_working_day(self.sim_start_day + timedelta(days=d))
                and self.first_minute + d * _DAY + 600 < self.now
            ] or [self.n_days - 1]
            for person in self.persons[:2]:
                day = workdays[min(person.idx * 3, len(workdays) - 1)]
                login = self.first_minute + day * _DAY + 600 + person.idx * 37
                forced[person.idx] = {day: _Plan(login, (login // 60 % 24,), True)}
        if "new-user" in scen:
            person = self.persons[-1]
            login = person.created + 10
            day = (login - self.first_minute) // _DAY
            first_hour = login // 60 % 24
            last_hour = max(first_hour, min(19, self.now // 60 % 24))
            forced[person.idx] = {day: _Plan(login, tuple(range(first_hour, last_hour + 1)), False)}
        return forced

    def _adjust_personas(self) -> None:
        scen = self.profile.scenarios
        if "low-activity" in scen:
            for person in self.persons:
                person.p_work = person.p_off = 0.0
        if "low-involvement" in scen:
            seats = self.profile.seats or self._formula_seats()
            active = max(1, int(seats * 0.4))
            for person in self.persons:
                if person.idx < active:
                    _, person.p_work, person.p_off, person.hours, base = _PERSONAS["heavy"]
                    person.intensity = max(person.intensity, base)
                    person.kind = "heavy"
                else:
                    person.p_work = person.p_off = 0.0
        if "new-user" in scen:
            newcomer = self.persons[-1]
            newcomer.created = self.now - _NEW_USER_BEFORE_NOW
            newcomer.kind = "regular"
            newcomer.p_work = newcomer.p_off = 0.0  # only the forced first session
            newcomer.intensity = 1.0
            newcomer.phone = newcomer.email = newcomer.position = newcomer.department = ""
            newcomer.enabled = True

    def _formula_seats(self) -> int:
        return max(2, math.ceil(self.profile.users * 0.7))

    def _plans(self) -> dict[tuple[int, int], _Plan]:
        forced = self._forced_plans()
        plans: dict[tuple[int, int], _Plan] = {}
        for person in self.persons:
            created_day = (person.created - self.first_minute) // _DAY
            own = forced.get(person.idx, {})
            for day in range(max(0, created_day), self.n_days):
                if day in own:
                    plans[(person.idx, day)] = own[day]
                    continue
                the_date = self.sim_start_day + timedelta(days=day)
                working = is_working_day(the_date)
                p = person.p_work if working else person.p_off
                if p <= 0.0:
                    continue
                rng = self.rngs.keyed(person.idx, day, 1)
                if rng.random() >= p:
                    continue
                if working:
                    start = min(13 * 60.0, max(7 * 60 + 20.0, person.start_pref + rng.gauss(0.0, 22.0)))
                else:
                    start = rng.uniform(10 * 60.0, 15 * 60.0)
                start = start - 1 if int(start) % 60 == 59 else start  # keep searches after the login
                login = self.first_minute + day * _DAY + int(start)
                if login <= person.created:
                    continue
                first_hour = int(start) // 60
                lo, hi = person.hours if working else (1, 2)
                wanted = rng.randint(lo, hi) - 1
                candidates = [h for h in HOUR_WEIGHTS if h > first_hour]
                chosen: list[int] = []
                while wanted > 0 and candidates:
                    pick = rng.choices(range(len(candidates)), weights=[HOUR_WEIGHTS[h] for h in candidates])[
                        0
                    ]
                    chosen.append(candidates.pop(pick))
                    wanted -= 1
                plans[(person.idx, day)] = _Plan(login, (first_hour, *sorted(chosen)), False)
        return plans

    # phase 2 ------------------------------------------------------------------------------------------------

    def _seat_pass(self, plans: dict[tuple[int, int], _Plan], seats: int | None) -> _SeatOutcome:
        queue: list[tuple[int, int, int, int, int]] = []  # (minute, seq, user, day, attempt)
        for seq, ((user, day), plan) in enumerate(sorted(plans.items(), key=lambda kv: (kv[1].login, kv[0]))):
            if plan.login <= self.now:
                queue.append((plan.login, seq, user, day, 0))
        heapq.heapify(queue)
        seq = len(queue)
        expiries: list[tuple[int, int]] = []
        holders: dict[int, int] = {}  # user -> expiry minute
        holder_since: dict[int, int] = {}  # user -> second of the login that took or renewed the seat
        accepted: dict[tuple[int, int], int] = {}
        accepted_at: dict[tuple[int, int], int] = {}
        refusals: list[Refusal] = []
        peak = 0

        def release(until: int) -> None:
            while expiries and expiries[0][0] <= until:
                expiry, holder = heapq.heappop(expiries)
                if holders.get(holder) == expiry:
                    del holders[holder]

        while queue:
            minute, _, user, day, attempt = heapq.heappop(queue)
            if minute > self.now:
                break
            release(minute)
            person = self.persons[user]
            rng = self.rngs.keyed(user, day, 3 + min(attempt, 3))
            second = minute * 60 + rng.randint(0, 59)
            ip = person.ips[day % len(person.ips)]
            if self.key_failure is not None and minute >= self.key_failure:
                refusals.append(
                    Refusal(
                        second, user, ip, person.browser, "protection", self._key_code(), self._key_text()
                    )
                )
                continue
            if user in holders or seats is None or len(holders) < seats:
                holders[user] = minute + _SEAT_HOLD_MINUTES
                holder_since[user] = second
                heapq.heappush(expiries, (minute + _SEAT_HOLD_MINUTES, user))
                accepted[(user, day)] = minute
                accepted_at[(user, day)] = second
                peak = max(peak, len(holders))
                continue
            refusals.append(
                Refusal(second, user, ip, person.browser, "no-seats", 2008, vocab.REFUSAL_NO_SEATS)
            )
            if attempt < 2:
                seq += 1
                heapq.heappush(queue, (minute + rng.randint(4, 35), seq, user, day, attempt + 1))
        release(self.now)
        demand_now = len(holders)
        if self.key_failure is not None:
            holders = {}  # the server dropped every licence when the key went away
        return _SeatOutcome(
            accepted=accepted,
            accepted_at=accepted_at,
            refusals=refusals,
            holders={u: holder_since[u] for u in holders},
            peak=peak,
            demand_now=demand_now,
        )

    def _key_code(self) -> int | None:
        codes = [int(s.rsplit("-", 1)[1]) for s in self.profile.scenarios if s.startswith("key-error-")]
        return codes[0] if codes else None

    def _key_text(self) -> str:
        code = self._key_code()
        return f"Ошибка защиты ({code}) - вход невозможен, ключ защиты недоступен"

    def _bad_password_refusals(self, accepted: dict[tuple[int, int], int]) -> list[Refusal]:
        """About one mistyped password per 150 working sessions; logged but never code 2008."""
        out: list[Refusal] = []
        for (user, day), minute in accepted.items():
            rng = self.rngs.keyed(user, day, 2)
            if rng.random() < 1 / 150:
                person = self.persons[user]
                second = minute * 60 - rng.randint(20, 200)
                out.append(
                    Refusal(
                        second,
                        user,
                        person.ips[day % len(person.ips)],
                        person.browser,
                        "bad-password",
                        None,
                        vocab.REFUSAL_BAD_PASSWORD,
                    )
                )
        return out

    # phase 3 ------------------------------------------------------------------------------------------------

    def run(self) -> None:
        self._adjust_personas()
        plans = self._plans()
        scen = self.profile.scenarios
        free = self._seat_pass(plans, None)
        if self.profile.seats is not None:
            seats = self.profile.seats
        elif "seats-exhausted" in scen:
            seats = max(1, round(free.peak * 0.7))
            if free.demand_now > 0:
                seats = max(1, min(seats, free.demand_now - 1 if free.demand_now > 1 else 1))
        else:
            seats = max(self._formula_seats(), free.peak)
        if "seats-exhausted" in scen and seats >= free.peak:
            raise ValueError(
                f"seats-exhausted: the users' peak demand is {free.peak} seats, so {seats} seats never "
                "run out; leave seats unset or lower it, or add users"
            )
        if "low-involvement" in scen and seats < 2:
            raise ValueError("low-involvement needs at least 2 seats")
        self.seats = seats
        outcome = free if seats >= free.peak else self._seat_pass(plans, seats)

        refusals = outcome.refusals + self._bad_password_refusals(outcome.accepted)
        period_sec = self.period_from * 60
        self.refusals = sorted(
            (r for r in refusals if period_sec <= r.time <= self.now_sec), key=lambda r: (r.time, r.user)
        )
        for (user, day), second in outcome.accepted_at.items():
            person = self.persons[user]
            if person.last_login is None or second > person.last_login:
                person.last_login = second
            if second >= period_sec:
                self.logins.append(Login(second, user, person.ips[day % len(person.ips)], person.browser))
        self.logins.sort()

        by_day: dict[int, list[tuple[int, int]]] = {}
        for (user, day), minute in outcome.accepted.items():
            by_day.setdefault(day, []).append((user, minute))
        for day in range(self.n_days):
            self._emit_day(day, sorted(by_day.get(day, [])), plans)

        for user, login in sorted(outcome.holders.items(), key=lambda kv: (kv[1], kv[0])):
            person = self.persons[user]
            day = (login // 60 - self.first_minute) // _DAY
            self.sessions.append(
                Session(user, login, person.ips[day % len(person.ips)], person.browser, person.catalog)
            )
        self._fill_prehistory()

    def _emit_day(self, day: int, logins: list[tuple[int, int]], plans: dict[tuple[int, int], _Plan]) -> None:
        day_start = self.first_minute + day * _DAY
        in_window = day_start + _DAY > self.period_from
        rows: list[HourRow] = []
        searches: list[SearchRow] = []
        for user, login in logins:
            plan = plans[(user, day)]
            self._emit_user_day(self.persons[user], day, day_start, login, plan, rows, searches)
        if not in_window:
            return
        rows = [r for r in rows if r.start >= self.period_from]
        searches = [s for s in searches if s.time >= self.period_from * 60]
        rows.sort(key=lambda r: (r.start, r.user))
        searches.sort(key=lambda s: (s.time, s.user))
        self.hour_rows.append(rows)
        self.search_rows.append(searches)
        kassist = sum(r.kassist for r in rows)
        self._kassist_per_day[self.sim_start_day + timedelta(days=day)] = kassist

    def _emit_user_day(
        self,
        person: Person,
        day: int,
        day_start: int,
        login: int,
        plan: _Plan,
        rows: list[HourRow],
        searches: list[SearchRow],
    ) -> None:
        rng = self.rngs.keyed(person.idx, day, 0)
        login_hour = (login - day_start) // 60
        scen = self.profile.scenarios
        for hour in plan.hours:
            if hour < login_hour:
                continue
            start = day_start + hour * 60
            lower = login - start if hour == login_hour else 0
            weight = max(0.05, HOUR_WEIGHTS.get(hour, 0.1) * person.intensity)
            # Draw the full hour first so the past never depends on the report time.
            if plan.micro:
                n_search, docs, free, saved, printed, services, kassist, extra = 1, 1, 0, 0, 0, 0, 0, 1
                last_minute = min(lower + 4, 59)
            else:
                n_search = min(14, int(rng.gammavariate(1.6, 1.3 * weight)))
                docs = int(n_search * rng.uniform(0.6, 2.0) + rng.random() * 2.5 * weight)
                free = int(docs * rng.uniform(0.0, 0.35))
                saved = int(docs * rng.uniform(0.0, 0.3))
                printed = int(docs * rng.uniform(0.0, 0.14))
                services = rng.choice((0, 0, 0, 0, 1, 1, 2, 3))
                kassist = int(rng.expovariate(1.0 / (2.5 * weight))) if person.kassist_user else 0
                extra = rng.randint(1, 6)
                last_minute = rng.randint(min(lower, 59), 59)
            # Searches start the minute after the login (the login itself has a random second).
            first = min(lower + 1, 59) if hour == login_hour else 0
            minutes = sorted(rng.randrange(first, 60) for _ in range(n_search))
            drawn = [self._search(rng, person, start, m) for m in minutes]
            if "search-errors" in scen and not plan.micro:
                drawn = [self._maybe_error(rng, s) for s in drawn]
            if "no-empty-searches" in scen:
                drawn = [_as_found(s) if s.result == EMPTY else s for s in drawn]
            if start >= self.end:
                break
            upper = min(60, self.end - start)
            if upper <= lower:
                continue
            kept = [s for s in drawn if s.time < (start + upper) * 60]
            if upper < 60:
                frac = (upper - lower) / (60 - lower)
                docs, free, saved, printed = (int(x * frac) for x in (docs, free, saved, printed))
                services, kassist, extra = (int(x * frac) for x in (services, kassist, extra))
            n_kept = len(kept)
            db_requests = 2 * n_kept + docs + free + services + kassist + max(1, extra)
            row = HourRow(
                start, person.idx, db_requests, docs, free, saved, printed, kassist, services, n_kept
            )
            rows.append(row)
            searches.extend(kept)
            last = max((s.time // 60 for s in kept), default=start + lower)
            last = max(last, min(start + last_minute, start + upper - 1))
            if person.last_activity is None or last > person.last_activity:
                person.last_activity = last
            if start >= self.month_start:
                month = person.month
                empty = sum(1 for s in kept if s.result == EMPTY)
                for i, value in enumerate(row[2:]):
                    month[i] += value
                month[8] += empty

    def _maybe_error(self, rng: random.Random, row: SearchRow) -> SearchRow:
        if rng.random() < 0.025:
            return row._replace(
                result=ERROR,
                found=0,
                duration_ms=rng.choice((rng.randint(30, 400), rng.randint(30_000, 120_000))),
                error=rng.choice(vocab.SEARCH_ERROR_MESSAGES),
            )
        return row

    def _search(self, rng: random.Random, person: Person, hour_start: int, minute: int) -> SearchRow:
        time = (hour_start + minute) * 60 + rng.randint(0, 59)
        query, kind, p_empty = _query(rng, person.topic)
        empty = rng.random() < p_empty
        if empty:
            duration = (
                int(rng.lognormvariate(math.log(13_500), 0.45))
                if rng.random() < 0.8
                else rng.randint(2_500, 10_000)
            )
            found = 0
        else:
            duration = max(40, int(rng.lognormvariate(math.log(650), 0.85)))
            found = max(1, int(rng.lognormvariate(math.log(40), 1.6)))
        source = KASSIST if person.kassist_user and rng.random() < 0.2 else KSRV
        return SearchRow(
            time,
            person.idx,
            person.catalog,
            kind,
            EMPTY if empty else FOUND,
            found,
            source,
            duration,
            query,
            "",
        )

    def _fill_prehistory(self) -> None:
        """Last login / activity for users who did not work in the simulated span."""
        for person in self.persons:
            if person.last_login is not None:
                continue
            rng = self.rngs.named(f"prehistory|{person.idx}")
            if person.kind == "dormant":
                if rng.random() < 0.3:
                    continue  # never logged in
                back = rng.randint(61, 500)
            else:
                back = rng.randint(1, 40)
            minute = self.first_minute - back * _DAY + rng.randint(8 * 60, 17 * 60)
            if minute <= person.created:
                continue
            person.last_login = minute * 60 + rng.randint(0, 59)
            person.last_activity = minute + rng.randint(3, 180)

    def kassist_days(self) -> list[KassistDay]:
        """Daily kAssist link statistics over the window (empty when kAssist is not installed)."""
        if not self.profile.kassist:
            return []
        out: list[KassistDay] = []
        for day in sorted(self._kassist_per_day):
            requests = self._kassist_per_day[day]
            rng = self.rngs.named(f"kassist|{day.isoformat()}")
            added = int(requests * rng.uniform(1.5, 3.5))
            unique = int(added * rng.uniform(0.45, 0.8))
            out.append(
                KassistDay(
                    day=day,
                    links_added=added,
                    unique_links=unique,
                    not_matched=int(unique * rng.uniform(0.02, 0.12)),
                    active_checked=added * 3 + rng.randint(20, 200),
                )
            )
        return out


def _as_found(row: SearchRow) -> SearchRow:
    """The same search, but it found something (``no-empty-searches``)."""
    return row._replace(result=FOUND, found=1 + row.duration_ms % 40, duration_ms=min(row.duration_ms, 2500))


# --- search queries ---------------------------------------------------------------------------------------


def _year(rng: random.Random) -> str:
    y = rng.randint(1975, 2025)
    return str(y) if y >= 2000 or rng.random() < 0.5 else f"{y % 100:02d}"


def _random_reference(rng: random.Random, topic: str) -> str:
    r = rng.random()
    if r < 0.22:
        return f"ГОСТ {rng.randint(1000, 34999)}-{_year(rng)}"
    if r < 0.34:
        return f"ГОСТ Р {rng.randint(50000, 59999)}-{rng.randint(2005, 2024)}"
    if r < 0.42:
        return f"ГОСТ {rng.randint(1, 34)}.{rng.randint(1, 700):03d}-{_year(rng)}"
    if r < 0.52 or (topic == "build" and r < 0.62):
        return f"СП {rng.choice(vocab.SP_NUMBERS)}.13330.{rng.randint(2011, 2024)}"
    if r < 0.58:
        return (
            f"СНиП {rng.randint(1, 5)}.{rng.randint(1, 9):02d}.{rng.randint(1, 99):02d}-{rng.randint(81, 99)}"
        )
    if r < 0.64:
        return (
            f"ТУ {rng.randint(1000, 9999)}-{rng.randint(1, 999):03d}-{rng.randint(10_000_000, 99_999_999)}-"
            f"{rng.randint(2005, 2024)}"
        )
    if r < 0.72:
        return f"приказ {rng.choice(vocab.ISSUERS)} {rng.randint(1, 1200)}н"
    if r < 0.78:
        d = date(rng.randint(2003, 2025), rng.randint(1, 12), rng.randint(1, 28))
        return f"Федеральный закон от {d:%d.%m.%Y} № {rng.randint(1, 520)}-ФЗ"
    if r < 0.83:
        return f"постановление правительства № {rng.randint(100, 2600)}"
    if r < 0.87:
        number = f"{rng.randint(1, 99)}-{rng.randint(1, 20)}/{rng.randint(100, 9999)}"
        return f"письмо {rng.choice(vocab.ISSUERS)} № {number}"
    if r < 0.91:
        number = f"{rng.randint(10, 153)}.{rng.randint(1, 40)}.{rng.randint(100, 999)}"
        return f"РД {number}-{rng.randint(1990, 2020)}"
    if r < 0.94:
        return f"МИ {rng.randint(1000, 3500)}-{rng.randint(88, 99)}"
    if r < 0.97:
        return f"ПНД Ф 14.1:2:3:4.{rng.randint(1, 300)}-{rng.randint(95, 99)}"
    return f"ОДУ {rng.randint(100, 300)}.{rng.randint(1, 99):03d}"


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _query(rng: random.Random, topic: str) -> tuple[str, int, float]:
    """A search query for a user working on ``topic``: (text, kind, probability that it finds nothing)."""
    if rng.random() < 0.2:
        topic = rng.choice(tuple(vocab.TOPIC_PHRASES))
    r = rng.random()
    if r < 0.45:
        text = rng.choice(vocab.TOPIC_PHRASES[topic])
        p_empty = 0.04
        if rng.random() < 0.5:
            text = text[:1].lower() + text[1:]
        if rng.random() < 0.1 and " " in text:
            text = text.rsplit(" ", 1)[0]
        if rng.random() < 0.08:
            text, p_empty = _typo(rng, text), 0.6
        return text, INTELLIGENT, p_empty
    if r < 0.85:
        if rng.random() < 0.45:
            text, p_empty = rng.choice(vocab.KNOWN_REFERENCES[topic]), 0.02
        else:
            text, p_empty = _random_reference(rng, topic), 0.35
        if rng.random() < 0.3:
            text = text.lower()
        return text, INTELLIGENT, p_empty
    kind = rng.choice(vocab.ATTRIBUTE_KINDS)
    parts = [f"Вид документа: {kind}"]
    if rng.random() < 0.7:
        parts.append(f"Номер: {rng.randint(1, 999)}{rng.choice(('', '', 'н', '-ФЗ', '/пр'))}")
    if rng.random() < 0.5:
        parts.append(f"Принявший орган: {rng.choice(vocab.AUTHORITIES)}")
    if rng.random() < 0.4:
        parts.append(
            f"Дата принятия: {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2010, 2025)}"
        )
    return "; ".join(parts), ATTRIBUTE, 0.22
