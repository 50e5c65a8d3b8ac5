"""The synthetic sysinfo report: determinism, format, realism and one marker per fault scenario.

The assertions read the generated XML the way the future parser will (element and attribute names from
docs/sysinfo-format.md), so a change of the format that the document does not follow breaks them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import defusedxml.ElementTree as safe_et
import pytest
from lxml import etree

from kodeks_smart.simulator.sysinfo import (
    DEFAULT_NOW,
    SCENARIO_DESCRIPTIONS,
    SCENARIOS,
    SysinfoProfile,
    generate_xml,
    generate_zip,
    report_filename,
    write_report,
)
from kodeks_smart.simulator.sysinfo_profile import (
    DB_ERROR_SCENARIO_CODES,
    KEY_ERROR_SCENARIO_CODES,
    OPERUP_ERROR_SCENARIO_CODES,
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_LOCAL = datetime(2026, 4, 20, 10, 48, 3)  # DEFAULT_NOW at the default UTC+3
TODAY = REPORT_LOCAL.date()
CYRILLIC = re.compile("[А-Яа-яЁё]")
TYPICAL = {"users": 100, "days": 30}  # the documented typical installation


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    return etree.fromstring(data, parser=parser)


@lru_cache(maxsize=128)
def report(profile: SysinfoProfile) -> etree._Element:
    return _parse(generate_xml(profile))


def scenario(name: str, **kwargs: object) -> etree._Element:
    return report(SysinfoProfile("romashka", scenarios=frozenset({name}), **kwargs))  # type: ignore[arg-type]


def when(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT)


def month_activity(root: etree._Element) -> tuple[int, int, float]:
    """(activity points, DB requests, involvement %) from the users' month-to-date counters."""
    activity = requests = working = 0
    for month in root.iterfind("users/user/month"):
        counts = {k: int(v) for k, v in month.attrib.items() if k != "from"}
        activity += sum(counts[k] for k in ("docs", "freeDocs", "saved", "printed", "services", "searches"))
        requests += counts["dbRequests"]
        working += counts["dbRequests"] > 0
    seats = int(root.find("registration").get("seats"))
    return activity, requests, working * 100 / seats


# --- determinism ------------------------------------------------------------------------------------------


def test_same_profile_gives_identical_bytes() -> None:
    profile = SysinfoProfile("romashka", users=30, days=5, seed=7, scenarios=frozenset({"db-errors"}))
    again = SysinfoProfile("romashka", users=30, days=5, seed=7, scenarios=frozenset({"db-errors"}))
    assert generate_xml(profile) == generate_xml(again)
    assert generate_zip(profile) == generate_zip(again)


def test_seed_client_and_time_change_the_report() -> None:
    base = SysinfoProfile("romashka", users=30, days=5)
    xml = generate_xml(base)
    assert generate_xml(SysinfoProfile("romashka", users=30, days=5, seed=1)) != xml
    assert generate_xml(SysinfoProfile("vesna", users=30, days=5)) != xml
    assert (
        generate_xml(SysinfoProfile("romashka", users=30, days=5, now=DEFAULT_NOW + timedelta(hours=1)))
        != xml
    )


def test_reports_an_hour_apart_agree_on_the_hours_they_share() -> None:
    early = report(SysinfoProfile("romashka", users=40, days=3))
    later = report(SysinfoProfile("romashka", users=40, days=3, now=DEFAULT_NOW + timedelta(hours=1)))
    cutoff = "2026-04-20 10:00:00"  # the hour that was still running in the earlier report
    start = later.find("usage").get("from")

    def rows(root: etree._Element) -> dict[tuple[str, str], bytes]:
        return {
            (h.get("start"), h.get("user")): etree.tostring(h)
            for h in root.iterfind("usage/hour")
            if start <= h.get("start") < cutoff
        }

    shared = rows(early)
    assert len(shared) > 50
    assert shared == rows(later)


# --- format -----------------------------------------------------------------------------------------------


def test_xml_is_well_formed_utf8_without_dtd() -> None:
    data = generate_xml(SysinfoProfile("romashka"))
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b"<!DOCTYPE" not in data and b"<!ENTITY" not in data
    root = safe_et.fromstring(data)  # refuses DTDs and entity tricks
    assert root.tag == "sysinfo"
    assert [child.tag for child in root] == [
        "server",
        "registration",
        "protection",
        "catalogs",
        "databases",
        "operUp",
        "sessions",
        "refusals",
        "logins",
        "users",
        "usage",
        "searches",
        "kassist",
    ]


def test_header_states_local_time_and_offset() -> None:
    root = report(SysinfoProfile("romashka"))
    assert root.get("format") == "1"
    assert root.get("created") == "2026-04-20 10:48:03"
    assert root.get("utcOffset") == "+03:00"
    assert root.get("periodTo") == root.get("created")
    assert root.get("periodFrom") == "2026-04-13 10:00:00"
    omsk = report(SysinfoProfile("romashka", tz_offset_minutes=360))
    assert omsk.get("created") == "2026-04-20 13:48:03"
    assert omsk.get("utcOffset") == "+06:00"
    west = report(SysinfoProfile("romashka", tz_offset_minutes=-90))
    assert west.get("utcOffset") == "-01:30"


def test_zip_holds_the_xml_and_a_summary_with_fixed_timestamps() -> None:
    profile = SysinfoProfile("romashka", users=10, days=2)
    with zipfile.ZipFile(io.BytesIO(generate_zip(profile))) as archive:
        assert archive.namelist() == ["sysinfo.xml", "info.txt"]
        assert archive.read("sysinfo.xml") == generate_xml(profile)
        info = archive.read("info.txt").decode("utf-8")
        stamps = {entry.date_time for entry in archive.infolist()}
        kinds = {entry.compress_type for entry in archive.infolist()}
    regnum = report(profile).find("registration").get("regnum")
    assert f"Регистрационный номер: {regnum}" in info
    assert stamps == {(2026, 4, 20, 10, 48, 2)}
    assert kinds == {zipfile.ZIP_DEFLATED}
    assert report_filename(profile) == f"report_{regnum}_20260420_1048.zip"


def test_registration_and_versions() -> None:
    root = report(SysinfoProfile("romashka"))
    registration = root.find("registration")
    assert re.fullmatch(r"\d{4}_\d{6}", registration.get("regnum"))
    assert registration.get("clientName").endswith("«Ромашка»")
    assert registration.get("inventory") == registration.get("regnum").split("_")[1]
    assert registration.get("seats") == root.find("sessions").get("seats")
    components = {c.get("type"): c for c in root.iterfind("server/component")}
    assert set(components) == {"ksrv", "sysinfo", "kassist"}
    assert re.fullmatch(r"6\.4\.\d+\.\d+", components["ksrv"].get("version"))
    assert components["ksrv"].get("title").startswith(components["ksrv"].get("version") + " (")
    assert components["sysinfo"].get("version") == root.get("module")

    chosen = report(
        SysinfoProfile(
            "romashka", regnum="0460_197505", seats=12, legal_name="АО «Тест»", server_version="6.4.5.121"
        )
    )
    assert chosen.find("registration").get("regnum") == "0460_197505"
    assert chosen.find("registration").get("seats") == "12"
    assert chosen.find("registration").get("clientName") == "АО «Тест»"
    assert chosen.find("server/component[@type='ksrv']").get("version") == "6.4.5.121"


def test_profile_options_reach_the_report() -> None:
    root = report(
        SysinfoProfile(
            "client00001",
            users=15,
            catalogs=("/docs", "/ohrana"),
            licence_until=date(2026, 9, 30),
            backup_time="02:15",
            restart_time="05:00",
            kassist=False,
            databases=5,
            cloud=True,
        )
    )
    assert [c.get("path") for c in root.iterfind("catalogs/catalog")] == ["/docs", "/ohrana"]
    assert {lic.get("to") for lic in root.iterfind("databases/database/license")} == {"2026-09-30"}
    assert root.find("server").get("backupTime") == "02:15"
    assert root.find("server").get("restartTime") == "05:00"
    assert root.find("server/component[@type='kassist']") is None
    assert root.find("kassist") is None
    assert len(root.findall("databases/database")) == 5
    assert root.find("server").get("installPath").startswith("/")
    assert len({s.get("ip") for s in root.iterfind("logins/login")}) == 1  # one NAT address in the cloud
    assert {s.get("catalog") for s in root.iterfind("searches/search")} == {"/docs", "/ohrana"}


def test_counters_are_consistent() -> None:
    root = report(SysinfoProfile("romashka", users=40, days=25))
    hours = root.findall("usage/hour")
    searches = root.findall("searches/search")
    assert sum(int(h.get("searches")) for h in hours) == len(searches)
    assert int(root.find("searches").get("count")) == len(searches)
    for h in hours:
        values = {k: int(v) for k, v in h.attrib.items() if k not in ("start", "user")}
        assert values["dbRequests"] >= 2 * values["searches"] + values["docs"] + values["kassist"]
    # The window covers the whole month (report on the 20th), so month counters equal the hourly rows.
    month_from = root.find("users/user/month").get("from")
    assert month_from == "2026-04-01"
    per_user: Counter[str] = Counter()
    for h in hours:
        if h.get("start") >= month_from:
            per_user[h.get("user")] += int(h.get("dbRequests"))
    for user in root.iterfind("users/user"):
        assert int(user.find("month").get("dbRequests")) == per_user[user.get("login")]
    logins = {u.get("login") for u in root.iterfind("users/user")}
    sessions = root.findall("sessions/session")
    assert 0 < len(sessions) <= int(root.find("registration").get("seats"))
    assert {s.get("login") for s in sessions} <= logins
    assert {h.get("user") for h in hours} <= logins
    last_login: dict[str, str] = {}
    for entry in root.iterfind("logins/login"):
        last_login[entry.get("user")] = max(last_login.get(entry.get("user"), ""), entry.get("time"))
    for user in root.iterfind("users/user"):
        if user.get("login") in last_login:
            assert user.get("lastLogin") == last_login[user.get("login")]
    for s in sessions:
        assert REPORT_LOCAL - timedelta(hours=24) < when(s.get("loginTime")) <= REPORT_LOCAL
        assert when(s.get("lastActivity")) >= when(s.get("loginTime")).replace(second=0)


def test_users_search_only_after_logging_in() -> None:
    root = report(SysinfoProfile("romashka", users=60, days=10))
    first_login: dict[tuple[str, date], datetime] = {}
    for entry in root.iterfind("logins/login"):
        key = (entry.get("user"), when(entry.get("time")).date())
        first_login.setdefault(key, when(entry.get("time")))
    checked = 0
    for search in root.iterfind("searches/search"):
        t = when(search.get("time"))
        login = first_login.get((search.get("user"), t.date()))
        if login is not None:
            assert login < t
            checked += 1
    assert checked > 500


def test_times_stay_inside_the_period() -> None:
    root = report(SysinfoProfile("romashka", users=30, days=4))
    start, end = when(root.get("periodFrom")), when(root.get("periodTo"))
    stamps = [when(s.get("time")) for s in root.iterfind("searches/search")]
    stamps += [when(x.get("time")) for x in root.iterfind("logins/login")]
    stamps += [when(h.get("start")) for h in root.iterfind("usage/hour")]
    assert stamps and all(start <= t <= end for t in stamps)
    assert stamps[: len(root.findall("searches/search"))] == sorted(
        stamps[: len(root.findall("searches/search"))]
    )


# --- realism ----------------------------------------------------------------------------------------------


def test_content_is_russian() -> None:
    root = report(SysinfoProfile("romashka", users=30))
    names = [u.get("fullName") for u in root.iterfind("users/user") if u.get("fullName")]
    assert len(names) >= 20 and all(CYRILLIC.search(n) and len(n.split()) == 3 for n in names)
    queries = [s.text or "" for s in root.iterfind("searches/search")]
    assert sum(bool(CYRILLIC.search(q)) for q in queries) > 0.6 * len(queries)
    assert all(re.fullmatch(r"[a-z]+_[a-z]_[a-z]\d*", u.get("login")) for u in root.iterfind("users/user"))
    assert CYRILLIC.search(root.find("databases/database").get("name"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typical_installation_size(seed: int) -> None:
    size = len(generate_zip(SysinfoProfile("romashka", seed=seed, **TYPICAL)))  # type: ignore[arg-type]
    assert 240_000 <= size <= 320_000


def test_large_installation_reaches_about_twenty_megabytes() -> None:
    size = len(generate_xml(SysinfoProfile("bigplant", users=1000, days=30)))
    assert 15_000_000 <= size <= 28_000_000


@pytest.mark.parametrize("seed", [0, 3])
def test_a_share_of_searches_finds_nothing(seed: int) -> None:
    root = report(SysinfoProfile("romashka", seed=seed, **TYPICAL))  # type: ignore[arg-type]
    results = Counter(s.get("result") for s in root.iterfind("searches/search"))
    total = sum(results.values())
    assert total > 2000
    assert 0.10 <= results["empty"] / total <= 0.25
    assert results["error"] == 0
    kinds = Counter(s.get("type") for s in root.iterfind("searches/search"))
    assert kinds["intelligent"] > kinds["attribute"] > 0


def test_empty_searches_take_longer() -> None:
    root = report(SysinfoProfile("romashka", **TYPICAL))  # type: ignore[arg-type]
    durations: dict[str, list[float]] = {"found": [], "empty": []}
    for s in root.iterfind("searches/search"):
        durations[s.get("result")].append(float(s.get("duration")))
    median = {k: sorted(v)[len(v) // 2] for k, v in durations.items()}
    assert median["empty"] > 10 > 2 > median["found"]


def test_weekdays_are_busy_and_weekends_quiet() -> None:
    root = report(SysinfoProfile("romashka", users=100, days=28))
    per_day: Counter[date] = Counter()
    for h in root.iterfind("usage/hour"):
        per_day[when(h.get("start")).date()] += int(h.get("dbRequests"))
    workdays = [v for d, v in per_day.items() if d.weekday() < 5 and d != TODAY]
    weekends = [
        per_day.get(TODAY - timedelta(days=n), 0)
        for n in range(1, 28)
        if (TODAY - timedelta(n)).weekday() > 4
    ]
    assert len(weekends) == 8
    assert sum(workdays) / len(workdays) > 10 * (sum(weekends) / len(weekends))


def test_office_hours_with_a_lunch_dip() -> None:
    root = report(SysinfoProfile("romashka", users=100, days=28))
    by_hour: Counter[int] = Counter()
    for h in root.iterfind("usage/hour"):
        start = when(h.get("start"))
        if start.weekday() < 5:
            by_hour[start.hour] += int(h.get("dbRequests"))
    total = sum(by_hour.values())
    assert sum(v for hour, v in by_hour.items() if 8 <= hour < 18) > 0.9 * total
    assert by_hour[13] < 0.5 * by_hour[11] and by_hour[13] < 0.5 * by_hour[15]
    assert by_hour[3] == 0


def test_normal_report_raises_no_alert_condition() -> None:
    root = report(SysinfoProfile("romashka", users=50, days=30, scenarios=frozenset({"normal"})))
    assert root.find("protection").get("status") == "ok"
    assert root.find("protection/message").text.startswith("Привязка: SenseLock ключ")
    assert root.findall(".//error") == []
    for db in root.iterfind("databases/database"):
        lic = db.find("license")
        assert lic is not None
        assert (date.fromisoformat(lic.get("to")) - TODAY).days > 90
        assert lic.get("update") >= db.get("update")
    for f in root.iterfind("operUp/file"):
        assert REPORT_LOCAL - when(f.get("modified")) < timedelta(days=1)
    assert [x for x in root.iterfind("refusals/refusal") if x.get("code") == "2008"] == []
    assert {x.get("reason") for x in root.iterfind("refusals/refusal")} <= {"bad-password"}
    created = [when(u.get("created")) for u in root.iterfind("users/user")]
    assert max(created) < when(root.get("periodFrom"))
    activity, _requests, involvement = month_activity(root)
    assert activity >= 20
    assert involvement >= 60
    assert date.fromisoformat(root.find("registration").get("supportUntil")) > TODAY


# --- scenarios --------------------------------------------------------------------------------------------


def check_stale_operup(root: etree._Element) -> None:
    files = root.findall("operUp/file")
    assert files and all(REPORT_LOCAL - when(f.get("modified")) > timedelta(days=3) for f in files)


def check_db_error_nocode(root: etree._Element) -> None:
    errors = [e for e in root.iterfind("databases/database/volume/error") if e.get("code") is None]
    assert [e.text for e in errors] == ["Том базы данных уже подключен"]
    paths = [v.get("path") for v in root.iterfind("databases/database/volume")]
    assert len(paths) == len(set(paths)) + 1


def check_db_errors(root: etree._Element) -> None:
    codes = Counter(e.get("code") for e in root.iterfind("databases/database/volume/error"))
    assert codes == Counter({"2007": 1, "613": 1, None: 1})


def check_db_errors_many(root: etree._Element) -> None:
    errors = [
        e for e in root.iterfind("databases/database/volume/error") if e.text == "Invalid protect string"
    ]
    assert len(errors) >= 41
    assert all(e.get("code") is None for e in errors)


def expiry_checker(low: int, high: int) -> Callable[[etree._Element], None]:
    def check(root: etree._Element) -> None:
        left = sorted((date.fromisoformat(lic.get("to")) - TODAY).days for lic in root.iterfind(".//license"))
        assert low < left[0] <= high
        assert left[1] > 90

    return check


def check_no_licence_block(root: etree._Element) -> None:
    databases = root.findall("databases/database")
    assert [db.find("license") is None for db in databases].count(True) == 1
    assert databases[-1].find("license") is None


def check_no_senselock_block(root: etree._Element) -> None:
    assert root.find("protection") is None
    assert root.find("registration") is not None


def check_seats_exhausted(root: etree._Element) -> None:
    refused = [x for x in root.iterfind("refusals/refusal") if x.get("code") == "2008"]
    assert refused
    assert all(x.get("reason") == "no-seats" and x.get("altCode") == "4106" for x in refused)
    assert refused[0].text == "Нет свободных рабочих мест для входа"
    sessions = root.find("sessions")
    assert sessions.get("count") == sessions.get("seats") == root.find("registration").get("seats")


def check_new_user(root: etree._Element) -> None:
    users = root.findall("users/user")
    assert len(users) == 21
    newcomer = users[-1]
    assert REPORT_LOCAL - when(newcomer.get("created")) == timedelta(minutes=150, seconds=3)
    assert all(when(u.get("created")) < when(root.get("periodFrom")) for u in users[:-1])
    assert newcomer.get("email") == newcomer.get("phone") == ""
    assert newcomer.get("login") in {h.get("user") for h in root.iterfind("usage/hour")}


def check_low_activity(root: etree._Element) -> None:
    activity, requests, _ = month_activity(root)
    assert 0 < activity < 20
    assert requests < 20


def check_low_involvement(root: etree._Element) -> None:
    activity, _requests, involvement = month_activity(root)
    assert involvement < 60
    assert activity >= 20


def check_unsupported_but_used(root: etree._Element) -> None:
    until = date.fromisoformat(root.find("registration").get("supportUntil"))
    assert until < TODAY - timedelta(days=30)
    recent = [
        h for h in root.iterfind("usage/hour") if when(h.get("start")) > REPORT_LOCAL - timedelta(days=3)
    ]
    assert recent
    iso = until.isocalendar()
    assert {db.get("update") for db in root.iterfind("databases/database")} == {
        f"{iso.year % 100:02d}{iso.week:02d}"
    }


def check_search_errors(root: etree._Element) -> None:
    errors = [s for s in root.iterfind("searches/search") if s.get("result") == "error"]
    assert errors and all(s.get("error") and s.get("found") == "0" for s in errors)


def check_no_empty_searches(root: etree._Element) -> None:
    results = Counter(s.get("result") for s in root.iterfind("searches/search"))
    assert results["found"] > 100 and results["empty"] == 0


def check_normal(root: etree._Element) -> None:
    assert root.findall(".//error") == []
    assert root.find("protection").get("status") == "ok"


def db_error_checker(code: int) -> Callable[[etree._Element], None]:
    def check(root: etree._Element) -> None:
        volumes = [v for v in root.iterfind("databases/database/volume") if v.find("error") is not None]
        assert len(volumes) == 1
        error = volumes[0].find("error")
        assert error.get("code") == str(code)
        assert error.text
        database = volumes[0].getparent()
        licence = database.find("license")
        if code == 2020:
            assert licence.get("update") < database.get("update")
        if code == 2021:
            assert date.fromisoformat(licence.get("to")) < TODAY
        if code in (2, 3, 5, 53, 64, 67):
            assert volumes[0].get("path") in error.text

    return check


def operup_error_checker(code: int) -> Callable[[etree._Element], None]:
    def check(root: etree._Element) -> None:
        errors = root.findall("operUp/file/error")
        assert [e.get("code") for e in errors] == [str(code)]

    return check


def key_error_checker(code: int) -> Callable[[etree._Element], None]:
    def check(root: etree._Element) -> None:
        protection = root.find("protection")
        assert protection.get("status") == "error" and protection.get("code") == str(code)
        message = protection.find("message").text
        assert message.startswith("Привязка: SenseLock ключ - Ошибка защиты")
        assert str(code if code != 665 else 1) in message
        failed = when(protection.get("failedSince"))
        assert root.find("sessions").get("count") == "0"
        assert all(when(h.get("start")) < failed for h in root.iterfind("usage/hour"))
        refused = [x for x in root.iterfind("refusals/refusal") if when(x.get("time")) >= failed]
        assert refused and all(x.get("code") == str(code) for x in refused)
        manager = protection.find("licenseManager")
        if code == 4116:
            assert manager.get("configured") == "false" and manager.get("beaconPort") == "5555"
        if code in (4112, 4113, 4117, 4118):
            assert f"{manager.get('host')}:{manager.get('port')}" in message

    return check


CHECKS: dict[str, Callable[[etree._Element], None]] = {
    "normal": check_normal,
    "stale-operup": check_stale_operup,
    "db-error-nocode": check_db_error_nocode,
    "db-errors": check_db_errors,
    "db-errors-many": check_db_errors_many,
    "licence-expiring-2d": expiry_checker(0, 2),
    "licence-expiring-7d": expiry_checker(2, 7),
    "licence-expiring-90d": expiry_checker(7, 90),
    "no-licence-block": check_no_licence_block,
    "no-senselock-block": check_no_senselock_block,
    "seats-exhausted": check_seats_exhausted,
    "new-user": check_new_user,
    "low-activity": check_low_activity,
    "low-involvement": check_low_involvement,
    "unsupported-but-used": check_unsupported_but_used,
    "search-errors": check_search_errors,
    "no-empty-searches": check_no_empty_searches,
    **{f"db-error-{c}": db_error_checker(c) for c in DB_ERROR_SCENARIO_CODES},
    **{f"operup-error-{c}": operup_error_checker(c) for c in OPERUP_ERROR_SCENARIO_CODES},
    **{f"key-error-{c}": key_error_checker(c) for c in KEY_ERROR_SCENARIO_CODES},
}


def test_every_scenario_has_a_check_and_a_description() -> None:
    assert set(CHECKS) == set(SCENARIOS) == set(SCENARIO_DESCRIPTIONS)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_puts_its_marker_into_the_report(name: str) -> None:
    CHECKS[name](scenario(name))


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "normal"])
def test_normal_report_lacks_the_scenario_marker(name: str) -> None:
    with pytest.raises(AssertionError):
        CHECKS[name](report(SysinfoProfile("romashka")))


def test_scenarios_combine() -> None:
    names = frozenset({"licence-expiring-2d", "licence-expiring-7d", "no-licence-block", "stale-operup"})
    root = report(SysinfoProfile("romashka", scenarios=names))
    left = sorted((date.fromisoformat(lic.get("to")) - TODAY).days for lic in root.iterfind(".//license"))
    assert left[:2] == [1, 5]
    check_no_licence_block(root)
    check_stale_operup(root)


# --- profile validation and writing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scenarios": frozenset({"no-such-thing"})}, "scenarios"),
        ({"scenarios": frozenset({"low-activity", "seats-exhausted"})}, "scenarios"),
        ({"scenarios": frozenset({"key-error-4111", "no-senselock-block"})}, "scenarios"),
        ({"regnum": "460-197505"}, "regnum"),
        ({"now": datetime(2026, 4, 20, 10, 0)}, "now"),
        ({"users": 0}, "users"),
        ({"days": 0}, "days"),
        ({"users": 2000, "days": 101}, "days"),
        ({"backup_time": "25:00"}, "backup_time"),
        ({"catalogs": ("docs",)}, "catalogs"),
        ({"databases": 2}, "databases"),
    ],
)
def test_profile_rejects_bad_values(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SysinfoProfile("romashka", **kwargs)  # type: ignore[arg-type]


def test_seats_exhausted_refuses_seats_above_demand() -> None:
    with pytest.raises(ValueError, match="seats-exhausted"):
        generate_xml(SysinfoProfile("romashka", seats=500, scenarios=frozenset({"seats-exhausted"})))


def test_profile_accepts_any_iterable_of_scenarios_and_aware_now() -> None:
    explicit = datetime(2026, 4, 20, 10, 48, 3, tzinfo=timezone(timedelta(hours=3)))  # == DEFAULT_NOW
    profile = SysinfoProfile("romashka", users=5, scenarios=["stale-operup"], now=explicit)  # type: ignore[arg-type]
    assert profile.scenarios == frozenset({"stale-operup"})
    implicit = SysinfoProfile("romashka", users=5).with_scenarios("stale-operup")
    assert implicit.report_time == explicit.astimezone(UTC)
    assert generate_xml(profile) == generate_xml(implicit)


def test_write_report_by_suffix(tmp_path: Path) -> None:
    profile = SysinfoProfile("romashka", users=5, days=1)
    zip_path = tmp_path / "out" / "romashka.zip"
    assert write_report(profile, zip_path) == zip_path.stat().st_size
    assert zip_path.read_bytes() == generate_zip(profile)
    xml_path = tmp_path / "romashka.XML"
    assert write_report(profile, xml_path) == len(generate_xml(profile))
    with pytest.raises(ValueError, match=r"\.zip or \.xml"):
        write_report(profile, tmp_path / "romashka.txt")
    assert not (tmp_path / "romashka.txt").exists()
