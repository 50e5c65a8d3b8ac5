"""Fixtures for onboarding tests: a dealer with one cabinet and its administrator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kodeks_smart.lib.secrets import PasswordHashing
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from tests.onboarding.helpers import DEALER


@dataclass
class Dealer:
    code: str
    cabinet: str
    admin_login: str
    admin_password: str


@pytest.fixture
def dealer(db: Database, hashing: PasswordHashing) -> Dealer:
    """A dealer with one cabinet «Главный» and its administrator «dana»."""
    with db.write() as s:
        admin.add_dealer(s, DEALER, "Тестовый дистрибьютор")
        admin.add_cabinet(s, DEALER, "Главный")
        admin.add_account(s, hashing, "dana", "dana-password", "dealer-admin", DEALER)
    return Dealer(DEALER, "Главный", "dana", "dana-password")
