"""Pulls: the backup/restart window, /admin/pref, and the files handed to ingest."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from kodeks_smart.probes.model import Status
from kodeks_smart.probes.pull import (
    fetch_sysinfo,
    fetch_sysmon,
    parse_admin_pref,
    read_admin_pref,
    window_end,
)
from kodeks_smart.simulator import SimulatorThread
from kodeks_smart.simulator.pages import admin_pref
from tests.probes.helpers import sim_target

# 01:30 UTC = 04:30 Moscow (UTC+3).
NOW = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)


def target_with(sim: SimulatorThread, **changes: object):  # type: ignore[no-untyped-def]
    return dataclasses.replace(sim_target(sim), **changes)


def test_inside_the_restart_window_the_pull_waits_until_it_is_over(sim: SimulatorThread) -> None:
    target = target_with(sim, restart_time="04:00", backup_time=None, tz_offset_minutes=180)
    assert window_end(target, NOW, 60) == NOW + timedelta(minutes=30)
    assert window_end(target, NOW, 20) is None


def test_the_window_opens_five_minutes_early_and_crosses_midnight(sim: SimulatorThread) -> None:
    target = target_with(sim, backup_time="00:00", restart_time=None, tz_offset_minutes=0)
    late = datetime(2026, 11, 1, 23, 57, tzinfo=UTC)
    assert window_end(target, late, 30) == late + timedelta(minutes=33)
    assert window_end(target, datetime(2026, 11, 2, 0, 20, tzinfo=UTC), 30) is not None
    assert window_end(target, datetime(2026, 11, 2, 0, 31, tzinfo=UTC), 30) is None


def test_no_known_times_means_no_window(sim: SimulatorThread) -> None:
    assert window_end(target_with(sim, backup_time=None, restart_time=None), NOW, 60) is None


def test_admin_pref_times_are_read_from_the_inputs_or_the_text() -> None:
    page = admin_pref(backup_time="02:15", restart_time="05:30").decode()
    assert parse_admin_pref(page) == ("02:15", "05:30")
    assert parse_admin_pref("резервное копирование: 1:45, перезапуск сервера 04:00") == ("01:45", "04:00")
    assert parse_admin_pref("<html>нет настроек</html>") == (None, None)


def test_admin_pref_is_read_only_when_the_user_may(sim: SimulatorThread) -> None:
    described = sim.describe(0)
    as_test_user = asyncio.run(read_admin_pref(sim_target(sim), False, 5.0))
    assert as_test_user is None  # the simulated /admin wants the admin account
    admin = target_with(sim, test_login="admin", test_password="adminpass")
    assert asyncio.run(read_admin_pref(admin, False, 5.0)) == (
        described["backup_time"],
        described["restart_time"],
    )


@pytest.mark.parametrize("cookie_redirect", [False, True])
def test_sysinfo_is_fetched_as_a_zip_following_the_cookie_redirect(
    sim: SimulatorThread, cookie_redirect: bool
) -> None:
    sim.set_state(0, cookie_redirect=cookie_redirect)
    result, data = asyncio.run(fetch_sysinfo(sim_target(sim), False, 30.0))
    assert result.status is Status.OK
    assert data is not None and data.startswith(b"PK")


def test_sysmon_metrics_are_stored_with_the_date_line_like_the_agent(sim: SimulatorThread) -> None:
    result, data = asyncio.run(fetch_sysmon(sim_target(sim), False, 10.0))
    assert result.status is Status.OK
    assert data is not None
    first, _, body = data.partition(b"\n")
    assert first.startswith(b"date: ") and first.endswith(b"GMT")
    assert b"kserver_up" in body


def test_sysmon_without_the_metrics_right_fails_with_the_reason(sim: SimulatorThread) -> None:
    stranger = target_with(sim, test_login="ivanov", test_password="wrong")
    result, data = asyncio.run(fetch_sysmon(stranger, False, 10.0))
    assert result.status is Status.FAIL
    assert data is None
    assert "группа metrics" in result.detail
