"""Typed rows of the lists, after every cell has been validated; each keeps where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from kodeks_smart.onboarding.formats import Kind
from kodeks_smart.onboarding.problems import Location
from kodeks_smart.onboarding.reading import Table
from kodeks_smart.onboarding.values import Address


@dataclass
class ManagerRef:
    name: str
    emails: list[str]
    at: Location
    emails_at: Location


@dataclass
class InstallationRecord:
    """A row of the internet-reachable list (``kind`` internet or cloud) or of the agents' list (closed)."""

    at: Location
    kind: str
    address: Address | None
    client: str
    client_at: Location
    display_name: str | None
    manager: ManagerRef
    #: None: not given (a new installation gets the default, an existing one keeps its value).
    protocol: str | None
    ping: bool | None
    tz_minutes: int | None
    test_login: str | None = None
    test_password: str | None = field(default=None, repr=False)
    cabinet: str | None = None
    cabinet_at: Location | None = None


@dataclass
class OnlineRecord:
    at: Location
    firm: str
    client: str
    client_at: Location
    login: str
    password: str = field(repr=False)
    host: str
    catalog: str
    scheme: str
    manager: ManagerRef
    cabinet: str | None = None
    cabinet_at: Location | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.host, self.catalog, self.login)


@dataclass
class MailboxRecord:
    at: Location
    address: str
    categories: list[str]
    note: str
    cabinet: str | None = None
    cabinet_at: Location | None = None


@dataclass
class CabinetRecord:
    at: Location
    cabinet: str
    cabinet_at: Location
    manager: ManagerRef | None = None
    client: str | None = None
    client_at: Location | None = None


@dataclass
class ReadTable:
    """How one table was understood: which list, in which form, how many rows."""

    table: Table
    #: the lists this table holds (managers.csv holds both kinds of installations), empty if unreadable.
    kinds: tuple[Kind, ...]
    form: str
    records: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.table.source,
            "sheet": self.table.sheet,
            "kinds": list(self.kinds),
            "form": self.form,
            "format": self.table.describe_format(),
            "rows": self.records,
            "skipped_placeholder_lines": self.table.skipped,
        }


@dataclass
class Records:
    installations: list[InstallationRecord] = field(default_factory=list)
    online: list[OnlineRecord] = field(default_factory=list)
    mailboxes: list[MailboxRecord] = field(default_factory=list)
    cabinets: list[CabinetRecord] = field(default_factory=list)
    tables: list[ReadTable] = field(default_factory=list)

    @property
    def kinds(self) -> set[Kind]:
        return {kind for t in self.tables for kind in t.kinds}
