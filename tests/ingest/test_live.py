"""Against a real `smart serve`: the documented agent commands with the real curl, and SIGKILL in a burst."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml, generate_zip
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import CatalogHealthFact, IngestTask, SysinfoReportRow, Upload
from tests.conftest import Tenants
from tests.ingest.conftest import DEALER, status_body
from tests.live import free_port, live_server, smart_env

NOW = datetime.now(UTC).replace(microsecond=0)

# The agents' upload lines exactly as the manual prints them (spec/ingest-and-agents.md §3.2, §3.3, §3.5,
# §3.6); only the placeholders and the SMART host are replaced.
SMARTUPLOAD_2026 = (
    'curl --no-progress-meter -H "upload: yes" -H "dealer: ИМЯДИСТРИБЬЮТОРА" -v -Ffile=@ИМЯКЛИЕНТА.zip  '
    '"http://smart.uniclass.ru/upload?token=ТОКЕНБЕЗОПАСНОСТИ"'
)
SMARTUPLOAD_LEGACY = (
    'curl --no-progress-meter -H "upload: yes" -H "dealer: ИМЯДИСТРИБЬЮТОРА" -v -Ffile=@НАЗВАНИЕКЛИЕНТА.zip  '
    '"http://smart.uniclass.ru/upload?token=ТОКЕНБЕЗОПАСНОСТИ"'
)
SMARTUPLOAD_LINUX = SMARTUPLOAD_2026.replace("ИМЯКЛИЕНТА.zip", "ИМЯКЛИЕНТА.xml")
SMARTSTATUS_2026 = (
    'curl -H "upload: yes" -H "dealer: ИМЯДИСТРИБЬЮТОРА" -v -Ffile=@ИМЯКЛИЕНТА.status  '
    '"http://smart.uniclass.ru/upload?token=ТОКЕНБЕЗОПАСНОСТИ"'
)
VERIFY = (
    'curl -H "upload: yes" -H "dealer: ИМЯДИСТРИБЬЮТОРА" -I '
    "'http://smart.uniclass.ru/files/ИМЯКЛИЕНТА.xml?token=ТОКЕНБЕЗОПАСНОСТИ'"
)

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")


def _fill(line: str, url: str, token: str, client: str) -> list[str]:
    for placeholder, value in (
        ("http://smart.uniclass.ru", url),
        ("ИМЯДИСТРИБЬЮТОРА", DEALER),
        ("ТОКЕНБЕЗОПАСНОСТИ", token),
        ("ИМЯКЛИЕНТА", client),
        ("НАЗВАНИЕКЛИЕНТА", client),
    ):
        line = line.replace(placeholder, value)
    return shlex.split(line)


def _wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError("condition not reached")


def _drained(db: Database) -> bool:
    with db.session() as s:
        queued = s.scalar(select(func.count()).select_from(Upload).where(Upload.status == "queued"))
        tasks = s.scalar(select(func.count()).select_from(IngestTask))
    return queued == 0 and tasks == 0


@needs_curl
def test_the_documented_agent_commands_work_unchanged(tmp_path: Path, db: Database, tenants: Tenants) -> None:
    agent_dir = tmp_path / "smartupload"
    agent_dir.mkdir()
    (agent_dir / "alpha_client.zip").write_bytes(
        generate_zip(SysinfoProfile("alpha_client", users=5, now=NOW))
    )
    (agent_dir / "beta_client.xml").write_bytes(generate_xml(SysinfoProfile("beta_client", users=5, now=NOW)))
    (agent_dir / "alpha_client.status").write_bytes(status_body())
    with live_server(
        tmp_path / "server", env=smart_env(tmp_path / "server", port := free_port(), db.url), port=port
    ) as srv:

        def run(line: str, client: str) -> subprocess.CompletedProcess[bytes]:
            argv = _fill(line, srv.url, tenants.token, client)
            return subprocess.run(argv, cwd=agent_dir, capture_output=True, timeout=60, check=False)

        before = run(VERIFY, "beta_client")
        assert b"HTTP/1.1 404 Not Found" in before.stdout
        for line, client, name in (
            (SMARTUPLOAD_2026, "alpha_client", "alpha_client.zip"),
            (SMARTUPLOAD_LEGACY, "alpha_client", "alpha_client.zip"),
            (SMARTUPLOAD_LINUX, "beta_client", "beta_client.xml"),
            (SMARTSTATUS_2026, "alpha_client", "alpha_client.status"),
        ):
            result = run(line, client)
            assert result.returncode == 0, result.stderr.decode(errors="replace")
            expected = b'{"ok":true,"path":"/files/' + name.encode() + b'"}'
            assert result.stdout == expected
            verbose = result.stderr.decode(errors="replace").lower()
            assert "< http/1.1 200 ok" in verbose
            assert "< content-type: text/plain; charset=utf-8" in verbose
            assert f"< content-length: {len(expected)}" in verbose
        after = run(VERIFY, "beta_client")
        assert after.stdout.startswith(b"HTTP/1.1 200 OK")
        _wait_until(lambda: _drained(db))
    with db.session() as s:
        statuses = dict(s.execute(select(Upload.filename, Upload.status)).all())
        received = dict(s.execute(select(Upload.filename, Upload.received_count)).all())
    assert statuses == {"alpha_client.zip": "done", "beta_client.xml": "done", "alpha_client.status": "done"}
    assert received["alpha_client.zip"] == 2  # the legacy line sent the same file again


def _payloads(count: int) -> list[tuple[str, bytes]]:
    """Distinct files: mostly status files, every tenth a small sysinfo report."""
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        client = ("alpha_client", "beta_client")[i % 2]
        if i % 10 == 9:
            profile = SysinfoProfile(client, users=3, days=1, now=NOW - timedelta(minutes=i))
            out.append((f"{client}.zip", generate_zip(profile)))
        else:
            stamp = format_datetime(NOW - timedelta(seconds=i), usegmt=True)
            out.append((f"{client}.status", status_body(sessions=i, date=stamp)))
    return out


def test_sigkill_in_a_burst_loses_no_acknowledged_upload_and_processes_each_once(
    tmp_path: Path, db: Database, tenants: Tenants
) -> None:
    home = tmp_path / "server"
    port = free_port()
    env = smart_env(home, port, db.url)
    payloads = _payloads(200)
    acked: list[str] = []
    failed: list[int] = []
    lock = threading.Lock()
    with live_server(home, env=env, port=port) as srv:
        kill_at = 70

        def send(item: tuple[int, tuple[str, bytes]]) -> None:
            index, (name, data) = item
            try:
                with httpx.Client(timeout=30) as client:
                    response = client.post(
                        f"{srv.url}/upload",
                        params={"token": tenants.token},
                        headers={"upload": "yes", "dealer": DEALER},
                        files={"file": (name, data)},
                    )
            except httpx.HTTPError:
                with lock:
                    failed.append(index)
                return
            with lock:
                if response.status_code == 200:
                    acked.append(hashlib.sha256(data).hexdigest())
                    if len(acked) == kill_at:
                        srv.process.send_signal(signal.SIGKILL)
                else:
                    failed.append(index)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(send, enumerate(payloads)))
        srv.process.wait(timeout=30)
        assert srv.process.returncode == -signal.SIGKILL
    assert kill_at <= len(acked) < len(payloads) and failed, "the kill must land in the middle of the burst"
    with live_server(home, env=env, port=port):
        _wait_until(lambda: _drained(db), timeout=120)
    with db.session() as s:
        rows = {u.sha256: u for u in s.scalars(select(Upload))}
        facts = dict(
            s.execute(
                select(CatalogHealthFact.upload_id, func.count()).group_by(CatalogHealthFact.upload_id)
            ).all()
        )
        reports = dict(
            s.execute(
                select(SysinfoReportRow.upload_id, func.count()).group_by(SysinfoReportRow.upload_id)
            ).all()
        )
    for sha in acked:
        upload = rows.get(sha)
        assert upload is not None, "an acknowledged upload was lost"
        assert (upload.status, upload.processed_count) == ("done", 1), upload.error
        if upload.fmt == "status":
            assert facts[upload.id] == 2
        else:
            assert reports[upload.id] == 1
    assert all(u.processed_count == 1 for u in rows.values())  # unacknowledged but recorded: once too
