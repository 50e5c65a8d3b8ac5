"""Hostile and broken input is refused with a named reason, or processed safely, never a crash."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.sysinfo import parse_sysinfo
from tests.parsers.hostile import CORPUS, cp1251_declared, cp1251_undeclared


@pytest.mark.parametrize(("name", "make", "code"), CORPUS, ids=[c[0] for c in CORPUS])
def test_each_hostile_file_is_refused_with_its_reason_or_parsed_safely(
    name: str, make: Callable[[], bytes], code: str | None
) -> None:
    data = make()
    if code is None:
        report = parse_sysinfo(data)
        assert report.registration is not None
        return
    with pytest.raises(ParseError) as err:
        parse_sysinfo(data)
    assert err.value.code == code
    assert err.value.message and err.value.message_en


def test_an_xinclude_is_not_followed() -> None:
    report = parse_sysinfo(dict((c[0], c[1]) for c in CORPUS)["xinclude"]())
    assert report.registration is not None and report.registration.regnum == "0599_1"
    assert report.unknown_paths == ["sysinfo/registration/include"]
    assert "root:" not in repr(report)


def test_windows_1251_reports_keep_their_russian_text() -> None:
    declared = parse_sysinfo(cp1251_declared())
    assert declared.registration is not None and "«" in (declared.registration.client_name or "")
    assert declared.warnings == []
    undeclared = parse_sysinfo(cp1251_undeclared())
    assert undeclared.registration is not None
    assert undeclared.registration.client_name == declared.registration.client_name
    assert any("Windows-1251" in w for w in undeclared.warnings)
