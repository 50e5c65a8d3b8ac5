"""The hostile-file corpus: each entry is (name, bytes, the ParseError code expected or None if the file
must be processed safely). Shared by the parser tests and the end-to-end ingest tests."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml, generate_zip

MiB = 1024 * 1024


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 4, 20, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def small_report() -> bytes:
    return generate_xml(SysinfoProfile("romashka", users=3, days=1))


def zip_bomb() -> bytes:
    """One member of 64 MiB of zeros (ratio about 1000:1): refused by the ratio guard while reading."""
    return _zip([("sysinfo.xml", b"<sysinfo>" + b" " * (64 * MiB) + b"</sysinfo>")])


def lying_directory() -> bytes:
    """A small member whose central directory claims 3 GiB: refused before anything is read."""
    data = bytearray(_zip([("sysinfo.xml", small_report())]))
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 3 * 1024 * MiB)  # uncompressed size
    return bytes(data)


def nested_archive() -> bytes:
    inner = _zip([("sysinfo.xml", small_report())])
    return _zip([("inner.zip", _zip([("again.zip", inner)]))])


def too_many_entries() -> bytes:
    return _zip([(f"part{i:03d}.xml", b"<x/>") for i in range(200)])


def traversal(name: str) -> Callable[[], bytes]:
    return lambda: _zip([(name, small_report())])


def encrypted_member() -> bytes:
    """A member flagged as password-encrypted (the flag patched into both headers)."""
    data = bytearray(_zip([("sysinfo.xml", small_report())]))
    local = data.find(b"PK\x03\x04")
    central = data.rfind(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    return bytes(data)


def truncated_zip() -> bytes:
    data = generate_zip(SysinfoProfile("romashka", users=10, days=2))
    return data[: len(data) // 2]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<sysinfo created="&lol9;"/>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE sysinfo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<sysinfo created="2026-04-20 10:00:00"><registration regnum="&xxe;" seats="1"/></sysinfo>
"""

NETWORK_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE sysinfo SYSTEM "http://127.0.0.1:9/evil.dtd">
<sysinfo created="2026-04-20 10:00:00"/>
"""

XINCLUDE = b"""<?xml version="1.0"?>
<sysinfo xmlns:xi="http://www.w3.org/2001/XInclude" created="2026-04-20 10:00:00">
<registration regnum="0599_1" seats="1"><xi:include href="file:///etc/passwd" parse="text"/></registration>
</sysinfo>
"""


def utf16_dtd() -> bytes:
    return (
        EXTERNAL_ENTITY.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    )


def cp1251_declared() -> bytes:
    text = small_report().decode("utf-8").replace('encoding="UTF-8"', 'encoding="windows-1251"')
    return text.encode("cp1251")


def cp1251_undeclared() -> bytes:
    text = small_report().decode("utf-8").replace(' encoding="UTF-8"', "")
    return text.encode("cp1251")


def truncated_xml() -> bytes:
    data = small_report()
    return data[: len(data) * 2 // 3]


def deep_nesting() -> bytes:
    return b"<sysinfo>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</sysinfo>"


HTML_PAGE = b"<!DOCTYPE html><html><head><title>503</title></head><body>Service Unavailable</body></html>"

#: name, file, expected error code (None: processed, with the report intact)
CORPUS: list[tuple[str, Callable[[], bytes], str | None]] = [
    ("zip-bomb", zip_bomb, "zip-bomb"),
    ("lying-directory", lying_directory, "zip-bomb"),
    ("nested-archive", nested_archive, "zip-nested"),
    ("too-many-entries", too_many_entries, "zip-entries"),
    ("traversal-parent", traversal("../../etc/cron.d/evil.xml"), "zip-traversal"),
    ("traversal-absolute", traversal("/etc/passwd.xml"), "zip-traversal"),
    ("traversal-drive", traversal("C:\\Windows\\evil.xml"), "zip-traversal"),
    ("encrypted-member", encrypted_member, "zip-encrypted"),
    ("zero-bytes", lambda: b"", "empty"),
    ("truncated-zip", truncated_zip, "zip-corrupt"),
    ("billion-laughs", lambda: BILLION_LAUGHS, "xml-dtd"),
    ("external-entity", lambda: EXTERNAL_ENTITY, "xml-dtd"),
    ("network-dtd", lambda: NETWORK_DTD, "xml-dtd"),
    ("utf16-external-entity", utf16_dtd, "xml-dtd"),
    ("xinclude", lambda: XINCLUDE, None),
    ("truncated-xml", truncated_xml, "xml-syntax"),
    ("deep-nesting", deep_nesting, "xml-depth"),
    ("html-error-page", lambda: HTML_PAGE, "html"),
    ("cp1251-declared", cp1251_declared, None),
    ("cp1251-undeclared", cp1251_undeclared, None),
]
