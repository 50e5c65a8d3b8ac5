"""Upload file names: ``CLIENT.zip``, ``CLIENT.xml`` or ``CLIENT.status``.

The stem is the client's short name (the join key to the registered client); the extension says what the
file is. A name with a path separator, ``..``, a control character, a space or one of the characters the
agents' manual forbids in file names is refused (400); an unknown extension is refused as unsupported (415).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kodeks_smart.ingest.errors import IngestError

#: Extension -> (kind, format).
EXTENSIONS = {"zip": ("sysinfo", "zip"), "xml": ("sysinfo", "xml"), "status": ("metrics", "status")}
#: Characters the agents' manual forbids in client and file names (spec §3.1), plus NUL.
FORBIDDEN = set("#%&{}\\<>*?/ $!'\":@+`|=\x00")
MAX_STEM = 64
_STEM = re.compile(r"^[\w][\w.-]*$", re.UNICODE)


@dataclass(frozen=True, slots=True)
class UploadName:
    filename: str
    client_name: str
    kind: str  # sysinfo | metrics
    fmt: str  # zip | xml | status


def _bad(name: str, why: str, why_en: str) -> IngestError:
    return IngestError(
        400, "bad-filename", f"Недопустимое имя файла {name!r}: {why}", f"bad file name: {why_en}"
    )


def missing_file() -> IngestError:
    return IngestError(
        400,
        "no-file",
        "Нет файла: ожидается поле формы file с именем КЛИЕНТ.zip, КЛИЕНТ.xml или КЛИЕНТ.status",
        "no file: expected form field 'file' named CLIENT.zip, CLIENT.xml or CLIENT.status",
    )


def parse_upload_name(filename: str | None) -> UploadName:
    """Validate an uploaded file name. Raises IngestError (400 or 415)."""
    if not filename:
        raise missing_file()
    name = unicodedata.normalize("NFC", filename)
    if "/" in name or "\\" in name or ".." in name:
        raise _bad(name, "путь или «..» в имени", "path separators or '..'")
    if any(ch in FORBIDDEN or unicodedata.category(ch).startswith("C") for ch in name):
        raise _bad(name, "запрещённые символы", "reserved or control characters")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        raise IngestError(
            415,
            "unsupported-type",
            f"Неподдерживаемый тип файла {name!r}: принимаются .zip, .xml и .status",
            "unsupported file type: .zip, .xml and .status are accepted",
        )
    if ext.lower() not in EXTENSIONS:
        raise IngestError(
            415,
            "unsupported-type",
            f"Неподдерживаемый тип файла .{ext}: принимаются .zip, .xml и .status",
            "unsupported file type: .zip, .xml and .status are accepted",
        )
    if len(stem) > MAX_STEM or not _STEM.match(stem):
        raise _bad(name, f"имя клиента — буквы, цифры, «_ - .», до {MAX_STEM} символов", "bad client name")
    kind, fmt = EXTENSIONS[ext.lower()]
    return UploadName(filename=name, client_name=stem, kind=kind, fmt=fmt)
