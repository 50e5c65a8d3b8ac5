"""Expand the Grafana PostgreSQL macros and template variables SMART's panels use, as Grafana does.

Used by the tests to run every panel's SQL on a real database, and by ``smart grafana check``. Grafana's
own expansion (pkg/tsdb/grafana-postgresql-datasource/macros.go) is the reference for the output:
``$__timeFilter(col)`` → ``col BETWEEN '…Z' AND '…Z'``; ``$__timeGroup(col, '1h')`` →
``floor(extract(epoch from col)/3600)*3600``; multi-value variables → ``'a','b'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

_MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(?!__)(\w+)")
_INTERVAL = re.compile(r"^'?(\d+)([smhdw])'?$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class MacroError(ValueError):
    """An unknown macro, a bad argument or an undefined variable."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise MacroError("time range must be timezone-aware")


def _iso(moment: datetime) -> str:
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def interval_seconds(value: str) -> int:
    match = _INTERVAL.match(value.strip())
    if not match:
        raise MacroError(f"bad interval {value!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _expand_macro(name: str, raw_args: str, time_range: TimeRange) -> str:
    args = [a.strip() for a in raw_args.split(",")] if raw_args.strip() else []
    if name == "timeFilter" and len(args) == 1:
        return f"{args[0]} BETWEEN {_iso(time_range.start)} AND {_iso(time_range.end)}"
    if name == "timeFrom" and not args:
        return _iso(time_range.start)
    if name == "timeTo" and not args:
        return _iso(time_range.end)
    if name == "unixEpochFrom" and not args:
        return str(int(time_range.start.timestamp()))
    if name == "unixEpochTo" and not args:
        return str(int(time_range.end.timestamp()))
    if name in ("timeGroup", "timeGroupAlias") and len(args) == 2:
        seconds = interval_seconds(args[1])
        expression = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
        return expression + (' AS "time"' if name == "timeGroupAlias" else "")
    raise MacroError(f"unsupported macro $__{name}({raw_args})")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def expand(sql: str, time_range: TimeRange, variables: Mapping[str, Sequence[str]] | None = None) -> str:
    """``sql`` with every macro and ``$variable`` replaced; raises `MacroError` on anything unknown."""
    values = variables or {}
    result = _MACRO.sub(lambda m: _expand_macro(m.group(1), m.group(2), time_range), sql)
    if "$__" in result:
        raise MacroError(f"unexpanded macro in: {result}")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise MacroError(f"undefined variable ${name}")
        chosen = values[name]
        if not chosen:
            raise MacroError(f"variable ${name} has no value")
        return ",".join(_quote(v) for v in chosen)

    return _VARIABLE.sub(substitute, result)


def variable_names(sql: str) -> set[str]:
    """Template variables ``sql`` refers to."""
    stripped = _MACRO.sub("", sql)
    return {m.group(1) or m.group(2) for m in _VARIABLE.finditer(stripped)}
