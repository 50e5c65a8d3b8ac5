"""Hardened XML reading with lxml.

* A document type declaration is refused before parsing: with no DTD there are no entity definitions,
  so neither entity expansion ("billion laughs") nor external entities (file or network reads) can
  happen. The parser is configured the same way as a second line of defence: entities not resolved,
  no DTD loaded, no network, libxml2's huge-tree safety limits left on.
* Parsing is incremental (``iterparse``) so a 20 MB report does not become a 200 MB tree: the caller
  clears each element once it has used it.
* A document with no declared encoding that is not valid UTF-8 is read as Windows-1251, with a warning.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lxml import etree

from kodeks_smart.parsers.content import bom_encoding
from kodeks_smart.parsers.errors import ParseError

_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _prolog(data: bytes) -> bytes:
    """The bytes before the root element, as ASCII-compatible bytes (UTF-16/32 decoded)."""
    encoding, skip = bom_encoding(data)
    head = data[skip : skip + 65536]
    if encoding and encoding != "utf-8":
        head = head.decode(encoding, errors="ignore").encode("utf-8")
    pos = 0
    while True:
        lt = head.find(b"<", pos)
        if lt < 0 or lt + 1 >= len(head):
            return head
        nxt = head[lt + 1 : lt + 2]
        if nxt not in (b"?", b"!"):
            return head[:lt]
        if head.startswith(b"<!--", lt):
            end = head.find(b"-->", lt + 4)
            if end < 0:
                return head
            pos = end + 3
        else:
            pos = lt + 2


def check_prolog(data: bytes) -> None:
    """Refuse DTDs and entity declarations. Raises ParseError."""
    prolog = _prolog(data)
    if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
        raise ParseError(
            "xml-dtd",
            "XML содержит объявление DTD или сущностей — такие файлы не принимаются"
            " (защита от XXE и «billion laughs»)",
            "the XML has a DTD or entity declarations, which are refused (XXE / billion laughs)",
        )


def declared_encoding(data: bytes) -> str | None:
    match = _DECLARED_ENCODING.match(data[:200].lstrip())
    return match.group(1).decode("ascii").lower() if match else None


def _iterparse(data: bytes, encoding: str | None) -> Any:
    return etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding=encoding,
    )


def _is_utf8(data: bytes) -> bool:
    """Validate UTF-8 in chunks, so that a 20 MB report is not decoded into one 40 MB string."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for pos in range(0, len(data), step):
            decoder.decode(data[pos : pos + step], final=pos + step >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def open_events(
    data: bytes, warnings: list[str], encoding_of: bytes | None = None
) -> Iterator[tuple[str, Any]]:
    """lxml ``("end", element)`` pairs of a checked document, children before parents. Raises ParseError for a
    refused prolog; iterate it inside `translate_errors`.

    ``encoding_of``: the document the encoding is decided on, when ``data`` is a part of it (the sysinfo
    parser cuts already-stored records out: the undeclared encoding must still be judged on every byte).
    The caller must clear elements it is done with; see `kodeks_smart.parsers.sysinfo`.
    """
    check_prolog(data)
    whole = data if encoding_of is None else encoding_of
    encoding: str | None = None
    if declared_encoding(whole) is None and bom_encoding(whole)[0] is None and not _is_utf8(whole):
        encoding = "cp1251"
        warnings.append("кодировка XML не объявлена и это не UTF-8: прочитан как Windows-1251")
    events: Iterator[tuple[str, Any]] = _iterparse(data, encoding)
    return events


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn lxml's errors while iterating into ParseError."""
    try:
        yield
    except etree.XMLSyntaxError as exc:
        if "depth" in str(exc).lower():  # libxml2's own limit (256 levels without huge_tree)
            raise ParseError(
                "xml-depth", "XML вложен слишком глубоко", "the XML is nested too deeply"
            ) from None
        raise ParseError(
            "xml-syntax", f"XML повреждён или обрезан: {exc}", "the XML is malformed or truncated"
        ) from None
    except LookupError as exc:  # an unknown declared encoding
        raise ParseError(
            "xml-encoding", f"Неизвестная кодировка XML: {exc}", "unknown XML encoding"
        ) from None


def iter_events(data: bytes, warnings: list[str]) -> Iterator[tuple[str, Any]]:
    """`open_events` with errors translated, as a generator (convenient where speed does not matter)."""
    events = open_events(data, warnings)
    with translate_errors():
        yield from events
