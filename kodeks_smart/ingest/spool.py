"""The raw-file spool under ``SMART_DATA_DIR/raw``.

A file is streamed into a temporary file in ``raw/.tmp`` (same file system), hashed and counted while it
is written, so the size limit stops a too-large upload without holding it in memory. `SpoolWriter.commit`
then makes it durable: fsync the file, rename it to its content address
``raw/<dealer code>/<sha256[:2]>/<sha256>.<format>`` and fsync the directories whose entries changed. Only
after that is the upload recorded in the database and acknowledged.

Content addressing makes a repeated upload cost nothing on disk and lets reprocessing find the bytes by
hash; retention removes a file when no upload row refers to it any more.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RAW_DIR = "raw"
TMP_DIR = ".tmp"


class SpoolTooLarge(Exception):
    """More bytes were written than the limit allows."""


@dataclass(frozen=True, slots=True)
class Spooled:
    sha256: str
    size: int
    #: Path relative to the data directory, with forward slashes (stored in the upload row).
    rel_path: str


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(root: Path, rel: Path) -> None:
    """Create ``root / rel`` directory by directory, fsyncing the parent of each new one."""
    current = root
    for part in rel.parts:
        child = current / part
        if not child.is_dir():
            try:
                child.mkdir(mode=0o700)
            except FileExistsError:
                pass
            else:
                fsync_dir(current)
        current = child


class SpoolWriter:
    """Write one upload: `write` chunks, then `commit` (durable) or `abort` (file removed)."""

    def __init__(self, data_dir: Path, limit: int) -> None:
        self.data_dir = data_dir
        self.limit = limit
        _make_dirs(data_dir, Path(RAW_DIR) / TMP_DIR)
        fd, name = tempfile.mkstemp(dir=data_dir / RAW_DIR / TMP_DIR, prefix="upload-")
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        """Append a chunk. Raises SpoolTooLarge once the total exceeds the limit."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise SpoolTooLarge(self.size)
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self, dealer_code: str, fmt: str) -> Spooled:
        """Make the file durable under its content address and return where it is."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        rel_dir = Path(RAW_DIR) / dealer_code / digest[:2]
        _make_dirs(self.data_dir, rel_dir)
        rel = rel_dir / f"{digest}.{fmt}"
        os.replace(self._path, self.data_dir / rel)
        fsync_dir(self.data_dir / rel_dir)
        self._done = True
        return Spooled(sha256=digest, size=self.size, rel_path=rel.as_posix())

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        self._path.unlink(missing_ok=True)


def spool_bytes(data_dir: Path, dealer_code: str, fmt: str, data: bytes, limit: int) -> Spooled:
    """Spool an in-memory file (the CLI and the web form). Raises SpoolTooLarge."""
    writer = SpoolWriter(data_dir, limit)
    try:
        writer.write(data)
        return writer.commit(dealer_code, fmt)
    finally:
        writer.abort()


def spool_path(data_dir: Path, dealer_code: str, fmt: str, source: Path, limit: int) -> Spooled:
    """Spool a local file in chunks. Raises SpoolTooLarge."""
    writer = SpoolWriter(data_dir, limit)
    try:
        with source.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                writer.write(chunk)
        return writer.commit(dealer_code, fmt)
    finally:
        writer.abort()


def read_raw(data_dir: Path, rel_path: str) -> bytes:
    return (data_dir / rel_path).read_bytes()


def sweep_temp(data_dir: Path, older_than: float = 86400.0) -> int:
    """Remove temporary files left by a crash mid-upload; returns how many were removed."""
    tmp = data_dir / RAW_DIR / TMP_DIR
    if not tmp.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than
    for entry in tmp.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
