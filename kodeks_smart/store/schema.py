"""Imports every module that defines tables, so that ``Base.metadata`` is complete.

Alembic's environment and the test fixtures use ``metadata`` from here. A feature that adds a
models module adds one import line below.
"""

from __future__ import annotations

# Each module registers its tables on Base.metadata when imported.
from kodeks_smart.store import (  # noqa: F401
    alert_models,
    asrp_models,
    cluster_models,
    dashboard_rollup_models,
    grafana_models,
    ingest_models,
    models,
    notify_models,
    probe_models,
    report_models,
    seats_rollup_models,
    usage_rollup_models,
    user_rollup_models,
    web_models,
)

metadata = models.Base.metadata

__all__ = ["metadata", "models"]
