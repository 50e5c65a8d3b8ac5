"""What an uploaded file really is, whatever its name says, and how to read its text."""

from __future__ import annotations

import codecs
from typing import Literal

from kodeks_smart.parsers.errors import ParseError

Kind = Literal["zip", "xml", "text"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def bom_encoding(data: bytes) -> tuple[str | None, int]:
    """The encoding named by a byte-order mark and the mark's length, or (None, 0)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None, 0


def sniff(data: bytes) -> Kind:
    """Classify by content. Raises ParseError for empty files and HTML error pages.

    An agent whose Kodeks server answered with an error page saves that page under the report's name,
    so an HTML body gets a message that points at the server rather than at SMART.
    """
    if not data:
        raise ParseError("empty", "Файл пуст (0 байт)", "the file is empty")
    if data.startswith(_ZIP_MAGIC):
        return "zip"
    encoding, skip = bom_encoding(data)
    head = data[skip : skip + 4096]
    if encoding and encoding != "utf-8":
        head = head.decode(encoding, errors="ignore").encode("utf-8")
    stripped = head.lstrip()
    lowered = stripped[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:200]:
        raise ParseError(
            "html",
            "Вместо отчёта получена HTML-страница: сервер Кодекс ответил ошибкой или страницей входа",
            "an HTML page was uploaded instead of a report (the Kodeks server answered with an error)",
        )
    if stripped.startswith(b"<"):
        return "xml"
    return "text"


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode agent text: a BOM wins, then UTF-8, then Windows-1251 (old Windows tools).

    Returns the text and a warning when the fallback was used. Raises ParseError for binary data.
    """
    encoding, skip = bom_encoding(data)
    body = data[skip:]
    if b"\x00" in body and encoding in (None, "utf-8"):
        raise ParseError("binary", "Файл не является текстом (двоичные данные)", "binary data, not text")
    if encoding is not None:
        try:
            return body.decode(encoding), None
        except UnicodeDecodeError as exc:
            raise ParseError(
                "encoding",
                f"Текст не читается в кодировке {encoding}: {exc.reason}",
                f"text is not valid {encoding}",
            ) from None
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return body.decode("cp1251", errors="replace"), "текст не в UTF-8, прочитан как Windows-1251"
