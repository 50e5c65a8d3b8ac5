"""The long-lived objects of one SMART process, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from kodeks_smart.config import Settings
from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
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
