"""Conditions of the alert rules over stored data, one module per data source.

Each module exposes ``CONDITIONS: dict[str, Condition]`` (rule name → condition); `all_conditions`
merges them. A condition is a function ``(session, now) -> Iterable[Instance]`` returning the objects
for which the rule holds now; labels carry what the rule's summary and the dashboards show
(``client``, ``dealer``, ``address``, ``database``, ``value``…).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from kodeks_smart.alerts.engine import Condition, Evaluator


def all_conditions() -> dict[str, Condition]:
    merged: dict[str, Condition] = {}
    for module in _modules():
        conditions: dict[str, Condition] = module.CONDITIONS
        for name, condition in conditions.items():
            if name in merged:
                raise ValueError(f"rule {name} has two conditions")
            merged[name] = condition
    return merged


def scoped_rules() -> frozenset[str]:
    """Rules whose conditions may be evaluated for some installations only (modules' ``SCOPED``)."""
    found: set[str] = set()
    for module in _modules():
        found.update(getattr(module, "SCOPED", ()))
    return frozenset(found)


def evaluator(full_interval: float = 300.0) -> Evaluator:
    """The evaluator of every rule, with incremental cycles for those fed by sysinfo reports."""
    from kodeks_smart.alerts.rules.sysinfo_rules import changed_installations

    return Evaluator(
        all_conditions(),
        scoped=scoped_rules(),
        changes=changed_installations,
        full_interval=full_interval,
    )


def _modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.endswith("_rules"):
            found.append(importlib.import_module(f"{__name__}.{info.name}"))
    return found
