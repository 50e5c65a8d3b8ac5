"""The sysinfo element mapping: one declarative table of XML paths → record fields.

The real sysinfo schema is not public; this table follows docs/sysinfo-format.md. A real report that
names things differently needs a change here, not new code:

* `Block.element` is the path of each record's element from the root (``sysinfo/databases/database``);
* `Block.container` is the element whose presence means the block is there even when it has no records
  (``<sessions count="0"/>`` is "nobody connected", not "data missing"); its attributes become a
  `Section` (counts, periods…) through `SECTION_FIELDS`;
* a `F` names a record field, where its value is and its type. Paths: ``@attr`` (attribute of the record
  element), ``text()`` (its text), ``child/@attr`` and ``child/text()`` (a child element), ``../@attr``
  and ``../../@attr`` (an ancestor's attribute, for nested records such as volumes of a database);
* a block or field marked ``required`` that is absent produces a "data missing" `Gap` (the alert issue
  turns those into ``KodeksXmlSensLockStatus``, ``KodeksDBLicensesZero``…);
* elements the table does not name are skipped and counted; attributes it does not name are kept in the
  record's ``extra``.

Types: ``str``; ``sym`` (a short repeated string, interned to save memory); ``int``; ``float`` (a decimal
comma is accepted); ``bool`` (1/0, true/false, yes/no); ``time`` (local ``YYYY-MM-DD HH:MM[:SS]``, ISO
``T`` form or ``DD.MM.YYYY HH:MM[:SS]``; a bare date is midnight); ``date``; ``offset`` (``+03:00`` →
minutes); ``hhmm`` (a daily time ``HH:MM``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kodeks_smart.parsers import sysinfo_records as r

ROOT = "sysinfo"
#: ZIP members tried first for the report; otherwise the largest ``.xml`` member is read.
ZIP_MEMBERS = ("sysinfo.xml",)


@dataclass(frozen=True, slots=True)
class F:
    name: str
    path: str
    type: str = "str"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    #: Name of the block: the `SysinfoReport` attribute it fills, and the name in "data missing" records.
    name: str
    element: str
    record: type[Any]
    fields: tuple[F, ...]
    #: True: a list of records; False: at most one.
    many: bool = True
    container: str | None = None
    #: Absent block → a "data missing" record.
    required: bool = True
    #: Field that names a record in "data missing" records of its required fields.
    key: str | None = None
    #: Time field of an event block: records in a window the caller says is already stored are skipped.
    time_field: str | None = None


BLOCKS: tuple[Block, ...] = (
    Block(
        "header",
        "sysinfo",
        r.ReportHeader,
        (
            F("format", "@format"),
            F("module_version", "@module"),
            F("created", "@created", "time", required=True),
            F("utc_offset_minutes", "@utcOffset", "offset"),
            F("period_from", "@periodFrom", "time"),
            F("period_to", "@periodTo", "time"),
        ),
        many=False,
    ),
    Block(
        "server",
        "sysinfo/server",
        r.ServerInfo,
        (
            F("host", "@host"),
            F("os", "@os"),
            F("install_path", "@installPath"),
            F("port", "@port", "int"),
            F("started", "@started", "time"),
            F("backup_time", "@backupTime", "hhmm"),
            F("restart_time", "@restartTime", "hhmm"),
        ),
        many=False,
    ),
    Block(
        "components",
        "sysinfo/server/component",
        r.Component,
        (F("type", "@type", "sym"), F("name", "@name"), F("version", "@version"), F("title", "@title")),
        container="sysinfo/server",
    ),
    Block(
        "registration",
        "sysinfo/registration",
        r.Registration,
        (
            F("regnum", "@regnum", required=True),
            F("client_name", "@clientName"),
            F("seats", "@seats", "int", required=True),
            F("inventory", "@inventory"),
            F("reg_file", "@regFile"),
            F("support_until", "@supportUntil", "date"),
        ),
        many=False,
    ),
    Block(
        "protection",
        "sysinfo/protection",
        r.Protection,
        (
            F("binding", "@binding", "sym"),
            F("key_number", "@keyNumber"),
            F("status", "@status", "sym", required=True),
            F("code", "@code", "int"),
            F("checked", "@checked", "time"),
            F("failed_since", "@failedSince", "time"),
            F("message", "message/text()"),
            F("lm_configured", "licenseManager/@configured", "bool"),
            F("lm_host", "licenseManager/@host"),
            F("lm_port", "licenseManager/@port", "int"),
            F("lm_source", "licenseManager/@source"),
            F("lm_beacon_port", "licenseManager/@beaconPort", "int"),
        ),
        many=False,
    ),
    Block(
        "catalogs",
        "sysinfo/catalogs/catalog",
        r.Catalog,
        (F("path", "@path", "sym"), F("title", "@title"), F("databases", "@databases")),
        container="sysinfo/catalogs",
    ),
    Block(
        "databases",
        "sysinfo/databases/database",
        r.Database,
        (
            F("code", "@code", "sym"),
            F("name", "@name"),
            F("product", "@product"),
            F("catalog", "@catalog", "sym"),
            F("update", "@update", "int"),
            F("volumes", "@volumes", "int"),
            F("license_from", "license/@from", "date", required=True),
            F("license_to", "license/@to", "date", required=True),
            F("license_update", "license/@update", "int"),
        ),
        container="sysinfo/databases",
        key="code",
    ),
    Block(
        "volumes",
        "sysinfo/databases/database/volume",
        r.Volume,
        (
            F("database", "../@code", "sym"),
            F("path", "@path"),
            F("update", "@update", "int"),
            F("size", "@size", "int"),
        ),
        container="sysinfo/databases",
    ),
    Block(
        "db_errors",
        "sysinfo/databases/database/volume/error",
        r.DbError,
        (
            F("database", "../../@code", "sym"),
            F("volume", "../@path"),
            F("code", "@code", "int"),
            F("alt_code", "@altCode", "int"),
            F("time", "@time", "time"),
            F("text", "text()"),
        ),
        container="sysinfo/databases",
    ),
    Block(
        "operup_files",
        "sysinfo/operUp/file",
        r.OperUpFile,
        (
            F("path", "@path"),
            F("database", "@database", "sym"),
            F("modified", "@modified", "time"),
            F("size", "@size", "int"),
            F("error_code", "error/@code", "int"),
            F("error_text", "error/text()"),
        ),
        container="sysinfo/operUp",
    ),
    Block(
        "sessions",
        "sysinfo/sessions/session",
        r.Session,
        (
            F("login", "@login", "sym"),
            F("ip", "@ip", "sym"),
            F("browser", "@browser", "sym"),
            F("domain", "@domain", "sym"),
            F("login_time", "@loginTime", "time"),
            F("last_activity", "@lastActivity", "time"),
            F("catalog", "@catalog", "sym"),
        ),
        container="sysinfo/sessions",
    ),
    Block(
        "refusals",
        "sysinfo/refusals/refusal",
        r.Refusal,
        (
            F("time", "@time", "time"),
            F("login", "@login", "sym"),
            F("ip", "@ip", "sym"),
            F("browser", "@browser", "sym"),
            F("reason", "@reason", "sym"),
            F("code", "@code", "int"),
            F("alt_code", "@altCode", "int"),
            F("error", "@error", "sym"),
            F("text", "text()", "sym"),
        ),
        container="sysinfo/refusals",
        time_field="time",
    ),
    Block(
        "logins",
        "sysinfo/logins/login",
        r.Login,
        (
            F("time", "@time", "time"),
            F("login", "@user", "sym"),
            F("ip", "@ip", "sym"),
            F("browser", "@browser", "sym"),
        ),
        container="sysinfo/logins",
        time_field="time",
    ),
    Block(
        "users",
        "sysinfo/users/user",
        r.User,
        (
            F("login", "@login", "sym"),
            F("full_name", "@fullName"),
            F("phone", "@phone"),
            F("email", "@email"),
            F("position", "@position", "sym"),
            F("department", "@department", "sym"),
            F("domain", "@domain", "sym"),
            F("ad_group", "@adGroup", "sym"),
            F("group", "@group", "sym"),
            F("created", "@created", "time"),
            F("last_login", "@lastLogin", "time"),
            F("last_activity", "@lastActivity", "time"),
            F("enabled", "@enabled", "bool"),
            F("month_from", "month/@from", "date"),
            F("month_db_requests", "month/@dbRequests", "int"),
            F("month_docs", "month/@docs", "int"),
            F("month_free_docs", "month/@freeDocs", "int"),
            F("month_saved", "month/@saved", "int"),
            F("month_printed", "month/@printed", "int"),
            F("month_kassist", "month/@kassist", "int"),
            F("month_services", "month/@services", "int"),
            F("month_searches", "month/@searches", "int"),
            F("month_empty_searches", "month/@emptySearches", "int"),
        ),
        container="sysinfo/users",
    ),
    Block(
        "usage",
        "sysinfo/usage/hour",
        r.UsageHour,
        (
            F("start", "@start", "time"),
            F("login", "@user", "sym"),
            F("db_requests", "@dbRequests", "int"),
            F("docs", "@docs", "int"),
            F("free_docs", "@freeDocs", "int"),
            F("saved", "@saved", "int"),
            F("printed", "@printed", "int"),
            F("kassist", "@kassist", "int"),
            F("services", "@services", "int"),
            F("searches", "@searches", "int"),
        ),
        container="sysinfo/usage",
        time_field="start",
    ),
    Block(
        "searches",
        "sysinfo/searches/search",
        r.Search,
        (
            F("time", "@time", "time"),
            F("login", "@user", "sym"),
            F("catalog", "@catalog", "sym"),
            F("type", "@type", "sym"),
            F("result", "@result", "sym"),
            F("found", "@found", "int"),
            F("source", "@source", "sym"),
            F("duration", "@duration", "float"),
            F("error", "@error", "sym"),
            F("query", "text()"),
        ),
        container="sysinfo/searches",
        time_field="time",
    ),
    Block(
        "kassist",
        "sysinfo/kassist/day",
        r.KassistDay,
        (
            F("date", "@date", "date"),
            F("links_added", "@linksAdded", "int"),
            F("unique_links", "@uniqueLinks", "int"),
            F("not_matched", "@notMatched", "int"),
            F("active_checked", "@activeChecked", "int"),
        ),
        container="sysinfo/kassist",
        # kAssist is an optional add-on: a report without it is not missing data.
        required=False,
    ),
)

#: Attributes of container elements → `Section` fields (the same names for every container).
SECTION_FIELDS: tuple[F, ...] = (
    F("count", "@count", "int"),
    F("period_from", "@from", "time"),
    F("period_to", "@to", "time"),
    F("step", "@step", "int"),
    F("seats", "@seats", "int"),
    F("path", "@path"),
)
