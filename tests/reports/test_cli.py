"""`smart report …` run as real processes against the test store."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

from kodeks_smart.store.db import Database
from tests.conftest import Tenants
from tests.live import smart_env
from tests.reports.helpers import Built


def smart(db: Database, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", "report", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080, database_url=db.url), "COLUMNS": "250"},
        cwd=home,
        timeout=120,
        check=False,
    )


def test_report_commands_write_files_and_explain_errors(
    db: Database, tenants: Tenants, year: tuple[Built, Built], tmp_path: Path
) -> None:
    alpha, _ = year
    out = tmp_path / "alpha.xlsx"
    done = smart(
        db,
        tmp_path,
        "renewal",
        "--client",
        "alpha_client",
        "--from",
        "2025-12",
        "--to",
        "2026-11",
        "--format",
        "xlsx",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "Готово" in done.stdout
    ws = load_workbook(io.BytesIO(out.read_bytes()))["Пролонгация"]
    assert ws["B1"].value == "Декабрь 2025"

    done = smart(
        db,
        tmp_path,
        "trial",
        "--installation",
        str(alpha.installation_id),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--format",
        "html",
        "--out",
        str(tmp_path / "t.html"),
    )
    assert done.returncode == 0, done.stderr
    assert "Отчёт об апробации" in (tmp_path / "t.html").read_text(encoding="utf-8")

    done = smart(db, tmp_path, "quarterly", "--cabinet", "Филиал А", "--quarter", "2026Q3", "--format", "pdf")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "kvartal-2026Q3.pdf").read_bytes().startswith(b"%PDF")

    done = smart(db, tmp_path, "deliver", "--month", "2026-11", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "Менеджер alpha" in done.stdout and "проверка" in done.stdout

    for args, message in (
        (("renewal", "--client", "nobody"), "клиент «nobody» не найден"),
        (("renewal", "--client", "alpha_client", "--from", "12.2025"), "ожидается ГГГГ-ММ"),
        (("quarterly", "--cabinet", "Филиал А", "--quarter", "2026Q7"), "ожидается ГГГГQN"),
        (("renewal", "--client", "alpha_client", "--format", "docx"), "ожидается pdf, xlsx или html"),
    ):
        failed = smart(db, tmp_path, *args)
        assert failed.returncode == 2, (args, failed.stdout, failed.stderr)
        assert message in failed.stderr
