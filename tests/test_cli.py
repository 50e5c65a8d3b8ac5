"""The `smart` command line, run as a real process against a temporary store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from kodeks_smart.lib.secrets import hash_token
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Account, AccountCabinet, Dealer
from tests.live import smart_env


def smart(
    home: Path, *args: str, stdin: str = "", db_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kodeks_smart", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**smart_env(home, 8080, db_url), "COLUMNS": "250"},
        cwd=home,
        timeout=120,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    assert smart(tmp_path, "db", "upgrade").returncode == 0
    return tmp_path


def _db(home: Path) -> Database:
    return Database(f"sqlite:///{home}/smart.db")


def test_dealer_add_prints_the_token_once_and_stores_only_its_hash(home: Path) -> None:
    result = smart(home, "dealer", "add", "0599ROGAIKOPITA", "--name", "Рога и копыта")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("smt_")
    db = _db(home)
    with db.session() as s:
        dealer = s.scalars(select(Dealer)).one()
        assert dealer.name == "Рога и копыта" and dealer.token_hash == hash_token(token)
    raw = (home / "smart.db").read_bytes() + b"".join(p.read_bytes() for p in home.glob("smart.db-*"))
    assert token.encode() not in raw
    db.dispose()


def test_field_codes_of_other_shapes_are_accepted_and_bad_ones_explained(home: Path) -> None:
    assert smart(home, "dealer", "add", "rogaikopita599", "--name", "Рога").returncode == 0
    bad = smart(home, "dealer", "add", "0599/../x", "--name", "x")
    assert bad.returncode == 2
    assert "Недопустимый код дистрибьютора" in bad.stderr
    again = smart(home, "dealer", "add", "rogaikopita599", "--name", "Рога")
    assert again.returncode == 2 and "уже зарегистрирован" in again.stderr


def test_token_rotation_invalidates_the_old_token(home: Path) -> None:
    first = smart(home, "dealer", "add", "0599ROGAIKOPITA", "--name", "Р").stdout.strip().splitlines()[-1]
    refused = smart(home, "dealer", "token", "0599ROGAIKOPITA")
    assert refused.returncode == 2 and "--rotate" in refused.stderr
    second = smart(home, "dealer", "token", "0599ROGAIKOPITA", "--rotate").stdout.strip().splitlines()[-1]
    assert second != first
    db = _db(home)
    with db.session() as s:
        assert s.scalars(select(Dealer.token_hash)).one() == hash_token(second)
    db.dispose()


def test_a_cabinet_user_can_be_granted_several_cabinets(home: Path) -> None:
    smart(home, "dealer", "add", "0599ROGAIKOPITA", "--name", "Р")
    assert smart(home, "cabinet", "add", "0599ROGAIKOPITA", "Филиал Север").returncode == 0
    assert smart(home, "cabinet", "add", "0599ROGAIKOPITA", "Филиал Юг").returncode == 0
    result = smart(
        home,
        "user",
        "add",
        "head",
        "--role",
        "cabinet",
        "--dealer",
        "0599ROGAIKOPITA",
        "--cabinet",
        "Филиал Север",
        "--cabinet",
        "Филиал Юг",
        "--password-stdin",
        stdin="очень-секретно\n",
    )
    assert result.returncode == 0, result.stderr
    assert "очень-секретно" not in result.stdout + result.stderr
    db = _db(home)
    with db.session() as s:
        account = s.scalars(select(Account).where(Account.login == "head")).one()
        assert account.password_hash.startswith("$argon2id$")
        grants = s.scalars(select(AccountCabinet).where(AccountCabinet.account_id == account.id)).all()
        assert len(grants) == 2
    db.dispose()
    listing = smart(home, "user", "list")
    assert "head" in listing.stdout and "cabinet" in listing.stdout


def test_a_short_password_is_refused(home: Path) -> None:
    result = smart(home, "user", "add", "op2", "--role", "operator", "--password-stdin", stdin="short\n")
    assert result.returncode == 2 and "не короче 8" in result.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kodeks_smart", "config", "show"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={
            **smart_env(tmp_path, 8080),
            "SMART_DATABASE_URL": "postgresql://smart:hunter2@db/smart",
            "COLUMNS": "250",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "smart:***@db" in result.stdout


def test_jobs_lists_the_scheduled_jobs(home: Path) -> None:
    result = smart(home, "jobs")
    assert result.returncode == 0, result.stderr
    assert "store-maintenance" in result.stdout
