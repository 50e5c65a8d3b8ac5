"""The forwarders: one small interface, ``send(Report) -> Answer``, raising one `ForwardError`.

* `HttpForwarder` sends the raw report as a multipart request (configured URL, method, file field, extra
  form fields with placeholders, authentication) and reads the answer with the configured patterns: the
  duplicate pattern (→ «Повтор») is checked first, on any status; then an acceptable status with the
  success pattern (→ «Принят»). Timeouts, connection errors, 5xx, 408, 429 and an unrecognised answer are
  retryable; other 4xx answers and a URL in a private network (unless allowed) are permanent.
* `FolderForwarder` writes the report into a directory under the operator's root
  (``SMART_ASRP_FOLDER_ROOT``): a temporary file, fsync, rename, directory fsync — a reader of the folder
  never sees half a file. Placeholder values are reduced to safe file-name characters and the final path
  must stay inside the root, so a client name cannot walk out of the folder.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import httpx

#: Placeholders a form field or a file-name pattern may use.
PLACEHOLDERS: dict[str, str] = {
    "client": "короткое имя клиента (как в скриптах агента)",
    "dealer": "код дистрибьютора",
    "regnum": "регистрационный номер установки из отчёта",
    "upload_id": "номер загрузки в СМАРТ",
    "sha256": "SHA-256 файла отчёта",
    "filename": "имя файла отчёта, как его прислал агент",
    "received": "время получения отчёта СМАРТ, UTC, ГГГГММДДччммсс",
}
ANSWER_LIMIT = 500
#: Most of a response body that is read and matched against the patterns.
BODY_LIMIT = 256 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class ForwardError(Exception):
    """A send failed; ``permanent`` ones are not retried. The message is Russian and user-facing."""

    def __init__(
        self, message: str, *, permanent: bool = False, status: int | None = None, answer: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.answer = answer


@dataclass(frozen=True)
class Report:
    """What is forwarded: the raw file and the values of the placeholders."""

    data: bytes
    filename: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    outcome: Literal["accepted", "duplicate"]
    status: int | None = None
    answer: str = ""
    number: str | None = None
    ident: str | None = None


class Forwarder(Protocol):
    def send(self, report: Report) -> Answer: ...


# -- placeholders ---------------------------------------------------------------------------------


def template_fields(template: str) -> list[str]:
    """The placeholders a template uses; ValueError (Russian) for an unknown or malformed one."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise ValueError(
            f"шаблон «{template}»: непарная фигурная скобка (для скобки пишите {{{{ или }}}})"
        ) from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ValueError(f"шаблон «{template}»: неизвестная подстановка {{{name}}}; допустимы {known}")
        names.append(name)
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    template_fields(template)
    return template.format_map({k: values.get(k, "") for k in PLACEHOLDERS})


def safe_answer(text: str) -> str:
    """The server's answer as shown in the log: no control characters, one line, at most 500 characters."""
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    return flat if len(flat) <= ANSWER_LIMIT else flat[: ANSWER_LIMIT - 1] + "…"


def _extract(pattern: str, text: str) -> str | None:
    if not pattern:
        return None
    match = re.search(pattern, text)
    if match is None:
        return None
    value = match.group(1) if match.re.groups else match.group(0)
    return safe_answer(value)[:200] if value else None


# -- HTTP -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSettings:
    url: str
    method: str = "POST"
    file_field: str = "file"
    fields: Mapping[str, str] = field(default_factory=dict)
    auth: str = "none"
    auth_name: str | None = None
    secret: str | None = None
    success_statuses: tuple[int, ...] = (200, 201, 202)
    success_regex: str = ""
    duplicate_regex: str = ""
    number_regex: str = ""
    ident_regex: str = ""
    timeout: float = 60.0

    def __repr__(self) -> str:  # never show the secret
        return f"HttpSettings(url={self.url!r}, auth={self.auth!r})"


def is_private_host(host: str) -> bool:
    """True if ``host`` is or resolves to a loopback, private, link-local or otherwise internal address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # unresolvable: the send itself reports it
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            return True
    return False


class HttpForwarder:
    def __init__(self, settings: HttpSettings, *, allow_private: bool = False) -> None:
        self.settings = settings
        self.allow_private = allow_private

    def _headers_and_auth(self) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        s = self.settings
        if s.auth == "basic":
            return {}, httpx.BasicAuth(s.auth_name or "", s.secret or "")
        if s.auth == "bearer":
            return {"Authorization": f"Bearer {s.secret or ''}"}, None
        if s.auth == "header" and s.auth_name:
            return {s.auth_name: s.secret or ""}, None
        return {}, None

    def send(self, report: Report) -> Answer:
        s = self.settings
        url = httpx.URL(s.url)
        if not self.allow_private and is_private_host(url.host):
            raise ForwardError(
                f"адрес {url.host} находится во внутренней сети; такие адреса запрещены настройкой "
                "SMART_ASRP_ALLOW_PRIVATE",
                permanent=True,
            )
        form = {name: render(value, report.values) for name, value in s.fields.items()}
        files = {s.file_field: (report.filename, report.data, "application/octet-stream")}
        headers, auth = self._headers_and_auth()
        where = f"{url.scheme}://{url.host}"
        try:
            with (
                httpx.Client(timeout=s.timeout, follow_redirects=False) as client,
                client.stream(s.method, url, data=form, files=files, headers=headers, auth=auth) as response,
            ):
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= BODY_LIMIT:
                        break
                status = response.status_code
                encoding = response.encoding or "utf-8"
        except httpx.TimeoutException:
            raise ForwardError(f"{where} не ответил за {s.timeout:g} с") from None
        except httpx.HTTPError as exc:
            raise ForwardError(f"нет связи с {where}: {type(exc).__name__}") from None
        text = body[:BODY_LIMIT].decode(encoding, errors="replace")
        return self.read_answer(status, text)

    def read_answer(self, status: int, text: str) -> Answer:
        """Step two of a send, on its own for tests: the outcome of a response."""
        s = self.settings
        shown = safe_answer(text)
        number, ident = _extract(s.number_regex, text), _extract(s.ident_regex, text)
        if s.duplicate_regex and re.search(s.duplicate_regex, text):
            return Answer("duplicate", status, shown, number, ident)
        if status in s.success_statuses:
            if not s.success_regex or re.search(s.success_regex, text):
                return Answer("accepted", status, shown, number, ident)
            raise ForwardError("ответ сервера не распознан как «принято»", status=status, answer=shown)
        if 400 <= status < 500 and status not in (408, 429):
            raise ForwardError(
                f"сервер отклонил файл: HTTP {status}", permanent=True, status=status, answer=shown
            )
        raise ForwardError(f"сервер временно недоступен: HTTP {status}", status=status, answer=shown)


# -- drop folder ----------------------------------------------------------------------------------


def safe_name_part(value: str) -> str:
    """A placeholder value reduced to ``[A-Za-z0-9._-]`` without leading dots (no ``..``, no dot files)."""
    return _UNSAFE_NAME.sub("_", value).lstrip(".")[:100] or "_"


def folder_target(root: Path, directory: str, pattern: str, values: Mapping[str, str]) -> Path:
    """The file a report goes to; ValueError (Russian) if it would leave ``root``."""
    if "/" in pattern or "\\" in pattern:
        raise ValueError("шаблон имени файла не может содержать / или \\")
    name = render(pattern, {k: safe_name_part(v) for k, v in values.items()})
    if name in ("", ".", "..") or name.startswith("."):
        raise ValueError(f"недопустимое имя файла «{name}»")
    base = root.resolve()
    target = (base / directory / name).resolve()
    if not target.is_relative_to(base) or target == base:
        raise ValueError("каталог выгрузки должен находиться внутри SMART_ASRP_FOLDER_ROOT")
    return target


class FolderForwarder:
    def __init__(self, root: Path, directory: str, pattern: str) -> None:
        self.root = root
        self.directory = directory
        self.pattern = pattern

    def send(self, report: Report) -> Answer:
        try:
            target = folder_target(self.root, self.directory, self.pattern, report.values)
        except ValueError as exc:
            raise ForwardError(str(exc), permanent=True) from None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                if target.read_bytes() == report.data:
                    return Answer("duplicate", None, f"файл {target.name} уже есть в каталоге")
                raise ForwardError(
                    f"в каталоге уже есть другой файл {target.name}: измените шаблон имени", permanent=True
                )
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(report.data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                if tmp.exists():
                    tmp.unlink()
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise ForwardError(
                f"не удалось записать файл в каталог выгрузки: {exc.strerror or exc}"
            ) from None
        return Answer("accepted", None, f"записан файл {target.name}")
