"""TEMPORARY: alert tables created with create_all until migration 0004 lands after 0002/0003."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kodeks_smart.store import alert_models, web_models  # noqa: F401 - registers the tables
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Base


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/alerts.db"
    database = Database(url)
    Base.metadata.create_all(database.engine)
    database.dispose()
    yield url
