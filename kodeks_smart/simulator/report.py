"""Bridge from a simulated installation's current state to the sysinfo report generator.

The generator (``kodeks_smart.simulator.sysinfo``) takes a ``SysinfoProfile`` with a set of named
scenarios. Switched states map to scenarios here; a state whose scenario the generator does not know
is left out rather than failing the request, and explicit extra scenarios come from the state's
``scenarios`` field.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from kodeks_smart.simulator.state import InstallationConfig, InstallationState, SearchMode

# State → candidate scenario names of the generator, the first known one wins.
_STALE_OPERUP = ("stale-operup",)
_SEATS_EXHAUSTED = ("seats-exhausted",)
_SEARCH_ERRORS = ("search-errors",)
_KEY_FALLBACK = ("no-senselock-block",)


def generator() -> ModuleType:
    """The sysinfo generator module (imported lazily: the HTTP simulator runs without it)."""
    return importlib.import_module("kodeks_smart.simulator.sysinfo")


def known_scenarios() -> frozenset[str] | None:
    """Scenario names the generator knows, or ``None`` when the generator is not installed."""
    try:
        module = generator()
    except ImportError:
        return None
    return frozenset(str(name) for name in module.SCENARIOS)


def _first_known(candidates: tuple[str, ...], known: Collection[str]) -> str | None:
    return next((name for name in candidates if name in known), None)


def derive_scenarios(
    state: InstallationState, *, seats_exhausted: bool, known: Collection[str]
) -> frozenset[str]:
    """Scenarios that make the generated report agree with the switched states.

    stale OperUp → ``stale-operup``; no free seat → ``seats-exhausted``; key error NNNN →
    ``key-error-NNNN`` (or ``no-senselock-block``); search "error" → ``search-errors``.
    """
    wanted: set[str] = set(state.scenarios)
    picks: list[tuple[str, ...]] = []
    if state.stale_operup:
        picks.append(_STALE_OPERUP)
    if seats_exhausted:
        picks.append(_SEATS_EXHAUSTED)
    if state.key_error is not None:
        picks.append((f"key-error-{state.key_error}", *_KEY_FALLBACK))
    if state.search is SearchMode.ERROR:
        picks.append(_SEARCH_ERRORS)
    for candidates in picks:
        name = _first_known(candidates, known)
        if name is not None and not _clashes(name, wanted):
            wanted.add(name)
    return frozenset(name for name in wanted if name in known)


def _clashes(name: str, chosen: set[str]) -> bool:
    """Explicit scenarios win over derived ones that describe the same property."""
    groups = (
        {"low-activity", "low-involvement", "seats-exhausted"},
        {"search-errors", "no-empty-searches"},
    )
    if name.startswith("key-error-") or name == "no-senselock-block":
        return any(c.startswith("key-error-") or c == "no-senselock-block" for c in chosen)
    return any(name in group and chosen & group for group in groups)


def build_profile(
    config: InstallationConfig,
    state: InstallationState,
    *,
    seats_exhausted: bool,
    now: datetime | None = None,
    with_seats: bool = True,
) -> Any:
    """A ``SysinfoProfile`` for the installation as it is now."""
    module = generator()
    scenarios = derive_scenarios(state, seats_exhausted=seats_exhausted, known=frozenset(module.SCENARIOS))
    extra: dict[str, Any] = {"seats": config.seats} if with_seats else {}
    return module.SysinfoProfile(
        client=config.client,
        users=config.users,
        days=7,
        seed=config.seed,
        scenarios=scenarios,
        now=now or datetime.now(UTC),
        tz_offset_minutes=config.tz_offset_minutes,
        regnum=config.regnum,
        legal_name=config.owner,
        server_version=config.version,
        **extra,
    )


def render(
    config: InstallationConfig,
    state: InstallationState,
    *,
    seats_exhausted: bool,
    now: datetime,
    as_zip: bool,
) -> bytes:
    """The report bytes (zip or XML). Runs in a worker thread: generation takes a while.

    The generator refuses ``seats-exhausted`` when the configured seats exceed the users' peak demand; the
    report is then built with seats derived by the generator (the run-time seat state stays as it is).
    """
    module = generator()
    profile = build_profile(config, state, seats_exhausted=seats_exhausted, now=now)
    try:
        data = module.generate_zip(profile) if as_zip else module.generate_xml(profile)
    except ValueError:
        if "seats-exhausted" not in profile.scenarios:
            raise
        profile = build_profile(config, state, seats_exhausted=seats_exhausted, now=now, with_seats=False)
        data = module.generate_zip(profile) if as_zip else module.generate_xml(profile)
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def check_scenarios(config: InstallationConfig, names: frozenset[str]) -> str | None:
    """Why the generator would refuse these explicit scenarios, or ``None`` if it accepts them."""
    try:
        module = generator()
    except ImportError:
        return None
    try:
        module.SysinfoProfile(client=config.client, users=config.users, scenarios=names)
    except ValueError as exc:
        return str(exc)
    return None


def report_filename(config: InstallationConfig, now: datetime) -> str:
    """``report_<id>_YYYYMMDD_HHMM.zip`` in PK-local time (spec §3.2)."""
    local = now.astimezone(UTC) + timedelta(minutes=config.tz_offset_minutes)
    return f"report_{config.regnum}_{local:%Y%m%d_%H%M}.zip"
