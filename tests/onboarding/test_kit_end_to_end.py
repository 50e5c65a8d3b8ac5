"""End to end: lists imported with ``smart import``, a Linux kit from ``smart agent kit``, run with bash
against the Kodeks simulator and a live ``smart serve`` — the report lands: ``HEAD /files/CLIENT.zip``
answers 200.

Everything is real: the ``smart`` command line and server as subprocesses, the simulator on loopback, bash,
curl. Only the SQLite store is used: the live server is a separate process with its own database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kodeks_smart.simulator import SimulatorConfig, SimulatorThread
from tests.live import LiveServer, free_port, live_server, smart_env

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None, reason="needs bash and curl"
)

DEALER = "0599ROGAIKOPITA"
CLIENT = "sim_client"


def smart(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        cwd=home,
        timeout=120,
        check=False,
    )


def agent_env() -> dict[str, str]:
    """A plain environment for the agent scripts: no proxy variables leaking in from the test host."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "LANG": "C.UTF-8"}


def bash(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=120, env=agent_env(), check=False
    )


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(installations=1, online=0, control_port=None)) as running:
        yield running


@pytest.fixture
def prepared(tmp_path: Path, simulator: SimulatorThread) -> tuple[Path, dict[str, str], str]:
    """A SMART home with a dealer, its token and a client imported from a list: (home, env, token)."""
    home = tmp_path / "smart"
    home.mkdir()
    env = smart_env(home, free_port())
    assert smart(home, env, "db", "upgrade").returncode == 0
    added = smart(home, env, "dealer", "add", DEALER, "--name", "Рога и копыта")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert smart(home, env, "cabinet", "add", DEALER, "Главный").returncode == 0
    login, password = simulator.describe(0)["credentials"]["sysmon"]
    lists = home / "closed.csv"
    lists.write_text(
        "Клиент;Менеджер;E-mail;Тестовый логин;Тестовый пароль\n"
        f"{CLIENT};Иванов;ivanov@rogaikopita.ru;{login};{password}\n",
        encoding="cp1251",
    )
    imported = smart(home, env, "import", str(lists), "--dealer", DEALER)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    return home, env, token


def make_kit(
    home: Path, env: dict[str, str], server: LiveServer, simulator: SimulatorThread, token: str, out: Path
) -> Path:
    made = smart(
        home,
        env,
        "agent",
        "kit",
        CLIENT,
        "--dealer",
        DEALER,
        "--os",
        "linux",
        "--out",
        str(out),
        "--token",
        token,
        "--server-url",
        server.url,
        "--pk",
        simulator.url(0),
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return out


def landed(server: LiveServer, token: str, name: str) -> int:
    response = httpx.head(
        f"{server.url}/files/{name}", params={"token": token}, headers={"upload": "yes", "dealer": DEALER}
    )
    return response.status_code


def test_a_generated_linux_kit_delivers_the_report_to_a_live_server(
    prepared: tuple[Path, dict[str, str], str], simulator: SimulatorThread, tmp_path: Path
) -> None:
    home, env, token = prepared
    with live_server(home / "server", env=env, port=int(env["SMART_PORT"])) as server:
        kit = make_kit(home, env, server, simulator, token, tmp_path / "kit")
        assert landed(server, token, f"{CLIENT}.zip") == 404

        upload = bash(kit / "smartupload.sh")

        assert upload.returncode == 0, upload.stderr
        assert f"отчёт {CLIENT}.zip отправлен в SMART" in upload.stdout
        assert (kit / f"{CLIENT}.zip").stat().st_size > 0 and (kit / "cookies.txt").exists()
        assert landed(server, token, f"{CLIENT}.zip") == 200

        # the README's own self-check command, run as the distributor would
        readme = (kit / "README-ru.txt").read_text(encoding="utf-8")
        command = re.search(r"^\s+(curl -I .+)$", readme, re.M).group(1)  # type: ignore[union-attr]
        check = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60, env=agent_env(), check=False
        )
        assert check.stdout.startswith("HTTP/1.1 200 OK"), check.stdout + check.stderr


def test_the_generated_smartstatus_sends_the_metrics_with_the_servers_date(
    prepared: tuple[Path, dict[str, str], str], simulator: SimulatorThread, tmp_path: Path
) -> None:
    home, env, token = prepared
    with live_server(home / "server", env=env, port=int(env["SMART_PORT"])) as server:
        kit = make_kit(home, env, server, simulator, token, tmp_path / "kit")

        status = bash(kit / "smartstatus.sh")

        assert status.returncode == 0, status.stderr
        sent = (kit / f"{CLIENT}.status").read_text(encoding="utf-8")
        assert re.match(r"date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\n", sent)
        assert landed(server, token, f"{CLIENT}.status") == 200


def test_a_kit_with_a_wrong_token_fails_with_code_4_and_says_why(
    prepared: tuple[Path, dict[str, str], str], simulator: SimulatorThread, tmp_path: Path
) -> None:
    home, env, token = prepared
    with live_server(home / "server", env=env, port=int(env["SMART_PORT"])) as server:
        kit = make_kit(home, env, server, simulator, "smt_not-the-right-token", tmp_path / "kit")

        upload = bash(kit / "smartupload.sh")

        assert upload.returncode == 4
        assert "неверный токен или код дистрибьютора" in upload.stderr
        assert landed(server, token, f"{CLIENT}.zip") == 404
