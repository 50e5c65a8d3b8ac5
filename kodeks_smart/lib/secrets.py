"""Secrets at rest, upload tokens and account passwords.

* Stored secrets (test-user and online-access passwords, bot tokens, SMTP passwords) are encrypted with
  Fernet (AES-128-CBC + HMAC-SHA256) under a key kept in ``SMART_SECRET_KEY_FILE``.
* Upload tokens are random 256-bit strings; only their SHA-256 digest is stored, and a token is
  compared in constant time. A slow hash is unnecessary for a value with that much entropy.
* Account passwords are hashed with argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

TOKEN_PREFIX = "smt_"  # noqa: S105 - a prefix, not a secret


class SecretKeyError(RuntimeError):
    """The secret key file is missing, unreadable or malformed."""


class SecretBox:
    """Encrypts and decrypts stored secrets. Several keys allow rotation: the first one encrypts."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretKeyError("no secret key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def generate_key(cls) -> bytes:
        return Fernet.generate_key()

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> SecretBox:
        """Read the key file (one key per line, newest first); create it with mode 0600 if asked."""
        if not path.exists():
            if not create:
                raise SecretKeyError(f"secret key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(cls.generate_key() + b"\n")
        try:
            lines = [ln.strip() for ln in path.read_bytes().splitlines() if ln.strip()]
            return cls(lines)
        except (ValueError, OSError) as exc:
            raise SecretKeyError(f"secret key file {path} is unusable: {exc}") from exc

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError("stored secret cannot be decrypted with the configured key") from exc


def new_upload_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def new_password(length: int = 20) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


class PasswordHashing:
    """argon2id with the library's defaults; tests may pass cheaper parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
