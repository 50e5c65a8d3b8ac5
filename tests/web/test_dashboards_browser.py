"""charts.js in a real browser (Debian's Chromium via Playwright) against a live `smart serve`:
charts are drawn from the embedded JSON, the tooltip and legend work, and drag-to-zoom rewrites the range."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.store import admin, migrate
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoDbError
from kodeks_smart.store.types import utcnow
from tests.live import LiveServer, live_server
from tests.web.dashboard_helpers import site_of

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
    reason=f"needs Debian's Chromium at {CHROMIUM} and the playwright package",
)


@pytest.fixture
def server(tmp_path: Path, hashing: PasswordHashing) -> Iterator[LiveServer]:
    home = tmp_path / "home"
    home.mkdir()
    db = Database(f"sqlite:///{home}/smart.db")
    migrate.upgrade(db)
    box = SecretBox([SecretBox.generate_key()])
    now = utcnow()
    with db.write() as s:
        dealer, _ = admin.add_dealer(s, "0599BROWSER", "Браузер")
        cabinet = admin.add_cabinet(s, dealer.code, "Кабинет")
        manager = admin.add_manager(s, cabinet, "Менеджер", ["m@example.ru"])
        for name in ("alpha", "beta"):
            client = admin.add_client(s, cabinet, f"{name}_client", name, manager)
            admin.add_installation(s, box, client, "internet", f"{name}.example.ru:80")
        admin.add_account(s, hashing, "viewer", "viewer-password", "cabinet", dealer.code, ["Кабинет"])
        s.flush()
        for n, name in enumerate(("alpha_client", "beta_client")):
            site = site_of(s, cabinet.id, name)
            for hours in range(0, 72, 6):
                at = now - timedelta(hours=hours)
                for v in range(1 + n + hours % 4):
                    s.add(
                        SysinfoDbError(**site.fact(), report_at=at, volume=f"v{v}", code=603, text="Ошибка")
                    )
    db.dispose()
    with live_server(home) as srv:
        yield srv


def _login(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=login]", "viewer")
    page.fill("input[name=password]", "viewer-password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/c/\d+/.*"))


def test_charts_draw_show_tooltips_isolate_series_and_zoom(server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _login(page, server.url)
            cabinet = re.search(r"/c/(\d+)/", page.url)
            assert cabinet
            page.goto(f"{server.url}/c/{cabinet.group(1)}/d/db-errors?range=7d")
            chart = page.locator('.chart[data-chart="errors"]')
            svg = chart.locator("svg.chart-svg")
            svg.wait_for()
            assert chart.locator("circle").count() > 10
            rows = chart.locator("table.legend tbody tr")
            assert rows.count() == 2
            # Legend: a click keeps only that series, a second click brings all back.
            rows.nth(0).click()
            assert chart.locator("table.legend tbody tr.off").count() == 1
            chart.locator("table.legend tbody tr").nth(0).click()
            assert chart.locator("table.legend tbody tr.off").count() == 0
            # Tooltip on hover.
            box = chart.locator("svg.chart-svg").bounding_box()
            assert box
            page.mouse.move(box["x"] + box["width"] * 0.97, box["y"] + box["height"] / 2)
            tip = chart.locator(".chart-tip")
            assert tip.is_visible() and "UTC" in tip.inner_text()
            # Drag-to-zoom rewrites from/to (epoch ms) and drops the preset.
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * 0.5, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
            page.mouse.up()
            page.wait_for_url(re.compile(r".*from=\d{13}.*to=\d{13}.*"))
            assert "range=" not in page.url
            assert "Период:" in page.content() and "UTC" in page.locator(".dash-range").inner_text()
            assert errors == []
        finally:
            browser.close()


def test_the_single_client_filter_of_ms_ad_is_a_plain_select(server: LiveServer) -> None:
    """«MS AD» shows one client: a plain select without «Все», the first client by default; the choice
    goes into the URL and stays chosen."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _login(page, server.url)
            cabinet = re.search(r"/c/(\d+)/", page.url)
            assert cabinet
            page.goto(f"{server.url}/c/{cabinet.group(1)}/d/ad?range=7d")
            client = page.locator("select[name=client]")
            assert client.get_attribute("multiple") is None
            assert client.locator("option").all_inner_texts() == ["alpha_client", "beta_client"]
            assert client.input_value() == "alpha_client"
            assert page.locator("select[name=domain]").get_attribute("multiple") is not None
            page.select_option("select[name=client]", "beta_client")
            page.click("form.filters button[type=submit]")
            page.wait_for_url(re.compile(r".*client=beta_client.*"))
            assert page.locator("select[name=client]").input_value() == "beta_client"
            assert errors == []
        finally:
            browser.close()
