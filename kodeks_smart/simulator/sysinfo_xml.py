"""Render a simulated ``Report`` as the sysinfo XML described in ``docs/sysinfo-format.md``.

Built with plain string joins rather than an XML library: a large installation's report is about 20 MB and
must render in seconds. Every value that can hold free text goes through ``_esc``; the rest are numbers,
dates and names from fixed vocabularies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from html import escape
from typing import Final

from kodeks_smart.simulator import sysinfo_data as vocab
from kodeks_smart.simulator.sysinfo_sim import (
    ATTRIBUTE,
    EMPTY,
    ERROR,
    KASSIST,
    Report,
    minute_to_datetime,
)

FORMAT_VERSION: Final = "1"
Writer = Callable[[str], None]
_RESULTS: Final = {0: "found", EMPTY: "empty", ERROR: "error"}


def _esc(text: str) -> str:
    return escape(text, quote=True)


@lru_cache(maxsize=65536)
def _hour_prefix(hour: int) -> str:
    """``YYYY-MM-DD HH`` of a local hour (hours since the local epoch)."""
    return minute_to_datetime(hour * 60).strftime("%Y-%m-%d %H")


def ts_minute(minute: int) -> str:
    """Local time of a local minute as ``YYYY-MM-DD HH:MM:SS``."""
    return f"{_hour_prefix(minute // 60)}:{minute % 60:02d}:00"


def ts_second(second: int) -> str:
    """Local time of a local second as ``YYYY-MM-DD HH:MM:SS``."""
    minute = second // 60
    return f"{_hour_prefix(minute // 60)}:{minute % 60:02d}:{second % 60:02d}"


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _opt(name: str, value: str | int | None) -> str:
    """An attribute that is left out when the value is None."""
    return "" if value is None else f' {name}="{_esc(str(value))}"'


def render(report: Report) -> bytes:
    """The whole report as UTF-8 XML bytes with an XML declaration."""
    out: list[str] = []
    w = out.append
    profile = report.profile
    created = ts_second(report.created)
    period_from = ts_minute(report.period_from)
    scenarios = ",".join(sorted(profile.scenarios)) or "normal"
    w('<?xml version="1.0" encoding="UTF-8"?>\n')
    w(
        f"<!-- Synthetic Kodeks sysinfo report (kodeks_smart.simulator.sysinfo, format {FORMAT_VERSION}); "
        f"client {_esc(profile.client)}, seed {profile.seed}, scenarios {_esc(scenarios)} -->\n"
    )
    w(
        f'<sysinfo format="{FORMAT_VERSION}" module="{_esc(report.sysinfo_version)}" created="{created}" '
        f'utcOffset="{_offset(report.offset_minutes)}" periodFrom="{period_from}" periodTo="{created}">\n'
    )
    _server(report, w)
    _registration(report, w)
    _protection(report, w)
    _catalogs(report, w)
    _databases(report, w)
    _operup(report, w)
    _sessions(report, w)
    _refusals(report, w, period_from, created)
    _logins(report, out, period_from, created)
    _users(report, w)
    _usage(report, out, period_from, created)
    _searches(report, out, period_from, created)
    _kassist(report, w)
    w("</sysinfo>\n")
    return "".join(out).encode("utf-8")


def _server(r: Report, w: Writer) -> None:
    w(
        f'  <server host="{_esc(r.host)}" os="{_esc(r.os)}" installPath="{_esc(r.install_path)}" '
        f'port="{r.port}" started="{ts_minute(r.started)}" backupTime="{r.backup_time}" '
        f'restartTime="{r.restart_time}">\n'
    )
    w(
        f'    <component type="ksrv" name="Сервер ПК Кодекс/Техэксперт" version="{_esc(r.server_version)}" '
        f'title="{_esc(r.server_title)}"/>\n'
    )
    w(f'    <component type="sysinfo" name="Модуль SysInfo" version="{_esc(r.sysinfo_version)}"/>\n')
    if r.kassist_version is not None:
        w(f'    <component type="kassist" name="kAssist" version="{_esc(r.kassist_version)}"/>\n')
    w("  </server>\n")


def _registration(r: Report, w: Writer) -> None:
    sep = "\\" if r.windows else "/"
    inventory = r.regnum.split("_", 1)[1]
    w(
        f'  <registration regnum="{_esc(r.regnum)}" clientName="{_esc(r.legal_name)}" seats="{r.seats}" '
        f'inventory="{inventory}" regFile="{_esc(r.install_path + sep + r.regnum)}.reg" '
        f'supportUntil="{r.support_until.isoformat()}"/>\n'
    )


def _protection(r: Report, w: Writer) -> None:
    p = r.protection
    if p is None:
        return
    failed = _opt("failedSince", ts_minute(p.failed_since) if p.failed_since is not None else None)
    w(
        f'  <protection binding="{p.binding}" keyNumber="{p.key_number}" status="{p.status}"'
        f'{_opt("code", p.code)} checked="{ts_minute(p.checked)}"{failed}>\n'
    )
    w(f"    <message>Привязка: {_esc(p.message)}</message>\n")
    if p.binding == "senselock-lm":
        if p.lm_configured:
            w(
                f'    <licenseManager configured="true" host="{p.lm_host}" port="{p.lm_port}" '
                'source="linkml.ini"/>\n'
            )
        else:
            w('    <licenseManager configured="false" beaconPort="5555"/>\n')
    w("  </protection>\n")


def _catalogs(r: Report, w: Writer) -> None:
    w(f'  <catalogs count="{len(r.catalogs)}">\n')
    for path, title, codes in r.catalogs:
        w(f'    <catalog path="{path}" title="{_esc(title)}" databases="{" ".join(codes)}"/>\n')
    w("  </catalogs>\n")


def _databases(r: Report, w: Writer) -> None:
    w(f'  <databases count="{len(r.databases)}">\n')
    for db in r.databases:
        w(
            f'    <database code="{db.code}" name="{_esc(db.name)}" product="{db.product}" '
            f'catalog="{db.catalog}" update="{db.update}" volumes="{len(db.volumes)}">\n'
        )
        if db.licence is not None:
            lic = db.licence
            w(
                f'      <license from="{lic.valid_from.isoformat()}" to="{lic.valid_to.isoformat()}" '
                f'update="{lic.max_update}"/>\n'
            )
        for vol in db.volumes:
            head = f'      <volume path="{_esc(vol.path)}" update="{vol.update}" size="{vol.size}"'
            if not vol.errors:
                w(head + "/>\n")
                continue
            w(head + ">\n")
            for err in vol.errors:
                w(
                    f"        <error{_opt('code', err.code)}{_opt('altCode', err.alt_code)} "
                    f'time="{ts_minute(err.time)}">{_esc(err.text)}</error>\n'
                )
            w("      </volume>\n")
        w("    </database>\n")
    w("  </databases>\n")


def _operup(r: Report, w: Writer) -> None:
    w(f'  <operUp path="{_esc(r.operup_dir)}" count="{len(r.operup)}">\n')
    for f in r.operup:
        head = (
            f'    <file path="{_esc(f.path)}" database="{f.database}" modified="{ts_minute(f.modified)}" '
            f'size="{f.size}"'
        )
        if f.error_code is None:
            w(head + "/>\n")
        else:
            w(f'{head}>\n      <error code="{f.error_code}">{_esc(f.error_text)}</error>\n    </file>\n')
    w("  </operUp>\n")


def _sessions(r: Report, w: Writer) -> None:
    w(f'  <sessions count="{len(r.sessions)}" seats="{r.seats}">\n')
    for s in r.sessions:
        p = r.persons[s.user]
        last = max(p.last_activity or 0, s.login // 60)
        w(
            f'    <session login="{p.login}" ip="{s.ip}" browser="{_esc(s.browser)}" domain="{p.domain}" '
            f'loginTime="{ts_second(s.login)}" lastActivity="{ts_minute(last)}" catalog="{s.catalog}"/>\n'
        )
    w("  </sessions>\n")


def _refusals(r: Report, w: Writer, period_from: str, created: str) -> None:
    w(f'  <refusals from="{period_from}" to="{created}" count="{len(r.refusals)}">\n')
    seats_error = f' altCode="4106" error="{_esc(vocab.REFUSAL_NO_SEATS_ERROR)}"'
    for x in r.refusals:
        p = r.persons[x.user]
        extra = seats_error if x.code == 2008 else ""
        w(
            f'    <refusal time="{ts_second(x.time)}" login="{p.login}" ip="{x.ip}" '
            f'browser="{_esc(x.browser)}" reason="{x.kind}"{_opt("code", x.code)}{extra}>{_esc(x.text)}'
            "</refusal>\n"
        )
    w("  </refusals>\n")


def _logins(r: Report, out: list[str], period_from: str, created: str) -> None:
    logins = [p.login for p in r.persons]
    out.append(f'  <logins from="{period_from}" to="{created}" count="{len(r.logins)}">\n')
    out.append(
        "".join(
            f'    <login time="{ts_second(x.time)}" user="{logins[x.user]}" ip="{x.ip}" '
            f'browser="{_esc(x.browser)}"/>\n'
            for x in r.logins
        )
    )
    out.append("  </logins>\n")


def _users(r: Report, w: Writer) -> None:
    month_from = r.month_from.isoformat()
    w(f'  <users count="{len(r.persons)}">\n')
    for p in r.persons:
        last_login = ts_second(p.last_login) if p.last_login is not None else ""
        last_activity = ts_minute(p.last_activity) if p.last_activity is not None else ""
        m = p.month
        w(
            f'    <user login="{p.login}" fullName="{_esc(p.full_name)}" phone="{_esc(p.phone)}" '
            f'email="{_esc(p.email)}" position="{_esc(p.position)}" department="{_esc(p.department)}" '
            f'domain="{p.domain}" adGroup="{_esc(p.ad_group)}" group="{_esc(p.group)}" '
            f'created="{ts_minute(p.created)}" lastLogin="{last_login}" lastActivity="{last_activity}" '
            f'enabled="{1 if p.enabled else 0}">\n'
            f'      <month from="{month_from}" dbRequests="{m[0]}" docs="{m[1]}" freeDocs="{m[2]}" '
            f'saved="{m[3]}" printed="{m[4]}" kassist="{m[5]}" services="{m[6]}" searches="{m[7]}" '
            f'emptySearches="{m[8]}"/>\n'
            "    </user>\n"
        )
    w("  </users>\n")


def _usage(r: Report, out: list[str], period_from: str, created: str) -> None:
    logins = [p.login for p in r.persons]
    out.append(f'  <usage from="{period_from}" to="{created}" step="3600">\n')
    for day in r.hours:
        out.append(
            "".join(
                f'    <hour start="{_hour_prefix(h.start // 60)}:00:00" user="{logins[h.user]}" '
                f'dbRequests="{h.db_requests}" docs="{h.docs}" freeDocs="{h.free_docs}" '
                f'saved="{h.saved}" printed="{h.printed}" kassist="{h.kassist}" services="{h.services}" '
                f'searches="{h.searches}"/>\n'
                for h in day
            )
        )
    out.append("  </usage>\n")


def _searches(r: Report, out: list[str], period_from: str, created: str) -> None:
    logins = [p.login for p in r.persons]
    total = sum(len(day) for day in r.searches)
    out.append(f'  <searches from="{period_from}" to="{created}" count="{total}">\n')
    for day in r.searches:
        parts: list[str] = []
        for s in day:
            error = f' error="{_esc(s.error)}"' if s.result == ERROR else ""
            kind = "attribute" if s.kind == ATTRIBUTE else "intelligent"
            source = "kassist" if s.source == KASSIST else "ksrv"
            duration = f"{s.duration_ms // 1000}.{s.duration_ms % 1000:03d}"
            parts.append(
                f'    <search time="{ts_second(s.time)}" user="{logins[s.user]}" catalog="{s.catalog}" '
                f'type="{kind}" result="{_RESULTS[s.result]}" found="{s.found}" source="{source}" '
                f'duration="{duration}"{error}>{_esc(s.query)}</search>\n'
            )
        out.append("".join(parts))
    out.append("  </searches>\n")


def _kassist(r: Report, w: Writer) -> None:
    if r.kassist_version is None:
        return
    days = r.kassist_days
    first = days[0].day if days else minute_to_datetime(r.period_from).date()
    last = days[-1].day if days else first
    w(f'  <kassist from="{first.isoformat()}" to="{last.isoformat()}">\n')
    for d in days:
        w(
            f'    <day date="{d.day.isoformat()}" linksAdded="{d.links_added}" '
            f'uniqueLinks="{d.unique_links}" notMatched="{d.not_matched}" '
            f'activeChecked="{d.active_checked}"/>\n'
        )
    w("  </kassist>\n")


def info_text(r: Report) -> bytes:
    """The small human-readable ``info.txt`` that rides along in the ZIP (UTF-8, CRLF line ends)."""
    lines = [
        "Отчёт SysInfo",
        f"Клиент: {r.legal_name}",
        f"Регистрационный номер: {r.regnum}",
        f"Сформирован: {ts_second(r.created)} (UTC{_offset(r.offset_minutes)})",
        f"Период статистики: {ts_minute(r.period_from)} - {ts_second(r.created)}",
        f"Версия ПК: {r.server_title}",
        f"Версия модуля SysInfo: {r.sysinfo_version}",
        "Файл отчёта: sysinfo.xml",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def zip_time(r: Report) -> tuple[int, int, int, int, int, int]:
    """ZIP entry timestamp: the report's local time (even seconds, as the ZIP format stores them)."""
    dt = minute_to_datetime(r.created // 60) + timedelta(seconds=r.created % 60)
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second - dt.second % 2)
