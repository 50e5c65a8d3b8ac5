"""The manual's agent commands, run unchanged with the real curl binary (spec/ingest-and-agents.md §3).

Only the placeholders are replaced: АДРЕСПК:ПОРТ → the simulator's 127.0.0.1:port, НАЗВАНИЕКЛИЕНТА → the
client name, ЛОГИН:ПАРОЛЬ → the test user. Windows ``find "date:"`` becomes ``grep date:``.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from kodeks_smart.simulator import SimulatorThread

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def address(sim: SimulatorThread) -> str:
    return sim.url(0).removeprefix("http://")


def test_smartupload_command_from_the_brief_downloads_the_zip(sim: SimulatorThread, tmp_path: Path) -> None:
    client = sim.describe(0)["client"]
    command = (
        f'curl -A "smartdownload" -k -L -c cookies.txt -b cookies.txt -d "type=zip" -o {client}.zip '
        f"http://{address(sim)}/sysinfo/si_save_request"
    )

    result = run(command, tmp_path)

    assert result.returncode == 0, result.stderr
    archive = zipfile.ZipFile(io.BytesIO((tmp_path / f"{client}.zip").read_bytes()))
    assert any(name.endswith(".xml") for name in archive.namelist())
    assert "KodeksData" in (tmp_path / "cookies.txt").read_text()


def test_smartupload_2026_template_line_works_and_shows_the_observed_headers(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    client = sim.describe(0)["client"]
    command = (
        f'curl -A "smartdownload" -k --no-progress-meter -v -d "type=zip" --no-progress-meter -L '
        f"-c cookies.txt -b cookies.txt -o {client}.zip http://{address(sim)}/sysinfo/si_save_request"
    )

    first = run(command, tmp_path)
    second = run(command, tmp_path)  # the next hourly run sends the cookies it kept

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "> Cookie: " in second.stderr and "KodeksData=" in second.stderr
    for line in (
        "< HTTP/1.1 200 OK",
        "< X-Powered-By: Express",
        "< Server: WWW-Kodeks/6.4",
        "< Connection: close",
        "< Transfer-Encoding: chunked",
        "> Content-Type: application/x-www-form-urlencoded",
        "> Content-Length: 8",
    ):
        assert line in second.stderr, line
    assert re.search(r"< Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d UTC", second.stderr)
    assert re.search(
        r'< Content-Disposition: attachment; filename="report_\d+_\d+_\d{8}_\d{4}\.zip"', second.stderr
    )
    zipfile.ZipFile(tmp_path / f"{client}.zip").testzip()


def test_smartupload_follows_the_cookie_redirect(sim: SimulatorThread, tmp_path: Path) -> None:
    sim.set_state(0, cookie_redirect=True)
    command = (
        f'curl -A "smartdownload" -k -v -L -c cookies.txt -b cookies.txt -d "type=zip" -o client.zip '
        f"http://{address(sim)}/sysinfo/si_save_request"
    )

    result = run(command, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "< HTTP/1.1 307 Temporary Redirect" in result.stderr
    assert "Issue another request to this URL" in result.stderr
    assert result.stderr.count("> POST /sysinfo/si_save_request") == 2
    zipfile.ZipFile(tmp_path / "client.zip").testzip()


def test_linux_smartupload_without_type_zip_gets_xml(sim: SimulatorThread, tmp_path: Path) -> None:
    command = (
        f'curl -A "smartdownload" -k -v -L -c cookies.txt -b cookies.txt -X POST -o client.xml '
        f"http://{address(sim)}/sysinfo/si_save_request"
    )

    result = run(command, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "< Content-Type: text/xml; charset=utf-8" in result.stderr
    etree.parse(str(tmp_path / "client.xml"))


def test_smartstatus_commands_write_the_date_line_and_the_metrics(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    client = sim.describe(0)["client"]
    login = "smartlogin:smartpass"
    url = f"http://{address(sim)}/sysmon/metrics"
    commands = [
        f"rm -f {client}.status",
        f'curl -i -A "smartdownload" -k -v -L -c cookies.txt -b cookies.txt -u {login} {url} '
        f'| grep "date:" >> {client}.status',
        f'curl -A "smartdownload" -k -v -L -c cookies.txt -b cookies.txt -u {login} {url} >> {client}.status',
    ]

    for command in commands:
        result = run(command, tmp_path)
        assert result.returncode == 0, (command, result.stderr)

    lines = (tmp_path / f"{client}.status").read_text().splitlines()
    assert re.fullmatch(r"date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r?", lines[0])
    assert lines[1].startswith("# HELP ")
    assert 'kserver_up{service="kodweb"} 1' in lines


def test_smartstatus_without_credentials_gets_401(sim: SimulatorThread, tmp_path: Path) -> None:
    result = run(f'curl -s -o /dev/null -w "%{{http_code}}" http://{address(sim)}/sysmon/metrics', tmp_path)

    assert result.stdout == "401"


def test_legacy_smartstatus_reads_sysinfo_metrics(sim: SimulatorThread, tmp_path: Path) -> None:
    command = (
        'curl -A "smartdownload" -k -v -L -c cookies.txt -b cookies.txt -o client.status '
        f"{address(sim)}/sysinfo/metrics"
    )

    result = run(command, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "< Content-Type: text/plain; version=0.0.4; charset=utf-8" in result.stderr
    text = (tmp_path / "client.status").read_text()
    assert text.startswith("# Sysinfo metrics\n# Path /docs\n")
    assert text.endswith("# End\n")
