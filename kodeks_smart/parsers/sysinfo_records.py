"""Typed records of a parsed sysinfo report (one class per block of docs/sysinfo-format.md).

Times are the report's **local** times as written (naive datetimes); the ingest converts them to UTC
with the installation's offset, which the parser cannot know. ``extra`` holds attributes of the record's
element that the mapping does not name, so that a report that differs from the format document loses
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True)
class ReportHeader:
    format: str | None = None
    module_version: str | None = None
    created: datetime | None = None
    #: Offset from UTC the report declares for its local times, in minutes.
    utc_offset_minutes: int | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ServerInfo:
    host: str | None = None
    os: str | None = None
    install_path: str | None = None
    port: int | None = None
    started: datetime | None = None
    backup_time: str | None = None
    restart_time: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Component:
    type: str | None = None
    name: str | None = None
    version: str | None = None
    title: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Registration:
    regnum: str | None = None
    client_name: str | None = None
    seats: int | None = None
    inventory: str | None = None
    reg_file: str | None = None
    support_until: date | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Protection:
    binding: str | None = None
    key_number: str | None = None
    status: str | None = None
    code: int | None = None
    checked: datetime | None = None
    failed_since: datetime | None = None
    message: str | None = None
    lm_configured: bool | None = None
    lm_host: str | None = None
    lm_port: int | None = None
    lm_source: str | None = None
    lm_beacon_port: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Catalog:
    path: str | None = None
    title: str | None = None
    databases: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Database:
    code: str | None = None
    name: str | None = None
    product: str | None = None
    catalog: str | None = None
    update: int | None = None
    volumes: int | None = None
    license_from: date | None = None
    license_to: date | None = None
    license_update: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Volume:
    database: str | None = None
    path: str | None = None
    update: int | None = None
    size: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class DbError:
    database: str | None = None
    volume: str | None = None
    code: int | None = None
    alt_code: int | None = None
    time: datetime | None = None
    text: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class OperUpFile:
    path: str | None = None
    database: str | None = None
    modified: datetime | None = None
    size: int | None = None
    error_code: int | None = None
    error_text: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Session:
    login: str | None = None
    ip: str | None = None
    browser: str | None = None
    domain: str | None = None
    login_time: datetime | None = None
    last_activity: datetime | None = None
    catalog: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Refusal:
    time: datetime | None = None
    login: str | None = None
    ip: str | None = None
    browser: str | None = None
    reason: str | None = None
    code: int | None = None
    alt_code: int | None = None
    error: str | None = None
    text: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Login:
    time: datetime | None = None
    login: str | None = None
    ip: str | None = None
    browser: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class User:
    login: str | None = None
    full_name: str | None = None
    phone: str | None = None
    email: str | None = None
    position: str | None = None
    department: str | None = None
    domain: str | None = None
    ad_group: str | None = None
    group: str | None = None
    created: datetime | None = None
    last_login: datetime | None = None
    last_activity: datetime | None = None
    enabled: bool | None = None
    month_from: date | None = None
    month_db_requests: int | None = None
    month_docs: int | None = None
    month_free_docs: int | None = None
    month_saved: int | None = None
    month_printed: int | None = None
    month_kassist: int | None = None
    month_services: int | None = None
    month_searches: int | None = None
    month_empty_searches: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class UsageHour:
    start: datetime | None = None
    login: str | None = None
    db_requests: int | None = None
    docs: int | None = None
    free_docs: int | None = None
    saved: int | None = None
    printed: int | None = None
    kassist: int | None = None
    services: int | None = None
    searches: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Search:
    time: datetime | None = None
    login: str | None = None
    catalog: str | None = None
    type: str | None = None
    result: str | None = None
    found: int | None = None
    source: str | None = None
    duration: float | None = None
    error: str | None = None
    query: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class KassistDay:
    date: date | None = None
    links_added: int | None = None
    unique_links: int | None = None
    not_matched: int | None = None
    active_checked: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Section:
    """Attributes of a block's container element (counts, periods, the OperUp directory…)."""

    count: int | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None
    step: int | None = None
    seats: int | None = None
    path: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Gap:
    """A "data missing" record: a block (or a required value in it) the report does not have.

    ``block`` names the block of the mapping (``protection``, ``databases``…), ``field`` the missing value
    when the block itself is present (``license_to``), ``item`` the record it belongs to (a database code).
    """

    block: str
    field: str | None = None
    item: str | None = None


@dataclass(slots=True)
class SysinfoReport:
    header: ReportHeader | None = None
    server: ServerInfo | None = None
    registration: Registration | None = None
    protection: Protection | None = None
    components: list[Component] = field(default_factory=list)
    catalogs: list[Catalog] = field(default_factory=list)
    databases: list[Database] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    db_errors: list[DbError] = field(default_factory=list)
    operup_files: list[OperUpFile] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    usage: list[UsageHour] = field(default_factory=list)
    searches: list[Search] = field(default_factory=list)
    kassist: list[KassistDay] = field(default_factory=list)
    #: Container attributes by block name (``sessions``: count and seats, ``usage``: period and step…).
    sections: dict[str, Section] = field(default_factory=dict)
    missing: list[Gap] = field(default_factory=list)
    unknown_elements: int = 0
    #: Up to 50 distinct paths of unknown elements, for adjusting the mapping to a real report.
    unknown_paths: list[str] = field(default_factory=list)
    #: Values that did not convert to their type (stored as missing).
    bad_values: int = 0
    #: Event records skipped because they fell in a window the caller had already stored, by block.
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The ZIP member the report was read from (None for a plain XML upload).
    member: str | None = None

    @property
    def regnum(self) -> str | None:
        return self.registration.regnum if self.registration else None

    @property
    def created(self) -> datetime | None:
        return self.header.created if self.header else None
