"""Single-value filters (`View.single`, ``targets(single_client=True)``) on «Статистика в разрезе MS AD»:
one client at a time, the first by name by default, the chosen one kept in links and exports, an unknown
one replaced by the default with a notice; and «kAssist. Аналитика», which ranks its clients in SQL and
reads only the shown series, against the plain computation (`Chart` given every series). SQLite and
PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kodeks_smart.app import create_app
from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.runtime import Services
from kodeks_smart.store import admin
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoKassistDay, SysinfoUsageHour, SysinfoUser
from kodeks_smart.store.models import Cabinet, Manager
from kodeks_smart.web.dashboards.framework import MAX_SERIES, Chart, points_by
from kodeks_smart.web.dashboards.kassist import FIELDS
from tests.conftest import Tenants
from tests.web.dashboard_helpers import chart, open_dashboard, series, site_of, table_rows
from tests.web.test_cabinet import login


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def _add_client(db: Database, box: SecretBox, cabinet_id: int, name: str, manager_name: str) -> None:
    with db.write() as s:
        cabinet = s.get(Cabinet, cabinet_id)
        assert cabinet is not None
        manager = s.scalars(
            select(Manager).where(Manager.cabinet_id == cabinet_id, Manager.name == manager_name)
        ).first()
        if manager is None:
            manager = admin.add_manager(s, cabinet, manager_name, [])
        client = admin.add_client(s, cabinet, name, name, manager)
        admin.add_installation(s, box, client, "internet", f"{name}.example.ru:80")


# -- «MS AD»: one client --------------------------------------------------------------------------

AT = datetime(2026, 10, 11, 10, tzinfo=UTC)
QUERY = "from=2026-10-10&to=2026-10-12"


def _ad_usage(db: Database, box: SecretBox, tenants: Tenants) -> None:
    """alpha_client (cabinet A's own) and a second client «aaa_client» that sorts first by name."""
    _add_client(db, box, tenants.cabinet_a, "aaa_client", "Менеджер aaa")
    with db.write() as s:
        for name, domain, docs in (("alpha_client", "BUH", 5), ("aaa_client", "IT", 40)):
            site = site_of(s, tenants.cabinet_a, name)
            s.add(
                SysinfoUser(
                    **site.base(),
                    upload_id=site.upload_id,
                    login="ivanov",
                    first_seen_at=AT,
                    last_seen_at=AT,
                    domain=domain,
                )
            )
            s.add(SysinfoUsageHour(**site.fact(), hour=AT, login="ivanov", report_at=AT, docs=docs))


def _client_select(page: str) -> str:
    m = re.search(r'<select name="client"[^>]*>.*?</select>', page, re.S)
    assert m, "no client filter"
    return m.group(0)


def test_ad_shows_one_client_the_first_by_name_by_default(
    web: TestClient, db: Database, box: SecretBox, tenants: Tenants
) -> None:
    _ad_usage(db, box, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "ad", QUERY)
    assert set(series(page, "docs")) == {"IT"}  # aaa_client's domain only
    assert series(page, "docs")["IT"]["stats"]["last"] == 40
    select_ = _client_select(page)
    assert "multiple" not in select_ and "__all__" not in select_ and "Все" not in select_
    assert re.findall(r'<option value="([^"]*)"', select_) == ["aaa_client", "alpha_client"]
    assert 'value="aaa_client" selected' in select_
    # The domain filter stays multi-select, with «Все».
    domain = re.search(r'<select name="domain"[^>]*>.*?</select>', page, re.S)
    assert domain and "multiple" in domain.group(0) and "__all__" in domain.group(0)


def test_ad_client_choice_is_kept_in_links_and_exports(
    web: TestClient, db: Database, box: SecretBox, tenants: Tenants
) -> None:
    _ad_usage(db, box, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "ad", QUERY + "&client=alpha_client")
    assert set(series(page, "docs")) == {"BUH"} and series(page, "docs")["BUH"]["stats"]["last"] == 5
    assert 'value="alpha_client" selected' in _client_select(page)
    assert [r[:3] for r in table_rows(page, "domains")] == [["BUH", "1", "5"]]
    links = [html.unescape(h) for h in re.findall(r'href="([^"]*table=domains[^"]*)"', page)]
    assert links and all("client=alpha_client" in h for h in links)
    csv = web.get(f"/c/{tenants.cabinet_a}/d/ad?{QUERY}&client=alpha_client&table=domains&export=csv")
    lines = csv.content.decode("utf-8-sig").strip().split("\r\n")
    assert csv.status_code == 200 and len(lines) == 2 and lines[1].startswith("BUH;1;5;")
    default = web.get(f"/c/{tenants.cabinet_a}/d/ad?{QUERY}&table=domains&export=csv")
    assert default.content.decode("utf-8-sig").strip().split("\r\n")[1].startswith("IT;1;40;")
    # Several values (a hand-edited URL): the first one that exists.
    both = open_dashboard(web, tenants.cabinet_a, "ad", QUERY + "&client=nobody&client=alpha_client")
    assert set(series(both, "docs")) == {"BUH"} and "dash-notice" not in both


def test_ad_unknown_client_falls_back_to_the_default_with_a_notice(
    web: TestClient, db: Database, box: SecretBox, tenants: Tenants
) -> None:
    _ad_usage(db, box, tenants)
    login(web, "alice", "alice-password")
    for value in ("nobody", "beta_client", "__all__"):
        page = open_dashboard(web, tenants.cabinet_a, "ad", QUERY + f"&client={value}")
        assert set(series(page, "docs")) == {"IT"}, value
        if value != "__all__":
            notice = re.search(r'<p class="dash-notice">(.*?)</p>', page, re.S)
            assert notice and "показано «aaa_client»" in html.unescape(notice.group(1)), value
        else:
            assert "dash-notice" not in page


def test_ad_client_options_follow_the_manager_filter(
    web: TestClient, db: Database, box: SecretBox, tenants: Tenants
) -> None:
    _ad_usage(db, box, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(
        web, tenants.cabinet_a, "ad", QUERY + "&" + urlencode({"manager": "Менеджер alpha"})
    )
    assert re.findall(r'<option value="([^"]*)"', _client_select(page)) == ["alpha_client"]
    assert set(series(page, "docs")) == {"BUH"}
    nobody = open_dashboard(web, tenants.cabinet_a, "ad", QUERY + "&manager=nobody")
    assert "нет значений" in _client_select(nobody) and chart(nobody, "docs")["series"] == []


# -- «kAssist»: the shown series from SQL ranking, against every series --------------------------

#: 60 clients (> MAX_SERIES); the values repeat, so peaks tie and the name decides.
NAMES = [f"k{n:02d}" for n in range(59)] + ["K05b"]


def _kassist(db: Database, box: SecretBox, tenants: Tenants) -> list[tuple[str, date, dict[str, int | None]]]:
    for name in NAMES:
        _add_client(db, box, tenants.cabinet_a, name, "Менеджер К")
    facts: list[tuple[str, date, dict[str, int | None]]] = []
    first = date(2025, 2, 20)
    with db.write() as s:
        for n, name in enumerate(["alpha_client", *NAMES]):
            site = site_of(s, tenants.cabinet_a, name)
            for d in range(0, 420, 3 + n % 4):
                values: dict[str, int | None] = {
                    "unique_links": (n * 7 + d) % 11,
                    "not_matched": None if (n + d) % 5 == 0 else (n + d) % 3,
                    "links_added": (n % 6) * 10 + d % 4,
                    "active_checked": None if n % 9 == 0 else (d * n) % 13,
                }
                day = first + timedelta(days=d)
                s.add(SysinfoKassistDay(**site.fact(), day=day, report_at=AT, **values))
                facts.append((name, day, values))
    return facts


def _plain(
    facts: list[tuple[str, date, dict[str, int | None]]], start: date, end: date, step: int, field: str
) -> dict[str, Any]:
    """What the page showed before: every client's series, ranked and cut by `Chart` itself."""
    sums: dict[tuple[str, int], int | None] = {}
    for name, day, values in facts:
        if not start <= day <= end:
            continue
        ts = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) // step * step
        value = values[field]
        old = sums.get((name, ts))
        sums[(name, ts)] = old if value is None else (old or 0) + value
    rows = [
        (name, ts, float(v))
        for (name, ts), v in sorted(sums.items(), key=lambda kv: kv[0][1])
        if v is not None
    ]
    plain = Chart(field, "", series=points_by(rows, lambda k: str(k)), legend=("max", "last"))
    data = plain.payload()
    return {"hidden": data["hidden"], "series": data["series"]}


@pytest.mark.parametrize(
    ("query", "start", "end", "step"),
    [
        # A whole-day «to» includes that day; the dashboard reads days up to the range end's date.
        ("from=2025-12-01&to=2026-03-01", date(2025, 12, 1), date(2026, 3, 2), 86400),
        ("from=2025-03-01&to=2026-04-01", date(2025, 3, 1), date(2026, 4, 2), 7 * 86400),
    ],
)
def test_kassist_top_series_equal_the_plain_computation(
    web: TestClient,
    db: Database,
    box: SecretBox,
    tenants: Tenants,
    query: str,
    start: date,
    end: date,
    step: int,
) -> None:
    facts = _kassist(db, box, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "kassist", query)
    for field, _, _ in FIELDS:
        shown = chart(page, field)
        expected = _plain(facts, start, end, step, field)
        assert len(shown["series"]) == MAX_SERIES and shown["hidden"] == expected["hidden"] > 0, field
        assert {"hidden": shown["hidden"], "series": shown["series"]} == expected, field
    # The interval tables: every client's sum of the range.
    for field in ("unique_links", "active_checked"):
        total: dict[str, int] = {}
        for name, day, values in facts:
            if start <= day <= end and values[field] is not None:
                total[name] = total.get(name, 0) + int(values[field] or 0)
        csv = web.get(f"/c/{tenants.cabinet_a}/d/kassist?{query}&table=sum_{field}&export=csv")
        lines = csv.content.decode("utf-8-sig").strip().split("\r\n")[1:]
        assert dict((line.split(";")[0], int(line.split(";")[1])) for line in lines) == total, field
    # Filtered to a few clients (≤ MAX_SERIES): all of them, by name.
    few = open_dashboard(web, tenants.cabinet_a, "kassist", query + "&client=k03&client=K05b&client=k01")
    assert [s["name"] for s in chart(few, "unique_links")["series"]] == ["k01", "k03", "K05b"]
    assert chart(few, "unique_links")["hidden"] == 0
