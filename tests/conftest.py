"""Shared fixtures: a migrated database on SQLite and, when SMART_TEST_DATABASE_URL is set, PostgreSQL.

Tests that take ``db`` run once per backend. The PostgreSQL run uses a throw-away database created
for the test session on the server named by SMART_TEST_DATABASE_URL and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kodeks_smart.config import Settings
from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.store import migrate
from kodeks_smart.store.db import Database, normalize_url
from kodeks_smart.store.schema import metadata

PG_ENV = "SMART_TEST_DATABASE_URL"
PG_SKIP_REASON = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "smart.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test session."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    name = f"smart_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "smart.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url
    _truncate_all(url)


def _truncate_all(url: str) -> None:
    engine = create_engine(normalize_url(url))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def hashing() -> PasswordHashing:
    """argon2id with cheap parameters: the tests check behaviour, not hashing cost."""
    return PasswordHashing(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([SecretBox.generate_key()])


@pytest.fixture
def services(db: Database, box: SecretBox, hashing: PasswordHashing, tmp_path: Path) -> Services:
    """Services over the test database, with the scheduler off (tests run jobs explicitly)."""
    (tmp_path / "data").mkdir(mode=0o700, exist_ok=True)
    settings = Settings.from_values(
        {
            "database_url": db.url,
            "data_dir": str(tmp_path / "data"),
            "secret_key_file": str(tmp_path / "secret.key"),
            "scheduler": False,
            "probes": False,
        }
    )
    return Services(settings=settings, db=db, box=box, hashing=hashing)


@dataclass
class Tenants:
    """alice's cabinet A and bob's cabinet B of dealer 0599ROGAIKOPITA; charlie is another dealer."""

    dealer_id: int
    other_dealer_id: int
    cabinet_a: int
    cabinet_b: int
    cabinet_c: int
    token: str
    other_token: str


@pytest.fixture
def tenants(db: Database, hashing: PasswordHashing, box: SecretBox) -> Tenants:
    from kodeks_smart.store import admin

    with db.write() as s:
        dealer, token = admin.add_dealer(s, "0599ROGAIKOPITA", "Рога и копыта")
        other, other_token = admin.add_dealer(s, "rogaikopita599", "Другой дистрибьютор")
        a = admin.add_cabinet(s, dealer.code, "Филиал А")
        b = admin.add_cabinet(s, dealer.code, "Филиал Б")
        c = admin.add_cabinet(s, other.code, "Главный")
        for cabinet, prefix in ((a, "alpha"), (b, "beta"), (c, "gamma")):
            manager = admin.add_manager(s, cabinet, f"Менеджер {prefix}", [f"{prefix}@example.ru"])
            client = admin.add_client(s, cabinet, f"{prefix}_client", f"ООО «{prefix}»", manager)
            admin.add_installation(
                s,
                box,
                client,
                "internet",
                f"{prefix}.example.ru:80",
                test_login="smartlogin",
                test_password=f"{prefix}-secret",
            )
            admin.add_online_access(
                s,
                box,
                client,
                host="nps2.cntd.ru",
                catalog="kodeks02",
                login=f"{prefix}_online",
                password=f"{prefix}-online-secret",
            )
            admin.add_mailbox(s, cabinet, f"support-{prefix}@example.ru", ["critical", "technical"])
            admin.add_telegram_chat(s, box, cabinet, f"-100{len(prefix)}", f"bot-{prefix}", ["critical"])
        admin.add_account(s, hashing, "alice", "alice-password", "cabinet", dealer.code, ["Филиал А"])
        admin.add_account(s, hashing, "bob", "bob-password", "cabinet", dealer.code, ["Филиал Б"])
        admin.add_account(s, hashing, "charlie", "charlie-password", "dealer-admin", other.code)
        admin.add_account(
            s, hashing, "boss", "boss-password", "cabinet", dealer.code, ["Филиал А", "Филиал Б"]
        )
        return Tenants(dealer.id, other.id, a.id, b.id, c.id, token, other_token)
