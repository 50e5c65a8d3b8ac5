"""Threshold colours of single table cells (`Column.tone`): the «Биллинг Онлайн» table colours «Документы»,
«% исп. док» and «% исп. поиска» as the original does, in the page, never in the exports."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kodeks_smart.app import create_app
from kodeks_smart.runtime import Services
from kodeks_smart.store.db import Database
from kodeks_smart.web.dashboards.billing import BILLING_COLUMNS, LOW_DOCS_USE, LOW_SEARCH_USE, tone_docs_left
from kodeks_smart.web.tables import Column
from tests.conftest import Tenants
from tests.web.dashboard_helpers import open_dashboard
from tests.web.test_cabinet import login
from tests.web.test_dashboards2 import _billing


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def test_tone_rules_follow_the_original_thresholds() -> None:
    assert [tone_docs_left(v) for v in (0, 49, 50, 149, 150, 1000)] == [
        "crit",
        "crit",
        "warn",
        "warn",
        None,
        None,
    ]
    columns = {c.key: c for c in BILLING_COLUMNS}
    docs_pct, search_pct = columns["docs_pct"], columns["search_pct"]
    assert docs_pct.tone_of({"docs_pct": LOW_DOCS_USE - 0.1}) == "crit"
    assert docs_pct.tone_of({"docs_pct": LOW_DOCS_USE}) is None
    assert search_pct.tone_of({"search_pct": LOW_SEARCH_USE - 0.2}) == "crit"
    assert search_pct.tone_of({"search_pct": LOW_SEARCH_USE + 0.1}) is None
    # An empty cell (no reading) is never coloured; a column without a rule neither.
    assert docs_pct.tone_of({"docs_pct": None}) is None and docs_pct.tone_of({}) is None
    assert Column("client", "Клиент").tone_of({"client": "x"}) is None


def _cells(page: str) -> list[tuple[str | None, str]]:
    """(tone class, text) of every cell of the «billing» table's body."""
    start = page.index('id="panel-billing"')
    body = page[page.index("<tbody>", start) : page.index("</tbody>", start)]
    return [
        (m.group(1), m.group(2))
        for m in re.finditer(r'<td title="[^"]*"(?: class="tone-(\w+)")?>([^<]*)</td>', body)
    ]


def test_billing_table_colours_the_remaining_documents_cell(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _billing(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "billing")
    cells = _cells(page)
    assert cells, "the billing table has a row"
    tones = {text: tone for tone, text in cells}
    # 67 documents left: yellow (50–150); 83.2 % and 12.1 % used: above the red thresholds, no colour.
    assert tones["67"] == "warn"
    assert tones["83.2"] is None and tones["12.1"] is None
    assert [t for t, _ in cells if t] == ["warn"]
    assert "td.tone-warn" in web.get("/static/dashboards.css").text
