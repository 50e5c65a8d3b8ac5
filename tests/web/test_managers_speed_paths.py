"""«Для менеджеров»: the cheaper reads of issue #8 give the numbers of the plain ones.

* «Пользователи, не сумевшие подключиться… по дням» counts refusals per UTC day: the days and counts must
  be those of the raw rows, also for times a microsecond before midnight.
* Both refusal panels come from one grouping by installation, user and grain (the chart's point when it
  divides a day, else the UTC day): the chart's distinct users per point and the table's refusals for
  lack of seats per user and day must be those of the raw rows at every chart step.
* «Сколько дней назад обновились файлы в OperUp» ranks files by the age at their newest point, read from
  the oldest newest point on (that start replaces the range's; the newest report per file comes from
  ``sysinfo_operup_latest`` when the range is open at the end): files whose newest report is older than
  the others' must keep their place and values, as building every series shows.
* The per-user charts ask once whether usage lies after the range end (`managers._open_end`) and read
  both the peaks and the points with that answer: a range ending before the data must still equal the
  raw hourly rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import SysinfoOperUpFile, SysinfoRefusal
from kodeks_smart.store.types import utcnow
from kodeks_smart.web.dashboards import framework, managers, usage
from tests.conftest import Tenants
from tests.web.dashboard_helpers import chart, hour, open_dashboard, series, site_of, table_rows
from tests.web.test_usage_rollup import NOW, _panels, _profile, _upload

FMT = "%Y-%m-%dT%H:%M"


def test_refusal_table_counts_per_utc_day_at_midnight_edges(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    midnight = hour().replace(hour=0) - timedelta(days=2)
    times = [
        midnight - timedelta(microseconds=1),  # 23:59:59.999999: still the day before
        midnight - timedelta(microseconds=400),  # rounds to the next second in SQLite's strftime
        midnight,
        midnight + timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999),
        midnight + timedelta(days=1, hours=5),
    ]
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        for n, at in enumerate(times):
            for login_name in ("u1", "u2")[: 1 + n % 2]:
                s.add(
                    SysinfoRefusal(
                        **site.fact(), occurred_at=at, login=login_name, reason="no-seats", code=2008
                    )
                )
        # not for lack of seats: in the chart, not in the table
        s.add(SysinfoRefusal(**site.fact(), occurred_at=midnight, login="u3", reason="other", code=1))
    with db.session() as s:
        stored = s.execute(
            select(SysinfoRefusal.login, SysinfoRefusal.occurred_at, SysinfoRefusal.code).where(
                SysinfoRefusal.cabinet_id == tenants.cabinet_a
            )
        ).all()
    expected = Counter(
        (at.astimezone(UTC).date().isoformat(), login_name) for login_name, at, code in stored if code == 2008
    )
    page = open_dashboard(web, tenants.cabinet_a, "managers", "range=7d")
    shown = {(day, login_name): int(n) for day, client, login_name, n in table_rows(page, "refusals")}
    assert shown == dict(expected)
    assert len(shown) == 5 and max(shown.values()) == 2  # three UTC days, each edge on its own side


def test_refusal_chart_and_table_equal_the_raw_rows_at_every_step(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    end = hour() - timedelta(hours=3)
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        for k in range(400):  # every 5 h 17 min back over 88 days: all hours of the day, both sides of days
            at = end - timedelta(minutes=317 * k + 7)
            login_name = f"u{k % 4}"
            code, reason = (2008, "no-seats") if k % 3 else (1, "password")  # lack of seats, or not
            s.add(SysinfoRefusal(**site.fact(), occurred_at=at, login=login_name, code=code, reason=reason))
            if k % 5 == 0:  # the same user again a little later, and another user at the same time
                later = at + timedelta(minutes=3)
                s.add(
                    SysinfoRefusal(
                        **site.fact(), occurred_at=later, login=login_name, code=2008, reason="no-seats"
                    )
                )
                s.add(SysinfoRefusal(**site.fact(), occurred_at=at, login="other", code=1, reason="password"))
        host = site.host
    with db.session() as s:
        stored = [
            (login_name, at.astimezone(UTC), code)
            for login_name, at, code in s.execute(
                select(SysinfoRefusal.login, SysinfoRefusal.occurred_at, SysinfoRefusal.code).where(
                    SysinfoRefusal.cabinet_id == tenants.cabinet_a
                )
            )
        ]
    steps = set()
    for days in (1, 7, 30, 90):
        start = end - timedelta(days=days)
        step = framework.TimeRange(start, end, None).step
        steps.add(step)
        query = f"from={start:{FMT}}&to={end:{FMT}}&table=refusals&per_page=500"
        page = open_dashboard(web, tenants.cabinet_a, "managers", query)
        in_range = [(login_name, at, code) for login_name, at, code in stored if start <= at < end]
        users: dict[int, set[str]] = {}
        for login_name, at, _code in in_range:
            point = int(at.timestamp()) // step * step
            users.setdefault(point, set()).add(login_name)
        points = {int(t): v for t, v in series(page, "refused")[host]["points"]}
        assert points == {t: len(logins) for t, logins in users.items()}, days
        assert max(points.values()) > 1  # distinct users: the same user twice in a point counts once
        expected = Counter(
            (at.date().isoformat(), login_name) for login_name, at, code in in_range if code == 2008
        )
        rows = {(day, login_name): int(n) for day, client, login_name, n in table_rows(page, "refusals")}
        assert rows == dict(expected), days
        assert len(rows) < 500
    assert len(steps) == 4


def _operup_files(db: Database, tenants: Tenants) -> None:
    """Five files of one installation, reported every 6 hours for six days; two are missing from the
    newest reports (their newest point is older, one of them by days) and have the largest ages."""
    now = hour()
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        for k in range(24):
            at = now - timedelta(hours=6 * k + 1)
            for n in range(5):
                if (n == 3 and k < 2) or (n == 4 and k < 12):
                    continue  # file 3 gone for 12 hours, file 4 for three days
                age = timedelta(days=n * 2 + 1, hours=k % 5)
                s.add(
                    SysinfoOperUpFile(
                        **site.fact(), report_at=at, path=f"OperUp\\file{n}.ud6", modified_at=at - age
                    )
                )


@pytest.mark.parametrize("shown", [1, 2, 3])
def test_operup_ranking_equals_all_series_built_then_cut(
    web: TestClient, db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch, shown: int
) -> None:
    _operup_files(db, tenants)
    for module in (framework, usage, managers):
        monkeypatch.setattr(module, "MAX_SERIES", shown)
    # one clock for both pages: a preset range ends at "now", which may pass a second between them
    frozen = utcnow()
    monkeypatch.setattr(framework, "utcnow", lambda: frozen)
    ranked_files: list[int] = []  # files the ranking found (from `sysinfo_operup_latest` for open ranges)
    real = managers._operup_newest

    def counted(*args: Any) -> dict[tuple[int, str], tuple[int, float]]:
        newest = real(*args)
        ranked_files.append(len(newest))
        return newest

    monkeypatch.setattr(managers, "_operup_newest", counted)
    for query in ("range=7d", "range=24h", f"from={(NOW - timedelta(days=5)):{FMT}}&to={NOW:{FMT}}"):
        monkeypatch.setattr(usage, "ROLLUPS", True)
        ranked = chart(open_dashboard(web, tenants.cabinet_a, "managers", query), "operup")
        monkeypatch.setattr(usage, "ROLLUPS", False)
        built = chart(open_dashboard(web, tenants.cabinet_a, "managers", query), "operup")
        assert ranked == built, query
        assert len(built["series"]) == shown
        assert built["hidden"] > 0
    assert ranked_files == [5, 4, 5]  # every file of the range (file 4 is older than 24 hours)
    # the two files missing from the newest reports are the oldest ones, so they lead
    names = [s["name"].split(": ")[1] for s in built["series"]]
    assert names[:2] == ["OperUp\\file4.ud6", "OperUp\\file3.ud6"][:shown]


def test_per_user_charts_of_a_range_ending_before_the_data_equal_the_raw_rows(
    ctx: IngestContext, web: TestClient, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges ending days before the newest usage (no «open end»: the monthly rows must not be read past
    it), cutting hours, days and months, with points of hours and of whole days."""
    _upload(ctx, _profile(NOW, days=100))
    drain(ctx)
    end = (NOW - timedelta(days=9)).replace(hour=14, minute=47)
    checked = 0
    for days in (2, 12, 40, 80):
        query = f"from={(end - timedelta(days=days)):{FMT}}&to={end:{FMT}}"
        monkeypatch.setattr(usage, "ROLLUPS", True)
        rolled = _panels(open_dashboard(web, tenants.cabinet_a, "managers", query))
        monkeypatch.setattr(usage, "ROLLUPS", False)
        raw: dict[str, Any] = _panels(open_dashboard(web, tenants.cabinet_a, "managers", query))
        for name in ("billing-docs", "requests", "saved", "printed"):
            assert rolled["charts"][name] == raw["charts"][name], (query, name)
            checked += len(raw["charts"][name]["series"])
        assert rolled["tables"] == raw["tables"], query  # «Не пользуются…» counts the users with usage
    assert checked > 20
