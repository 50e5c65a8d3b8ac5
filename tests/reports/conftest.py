"""Fixtures of the report tests: a year of facts for alpha_client (cabinet A) and beta_client (cabinet B)."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from kodeks_smart.store.db import Database
from tests.conftest import Tenants
from tests.reports.helpers import Built, add_online_billing, build_client

#: The report period of the tests: December 2025 … November 2026.
FIRST, LAST = date(2025, 12, 1), date(2026, 11, 1)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="pdftotext/pdftoppm (poppler-utils) are not installed",
)


@pytest.fixture
def year(db: Database, tenants: Tenants) -> tuple[Built, Built]:
    """Twelve months of alpha_client (seed 1, 10 seats) and beta_client (seed 5, 6 seats) + online billing."""
    alpha = build_client(db, "alpha_client", FIRST, seed=1, seats=10)
    beta = build_client(db, "beta_client", FIRST, seed=5, seats=6)
    add_online_billing(db, "alpha_client", alpha.months)
    return alpha, beta
