"""sysinfo reports, parsed by the declarative mapping of docs/sysinfo-format.md."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree

from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.sysinfo import parse_sysinfo
from kodeks_smart.parsers.sysinfo_mapping import BLOCKS
from kodeks_smart.parsers.sysinfo_records import Gap
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml, generate_zip

DOC = Path(__file__).resolve().parents[2] / "docs" / "sysinfo-format.md"


def _doc_example() -> bytes:
    """The abridged example of docs/sysinfo-format.md §5, exactly as the document shows it."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"```xml\n(.*?)```", text, re.S)
    assert match, "docs/sysinfo-format.md §5 has an XML example"
    return match.group(1).encode("utf-8")


def test_the_documented_example_parses_into_every_block() -> None:
    report = parse_sysinfo(_doc_example())
    assert report.missing == [] and report.unknown_elements == 0 and report.bad_values == 0
    assert report.header is not None and report.header.created == datetime(2026, 4, 20, 10, 48, 3)
    assert report.header.utc_offset_minutes == 180
    assert report.server is not None and report.server.backup_time == "02:30" and report.server.port == 80
    assert [c.type for c in report.components] == ["ksrv", "sysinfo", "kassist"]
    assert report.registration is not None and report.registration.regnum == "1242_987960"
    assert report.registration.seats == 2 and report.registration.support_until == date(2026, 12, 4)
    assert report.protection is not None and report.protection.status == "ok"
    assert report.protection.message == "Привязка: SenseLock ключ - Ключ обнаружен"
    [db] = report.databases
    assert (db.code, db.update, db.license_to, db.license_update) == ("KOM", 2617, date(2026, 8, 2), 2631)
    assert [v.path.rsplit("\\", 1)[-1] for v in report.volumes] == ["kom001.kdb", "kom005.kdb"]
    [error] = report.db_errors
    assert (error.database, error.code, error.alt_code) == ("KOM", 2007, 4103)
    assert error.volume is not None and error.volume.endswith("kom005.kdb")
    assert error.text == "Ошибка защиты (2007) -Нет прав на использование данной копии БД"
    assert [f.database for f in report.operup_files] == ["KOM", None]
    assert report.sections["sessions"].seats == 2 and report.sections["operUp"].count == 2
    [session] = report.sessions
    assert session.login_time == datetime(2026, 4, 20, 8, 42, 45) and session.domain is None
    [refusal] = report.refusals
    assert (refusal.reason, refusal.code, refusal.alt_code) == ("no-seats", 2008, 4106)
    assert refusal.text == "Нет свободных рабочих мест для входа"
    [login] = report.logins
    assert login.login == "mikhaylova_a_i"
    [user] = report.users
    assert user.phone is None and user.enabled is True and user.month_empty_searches == 26
    [hour] = report.usage
    assert hour.start == datetime(2026, 4, 20, 10, 0) and hour.db_requests == 15
    [search] = report.searches
    assert (search.query, search.duration, search.result, search.found) == (
        "ГОСТ 2.105-2019",
        0.583,
        "found",
        38,
    )
    [day] = report.kassist
    assert day.date == date(2026, 4, 20) and day.active_checked == 206
    assert report.sections["usage"].step == 3600


SCENARIO_SETS = [
    frozenset(),
    frozenset({"db-errors", "operup-error-792", "seats-exhausted", "search-errors", "key-error-4113"}),
    frozenset({"key-error-4116", "new-user", "licence-expiring-2d", "stale-operup"}),
]


@pytest.mark.parametrize("scenarios", SCENARIO_SETS, ids=lambda s: ",".join(sorted(s)) or "normal")
def test_every_element_and_attribute_the_generator_writes_is_mapped(scenarios: frozenset[str]) -> None:
    data = generate_xml(SysinfoProfile("romashka", users=30, days=3, scenarios=scenarios))
    report = parse_sysinfo(data)
    assert report.unknown_elements == 0 and report.bad_values == 0 and report.missing == []
    records = [report.header, report.server, report.registration, report.protection]
    for block in BLOCKS:
        value = getattr(report, block.name)
        records.extend(value if isinstance(value, list) else [])
    assert all(not r.extra for r in records if r is not None), "an attribute is not in the mapping"
    assert all(not s.extra for s in report.sections.values())
    # The parser read as many records as the document has elements of each kind.
    tree = etree.fromstring(data)
    for block in BLOCKS:
        path = block.element.split("/", 1)[1] if "/" in block.element else None
        if path is None or not block.many:
            continue
        assert len(getattr(report, block.name)) == len(tree.findall(path)), block.name


def test_a_zip_is_read_from_its_report_member() -> None:
    profile = SysinfoProfile("romashka", users=10, days=2)
    report = parse_sysinfo(generate_zip(profile))
    assert report.member == "sysinfo.xml"
    assert report.registration is not None and report.registration.regnum
    assert len(report.users) == 10


def test_a_zip_with_a_differently_named_xml_member_is_still_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("report_0599_123456.xml", _doc_example())
    report = parse_sysinfo(buffer.getvalue())
    assert report.member == "report_0599_123456.xml" and len(report.databases) == 1


def test_a_missing_protection_block_is_a_data_missing_record() -> None:
    report = parse_sysinfo(
        generate_xml(SysinfoProfile("romashka", scenarios=frozenset({"no-senselock-block"})))
    )
    assert report.protection is None
    assert report.missing == [Gap("protection")]


def test_a_database_without_licence_names_the_database_in_its_gap() -> None:
    report = parse_sysinfo(
        generate_xml(SysinfoProfile("romashka", scenarios=frozenset({"no-licence-block"})))
    )
    last = report.databases[-1]
    assert last.license_to is None
    assert report.missing == [
        Gap("databases", "license_from", last.code),
        Gap("databases", "license_to", last.code),
    ]


def test_an_almost_empty_report_gives_gaps_not_a_crash() -> None:
    report = parse_sysinfo(
        b'<?xml version="1.0"?><sysinfo format="1" created="2026-04-20 10:00:00"><users/></sysinfo>'
    )
    missing = {g.block for g in report.missing}
    assert {"server", "registration", "protection", "databases", "sessions", "searches"} <= missing
    assert "users" not in missing and "kassist" not in missing  # present but empty; kAssist is optional
    assert report.users == []


def test_a_report_that_differs_keeps_unknown_parts_and_counts_them() -> None:
    data = (
        b'<sysinfo created="20.04.2026 10:48" utcOffset="+0500" newRootAttr="x">'
        b'<registration regnum="0599_123456" seats="12 " licenceKind="corp"/>'
        b'<databases><database code="ZRF"><license from="01.01.2026" to="31.12.2026"/>'
        b'<shards><shard n="1"/><shard n="2"/></shards></database></databases>'
        b"<telemetry><cpu>5</cpu></telemetry>"
        b"</sysinfo>"
    )
    report = parse_sysinfo(data)
    assert report.header is not None and report.header.created == datetime(2026, 4, 20, 10, 48)
    assert report.header.utc_offset_minutes == 300 and report.header.extra == {"newRootAttr": "x"}
    assert report.registration is not None and report.registration.seats == 12
    assert report.registration.extra == {"licenceKind": "corp"}
    assert report.databases[0].license_to == date(2026, 12, 31)
    assert report.unknown_elements == 5
    assert report.unknown_paths == [
        "sysinfo/databases/database/shards",
        "sysinfo/databases/database/shards/shard",
        "sysinfo/telemetry",
        "sysinfo/telemetry/cpu",
    ]


def test_a_value_of_the_wrong_type_is_counted_and_left_empty() -> None:
    report = parse_sysinfo(b'<sysinfo created="yesterday"><registration regnum="1" seats="many"/></sysinfo>')
    assert report.bad_values == 2
    assert Gap("header", "created") in report.missing and Gap("registration", "seats") in report.missing


def test_xml_that_is_not_a_sysinfo_report_is_refused() -> None:
    with pytest.raises(ParseError) as err:
        parse_sysinfo(b'<?xml version="1.0"?><catalog><book id="1"/></catalog>')
    assert err.value.code == "not-sysinfo"


def test_events_in_windows_the_caller_already_has_are_skipped() -> None:
    profile = SysinfoProfile("romashka", users=30, days=3)
    full = parse_sysinfo(generate_xml(profile))
    cut = datetime(2026, 4, 19, 12, 0)
    skip = {name: [(datetime(2026, 1, 1), cut)] for name in ("searches", "logins", "refusals", "usage")}
    partial = parse_sysinfo(generate_xml(profile), skip=skip)
    assert [s for s in full.searches if s.time and s.time > cut] == partial.searches
    assert partial.skipped["searches"] == len(full.searches) - len(partial.searches) > 0
    assert len(partial.users) == len(full.users)  # snapshots are never skipped
