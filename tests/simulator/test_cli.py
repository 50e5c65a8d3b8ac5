"""``smart simulate``: the server command stops cleanly on signals; the sysinfo subcommands write reports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kodeks_smart.simulator.cli import app

runner = CliRunner()


def test_sysinfo_subcommand_writes_a_zip(tmp_path: Path) -> None:
    out = tmp_path / "romashka.zip"

    result = runner.invoke(
        app,
        [
            "sysinfo",
            "--client",
            "romashka",
            "--users",
            "5",
            "--days",
            "2",
            "--scenario",
            "stale-operup",
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert zipfile.ZipFile(out).testzip() is None
    assert f"{out.stat().st_size} bytes" in result.output


def test_sysinfo_subcommand_writes_xml(tmp_path: Path) -> None:
    out = tmp_path / "romashka.xml"

    result = runner.invoke(
        app, ["sysinfo", "--client", "romashka", "--users", "3", "--days", "1", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"<?xml")


def test_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["sysinfo", "--client", "romashka", "--scenario", "no-such-thing", "--out", str(tmp_path / "r.zip")],
    )

    assert result.exit_code == 2
    assert "no-such-thing" in result.output
    assert not (tmp_path / "r.zip").exists()


def test_a_bad_client_name_is_refused_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sysinfo", "--client", "Рога и копыта", "--out", str(tmp_path / "r.zip")])

    assert result.exit_code == 2
    assert "client" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_report_time_can_be_given(tmp_path: Path) -> None:
    out = tmp_path / "r.xml"

    result = runner.invoke(
        app,
        [
            "sysinfo",
            "--client",
            "romashka",
            "--users",
            "3",
            "--days",
            "1",
            "--now",
            "2026-05-20T09:00:00+03:00",
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert b"2026-05-20" in out.read_bytes()[:1000]


def test_scenarios_are_listed() -> None:
    result = runner.invoke(app, ["scenarios"])

    assert result.exit_code == 0
    assert "stale-operup" in result.output
    assert "seats-exhausted" in result.output
    assert "KodeksDBOperUpToOld" in result.output  # the descriptions are shown


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_server_command_prints_its_addresses_and_stops_on_a_signal(signum: int) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    command = [
        sys.executable,
        "-m",
        "kodeks_smart.simulator.cli",
        "--installations",
        "2",
        "--online",
        "1",
        "--port-base",
        "0",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            control = None
            for line in process.stdout:
                found = re.search(r"control API: (http://127\.0\.0\.1:\d+)/api/health", line)
                if found:
                    control = found[1]
                    break
            assert control is not None, process.stderr.read() if process.stderr else ""
            health = httpx.get(control + "/api/health").json()
            assert health["installations"] == 2
            rows = httpx.get(control + "/api/installations").json()["items"]
            assert httpx.get(rows[1]["url"] + "/docs/").headers["server"] == "WWW-Kodeks/6.4"

            process.send_signal(signum)
            rest, errors = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

    assert process.returncode == 0, errors
    assert "simulator stopped" in rest
