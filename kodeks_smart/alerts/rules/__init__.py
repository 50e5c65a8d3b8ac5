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

from kodeks_smart.alerts.engine import Condition


def all_conditions() -> dict[str, Condition]:
    merged: dict[str, Condition] = {}
    for module in _modules():
        conditions: dict[str, Condition] = module.CONDITIONS
        for name, condition in conditions.items():
            if name in merged:
                raise ValueError(f"rule {name} has two conditions")
            merged[name] = condition
    return merged


def _modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.endswith("_rules"):
            found.append(importlib.import_module(f"{__name__}.{info.name}"))
    return found
