"""Agent kits: ready-to-run smartupload / smartstatus scripts for one client, with their schedules.

A kit is a set of files (name → bytes) rendered from the templates in ``kit_templates/``:

* Windows: ``smartupload.bat``, ``smartstatus.bat`` (CRLF, UTF-8 with ``chcp 65001``), two Task
  Scheduler XML files (UTF-16, importable with ``schtasks /create /xml``) and ``README-ru.txt``;
* Linux: ``smartupload.sh``, ``smartstatus.sh``, a systemd service + timer pair for each, the
  equivalent ``crontab.txt`` and ``README-ru.txt``.

The scripts keep the documented commands (spec §3.2, §3.6) and add what the originals lack: a
readable Russian message and a non-zero exit code on every failure, and an optional proxy. Runs are
placed at a minute derived from the client's name, so that a dealer's agents do not all call at :00,
and outside the installation's backup/restart window when one is given.

The upload token is stored only as a hash, so a kit carries the token only when the caller passes
it; otherwise the documented placeholder ``ТОКЕНБЕЗОПАСНОСТИ`` is left for the distributor to fill.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.lib.secrets import SecretBox, SecretKeyError
from kodeks_smart.store.admin import CLIENT_NAME_PATTERN, AdminError
from kodeks_smart.store.models import Client, Dealer, Installation

OS = Literal["windows", "linux"]
TOKEN_PLACEHOLDER = "ТОКЕНБЕЗОПАСНОСТИ"  # noqa: S105 - the manual's placeholder, not a secret
LOGIN_PLACEHOLDER = "ЛОГИН"
PASSWORD_PLACEHOLDER = "ПАРОЛЬ"  # noqa: S105 - a placeholder
DEFAULT_PK_URL = "http://127.0.0.1:80"
DEFAULT_DIRS: dict[OS, str] = {"windows": "C:\\smart", "linux": "/opt/smart"}
UPLOAD_EVERY_MIN = 60
STATUS_EVERY_MIN = 15


class KitError(AdminError):
    """A kit cannot be made with these parameters; the message is Russian."""


class ClientNotFound(KitError):
    """The dealer has no client with this short name."""


# -- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietWindow:
    """Hours when the installation backs up, restarts or updates: the agents do not run then."""

    start: int  # minutes after midnight
    end: int

    @classmethod
    def parse(cls, text: str) -> QuietWindow:
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*", text)
        if match is None:
            raise KitError(f"окно обслуживания «{text}»: ожидается ЧЧ:ММ-ЧЧ:ММ, например 02:00-04:30")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise KitError(f"окно обслуживания «{text}»: неверное время")
        window = cls(h1 * 60 + m1, (h2 * 60 + m2) % 1440)
        if window.start == window.end or len(window.excluded_hours()) > 20:
            raise KitError(f"окно обслуживания «{text}»: агентам должно оставаться хотя бы 4 часа в сутки")
        return window

    @classmethod
    def around(cls, times: Sequence[str | None], after_minutes: int = 60) -> QuietWindow | None:
        """The window from the installation's first known daily backup/restart time to an hour after
        the last one (the shorter way round the clock); None when no time is known."""
        minutes = sorted(
            int(t[:-3]) * 60 + int(t[-2:]) for t in times if t and re.fullmatch(r"\d{1,2}:\d{2}", t)
        )
        if not minutes:
            return None
        start, last = minutes[0], minutes[-1]
        if last - start > 720:  # e.g. 23:30 and 01:00: the window crosses midnight
            start, last = last, start
        return cls(start, (last + after_minutes) % 1440)

    def excluded_hours(self) -> list[int]:
        """Whole hours that touch the window (the schedules below work in hours)."""
        hours = []
        for hour in range(24):
            begin, end = hour * 60, hour * 60 + 60
            if self.start < self.end:
                inside = begin < self.end and end > self.start
            else:
                inside = end > self.start or begin < self.end
            if inside:
                hours.append(hour)
        return hours

    def describe(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}–{self.end // 60:02d}:{self.end % 60:02d}"


@dataclass(frozen=True)
class KitRequest:
    dealer: str
    client: str
    os: OS
    server_url: str
    token: str | None = None
    pk_url: str = DEFAULT_PK_URL
    pk_login: str | None = None
    pk_password: str | None = None
    proxy: str | None = None
    install_dir: str | None = None
    quiet_window: QuietWindow | None = None
    generated: str = ""

    @property
    def directory(self) -> str:
        return self.install_dir or DEFAULT_DIRS[self.os]


def normalize_server_url(text: str) -> str:
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise KitError(f"адрес сервера SMART «{text}»: ожидается http(s)://сервер[:порт]")
    if re.search(r"[\s\"'%<>^&|`$\\]", url):
        raise KitError(f"адрес сервера SMART «{text}» содержит недопустимые символы")
    return url


def normalize_pk_url(text: str) -> str:
    value = text.strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise KitError(f"адрес ПК «{text}»: ожидается сервер:порт или http(s)://сервер:порт")
    if re.search(r"[\s\"'%<>^&|`$\\]", value):
        raise KitError(f"адрес ПК «{text}» содержит недопустимые символы")
    return value


def check_proxy(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"(?:[^\s\"'%@]+@)?[A-Za-z0-9.\-\[\]:]+:\d{1,5}", value):
        raise KitError(f"прокси «{text}»: ожидается сервер:порт или пользователь:пароль@сервер:порт")
    return value


def check_token(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._~-]{8,200}", text):
        raise KitError(
            "токен загрузки: ожидаются латинские буквы, цифры и «_ - . ~» (как его выдал оператор)"
        )
    return text


def check_install_dir(os: OS, text: str) -> str:
    value = text.strip()
    if os == "linux":
        ok = re.fullmatch(r"/[A-Za-z0-9_./-]*", value) is not None
        example = "/opt/smart"
    else:
        ok = re.fullmatch(r"[A-Za-z]:\\[A-Za-z0-9_.\\-]*", value) is not None
        example = "C:\\smart"
    if not ok:
        raise KitError(
            f"папка установки «{text}»: нужен полный путь из латинских букв и цифр без пробелов, "
            f"например {example}"
        )
    return value.rstrip("/\\") or value


def _check_cmd_value(name: str, value: str) -> str:
    if '"' in value or "\n" in value or "\r" in value:
        raise KitError(f"{name} содержит кавычку или перевод строки: впишите его в скрипт вручную")
    return value


# -- schedules ----------------------------------------------------------------------------------


def run_minute(dealer: str, client: str) -> int:
    """A stable minute for this client's hourly run, spread over the hour."""
    digest = hashlib.sha256(f"{dealer}/{client}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 60


@dataclass(frozen=True)
class Schedule:
    every_min: int
    minute: int  # first run within the hour (0–59; for 15-minute runs 0–14)
    allowed_hours: tuple[int, ...]

    @property
    def minutes(self) -> list[int]:
        return list(range(self.minute, 60, self.every_min))

    def cron_hours(self) -> str:
        return _ranges(self.allowed_hours, "-", "*")

    def cron(self) -> str:
        return f"{','.join(str(m) for m in self.minutes)} {self.cron_hours()} * * *"

    def on_calendar(self) -> str:
        hours = _ranges(self.allowed_hours, "..", "*", width=2)
        return f"*-*-* {hours}:{','.join(f'{m:02d}' for m in self.minutes)}:00"

    def task_trigger(self) -> tuple[str, str]:
        """(StartBoundary, repetition Duration) of a daily Task Scheduler trigger."""
        hours = self.allowed_hours
        if len(hours) == 24:
            return f"2026-01-01T00:{self.minute:02d}:00", "P1D"
        # The allowed hours form one circular run; start at its first hour.
        first = next(h for h in hours if (h - 1) % 24 not in hours)
        length = len(hours) * 60 - (30 if self.every_min >= 60 else 10)
        return f"2026-01-01T{first:02d}:{self.minute:02d}:00", f"PT{length // 60}H{length % 60}M"

    def describe(self) -> str:
        if self.every_min >= 60:
            text = f"каждый час в {self.minute:02d} мин."
        else:
            text = (
                f"каждые {self.every_min} минут (в {', '.join(f'{m:02d}' for m in self.minutes)} мин. часа)"
            )
        if len(self.allowed_hours) < 24:
            excluded = tuple(h for h in range(24) if h not in self.allowed_hours)
            text += f", кроме часов {_ranges(excluded, '–', '')}"
        return text


def _ranges(hours: tuple[int, ...], dash: str, everything: str, width: int = 1) -> str:
    if len(hours) == 24:
        return everything
    parts: list[str] = []
    start = prev = None
    for hour in sorted(hours):
        if start is None:
            start = prev = hour
        elif prev is not None and hour == prev + 1:
            prev = hour
        else:
            parts.append(_span(start, prev, dash, width))
            start = prev = hour
    if start is not None:
        parts.append(_span(start, prev, dash, width))
    return ",".join(parts)


def _span(start: int, end: int | None, dash: str, width: int) -> str:
    a = f"{start:0{width}d}"
    return a if end is None or end == start else f"{a}{dash}{end:0{width}d}"


def schedules(request: KitRequest) -> tuple[Schedule, Schedule]:
    excluded = set(request.quiet_window.excluded_hours()) if request.quiet_window else set()
    allowed = tuple(h for h in range(24) if h not in excluded)
    minute = run_minute(request.dealer, request.client)
    return (
        Schedule(UPLOAD_EVERY_MIN, minute, allowed),
        Schedule(STATUS_EVERY_MIN, minute % STATUS_EVERY_MIN, allowed),
    )


# -- rendering ----------------------------------------------------------------------------------


def _template(name: str) -> str:
    return resources.files("kodeks_smart.onboarding").joinpath("kit_templates", name).read_text("utf-8")


def render(text: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        return values[match.group(1)]

    out = re.sub(r"\{\{([A-Z_]+)\}\}", substitute, text)
    assert "{{" not in out, "unrendered placeholder"
    return out


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _bat(value: str) -> str:
    """A value inside ``set "NAME=value"``: quotes keep & | < > literal; only % must be doubled."""
    return value.replace("%", "%%")


def build_kit(request: KitRequest) -> dict[str, bytes]:
    """Render every file of the kit; raises KitError for unusable parameters."""
    if not CLIENT_NAME_PATTERN.fullmatch(request.client):
        raise KitError(f"недопустимое краткое имя клиента {request.client!r}")
    upload, status = schedules(request)
    smart = urlsplit(request.server_url)
    token = request.token or TOKEN_PLACEHOLDER
    login = request.pk_login or LOGIN_PLACEHOLDER
    password = request.pk_password or PASSWORD_PLACEHOLDER
    common = {
        "CLIENT": request.client,
        "DEALER": request.dealer,
        "CLIENT_COMMENT": request.client,
        "DEALER_COMMENT": request.dealer,
        "SMART_URL": request.server_url,
        "SMART_HOST": smart.hostname or "",
        "SMART_PORT": str(smart.port or (443 if smart.scheme == "https" else 80)),
        "SMART_SCHEME": smart.scheme.upper(),
        "PK_URL": request.pk_url,
        "GENERATED": request.generated or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "INSTALL_DIR": request.directory,
        "TOKEN_SHOWN": token,
        "UPLOAD_SCHEDULE": upload.describe(),
        "STATUS_SCHEDULE": status.describe(),
        "WINDOW_NOTE": (
            f" Запуски не попадают в окно обслуживания ПК {request.quiet_window.describe()}"
            " (резервное копирование, перезапуск, обновление)."
            if request.quiet_window
            else " Если знаете время резервного копирования или перезапуска ПК, сформируйте комплект с окном"
            " обслуживания (--quiet-window), чтобы агенты не запускались в это время."
        ),
        "TOKEN_NOTE": (
            ""
            if request.token
            else "ВНИМАНИЕ: впишите токен загрузки дистрибьютора (его выдаёт оператор SMART) вместо "
            f"{TOKEN_PLACEHOLDER} в начале обоих скриптов и в командах ниже.\n"
        ),
        "LOGIN_NOTE": (
            ""
            if request.pk_login and request.pk_password
            else "ВНИМАНИЕ: для smartstatus впишите логин и пароль пользователя ПК с доступом к "
            "метрикам /sysmon "
            f"(обычно smartlogin) вместо {LOGIN_PLACEHOLDER} и {PASSWORD_PLACEHOLDER} в начале smartstatus.\n"
        ),
    }
    transport = (
        "Соединение с SMART шифруется (HTTPS)."
        if smart.scheme == "https"
        else "Соединение с SMART идёт по HTTP без шифрования, как у прежних скриптов; если служба ИБ требует "
        "шифрования, попросите у оператора SMART адрес https://."
    )
    common["SECURITY"] = render(_template("security-ru.txt"), {**common, "TRANSPORT_NOTE": transport})
    if request.os == "linux":
        return _linux(request, common, token, login, password, upload, status)
    return _windows(request, common, token, login, password, upload, status)


def _linux(
    request: KitRequest,
    common: dict[str, str],
    token: str,
    login: str,
    password: str,
    upload: Schedule,
    status: Schedule,
) -> dict[str, bytes]:
    quoted = {
        **common,
        "PK_URL": shlex.quote(request.pk_url),
        "CLIENT": shlex.quote(request.client),
        "DEALER": shlex.quote(request.dealer),
        "TOKEN": shlex.quote(token),
        "SMART_URL": shlex.quote(request.server_url),
        "PROXY": shlex.quote(request.proxy or ""),
        "PK_LOGIN": shlex.quote(login),
        "PK_PASSWORD": shlex.quote(password),
    }
    directory = request.directory
    files = {
        "smartupload.sh": render(_template("smartupload.sh.txt"), quoted),
        "smartstatus.sh": render(_template("smartstatus.sh.txt"), quoted),
        "README-ru.txt": render(_template("README-linux-ru.txt"), common),
    }
    for name, schedule, timeout, delay, title in (
        ("smartupload", upload, "30min", "120", "отправка отчёта sysinfo"),
        ("smartstatus", status, "10min", "60", "отправка метрик /sysmon"),
    ):
        description = f"SMART {name}: {title} клиента {request.client}"
        unit = {
            "DESCRIPTION": description,
            "INSTALL_DIR": directory,
            "SCRIPT": f"{name}.sh",
            "TIMEOUT": timeout,
        }
        files[f"{name}.service"] = render(_template("systemd.service.txt"), unit)
        files[f"{name}.timer"] = render(
            _template("systemd.timer.txt"),
            {
                "DESCRIPTION": description,
                "ON_CALENDAR": schedule.on_calendar(),
                "RANDOM_DELAY": delay,
                "UNIT": f"{name}.service",
            },
        )
    cd = f"cd {shlex.quote(directory)}"
    files["crontab.txt"] = (
        f"# SMART: расписание агентов клиента {request.client} для cron (crontab -e и вставьте строки ниже)\n"
        f"{upload.cron()} {cd} && ./smartupload.sh >> smartupload.log 2>&1\n"
        f"{status.cron()} {cd} && ./smartstatus.sh >> smartstatus.log 2>&1\n"
    )
    return {name: text.encode("utf-8") for name, text in files.items()}


def _windows(
    request: KitRequest,
    common: dict[str, str],
    token: str,
    login: str,
    password: str,
    upload: Schedule,
    status: Schedule,
) -> dict[str, bytes]:
    cmd = {
        **common,
        "PK_URL": _bat(request.pk_url),
        "CLIENT": request.client,
        "DEALER": request.dealer,
        "TOKEN": _bat(token),
        "SMART_URL": _bat(request.server_url),
        "PROXY": _bat(_check_cmd_value("прокси", request.proxy or "")),
        "PK_LOGIN": _bat(_check_cmd_value("логин ПК", login)),
        "PK_PASSWORD": _bat(_check_cmd_value("пароль ПК", password)),
    }
    directory = request.directory.rstrip("\\")
    files: dict[str, bytes] = {
        "smartupload.bat": _crlf(render(_template("smartupload.bat.txt"), cmd)).encode("utf-8"),
        "smartstatus.bat": _crlf(render(_template("smartstatus.bat.txt"), cmd)).encode("utf-8"),
        # Notepad of older Windows recognises UTF-8 only with a BOM.
        "README-ru.txt": b"\xef\xbb\xbf"
        + _crlf(render(_template("README-windows-ru.txt"), common)).encode("utf-8"),
    }
    for name, schedule, limit, restart, title in (
        ("smartupload", upload, "PT30M", "PT5M", "отправка отчёта sysinfo в SMART"),
        ("smartstatus", status, "PT10M", "PT1M", "отправка метрик /sysmon в SMART"),
    ):
        start, duration = schedule.task_trigger()
        xml = render(
            _template("task.xml"),
            {
                "DESCRIPTION": xml_escape(f"SMART {name}: {title}, клиент {request.client}"),
                "TASK_NAME": xml_escape(f"{name}-{request.client}"),
                "INTERVAL": "PT1H" if schedule.every_min >= 60 else f"PT{schedule.every_min}M",
                "DURATION": duration,
                "START": start,
                "TIME_LIMIT": limit,
                "RESTART_INTERVAL": restart,
                "COMMAND": xml_escape(f'"{directory}\\{name}.bat"'),
                "WORKDIR": xml_escape(directory),
            },
        )
        # Task Scheduler's own export format: UTF-16 with a byte order mark and CRLF.
        files[f"{name}-task.xml"] = _crlf(xml).encode("utf-16")
    return files


# -- output -------------------------------------------------------------------------------------


def write_kit(files: dict[str, bytes], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(files.items()):
        path = out_dir / name
        path.write_bytes(data)
        if name.endswith(".sh"):
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written


def kit_zip(files: dict[str, bytes], folder: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            mode = 0o755 if name.endswith(".sh") else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


# -- from the database --------------------------------------------------------------------------


def request_for_client(
    session: Session,
    box: SecretBox,
    dealer: Dealer,
    client_name: str,
    os: OS,
    *,
    server_url: str,
    token: str | None = None,
    pk_url: str | None = None,
    proxy: str | None = None,
    install_dir: str | None = None,
    quiet_window: str | None = None,
) -> KitRequest:
    """A kit request filled from the client's rows: his installation's protocol and test user."""
    client = session.scalars(
        select(Client).where(Client.dealer_id == dealer.id, Client.short_name == client_name)
    ).first()
    if client is None:
        raise ClientNotFound(
            f"клиент «{client_name}» не найден у дистрибьютора {dealer.code}: сначала загрузите "
            "списки (smart import)"
        )
    installations = list(
        session.scalars(
            select(Installation).where(Installation.client_id == client.id).order_by(Installation.id)
        )
    )
    if not installations:
        raise KitError(
            f"у клиента «{client_name}» нет установки ПК: агенты smartupload и smartstatus ставятся "
            "только на "
            "установки (для онлайн-доступов ничего устанавливать не нужно)"
        )
    # Agents serve installations on the client's premises first; others may run them too.
    inst = next((i for i in installations if i.kind == "closed"), installations[0])
    password: str | None = None
    if inst.test_password_enc is not None:
        try:
            password = box.decrypt(inst.test_password_enc)
        except SecretKeyError:
            password = None
    default_pk = DEFAULT_PK_URL if inst.protocol == "http" else "https://127.0.0.1:443"
    return KitRequest(
        dealer=dealer.code,
        client=client.short_name,
        os=os,
        server_url=normalize_server_url(server_url),
        token=check_token(token) if token else None,
        pk_url=normalize_pk_url(pk_url) if pk_url else default_pk,
        pk_login=inst.test_login,
        pk_password=password,
        proxy=check_proxy(proxy) if proxy else None,
        install_dir=check_install_dir(os, install_dir) if install_dir else None,
        quiet_window=(
            QuietWindow.parse(quiet_window)
            if quiet_window
            else QuietWindow.around([inst.backup_time, inst.restart_time])
        ),
    )
