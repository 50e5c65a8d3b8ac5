"""The dashboards' formulas (spec dashboards.md §4) as pure functions."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from kodeks_smart.web.dashboards import formulas as f
from kodeks_smart.web.dashboards.framework import Series, days_until, fmt_duration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_licence_delta_is_reg_minus_used() -> None:
    assert f.licence_delta(20, 7) == 13
    assert f.licence_delta(20, 25) == -5
    assert f.licence_delta(None, 3) is None and f.licence_delta(5, None) is None


def test_involvement_is_users_with_queries_per_hundred_seats_and_may_exceed_100() -> None:
    assert f.involvement(6, 10) == 60.0
    assert f.involvement(14, 10) == 140.0
    assert f.involvement(3, 0) is None and f.involvement(3, None) is None


@pytest.mark.parametrize(
    ("value", "level"),
    [(None, "crit"), (0, "crit"), (59.9, "crit"), (60, "warn"), (79.9, "warn"), (80, "ok"), (140, "ok")],
)
def test_involvement_colours_follow_the_standard(value: float | None, level: str) -> None:
    assert f.involvement_level(value) == level


def test_activity_sums_every_kind_of_action_like_the_alert() -> None:
    assert f.activity(db_requests=10, docs=3, free_docs=2, saved=1, printed=1, kassist=2, services=1) == 20
    assert f.activity(None, None, 4) == 4


def test_doc_or_service_and_billing_docs() -> None:
    assert f.doc_or_service(5, 7, None) == 12
    assert f.billing_docs(7, 2) == 9


def test_not_using_share_matches_the_screenshots() -> None:
    assert f.not_using_share(2, 5) == 40.0
    assert round(f.not_using_share(1, 6) or 0) == 17
    assert round(f.not_using_share(2, 22) or 0) == 9
    assert f.not_using_share(2, 1) == 200.0
    assert f.not_using_share(3, 0) is None


def test_not_using_counts_accounts_idle_for_60_days_or_never_seen() -> None:
    logins = [T0 - timedelta(days=59), T0 - timedelta(days=60), T0 - timedelta(days=300), None]
    assert f.not_using_count(logins, T0) == 3


def test_online_percent_used_matches_the_verified_examples() -> None:
    assert f.billing_used_percent(400, 67) == pytest.approx(83.3, abs=0.05)
    assert round(f.billing_used_percent(300, 216) or 0, 1) == 28.0
    assert round(f.billing_used_percent(4000, 3518) or 0, 1) == 12.1
    assert f.billing_used_percent(0, 5) is None


def test_month_change() -> None:
    assert f.month_change(150, 100) == 50.0
    assert f.month_change(5, 0) == math.inf
    assert f.month_change(0, 0) is None and f.month_change(None, 3) is None


def test_overlap_merges_intervals_and_clips_to_the_window() -> None:
    start, end = T0, T0 + timedelta(hours=10)
    spans = [
        (T0 - timedelta(hours=1), T0 + timedelta(hours=1)),  # 1 h inside
        (T0 + timedelta(hours=2), T0 + timedelta(hours=4)),  # overlaps the next: 2..5 = 3 h
        (T0 + timedelta(hours=3), T0 + timedelta(hours=5)),
        (T0 + timedelta(hours=9), None),  # open: until the end, 1 h
    ]
    assert f.overlap_seconds(spans, start, end) == 5 * 3600


def test_rolling_availability_over_30_days_counts_from_the_monitoring_start() -> None:
    down = [(T0 - timedelta(days=1), T0 - timedelta(days=1) + timedelta(hours=7, minutes=12))]
    ((_, value),) = f.rolling_availability(down, [T0])
    assert value == pytest.approx(100 * (1 - 7.2 / 720))
    ((_, young),) = f.rolling_availability(down, [T0], since=T0 - timedelta(days=2))
    assert young == pytest.approx(100 * (1 - 7.2 / 48))
    assert f.availability(10, 0) is None and f.availability(20, 10) == 0.0


def test_month_to_date_restarts_on_the_first() -> None:
    oct30 = int(datetime(2026, 10, 30, tzinfo=UTC).timestamp())
    nov1 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    nov2 = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())
    assert f.month_to_date([(oct30, 5), (nov1, 3), (nov2, 4)], opening=10) == [
        (oct30, 15),
        (nov1, 3),
        (nov2, 7),
    ]
    assert f.month_start_epoch(nov2) == nov1


def test_filled_cards_need_name_contact_and_position() -> None:
    assert f.card_filled("Иванов И. И.", "i@example.ru", None, "юрист")
    assert not f.card_filled("Иванов И. И.", None, None, "юрист")
    assert not f.card_filled(" ", "i@example.ru", "1", "юрист")
    assert f.percent(1, 4) == 25.0 and f.percent(1, 0) is None
    assert f.age_seconds(T0 - timedelta(days=3), T0) == 3 * 86400 and f.age_seconds(None, T0) is None


def test_durations_read_like_the_original() -> None:
    assert fmt_duration(2.5 * 7 * 86400) == "2.5 нед."
    assert fmt_duration(3 * 86400) == "3 дн."
    assert fmt_duration(-2 * 3600) == "-2 ч"
    assert fmt_duration(None) == ""
    assert days_until(date(2026, 11, 27), T0) == 6.5 * 86400


def test_series_statistics() -> None:
    s = Series("x", [(1, 3.0), (2, None), (3, 1.0), (4, 5.0)])
    assert s.stats() == {"min": 1.0, "max": 5.0, "last": 5.0, "mean": 3.0, "sum": 9.0, "count": 3}
    assert Series("empty", []).stats()["last"] is None


def test_rolling_availability_agrees_with_the_plain_overlap_on_random_intervals() -> None:
    import random

    rnd = random.Random(5)
    for _ in range(50):
        spans: list[tuple[datetime, datetime | None]] = []
        for _ in range(rnd.randint(0, 8)):
            a = T0 - timedelta(hours=rnd.randint(0, 2000))
            spans.append((a, None if rnd.random() < 0.1 else a + timedelta(minutes=rnd.randint(0, 3000))))
        points = [T0 - timedelta(hours=h) for h in range(0, 1500, 97)]
        since = T0 - timedelta(hours=rnd.randint(0, 2500))
        got = dict(f.rolling_availability(spans, points, timedelta(days=30), since))
        for t in points:
            start = max(t - timedelta(days=30), since)
            if t <= start:
                assert got[t] is None
                continue
            # An open interval lasts until the latest point, as on the chart.
            closed = [(a, b or max(points)) for a, b in spans]
            expected = f.availability(f.overlap_seconds(closed, start, t), (t - start).total_seconds())
            assert got[t] == pytest.approx(expected)
