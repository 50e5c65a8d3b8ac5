"""Acceptance: every alert of the original product (spec/alerts.csv: 57 canonical names and 4 aliases) is in
the catalogue, has a runbook page, has a condition over stored data (the "…Count" variants are synthesised by
the engine) and is fired and resolved by at least one test.

The names are embedded here: the shared spec folder is not part of the repository.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from kodeks_smart.alerts import runbooks
from kodeks_smart.alerts.catalogue import ALIASES, RULES
from kodeks_smart.alerts.rules import all_conditions

#: The canonical names of spec/alerts.csv, in its order.
CANONICAL: tuple[str, ...] = (
    "KodeksDBerrorsNoCode",
    "KodeksDBerrorsNoCodeCount",
    "KodeksDBerrorsCode2007",
    "KodeksDBerrorsCode2007Count",
    "KodeksDBerrorsCodeXXX",
    "KodeksDBerrorsCodeXXXCount",
    "KodeksDBOperUpToOld",
    "KodeksDBOperUpToOldCount",
    "KodeksBehindProxyDown",
    "KodeksHttp200Status",
    "KodeksHttp200StatusCount",
    "KodeksIcmp",
    "KodeksIcmpCount",
    "KodeksTcpStatus",
    "KodeksTcpStatusCount",
    "OnlineBillingDocsLeft150",
    "OnlineBillingDocsLeft50",
    "OnlineBillingDocsLeftZero",
    "OnlineBillingPrintLeft150",
    "OnlineBillingPrintLeft50",
    "OnlineBillingPrintLeftZero",
    "OnlineBillingSearchLeft150",
    "OnlineBillingSearchLeft50",
    "OnlineBillingSearchLeftZero",
    "OnlineBillingUploadLeft150",
    "OnlineBillingUploadLeft50",
    "OnlineBillingUploadLeftZero",
    "OnlineLoginFailed",
    "OnlineUserActivityIsLow10",
    "OnlineUserActivityIsLow20",
    "OnlineUserActivityIsLow30",
    "KodeksSearchIsEmpty",
    "KodeksMaintenance",
    "KodeksMaintenanceCount",
    "KodeksNeedSupport",
    "KodeksMaintenanceToLong",
    "KodeksMaintenanceToLongCount",
    "LicmanIcmp",
    "LicmanTcpStatus",
    "KodeksOfflineSensLockCheck",
    "KodeksOnlineSensLockCheck",
    "KodeksXmlSensLockStatus",
    "KodeksDetectOverUserError",
    "KodeksLicenseExpiring2day",
    "KodeksLicenseExpiring7day",
    "KodeksLicenseExpiring90day",
    "KodeksLimitsUsers",
    "KodeksUnsupportedButUsed",
    "KodeksNewUser",
    "KodeksUserActivityIsLow",
    "KodeksUserAInvolvementIsLow",
    "KodeksSearchError",
    "KodeksAuthNotWork",
    "KodeksSppStatus",
    "KodeksWarning",
    "SmartXMLfileIsToOld",
    "KodeksDBLicensesZero",
)

#: The alias rows of spec/alerts.csv → the canonical name they stand for.
ALIAS_ROWS: dict[str, str] = {
    "KodeksDBerrorsCode1": "KodeksDBerrorsNoCode",
    "KodeksDBerrorsCode1Count": "KodeksDBerrorsNoCodeCount",
    "OnlineBillingSearch150": "OnlineBillingSearchLeft150",
    "OnlineBillingSearch50": "OnlineBillingSearchLeft50",
}

#: SMART's own rules, not in the original catalogue (each is fired and resolved by its feature's tests).
SMART_OWN: frozenset[str] = frozenset({"SmartAsrpForwardFailing"})

TESTS_DIR = Path(__file__).parent


def test_the_embedded_list_has_the_61_rows_of_the_spec() -> None:
    assert len(CANONICAL) == len(set(CANONICAL)) == 57
    assert len(ALIAS_ROWS) == 4 and not set(ALIAS_ROWS) & set(CANONICAL)
    assert set(ALIAS_ROWS.values()) <= set(CANONICAL)


def test_the_catalogue_has_exactly_the_canonical_names_and_the_aliases() -> None:
    assert sorted(set(CANONICAL) - set(RULES)) == []
    assert sorted(set(RULES) - set(CANONICAL) - SMART_OWN) == []
    assert ALIASES == ALIAS_ROWS


@pytest.mark.parametrize("name", [*CANONICAL, *ALIAS_ROWS])
def test_every_name_has_a_runbook_page(name: str) -> None:
    page = runbooks.page(name)
    assert page is not None, f"no runbook page for {name}"
    assert page.name == ALIAS_ROWS.get(name, name)


def test_every_rule_but_the_count_variants_has_a_condition() -> None:
    conditions = all_conditions()
    missing = [n for n in CANONICAL if not RULES[n].is_count and n not in conditions]
    assert missing == [], f"rules without a condition: {', '.join(missing)}"
    counts = [n for n in CANONICAL if RULES[n].is_count and n in conditions]
    assert counts == [], f"Count rules are synthesised by the engine, not written: {', '.join(counts)}"


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _patterns(node: ast.AST) -> set[str]:
    """f-strings that build rule names (``f"OnlineBilling{kind}Left{level}"``) as regular expressions: the
    literal parts, each placeholder standing for a word. Only those that start with a literal of at least
    six characters count, so that ``f"{rule}"`` matches nothing."""
    found = set()
    for n in ast.walk(node):
        if not isinstance(n, ast.JoinedStr) or not n.values:
            continue
        first = n.values[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and len(first.value) >= 6):
            continue
        parts = [
            re.escape(v.value) if isinstance(v, ast.Constant) and isinstance(v.value, str) else "[A-Za-z0-9]+"
            for v in n.values
        ]
        found.add("".join(parts))
    return found


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


@cache
def texts_of_tests() -> dict[str, tuple[set[str], set[str]]]:
    """Per test function (``file::name``): the strings in its body and decorators, and in the module-level
    tables (parameter lists, constants) it refers to."""
    files = [*sorted(TESTS_DIR.glob("test_*rules*.py")), TESTS_DIR / "test_engine.py"]
    found: dict[str, tuple[set[str], set[str]]] = {}
    for path in files:
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        tables: dict[str, ast.AST] = {}
        for stmt in tree.body:
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets = stmt.targets
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets = [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    tables[target.id] = stmt
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("test_"):
                texts, patterns = _strings(stmt), _patterns(stmt)
                for name in _names(stmt) & set(tables):
                    texts |= _strings(tables[name])
                    patterns |= _patterns(tables[name])
                found[f"{path.name}::{stmt.name}"] = (texts, patterns)
    return found


def _tested(rule: str) -> bool:
    return any(
        rule in texts or any(re.fullmatch(p, rule) for p in patterns)
        for texts, patterns in texts_of_tests().values()
    )


def test_a_rule_name_only_in_a_non_test_function_does_not_count() -> None:
    tree = ast.parse('def helper():\n    return "KodeksIcmp"\ndef test_x():\n    f"{rule}"\n')
    assert _strings(tree.body[1]) == set() and _patterns(tree.body[1]) == set()
    assert _patterns(ast.parse('f"OnlineBilling{kind}Left{level}"')) == {
        "OnlineBilling[A-Za-z0-9]+Left[A-Za-z0-9]+"
    }


def test_every_rule_is_fired_and_resolved_by_a_test() -> None:
    assert texts_of_tests(), "no rule tests found"
    missing = [n for n in CANONICAL if not _tested(n)]
    assert missing == [], f"rules no test fires: {', '.join(missing)}"
