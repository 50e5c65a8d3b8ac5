"""`smart upload`, `smart uploads` and `smart reprocess`, run as real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from kodeks_smart.simulator.sysinfo import SysinfoProfile, write_report
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoReportRow, Upload
from tests.conftest import Tenants
from tests.ingest.conftest import DEALER
from tests.live import smart_env


def smart(home: Path, db: Database, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080, db.url), "COLUMNS": "250"},
        cwd=home,
        timeout=120,
        check=False,
    )


def test_a_report_carried_out_of_a_closed_network_is_uploaded_and_processed(
    tmp_path: Path, db: Database, tenants: Tenants
) -> None:
    report = tmp_path / "report_0599_123456_20260420_1048.zip"
    write_report(SysinfoProfile("alpha_client", users=5, days=1), report)
    result = smart(tmp_path, db, "upload", str(report), "--dealer", DEALER, "--client", "alpha_client")
    assert result.returncode == 0, result.stderr
    assert "alpha_client.zip принят" in result.stdout and "Обработан" in result.stdout
    with db.session() as s:
        upload = s.scalars(select(Upload)).one()
        assert (upload.filename, upload.source, upload.status) == ("alpha_client.zip", "manual", "done")
        assert s.scalars(select(SysinfoReportRow)).one().upload_id == upload.id
    again = smart(tmp_path, db, "upload", str(report), "--dealer", DEALER, "--client", "alpha_client")
    assert "уже был загружен" in again.stdout


def test_an_unknown_client_goes_to_quarantine_and_shows_in_the_log(
    tmp_path: Path, db: Database, tenants: Tenants
) -> None:
    status = tmp_path / "metrics.status"
    status.write_bytes(b"kserver_up 1\n")
    result = smart(tmp_path, db, "upload", str(status), "--dealer", DEALER, "--client", "newcomer")
    assert result.returncode == 0 and "карантин" in result.stdout
    listing = smart(tmp_path, db, "uploads", "--status", "quarantined")
    assert "newcomer.status" in listing.stdout and DEALER in listing.stdout


def test_reprocess_rebuilds_a_dealers_uploads(tmp_path: Path, db: Database, tenants: Tenants) -> None:
    status = tmp_path / "x.status"
    status.write_bytes(b"kserver_up 1\n")
    assert (
        smart(tmp_path, db, "upload", str(status), "--dealer", DEALER, "--client", "beta_client").returncode
        == 0
    )
    result = smart(tmp_path, db, "reprocess", "--dealer", DEALER, "--since", "2020-01-01")
    assert result.returncode == 0, result.stderr
    assert "Поставлено в очередь: 1" in result.stdout and "Обработано: 1" in result.stdout
    with db.session() as s:
        assert s.scalars(select(Upload.processed_count)).one() == 2


def test_wrong_input_is_explained_in_russian(tmp_path: Path, db: Database, tenants: Tenants) -> None:
    status = tmp_path / "x.status"
    status.write_bytes(b"kserver_up 1\n")
    unknown = smart(tmp_path, db, "upload", str(status), "--dealer", "NOSUCH", "--client", "beta_client")
    assert unknown.returncode == 2 and "не найден" in unknown.stderr
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    wrong_type = smart(tmp_path, db, "upload", str(txt), "--dealer", DEALER, "--client", "beta_client")
    assert wrong_type.returncode == 2 and "Неподдерживаемый тип файла" in wrong_type.stderr
    assert smart(tmp_path, db, "reprocess", "--dealer", "NOSUCH").returncode == 2
