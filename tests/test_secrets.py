"""Secrets at rest, upload tokens and password hashes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kodeks_smart.lib.secrets import (
    PasswordHashing,
    SecretBox,
    SecretKeyError,
    hash_token,
    new_upload_token,
    token_matches,
)


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret.key"
    box = SecretBox.from_file(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ciphertext = box.encrypt("пароль smartlogin")
    assert b"smartlogin" not in ciphertext
    again = SecretBox.from_file(path, create=True)
    assert again.decrypt(ciphertext) == "пароль smartlogin"


def test_a_missing_key_file_is_an_error_unless_creation_is_asked(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="does not exist"):
        SecretBox.from_file(tmp_path / "secret.key")


def test_a_secret_encrypted_with_another_key_is_refused() -> None:
    theirs = SecretBox([SecretBox.generate_key()]).encrypt("x")
    with pytest.raises(SecretKeyError):
        SecretBox([SecretBox.generate_key()]).decrypt(theirs)


def test_old_keys_still_decrypt_after_rotation() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    ciphertext = SecretBox([old]).encrypt("bot-token")
    assert SecretBox([new, old]).decrypt(ciphertext) == "bot-token"


def test_tokens_are_random_and_only_their_hash_matches() -> None:
    a, b = new_upload_token(), new_upload_token()
    assert a != b and a.startswith("smt_") and len(a) > 40
    assert token_matches(a, hash_token(a))
    assert not token_matches(b, hash_token(a))
    assert hash_token(a) != a


def test_passwords_are_hashed_with_argon2id(hashing: PasswordHashing) -> None:
    stored = hashing.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert hashing.verify(stored, "correct horse")
    assert not hashing.verify(stored, "wrong horse")
    assert not hashing.verify("not-a-hash", "correct horse")
