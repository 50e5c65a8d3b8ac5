"""``smart import``, ``smart template`` and ``smart agent kit`` as a distributor's operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import smart_env
from tests.onboarding.helpers import DATA, excel_csv

DEALER = "0599ROGAIKOPITA"


def smart(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080), "COLUMNS": "200"},
        cwd=home,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    assert smart(path, "db", "upgrade").returncode == 0
    assert smart(path, "dealer", "add", DEALER, "--name", "Рога и копыта").returncode == 0
    assert smart(path, "cabinet", "add", DEALER, "Главный").returncode == 0
    return path


def test_import_shows_the_plan_in_a_dry_run_then_applies_it(home: Path) -> None:
    lists = home / "managers.csv"
    lists.write_bytes(excel_csv((DATA / "managers_EXAMPLE_04_2026.csv").read_text("utf-8")))

    dry = smart(home, "import", str(lists), "--dealer", DEALER, "--dry-run")
    applied = smart(home, "import", str(lists), "--dealer", DEALER)
    again = smart(home, "import", str(lists), "--dealer", DEALER, "--json")

    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "CSV, Windows-1251, разделитель «;»" in dry.stdout
    assert "+ установка клиента 599_private (агенты)" in dry.stdout
    assert "Пробный запуск (--dry-run): ничего не изменено" in dry.stdout
    assert applied.returncode == 0 and "Готово: добавлено 8" in applied.stdout
    report = json.loads(again.stdout)
    assert report["ok"] and report["counts"]["unchanged"] == 8 and report["changes"] == []


def test_a_rejected_import_exits_1_and_lists_every_problem(home: Path) -> None:
    lists = home / "bad.csv"
    lists.write_text(
        "Клиент;Менеджер;E-mail\nРомашка;Иванов;iv@x.ru\nvasilek;Петров;petrov@\nok_client;;\n",
        encoding="utf-8",
    )

    result = smart(home, "import", str(lists), "--dealer", DEALER)

    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("  ✗ ")]
    assert [p.split(":")[0] for p in problems] == [
        "  ✗ bad.csv, строка 2, столбец 1 «Клиент»",
        "  ✗ bad.csv, строка 3, столбец 3 «E-mail»",
        "  ✗ bad.csv, строка 4, столбец 2 «Менеджер»",
    ]
    assert "Импорт отклонён: 3 ошибки" in result.stdout


def test_an_unknown_dealer_is_an_error_with_code_2(home: Path) -> None:
    result = smart(home, "import", str(DATA / "online_example.csv"), "--dealer", "NOBODY")

    assert result.returncode == 2
    assert "не найден" in result.stderr


def test_templates_are_written_where_asked(home: Path) -> None:
    csv_result = smart(home, "template", "online", "--format", "csv", "--out", str(home / "online.csv"))
    xlsx_result = smart(home, "template", "all")
    original = smart(home, "template", "original-managers-9")

    assert csv_result.returncode == 0
    assert (home / "online.csv").read_text("utf-8-sig").startswith("Фирма;Клиент;Логин;Пароль")
    assert xlsx_result.returncode == 0 and (home / "smart-all.xlsx").read_bytes().startswith(b"PK")
    assert original.returncode == 0 and (home / "managers_example.csv").exists()
    assert smart(home, "template", "nonsense").returncode == 2


def test_agent_kit_writes_the_files_and_reminds_about_the_token(home: Path) -> None:
    lists = home / "closed.csv"
    lists.write_text("Клиент;Менеджер;E-mail\nkit_client;Иванов;iv@x.ru\n", encoding="utf-8")
    assert smart(home, "import", str(lists), "--dealer", DEALER).returncode == 0

    result = smart(
        home, "agent", "kit", "kit_client", "--dealer", DEALER, "--os", "windows", "--out", str(home / "kit"),
        "--quiet-window", "01:00-03:00",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "smartupload-task.xml" in result.stdout and "ТОКЕНБЕЗОПАСНОСТИ" in result.stdout
    assert (home / "kit" / "smartupload.bat").read_bytes().count(b"\r\n") > 20
    missing = smart(
        home, "agent", "kit", "ghost", "--dealer", DEALER, "--os", "linux", "--out", str(home / "x")
    )
    assert missing.returncode == 2 and "не найден" in missing.stderr
