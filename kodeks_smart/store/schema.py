"""Imports every module that defines tables, so that ``Base.metadata`` is complete.

Alembic's environment and the test fixtures use ``metadata`` from here. A feature that adds a
models module adds one import line below.
"""

from __future__ import annotations

from kodeks_smart.store import models

metadata = models.Base.metadata

__all__ = ["metadata", "models"]
