"""A report's first processing changes the per-user and daily seats rollups by what it writes too
(`usage_rollup.add_report`): after every report of a sequence they must equal a rebuild from all the facts
(`user_rollup.backfill`, `seats_rollup.backfill`: the plain computation), and the short way must have been
the one taken; where it cannot be exact (a replaced hour's value that may have been the peak) the writer
re-sums. Also: ORM edits that only the commit flushes are rolled up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from kodeks_smart.ingest import seats_rollup, usage_rollup, user_rollup
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.store.ingest_models import SysinfoUsageHour
from kodeks_smart.store.seats_rollup_models import SeatsDayRollup
from kodeks_smart.store.usage_rollup_models import COUNTERS, UsageHourRollup
from kodeks_smart.store.user_rollup_models import UserUsageDay, UserUsageMonth
from tests.conftest import Tenants
from tests.ingest.test_usage_rollup_delta import EVE, NOON, _report, same_as_rebuilt
from tests.ingest.test_usage_rollup_delta import _snapshot as _usage_snapshot

ROLLUPS = (UserUsageDay, UserUsageMonth, SeatsDayRollup)


@pytest.fixture
def ctx(services: Any, tenants: Tenants) -> IngestContext:
    return IngestContext.from_services(services)


@pytest.fixture
def resums(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The writer's calls of the general re-sums (which still run), by module."""
    calls: list[str] = []
    for module in (usage_rollup, user_rollup, seats_rollup):
        general: Callable[..., None] = module.refresh_report

        def counted(
            *args: Any, _general: Callable[..., None] = general, _name: str = module.__name__
        ) -> None:
            calls.append(_name.rsplit(".", 1)[-1])
            _general(*args)

        monkeypatch.setattr(module, "refresh_report", counted)
    return calls


def _same_as_rebuilt(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    return same_as_rebuilt(ctx, ROLLUPS, user_rollup.backfill, seats_rollup.backfill)


@pytest.mark.parametrize(("offset", "start"), [(720, EVE), (330, NOON)], ids=["utc+12", "utc+5:30"])
def test_user_and_seat_rollups_a_report_changes_equal_a_rebuild_after_every_report(
    ctx: IngestContext, resums: list[str], offset: int, start: datetime
) -> None:
    steps: list[datetime | tuple[datetime, int]] = [
        start - timedelta(days=1),  # the first report: every row new
        start,  # the next day: new hours, the hours in progress before re-reported
        start + timedelta(hours=1),  # (UTC+12) crosses midnight and the month boundary in UTC
        start + timedelta(hours=1, minutes=50),  # the partial hour re-reported with more in it
        (start + timedelta(hours=1, minutes=50), 16),  # another report made then: seats add up
        start + timedelta(minutes=20),  # a late report, older than what is stored
        start + timedelta(hours=3, minutes=5),
    ]
    short = 0
    for step in steps:
        at, users = step if isinstance(step, tuple) else (step, 15)
        before = _usage_rows(ctx)
        _report(ctx, at, offset, users=users)
        _same_as_rebuilt(ctx)
        # The installation and seats rollups the short way; the per-user ones too unless a stored hour
        # came again with less in one of the peak expressions (the simulator's hours are not cumulative).
        lowered = _lowered(before, _usage_rows(ctx))
        assert resums in ([], ["user_rollup"]) and (resums == [] or lowered), at
        short += not resums
        resums.clear()
    assert short >= 4
    with ctx.db.session() as s:
        days = set(s.scalars(select(UserUsageDay.at)))
        months = set(s.scalars(select(UserUsageMonth.month)))
        seat_days = s.scalars(select(SeatsDayRollup.at)).all()
    # Both sides of the month boundary, one seats row per day.
    assert months == ({"2026-10", "2026-11", "2026-12"} if start == EVE else {"2026-10", "2026-11"})
    assert len(seat_days) == len(set(seat_days)) >= 2
    assert max(days) == max(seat_days)


def _usage_rows(ctx: IngestContext) -> dict[tuple[Any, ...], list[int]]:
    with ctx.db.session() as s:
        return {
            (r.hour, r.login): [
                (r.docs or 0) + (r.services or 0),
                r.db_requests or 0,
                r.saved or 0,
                r.printed or 0,
            ]
            for r in s.scalars(select(SysinfoUsageHour))
        }


def _lowered(before: dict[tuple[Any, ...], list[int]], after: dict[tuple[Any, ...], list[int]]) -> bool:
    """Whether a stored usage row was replaced with less in one of the peak expressions."""
    return any(
        a < b for key, old in before.items() if key in after for a, b in zip(after[key], old, strict=True)
    )


def _replace(ctx: IngestContext, row_id: int, change: dict[str, int]) -> bool:
    """Rewrite a stored usage row as a report made at the same time would, changing the rollups the short
    way when `add_report` accepts, else by the re-sums; whether the short way was taken."""
    with ctx.db.write() as s:
        row = s.get(SysinfoUsageHour, row_id)
        assert row is not None
        keys = ("dealer_id", "cabinet_id", "installation_id", "hour", "login", *COUNTERS)
        stored = {k: getattr(row, k) for k in keys}
        client_id, hour, created = row.client_id, row.hour, row.report_at
        read, params = usage_rollup.report_state(s, client_id, created, [hour])
        state = list(s.execute(read, params))
        s.execute(update(SysinfoUsageHour).where(SysinfoUsageHour.id == row_id).values(**change))
        written = usage_rollup.ReportRows(
            client_id,
            created,
            [{**stored, **change}],
            row.dealer_id,
            row.cabinet_id,
            row.installation_id,
            0,
            None,
        )
        added = usage_rollup.add_report(s, written, state)
        if not added:
            usage_rollup.refresh_hours(s, client_id, [hour])
            user_rollup.refresh_hours(s, client_id, [hour])
    return added


def _billing(row: SysinfoUsageHour) -> int:
    return (row.docs or 0) + (row.services or 0)


def test_a_replaced_hour_changes_the_peaks_by_the_difference_unless_it_was_the_peak(
    ctx: IngestContext, resums: list[str]
) -> None:
    _report(ctx, NOON - timedelta(hours=1), 330)
    _report(ctx, NOON, 330)
    assert resums == []
    with ctx.db.session() as s:
        rows = s.scalars(
            select(SysinfoUsageHour)
            .where(SysinfoUsageHour.report_at == NOON, SysinfoUsageHour.db_requests > 0)
            .order_by(SysinfoUsageHour.hour, SysinfoUsageHour.login)
        ).all()
        peaks = {
            (d.login, d.at): d.peak_billing
            for d in s.scalars(select(UserUsageDay).where(UserUsageDay.client_id == rows[0].client_id))
        }

    def day_peak(row: SysinfoUsageHour) -> int:
        at = int(row.hour.astimezone(UTC).timestamp())
        return peaks[(row.login, at - at % 86400)]

    below = next(r for r in rows if 0 < _billing(r) < day_peak(r) and r.docs)
    top = next(r for r in rows if _billing(r) == day_peak(r) and r.docs)
    # More in an hour: the sums by the difference, the peak the larger one.
    assert _replace(ctx, top.id, {"docs": (top.docs or 0) + 5})
    _same_as_rebuilt(ctx)
    assert _usage_snapshot(ctx)  # the installation rollups took the same way
    # Less in an hour below the day's peak: still the difference.
    assert _replace(ctx, below.id, {"docs": (below.docs or 0) - 1})
    _same_as_rebuilt(ctx)
    # Less in the hour that is the day's peak: the peak may be another hour now, so the re-sum.
    assert not _replace(ctx, top.id, {"docs": 0, "services": 0})
    _same_as_rebuilt(ctx)
    with ctx.db.session() as s:
        day = s.scalar(
            select(func.max(UserUsageDay.peak_billing)).where(
                UserUsageDay.login == top.login, UserUsageDay.at == _day_of(top.hour)
            )
        )
    assert day is not None and day < _billing(top) + 5


def _day_of(moment: datetime) -> int:
    at = int(moment.astimezone(UTC).timestamp())
    return at - at % 86400


def test_a_missing_user_row_or_seats_row_makes_the_writer_resum(
    ctx: IngestContext, resums: list[str]
) -> None:
    _report(ctx, NOON - timedelta(hours=1), 330)
    assert resums == []
    # Rollup rows of a day the next report repeats are gone (a hand edit past the ORM): adding to them is
    # impossible, the re-sum puts them back.
    with ctx.db.write() as s:
        last = s.scalar(select(func.max(UserUsageDay.at)))
        s.execute(delete(UserUsageDay).where(UserUsageDay.at == last))
    _report(ctx, NOON, 330)
    assert resums == ["user_rollup"]  # only the per-user rollups re-summed
    _same_as_rebuilt(ctx)
    resums.clear()
    with ctx.db.write() as s:
        last = s.scalar(select(func.max(SeatsDayRollup.at)))
        s.execute(delete(SeatsDayRollup).where(SeatsDayRollup.at == last))
    _report(ctx, NOON + timedelta(minutes=30), 330)
    assert resums[:2] == ["usage_rollup", "seats_rollup"]
    _same_as_rebuilt(ctx)


def test_orm_edits_flushed_only_by_the_commit_are_rolled_up(ctx: IngestContext) -> None:
    _report(ctx, NOON, 330)
    with ctx.db.write() as s:
        row = s.scalars(select(SysinfoUsageHour).order_by(SysinfoUsageHour.hour.desc())).first()
        assert row is not None
        row.docs = (row.docs or 0) + 11  # nothing flushes this before the commit
    kept = _usage_snapshot(ctx)
    with ctx.db.write() as s:
        usage_rollup.backfill(s)
    assert _usage_snapshot(ctx) == kept
    with ctx.db.session() as s:
        hour = s.scalar(select(UsageHourRollup.docs).where(UsageHourRollup.at == int(row.hour.timestamp())))
    assert hour is not None and hour >= 11
    _same_as_rebuilt(ctx)
