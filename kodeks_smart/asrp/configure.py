"""A dealer's forwarder: validated input → the stored row, the stored row → a working forwarder.

`validate` checks everything a dealer admin types (CLI or the cabinet form) and raises `AdminError` with a
Russian message naming the field; `save` stores it, encrypting the credential and keeping the stored one when
no new one is given (the form never shows it back); `describe` is what may be shown (no secret, only whether
one is set).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.asrp.forwarders import (
    FolderForwarder,
    Forwarder,
    HttpForwarder,
    HttpSettings,
    folder_target,
    template_fields,
)
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.store.admin import AdminError
from kodeks_smart.store.asrp_models import AUTH_KINDS, FORWARDER_KINDS, AsrpForwarder
from kodeks_smart.store.models import Dealer
from kodeks_smart.store.types import utcnow

_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,100}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding", "connection"})
MAX_FIELDS = 30
SAMPLE_VALUES = {
    "client": "client",
    "dealer": "dealer",
    "regnum": "1",
    "upload_id": "1",
    "sha256": "0" * 64,
    "filename": "client.zip",
    "received": "20260101000000",
}


@dataclass
class ForwarderInput:
    kind: str = "http"
    enabled: bool = True
    url: str = ""
    method: str = "POST"
    file_field: str = "file"
    fields: dict[str, str] = field(default_factory=dict)
    auth: str = "none"
    auth_name: str = ""
    #: None: keep the stored secret; "" with auth none: drop it.
    secret: str | None = None
    success_statuses: list[int] = field(default_factory=lambda: [200, 201, 202])
    success_regex: str = ""
    duplicate_regex: str = ""
    number_regex: str = ""
    ident_regex: str = ""
    timeout: float = 60.0
    directory: str = ""
    filename_pattern: str = "{dealer}_{client}_{upload_id}.zip"


def parse_fields(pairs: list[str]) -> dict[str, str]:
    """``name=value`` pairs (CLI ``--field``, one per line in the form) → a mapping."""
    out: dict[str, str] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        name, sep, value = pair.partition("=")
        if not sep:
            raise AdminError(f"поле формы «{pair}»: ожидается имя=значение")
        out[name.strip()] = value.strip()
    return out


def parse_statuses(text: str) -> list[int]:
    try:
        codes = [int(part) for part in re.split(r"[\s,;]+", text.strip()) if part]
    except ValueError:
        raise AdminError("коды успешного ответа: ожидаются числа через запятую, например 200, 201") from None
    if not codes or any(not 100 <= c <= 599 for c in codes):
        raise AdminError("коды успешного ответа: ожидаются коды HTTP от 100 до 599")
    return sorted(set(codes))


def _regex(name: str, value: str) -> str:
    if len(value) > 500:
        raise AdminError(f"{name}: не длиннее 500 символов")
    try:
        re.compile(value)
    except re.error as exc:
        raise AdminError(f"{name}: ошибка в регулярном выражении: {exc}") from None
    return value


def validate(data: ForwarderInput, *, folder_root: str, has_secret: bool) -> ForwarderInput:
    """Check the input; returns it with values normalised. ``has_secret``: a secret is already stored."""
    if data.kind not in FORWARDER_KINDS:
        raise AdminError("способ передачи: ожидается http или folder")
    for name, value in (
        ("шаблон успеха", data.success_regex),
        ("шаблон повтора", data.duplicate_regex),
        ("шаблон номера загрузки", data.number_regex),
        ("шаблон идентификатора", data.ident_regex),
    ):
        _regex(name, value)
    if data.kind == "folder":
        if not folder_root:
            raise AdminError("выгрузка в каталог выключена: оператор должен задать SMART_ASRP_FOLDER_ROOT")
        data.directory = data.directory.strip().strip("/")
        try:
            template_fields(data.filename_pattern)
            folder_target(Path(folder_root), data.directory, data.filename_pattern, SAMPLE_VALUES)
        except ValueError as exc:
            raise AdminError(f"каталог выгрузки: {exc}") from None
        return data
    data.url = data.url.strip()
    parts = urlsplit(data.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AdminError("адрес АСРП: ожидается адрес http:// или https://")
    if parts.username or parts.password:
        raise AdminError("адрес АСРП: логин и пароль указываются в настройках авторизации, не в адресе")
    if len(data.url) > 1000:
        raise AdminError("адрес АСРП: не длиннее 1000 символов")
    data.method = data.method.upper()
    if data.method not in ("POST", "PUT"):
        raise AdminError("метод: ожидается POST или PUT")
    if not _FIELD_NAME.match(data.file_field):
        raise AdminError("имя поля файла: латинские буквы, цифры, _ . - [ ]")
    if len(data.fields) > MAX_FIELDS:
        raise AdminError(f"полей формы больше {MAX_FIELDS}")
    for name, value in data.fields.items():
        if not _FIELD_NAME.match(name):
            raise AdminError(f"поле формы «{name}»: имя из латинских букв, цифр, _ . - [ ]")
        if len(value) > 1000:
            raise AdminError(f"поле формы «{name}»: значение не длиннее 1000 символов")
        try:
            template_fields(value)
        except ValueError as exc:
            raise AdminError(f"поле формы «{name}»: {exc}") from None
    if data.auth not in AUTH_KINDS:
        raise AdminError("авторизация: ожидается none, basic, bearer или header")
    data.auth_name = data.auth_name.strip()
    if data.auth == "basic" and not data.auth_name:
        raise AdminError("авторизация basic: укажите логин")
    if data.auth == "header" and (
        not _HEADER_NAME.match(data.auth_name) or data.auth_name.lower() in FORBIDDEN_HEADERS
    ):
        raise AdminError("авторизация header: укажите имя заголовка (латинские буквы, цифры, -)")
    if data.auth != "none" and not data.secret and not has_secret:
        raise AdminError("авторизация: укажите пароль, токен или значение заголовка")
    if data.secret is not None and ("\r" in data.secret or "\n" in data.secret):
        raise AdminError("авторизация: секрет не может содержать перевод строки")
    if not data.success_statuses or any(not 100 <= c <= 599 for c in data.success_statuses):
        raise AdminError("коды успешного ответа: ожидаются коды HTTP от 100 до 599")
    if not 1 <= data.timeout <= 600:
        raise AdminError("таймаут: от 1 до 600 секунд")
    return data


def forwarder_of(session: Session, dealer_id: int) -> AsrpForwarder | None:
    return session.scalars(select(AsrpForwarder).where(AsrpForwarder.dealer_id == dealer_id)).first()


def dealer_by_code(session: Session, code: str) -> Dealer:
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None:
        raise AdminError(f"дистрибьютор {code} не найден")
    return dealer


def save(
    session: Session, box: SecretBox, dealer_id: int, data: ForwarderInput, *, folder_root: str
) -> AsrpForwarder:
    """Validate and store the dealer's forwarder (create or replace its settings)."""
    row = forwarder_of(session, dealer_id)
    data = validate(data, folder_root=folder_root, has_secret=row is not None and row.secret_enc is not None)
    if row is None:
        row = AsrpForwarder(dealer_id=dealer_id)
        session.add(row)
    row.kind = data.kind
    row.enabled = data.enabled
    row.url = data.url or None
    row.method = data.method
    row.file_field = data.file_field
    row.fields = dict(data.fields)
    row.auth = data.auth
    row.auth_name = data.auth_name or None
    if data.auth == "none":
        row.secret_enc = None
    elif data.secret:
        row.secret_enc = box.encrypt(data.secret)
    row.success_statuses = list(data.success_statuses)
    row.success_regex = data.success_regex
    row.duplicate_regex = data.duplicate_regex
    row.number_regex = data.number_regex
    row.ident_regex = data.ident_regex
    row.timeout = data.timeout
    row.directory = data.directory or None
    row.filename_pattern = data.filename_pattern
    row.updated_at = utcnow()
    session.flush()
    return row


def describe(row: AsrpForwarder) -> dict[str, Any]:
    """The settings as they may be shown: the secret only as «задан» / «не задан»."""
    shown: dict[str, Any] = {"Способ": row.kind, "Включён": "да" if row.enabled else "нет"}
    if row.kind == "folder":
        shown.update({"Каталог": row.directory or "(корень)", "Имя файла": row.filename_pattern})
        return shown
    shown.update(
        {
            "Адрес": row.url,
            "Метод": row.method,
            "Поле файла": row.file_field,
            "Поля формы": ", ".join(f"{k}={v}" for k, v in row.fields.items()) or "—",
            "Авторизация": row.auth + (f" ({row.auth_name})" if row.auth_name else ""),
            "Секрет": "задан" if row.secret_enc else "не задан",
            "Коды успеха": ", ".join(str(c) for c in row.success_statuses),
            "Шаблон успеха": row.success_regex or "(любой ответ)",
            "Шаблон повтора": row.duplicate_regex or "—",
            "Шаблон номера загрузки": row.number_regex or "—",
            "Шаблон идентификатора": row.ident_regex or "—",
            "Таймаут, с": f"{row.timeout:g}",
        }
    )
    return shown


def build(row: AsrpForwarder, box: SecretBox, *, folder_root: str, allow_private: bool) -> Forwarder:
    """The working forwarder of a stored row (decrypts the secret)."""
    if row.kind == "folder":
        return FolderForwarder(Path(folder_root or "/nonexistent"), row.directory or "", row.filename_pattern)
    secret = box.decrypt(row.secret_enc) if row.secret_enc else None
    settings = HttpSettings(
        url=row.url or "",
        method=row.method,
        file_field=row.file_field,
        fields=dict(row.fields or {}),
        auth=row.auth,
        auth_name=row.auth_name,
        secret=secret,
        success_statuses=tuple(row.success_statuses or (200,)),
        success_regex=row.success_regex,
        duplicate_regex=row.duplicate_regex,
        number_regex=row.number_regex,
        ident_regex=row.ident_regex,
        timeout=row.timeout,
    )
    return HttpForwarder(settings, allow_private=allow_private)


def input_of(row: AsrpForwarder) -> ForwarderInput:
    """The stored settings as input (to change some of them; the secret stays as stored)."""
    return ForwarderInput(
        kind=row.kind,
        enabled=row.enabled,
        url=row.url or "",
        method=row.method,
        file_field=row.file_field,
        fields=dict(row.fields or {}),
        auth=row.auth,
        auth_name=row.auth_name or "",
        secret=None,
        success_statuses=list(row.success_statuses or [200]),
        success_regex=row.success_regex,
        duplicate_regex=row.duplicate_regex,
        number_regex=row.number_regex,
        ident_regex=row.ident_regex,
        timeout=row.timeout,
        directory=row.directory or "",
        filename_pattern=row.filename_pattern,
    )


def values_for(mapping: Mapping[str, object]) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in mapping.items()}
