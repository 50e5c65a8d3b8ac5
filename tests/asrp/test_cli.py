"""`smart asrp …` as an operator runs it: configure with the secret from the environment, show, test, log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.asrp.server import NUMBER, FakeAsrp
from tests.live import smart_env


def smart(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080), "COLUMNS": "250", "SMART_ASRP_ALLOW_PRIVATE": "true", **env},
        cwd=home,
        timeout=120,
        check=False,
    )


def test_configure_show_test_and_log(tmp_path: Path, fake_asrp: FakeAsrp) -> None:
    assert smart(tmp_path, "dealer", "add", "0599ROGAIKOPITA", "--name", "Рога и копыта").returncode == 0
    result = smart(
        tmp_path,
        "asrp",
        "configure",
        "--dealer",
        "0599ROGAIKOPITA",
        "--url",
        fake_asrp.url,
        "--field",
        "dealer={dealer}",
        "--field",
        "reg={regnum}",
        "--auth",
        "bearer",
        "--secret-env",
        "ASRP_TOKEN",
        "--success-regex",
        "Принят",
        "--number-regex",
        r"Номер загрузки: (\w+)",
        ASRP_TOKEN="cli-secret-7",
    )
    assert result.returncode == 0, result.stderr
    shown = smart(tmp_path, "asrp", "show", "--dealer", "0599ROGAIKOPITA")
    assert shown.returncode == 0 and fake_asrp.url in shown.stdout and "задан" in shown.stdout
    assert "cli-secret-7" not in shown.stdout

    tested = smart(tmp_path, "asrp", "test", "--dealer", "0599ROGAIKOPITA")
    assert tested.returncode == 0, tested.stderr
    assert "Принят" in tested.stdout and NUMBER in tested.stdout
    [request] = fake_asrp.requests
    assert request.headers["authorization"] == "Bearer cli-secret-7"
    assert request.fields["dealer"] == "0599ROGAIKOPITA"

    fake_asrp.mode = "error"
    failed = smart(tmp_path, "asrp", "test", "--dealer", "0599ROGAIKOPITA")
    assert failed.returncode == 1 and "временно недоступен" in failed.stderr

    logged = smart(tmp_path, "asrp", "log", "--dealer", "0599ROGAIKOPITA")
    assert logged.returncode == 0 and "Время" in logged.stdout
    assert smart(tmp_path, "asrp", "retry", "--dealer", "0599ROGAIKOPITA").returncode == 0


def test_bad_settings_stop_with_a_russian_message(tmp_path: Path) -> None:
    assert smart(tmp_path, "dealer", "add", "0599ROGAIKOPITA", "--name", "Рога и копыта").returncode == 0
    result = smart(
        tmp_path, "asrp", "configure", "--dealer", "0599ROGAIKOPITA", "--url", "file:///etc/passwd"
    )
    assert result.returncode == 2 and "адрес АСРП" in result.stderr
    unknown = smart(tmp_path, "asrp", "show", "--dealer", "NOSUCHDEALER")
    assert unknown.returncode == 2 and "не найден" in unknown.stderr
