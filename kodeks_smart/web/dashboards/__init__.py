"""Dashboards of the cabinet: one module per dashboard, registered with `framework.dashboard`.

Importing this package registers every dashboard route on `router` (included by the app).
"""

from __future__ import annotations

from kodeks_smart.web.dashboards import (  # noqa: F401  (imported to register the routes)
    ad,
    analytics,
    availability,
    billing,
    connected_users,
    db_errors,
    disk_space,
    kassist,
    managers,
    search_time,
    searches,
    server_metrics,
    user_cards,
    versions,
)
from kodeks_smart.web.dashboards.framework import REGISTRY, router

__all__ = ["REGISTRY", "router"]
