"""The cabinet in a real browser: Debian's Chromium (headless) driven by Playwright against a live SMART.

Every side-menu link marked ``data-dashboard`` is opened, checked for JavaScript errors and saved as a
full-page screenshot ``docs/screenshots/<slug>.png`` for the user guide.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.ui.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    SCREENSHOTS,
    USER,
    USER_PASSWORD,
    Demo,
    skip_reason,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

WIDTH = 1400
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")


class Tab:
    """One browser context and page, with every JavaScript error and console error it saw."""

    def __init__(self, browser: Browser, demo: Demo) -> None:
        self.demo = demo
        self.context = browser.new_context(
            viewport={"width": WIDTH, "height": 900}, locale="ru-RU", accept_downloads=True
        )
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: {exc}"))
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "favicon" not in str(message.location.get("url", "")):
            self.errors.append(f"{self.page.url}: {message.text}")

    def login(self, login: str, password: str) -> None:
        self.page.goto(f"{self.demo.url}/login")
        self.page.fill("input[name=login]", login)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(re.compile(r"/c/\d+/alerts"))

    def open(self, path: str) -> int:
        response = self.page.goto(f"{self.demo.url}{path}")
        assert response is not None
        return response.status

    def rows(self) -> int:
        return self.page.locator("table.data").first.locator("tbody tr:not(:has(td.empty))").count()

    def shown_total(self) -> int:
        found = re.search(r"Строк: (\d+)", self.page.inner_text(".table-tools"))
        assert found
        return int(found.group(1))

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def admin_tab(browser: Browser, demo: Demo) -> Iterator[Tab]:
    tab = Tab(browser, demo)
    tab.login(ADMIN, ADMIN_PASSWORD)
    yield tab
    tab.close()


def _wait_for_reports(tab: Tab, timeout: float = 30.0) -> None:
    """The simulated sysinfo reports are processed by the ingest worker before the dashboards are shown."""
    deadline = time.monotonic() + timeout
    while True:
        tab.open(f"/c/{tab.demo.cabinet_id}/uploads?status=done")
        if tab.rows() >= tab.demo.reports or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert tab.rows() >= tab.demo.reports, tab.page.inner_text("main")


def test_every_dashboard_of_the_menu_renders_without_script_errors(
    browser: Browser, demo: Demo, admin_tab: Tab
) -> None:
    login_tab = Tab(browser, demo)
    login_tab.open("/login")
    login_tab.screenshot("login")
    login_tab.close()

    _wait_for_reports(admin_tab)
    admin_tab.open(f"/c/{demo.cabinet_id}/alerts")
    links = admin_tab.page.locator("nav.side a[data-dashboard]")
    dashboards = [
        (a.get_attribute("data-dashboard") or "", a.get_attribute("href") or "") for a in links.all()
    ]
    slugs = [slug for slug, _ in dashboards]
    assert "alerts" in slugs and len(set(slugs)) == len(slugs)
    problems: list[str] = []
    for slug, href in dashboards:
        assert SLUG.fullmatch(slug), slug
        assert href.startswith(f"/c/{demo.cabinet_id}/"), href
        status = admin_tab.open(href)
        if status != 200:
            problems.append(f"{href}: HTTP {status}")
            continue
        admin_tab.page.wait_for_load_state("networkidle")
        if not admin_tab.page.locator("main h1").inner_text().strip():
            problems.append(f"{href}: no title")
        if admin_tab.page.locator(f'nav.side a[data-dashboard="{slug}"].active').count() != 1:
            problems.append(f"{href}: the menu does not mark the page as open")
        admin_tab.screenshot(slug)
    problems += admin_tab.errors
    assert not problems, "\n".join(problems)


def test_a_filter_narrows_the_alerts_and_the_export_matches_the_table(admin_tab: Tab, demo: Demo) -> None:
    page = admin_tab.page
    admin_tab.open(f"/c/{demo.cabinet_id}/alerts")
    everything = admin_tab.shown_total()
    assert everything >= 2
    page.select_option("select[name=rule]", "KodeksTcpStatus")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"rule=KodeksTcpStatus"))
    narrowed = admin_tab.shown_total()
    assert 1 <= narrowed < everything
    rules = page.locator("table.data tbody tr td:nth-child(5)").all_inner_texts()
    assert rules and set(rules) == {"KodeksTcpStatus"}
    with page.expect_download() as info:
        page.click("a.export:text-is('CSV')")
    download = info.value
    assert download.suggested_filename == f"avarii-{demo.cabinet_id}.csv"
    lines = Path(download.path()).read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Клиент;Менеджер;Пр-т;Важность;Тип аварии")
    assert len(lines) - 1 >= narrowed  # the live engine may have added one since the page was shown
    assert all(line.split(";")[4] == "KodeksTcpStatus" for line in lines[1:])
    assert admin_tab.errors == []


def test_the_test_message_is_delivered_and_shows_in_the_outbox(admin_tab: Tab, demo: Demo) -> None:
    page = admin_tab.page
    assert admin_tab.open(f"/c/{demo.cabinet_id}/channels") == 200
    page.click("text=Отправить тестовое сообщение во все каналы")
    page.wait_for_url(re.compile(r"test=\d+"))
    result = page.locator("section.test-result")
    deadline = time.monotonic() + 30
    while "в очереди" in result.inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(500)  # the page refreshes itself while the message waits
    assert result.locator("tr.test-sent").count() == 3, result.inner_text()
    admin_tab.screenshot("channels")
    assert any("Проверка оповещений" in subject for subject in demo.mail.subjects())
    admin_tab.open(f"/c/{demo.cabinet_id}/outbox?state=sent")
    assert admin_tab.rows() >= 3
    assert "support@demo.smart.local" in page.inner_text("table#outbox")
    admin_tab.screenshot("outbox")
    for name in ("clients", "silences", "uploads"):
        assert admin_tab.open(f"/c/{demo.cabinet_id}/{name}") == 200
        if name != "uploads":  # the upload log is a dashboard and has its screenshot already
            admin_tab.screenshot(name)
    assert admin_tab.errors == []


def test_a_dealer_admin_switches_cabinets_and_logs_out(admin_tab: Tab, demo: Demo) -> None:
    page = admin_tab.page
    admin_tab.open(f"/c/{demo.cabinet_id}/alerts")
    options = page.locator("header select[name=c] option").all_inner_texts()
    assert set(options) == {"Демо-кабинет", "Второй кабинет"}
    page.select_option("header select[name=c]", str(demo.other_cabinet_id))
    page.wait_for_url(f"**/c/{demo.other_cabinet_id}/alerts")
    admin_tab.open(f"/c/{demo.other_cabinet_id}/clients")
    assert "vtoroi_client" in page.inner_text("main")
    assert page.locator("header select[name=c]").input_value() == str(demo.other_cabinet_id)
    page.click("header form.logout button")
    page.wait_for_url("**/login")
    admin_tab.open(f"/c/{demo.cabinet_id}/alerts")
    assert "/login?next=" in page.url
    assert admin_tab.errors == []


def test_a_cabinet_user_gets_404_for_every_page_of_another_cabinet(browser: Browser, demo: Demo) -> None:
    tab = Tab(browser, demo)
    try:
        tab.login(USER, USER_PASSWORD)
        page = tab.page
        assert page.locator("header select[name=c] option").all_inner_texts() == ["Демо-кабинет"]
        own = f"/c/{demo.cabinet_id}/"
        paths = {
            href.removeprefix(own)
            for href in (a.get_attribute("href") or "" for a in page.locator("nav.side a").all())
            if href.startswith(own)
        }
        assert {"alerts", "channels", "outbox"} <= paths
        foreign = f"/c/{demo.other_cabinet_id}"
        for path in sorted(paths):
            assert tab.open(f"{foreign}/{path}") == 404, path
        assert "Страница не найдена" in page.inner_text("body")
        for path in (
            f"{foreign}/mailboxes/{demo.other_mailbox_id}",
            f"{foreign}/outbox?format=csv",
            f"/c/{demo.cabinet_id}/mailboxes/{demo.other_mailbox_id}",
        ):
            assert page.request.get(f"{demo.url}{path}").status == 404, path
    finally:
        tab.close()
