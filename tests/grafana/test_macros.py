"""The Grafana macro expander produces what Grafana's PostgreSQL datasource would send."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kodeks_smart.grafana.macros import MacroError, TimeRange, expand, variable_names

RANGE = TimeRange(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, 12, 30, tzinfo=UTC))


def test_time_filter_becomes_a_between_of_utc_literals() -> None:
    assert expand("WHERE $__timeFilter(s.at)", RANGE) == (
        "WHERE s.at BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-31T12:30:00Z'"
    )


def test_time_group_alias_floors_to_the_interval_and_names_the_column_time() -> None:
    assert expand("SELECT $__timeGroupAlias(u.hour, '1d')", RANGE) == (
        'SELECT floor(extract(epoch from u.hour)/86400)*86400 AS "time"'
    )


def test_epoch_and_range_macros() -> None:
    sql = "$__timeFrom() $__timeTo() $__unixEpochFrom() $__unixEpochTo()"
    assert expand(sql, RANGE) == "'2026-01-01T00:00:00Z' '2026-01-31T12:30:00Z' 1767225600 1769862600"


def test_multi_value_variables_are_quoted_and_escaped() -> None:
    assert expand(
        "c.id IN ($client) AND x IN (${status})", RANGE, {"client": ["1", "2"], "status": ["o'k"]}
    ) == ("c.id IN ('1','2') AND x IN ('o''k')")


@pytest.mark.parametrize(
    ("sql", "variables"),
    [
        ("$__timeFilter()", {}),
        ("$__timeGroup(x, 'soon')", {}),
        ("$__interval_ms()", {}),
        ("c.id IN ($client)", {}),
        ("c.id IN ($client)", {"client": []}),
    ],
)
def test_anything_unknown_is_an_error_not_silently_kept(sql: str, variables: dict[str, list[str]]) -> None:
    with pytest.raises(MacroError):
        expand(sql, RANGE, variables)


def test_variable_names_ignores_macros() -> None:
    assert variable_names("$__timeFilter(a) AND b IN ($client) AND c IN (${manager})") == {
        "client",
        "manager",
    }


def test_a_naive_range_is_rejected() -> None:
    with pytest.raises(MacroError):
        TimeRange(datetime(2026, 1, 1), datetime(2026, 1, 2))
