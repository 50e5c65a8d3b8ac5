"""Reading members of an uploaded ZIP without trusting it.

Nothing is extracted to disk. The guards:
1. the archive must open (a truncated or corrupt file is an error, not a crash);
2. at most `Limits.zip_max_entries` members; any member name that is absolute, contains ``..``, a drive
   letter or a NUL makes the whole archive hostile (a real report never has one);
3. encrypted members are refused;
4. a member is read through a counter that stops at the absolute limit and at the expansion ratio —
   the sizes in the directory are what the attacker wrote, so they are checked first and then again
   on the real bytes;
5. archives inside the archive are not opened (counted as nested and reported if nothing else is left).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from kodeks_smart.parsers.errors import ParseError
from kodeks_smart.parsers.limits import Limits

_ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz")
_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    size: int  # declared uncompressed size
    compressed: int


@dataclass(frozen=True, slots=True)
class Listing:
    members: list[Member]
    nested: list[str]  # names of archives inside the archive (never opened)


def _hostile_name(name: str) -> bool:
    if "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    parts = re.split(r"[\\/]", name)
    return any(part == ".." for part in parts)


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParseError(
            "zip-corrupt",
            "ZIP-архив повреждён или обрезан (загрузка прервалась?)",
            "the ZIP archive is corrupt or truncated",
        ) from None
    except (OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ParseError(
            "zip-corrupt", f"ZIP-архив не читается: {exc}", "the ZIP archive cannot be read"
        ) from None


def list_members(data: bytes, limits: Limits) -> Listing:
    """Validate the archive directory and list its regular members. Raises ParseError."""
    with _open(data) as zf:
        infos = zf.infolist()
        if len(infos) > limits.zip_max_entries:
            raise ParseError(
                "zip-entries",
                f"В архиве {len(infos)} файлов, допустимо не более {limits.zip_max_entries}",
                "too many entries in the archive",
            )
        members: list[Member] = []
        nested: list[str] = []
        declared_total = 0
        for info in infos:
            if _hostile_name(info.filename):
                raise ParseError(
                    "zip-traversal",
                    f"Недопустимое имя файла в архиве: {info.filename!r} (выход за пределы каталога)",
                    "path traversal in an archive member name",
                )
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise ParseError(
                    "zip-encrypted", "Архив зашифрован паролем", "the archive member is encrypted"
                )
            if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
                nested.append(info.filename)
                continue
            declared_total += info.file_size
            _check_size(info.filename, info.file_size, info.compress_size, limits)
            members.append(Member(info.filename, info.file_size, info.compress_size))
        if declared_total > limits.zip_max_uncompressed:
            raise _too_big(limits)
        return Listing(members, nested)


def _too_big(limits: Limits) -> ParseError:
    return ParseError(
        "zip-bomb",
        f"Архив распаковывается больше чем в {limits.zip_max_uncompressed // (1024 * 1024)} МиБ"
        " (похоже на zip-бомбу)",
        "the archive expands beyond the size limit (zip bomb)",
    )


def _check_size(name: str, size: int, compressed: int, limits: Limits) -> None:
    if size > limits.zip_max_uncompressed:
        raise _too_big(limits)
    if size > limits.zip_ratio_floor and size > limits.zip_max_ratio * max(compressed, 1):
        raise ParseError(
            "zip-bomb",
            f"Файл {name!r} в архиве сжат в {size // max(compressed, 1)} раз — похоже на zip-бомбу",
            "suspicious compression ratio (zip bomb)",
        )


def read_member(data: bytes, name: str, limits: Limits) -> bytes:
    """The bytes of one member, read under the size and ratio limits. Raises ParseError."""
    with _open(data) as zf:
        try:
            info = zf.getinfo(name)
        except KeyError:
            raise ParseError("zip-member", f"В архиве нет файла {name!r}", "archive member missing") from None
        _check_size(name, info.file_size, info.compress_size, limits)
        try:
            with zf.open(info) as stream:
                # The declared size is within the limits (checked above): the member is read in one call,
                # one decompression with its output bounded by that size (zipfile never returns more than
                # the declared size; a member that expands further fails its CRC). Reading in small chunks
                # into a growing buffer cost twice the CPU of the decompression itself.
                parts = [stream.read(info.file_size + 1)]
                total = len(parts[0])
                _check_size(name, total, info.compress_size, limits)
                while chunk := stream.read(_CHUNK):  # never, with the zipfile of today: kept as a guard
                    total += len(chunk)
                    _check_size(name, total, info.compress_size, limits)
                    parts.append(chunk)
        except ParseError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
            raise ParseError(
                "zip-corrupt",
                f"Файл {name!r} в архиве повреждён: {exc}",
                "an archive member is corrupt",
            ) from None
        return parts[0] if len(parts) == 1 else b"".join(parts)
