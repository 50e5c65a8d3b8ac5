"""What the ingest code needs from the settings, gathered once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kodeks_smart.config import Settings
from kodeks_smart.parsers.limits import Limits
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database


@dataclass(frozen=True)
class IngestContext:
    db: Database
    data_dir: Path
    max_upload_bytes: int
    limits: Limits
    retention_days: int
    raw_retention_days: int

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> IngestContext:
        return cls(
            db=db,
            data_dir=settings.data_path,
            max_upload_bytes=settings.max_upload_bytes,
            limits=Limits(
                zip_max_entries=settings.zip_max_entries,
                zip_max_uncompressed=settings.zip_max_uncompressed_bytes,
                zip_max_ratio=settings.zip_max_ratio,
            ),
            retention_days=settings.retention_days,
            raw_retention_days=settings.raw_retention_days,
        )

    @classmethod
    def from_services(cls, services: Services) -> IngestContext:
        return cls.from_settings(services.settings, services.db)
