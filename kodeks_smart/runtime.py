"""The long-lived objects of one SMART process, built once from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from kodeks_smart.config import ConfigError, Settings
from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.store import migrate
from kodeks_smart.store.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    hashing: PasswordHashing = field(default_factory=PasswordHashing)
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    @classmethod
    def open(cls, settings: Settings, *, create_key: bool = True) -> Services:
        """Connect to the store and load (or, on first start, create) the secret key."""
        # Raw uploads, the SQLite file and the key live here: readable by the service user only.
        settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        box = SecretBox.from_file(settings.secret_key_path, create=create_key)
        pool = (
            {}
            if settings.is_sqlite
            else {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
        )
        return cls(settings=settings, db=Database(settings.database_url, **pool), box=box)

    def close(self) -> None:
        self.db.dispose()


@contextmanager
def open_services(settings: Settings | None = None, *, migrated: bool = True) -> Iterator[Services]:
    """Open the store for a command; with ``migrated`` the schema must be current (upgraded when
    SMART_AUTO_MIGRATE allows, otherwise a clear error)."""
    services = Services.open(settings or Settings.load())
    try:
        if migrated and not migrate.is_current(services.db):
            if not services.settings.auto_migrate:
                raise ConfigError("схема базы данных устарела: выполните `smart db upgrade`")
            migrate.upgrade(services.db)
        yield services
    finally:
        services.close()
