"""Agent kits: the documented commands, readable failures, schedules for Task Scheduler, systemd and cron."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from defusedxml import ElementTree as ET

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.kits import (
    KitError,
    KitRequest,
    QuietWindow,
    build_kit,
    check_proxy,
    normalize_pk_url,
    request_for_client,
    run_minute,
    write_kit,
)
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from tests.onboarding.conftest import Dealer
from tests.onboarding.helpers import run, text_source

TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def kit(os: str, **changes: object) -> dict[str, bytes]:
    fields: dict[str, object] = {
        "dealer": "0599ROGAIKOPITA",
        "client": "599_private",
        "os": os,
        "server_url": "http://smart.example.ru",
        "token": "smt_TOKEN-1234567890",
        "pk_url": "http://127.0.0.1:80",
        "pk_login": "smartlogin",
        "pk_password": "Pa%ss&wo'rd",
    }
    fields.update(changes)
    return build_kit(KitRequest(**fields))  # type: ignore[arg-type]


def test_a_windows_kit_has_both_scripts_both_tasks_and_a_russian_readme() -> None:
    files = kit("windows")

    assert sorted(files) == [
        "README-ru.txt",
        "smartstatus-task.xml",
        "smartstatus.bat",
        "smartupload-task.xml",
        "smartupload.bat",
    ]
    for name in ("smartupload.bat", "smartstatus.bat", "README-ru.txt"):
        assert b"\r\n" in files[name] and b"\n" not in files[name].replace(b"\r\n", b""), f"{name} needs CRLF"


def test_the_bat_scripts_keep_the_documented_commands_with_the_values_filled_in() -> None:
    upload = kit("windows")["smartupload.bat"].decode("utf-8")
    status = kit("windows")["smartstatus.bat"].decode("utf-8")

    assert upload.startswith("@echo off\r\nchcp 65001 >nul\r\n")
    assert 'set "CLIENT=599_private"' in upload and 'set "DEALER=0599ROGAIKOPITA"' in upload
    assert (
        'set "TOKEN=smt_TOKEN-1234567890"' in upload and 'set "SMART_URL=http://smart.example.ru"' in upload
    )
    assert (
        '"%CURL%" -A "smartdownload" -k -L -c cookies.txt -b cookies.txt -d "type=zip" '
        '"%PK_URL%/sysinfo/si_save_request"' in upload
    )
    assert (
        '-H "upload: yes" -H "dealer: %DEALER%" -F "file=@%CLIENT%.zip" "%SMART_URL%/upload?token=%TOKEN%"'
        in upload
    )
    assert re.search(r"exit /b %ERRCODE%", upload)
    # the password's % is doubled so that cmd keeps it; & stays literal inside the quotes
    assert 'set "PK_PASSWORD=Pa%%ss&wo\'rd"' in status
    assert '-u "%PK_LOGIN%:%PK_PASSWORD%" "%PK_URL%/sysmon/metrics"' in status
    assert 'findstr /i /b /c:"date:"' in status and '-F "file=@%CLIENT%.status"' in status


def test_a_password_with_a_quote_cannot_go_into_a_bat_file() -> None:
    with pytest.raises(KitError, match="кавычку"):
        kit("windows", pk_password='with"quote')


def task(files: dict[str, bytes], name: str) -> ET.Element:
    data = files[name]
    assert data.startswith(b"\xff\xfe"), "Task Scheduler exports UTF-16 with a byte order mark"
    assert b"\r\x00\n\x00" in data
    return ET.fromstring(data.decode("utf-16").replace('encoding="UTF-16"', ""))


def test_the_scheduler_tasks_have_the_documented_settings() -> None:
    files = kit("windows", install_dir="C:\\smart")
    upload, status = task(files, "smartupload-task.xml"), task(files, "smartstatus-task.xml")

    def text(root: ET.Element, path: str) -> str | None:
        return root.findtext(path, namespaces=TASK_NS)

    for root in (upload, status):
        assert text(root, "t:Principals/t:Principal/t:RunLevel") == "HighestAvailable"
        assert text(root, "t:Principals/t:Principal/t:LogonType") == "Password"  # whether logged on or not
        assert text(root, "t:Settings/t:Hidden") == "true"
        assert text(root, "t:Settings/t:MultipleInstancesPolicy") == "IgnoreNew"
        assert text(root, "t:Settings/t:StartWhenAvailable") == "true"
        assert text(root, "t:Settings/t:RestartOnFailure/t:Count") == "3"
        assert text(root, "t:Actions/t:Exec/t:WorkingDirectory") == "C:\\smart"
        assert text(root, "t:Triggers/t:CalendarTrigger/t:ScheduleByDay/t:DaysInterval") == "1"
    assert text(upload, "t:Actions/t:Exec/t:Command") == '"C:\\smart\\smartupload.bat"'
    assert text(upload, "t:Triggers/t:CalendarTrigger/t:Repetition/t:Interval") == "PT1H"
    assert text(status, "t:Triggers/t:CalendarTrigger/t:Repetition/t:Interval") == "PT15M"
    assert text(upload, "t:Settings/t:RestartOnFailure/t:Interval") == "PT5M"
    assert text(status, "t:Settings/t:RestartOnFailure/t:Interval") == "PT1M"
    minute = run_minute("0599ROGAIKOPITA", "599_private")
    assert text(upload, "t:Triggers/t:CalendarTrigger/t:StartBoundary") == f"2026-01-01T00:{minute:02d}:00"
    assert text(upload, "t:Triggers/t:CalendarTrigger/t:Repetition/t:Duration") == "P1D"


def test_the_tasks_skip_the_installations_backup_window() -> None:
    files = kit("windows", quiet_window=QuietWindow.parse("02:00-04:30"))
    upload = task(files, "smartupload-task.xml")
    trigger = "t:Triggers/t:CalendarTrigger/"

    start = upload.findtext(trigger + "t:StartBoundary", namespaces=TASK_NS) or ""
    duration = upload.findtext(trigger + "t:Repetition/t:Duration", namespaces=TASK_NS)

    # hours 2, 3 and 4 touch the window: the first run is at 05:MM, the last one 20 hours later
    assert start.startswith("2026-01-01T05:")
    assert duration == "PT20H30M"
    assert "окно обслуживания ПК 02:00–04:30" in files["README-ru.txt"].decode("utf-8-sig")


def test_a_linux_kit_has_scripts_systemd_units_cron_and_a_readme() -> None:
    files = kit("linux", quiet_window=QuietWindow.parse("23:30-01:00"))

    assert sorted(files) == [
        "README-ru.txt",
        "crontab.txt",
        "smartstatus.service",
        "smartstatus.sh",
        "smartstatus.timer",
        "smartupload.service",
        "smartupload.sh",
        "smartupload.timer",
    ]
    upload = files["smartupload.sh"].decode()
    assert upload.startswith("#!/usr/bin/env bash\n") and b"\r" not in files["smartupload.sh"]
    assert (
        '"$CURL" -A "smartdownload" -k -L -c cookies.txt -b cookies.txt -d "type=zip" '
        '"$PK_URL/sysinfo/si_save_request"' in upload
    )
    assert (
        '-H "upload: yes" -H "dealer: $DEALER" -F "file=@$REPORT" "$SMART_URL/upload?token=$TOKEN"' in upload
    )
    assert "PK_PASSWORD='Pa%ss&wo'\"'\"'rd'" in files["smartstatus.sh"].decode()
    service = files["smartupload.service"].decode()
    assert "WorkingDirectory=/opt/smart\n" in service and "ExecStart=/opt/smart/smartupload.sh\n" in service
    minute = run_minute("0599ROGAIKOPITA", "599_private")
    # 23:30–01:00 touches hours 23 and 0
    assert f"OnCalendar=*-*-* 01..22:{minute:02d}:00\n" in files["smartupload.timer"].decode()
    cron = files["crontab.txt"].decode().splitlines()
    assert cron[1] == f"{minute} 1-22 * * * cd /opt/smart && ./smartupload.sh >> smartupload.log 2>&1"
    assert cron[2].startswith(",".join(str(m) for m in range(minute % 15, 60, 15)) + " 1-22 * * * ")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_timer_calendar_and_it_avoids_the_window() -> None:
    timer = kit("linux", quiet_window=QuietWindow.parse("02:00-04:00"))["smartstatus.timer"].decode()
    calendar = re.search(r"^OnCalendar=(.+)$", timer, re.M).group(1)  # type: ignore[union-attr]

    result = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=40", calendar],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    hours = {int(h) for h in re.findall(r"\d{4}-\d\d-\d\d (\d\d):\d\d:\d\d", result.stdout)}
    assert len(hours) > 5 and not hours & {2, 3}


def test_the_readme_explains_installation_self_check_and_security() -> None:
    readme = kit("linux")["README-ru.txt"].decode()

    for fragment in (
        "sudo systemctl enable --now smartupload.timer smartstatus.timer",
        'curl -I -H "upload: yes" -H "dealer: 0599ROGAIKOPITA" '
        '"http://smart.example.ru/files/599_private.zip?token=smt_TOKEN-1234567890"',
        "ДЛЯ СЛУЖБЫ ИНФОРМАЦИОННОЙ БЕЗОПАСНОСТИ",
        "раз в час",
        "раз в 15 минут",
        "исходящие",
        "http://smart.example.ru",
    ):
        assert fragment in readme, fragment
    windows = kit("windows")["README-ru.txt"].decode("utf-8-sig")
    assert (
        'schtasks /create /tn "SMART\\smartupload-599_private" /xml smartupload-task.xml /ru SYSTEM'
        in windows
    )


def test_without_a_token_the_kit_keeps_the_placeholder_and_says_so() -> None:
    files = kit("linux", token=None, pk_login=None, pk_password=None)

    assert "TOKEN='ТОКЕНБЕЗОПАСНОСТИ'" in files["smartupload.sh"].decode()
    readme = files["README-ru.txt"].decode()
    assert "впишите токен загрузки" in readme and "впишите логин и пароль" in readme


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: QuietWindow.parse("2-4"), "ЧЧ:ММ-ЧЧ:ММ"),
        (lambda: QuietWindow.parse("00:00-23:00"), "4 часа"),
        (lambda: check_proxy("proxy with space:80"), "прокси"),
        (lambda: normalize_pk_url("127.0.0.1:80/docs"), "адрес ПК"),
    ],
)
def test_unusable_kit_parameters_are_explained(call: object, message: str) -> None:
    with pytest.raises(KitError, match=message):
        call()  # type: ignore[operator]


def test_a_kit_is_made_from_the_clients_rows(db: Database, box: SecretBox, dealer: Dealer) -> None:
    closed = "Клиент;Менеджер;E-mail;Тестовый логин;Тестовый пароль\n"
    closed += "romashka;Иванов;iv@x.ru;smartlogin;Sec-ret-1\n"
    run(db, box, text_source("closed.csv", closed))

    with db.session() as s:
        found = admin.find_dealer(s, dealer.code)
        request = request_for_client(
            s, box, found, "romashka", "linux", server_url="https://smart.example.ru/"
        )
        with pytest.raises(KitError, match="не найден"):
            request_for_client(s, box, found, "nobody", "linux", server_url="https://smart.example.ru")

    assert (request.pk_login, request.pk_password, request.server_url) == (
        "smartlogin",
        "Sec-ret-1",
        "https://smart.example.ru",
    )


# -- the bash scripts, run for real -----------------------------------------------------------------

needs_bash = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None, reason="needs bash and curl"
)


def bash(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "LANG": "C.UTF-8"}
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_bash
def test_the_scripts_pass_bash_syntax_check_and_show_their_usage(tmp_path: Path) -> None:
    write_kit(kit("linux"), tmp_path)

    for name in ("smartupload.sh", "smartstatus.sh"):
        assert subprocess.run(["bash", "-n", str(tmp_path / name)], check=False).returncode == 0
        assert (tmp_path / name).stat().st_mode & 0o111
        usage = bash(tmp_path / name, "-h")
        assert usage.returncode == 0 and "-t ПРОКСИ:ПОРТ" in usage.stdout


@needs_bash
def test_an_unreachable_installation_ends_the_script_with_code_3_and_a_reason(tmp_path: Path) -> None:
    write_kit(kit("linux", pk_url=f"http://127.0.0.1:{closed_port()}"), tmp_path)

    upload = bash(tmp_path / "smartupload.sh")
    status = bash(tmp_path / "smartstatus.sh")

    assert (
        upload.returncode == 3 and "ПК (http://127.0.0.1:" in upload.stderr and "недоступен" in upload.stderr
    )
    assert status.returncode == 3 and "недоступен" in status.stderr


@needs_bash
def test_a_kit_without_a_token_refuses_to_upload_but_can_save_the_report(tmp_path: Path) -> None:
    write_kit(kit("linux", token=None, pk_login=None, pk_password=None), tmp_path)

    status = bash(tmp_path / "smartstatus.sh")

    assert status.returncode == 2 and "логин и пароль" in status.stderr
