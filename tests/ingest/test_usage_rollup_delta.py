"""A report's first processing changes the usage rollups by what it writes (`usage_rollup.add_report`):
after every report of a sequence the rollups must equal a re-sum of all the facts (`usage_rollup.backfill`,
the plain computation), and the short way must have been the one taken.

The sequences go through the real pipeline (simulator → upload → consumer → sysinfo writer) with the
times of receipt pinned, so the consumer's skip windows do not depend on today's date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from kodeks_smart.ingest import service, usage_rollup
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store.ingest_models import SysinfoUsageHour, Upload
from kodeks_smart.store.usage_rollup_models import (
    COUNTERS,
    ReportSeats,
    UsageDayRollup,
    UsageFirstRequest,
    UsageHourRollup,
    UsageWeekRollup,
)
from tests.conftest import Tenants
from tests.ingest.conftest import DEALER

ROLLUPS = (UsageHourRollup, UsageDayRollup, UsageWeekRollup, UsageFirstRequest, ReportSeats)
#: 23:40 UTC on the last day of a month, 11:40 on a Tuesday at UTC+12: the next reports cross midnight
#: and the month boundary in UTC in working hours.
EVE = datetime(2026, 11, 30, 23, 40, 7, tzinfo=UTC)
#: Noon at UTC+5:30 (hours start at :30 in UTC).
NOON = datetime(2026, 11, 30, 6, 40, 7, tzinfo=UTC)


@pytest.fixture
def ctx(services: Any, tenants: Tenants) -> IngestContext:
    return IngestContext.from_services(services)


@pytest.fixture
def resums(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the writer's calls of the general re-sum (`usage_rollup.refresh_report`), which still runs."""
    calls: list[int] = []
    general: Callable[..., None] = usage_rollup.refresh_report

    def counted(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        general(*args, **kwargs)

    monkeypatch.setattr(usage_rollup, "refresh_report", counted)
    return calls


def _report(ctx: IngestContext, at: datetime, offset: int, seed: int = 0, users: int = 15) -> None:
    """Upload and process the report made at ``at``, received two minutes later."""
    profile = SysinfoProfile(
        "alpha_client", users=users, days=40, seed=seed, now=at, tz_offset_minutes=offset
    )
    accepted = service.ingest_file(ctx, DEALER, "alpha_client", data=generate_zip(profile), fmt="zip")
    with ctx.db.write() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == accepted.upload_id)
            .values(received_at=at + timedelta(minutes=2))
        )
    assert drain(ctx) == 1
    with ctx.db.session() as s:
        upload = s.get(Upload, accepted.upload_id)
        assert upload is not None and upload.status == "done", upload and upload.error


def _snapshot(ctx: IngestContext, models: tuple[Any, ...] = ROLLUPS) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the rollup tables of ``models``, without ids, sorted."""
    out = {}
    with ctx.db.session() as s:
        for model in models:
            table = usage_rollup.table_of(model)
            out[table.name] = sorted(
                tuple(r) for r in s.execute(select(*[c for c in table.c if c.name != "id"]))
            )
    return out


def same_as_rebuilt(
    ctx: IngestContext, models: tuple[Any, ...], *backfills: Callable[[Any], None]
) -> dict[str, list[tuple[Any, ...]]]:
    """The kept rollups of ``models`` equal what ``backfills`` (the plain computation) rebuild; not empty."""
    kept = _snapshot(ctx, models)
    with ctx.db.write() as s:
        for backfill in backfills:
            backfill(s)
    rebuilt = _snapshot(ctx, models)
    for name, rows in rebuilt.items():
        assert kept[name] == rows, name
    assert all(kept.values())
    return kept


def _same_as_resummed(ctx: IngestContext) -> dict[str, list[tuple[Any, ...]]]:
    return same_as_rebuilt(ctx, ROLLUPS, usage_rollup.backfill)


@pytest.mark.parametrize(("offset", "start"), [(720, EVE), (330, NOON)], ids=["utc+12", "utc+5:30"])
def test_the_rollups_a_report_changes_equal_a_resum_after_every_report(
    ctx: IngestContext, resums: list[int], offset: int, start: datetime
) -> None:
    steps: list[datetime | tuple[datetime, int]] = [
        start - timedelta(days=1),  # the first report: every hour new
        start,  # the next day: new hours, the hours in progress before re-reported
        start + timedelta(hours=1),  # (UTC+12) crosses midnight and the month boundary in UTC
        start + timedelta(hours=1, minutes=50),  # the partial hour re-reported with more in it
        (start + timedelta(hours=1, minutes=50), 16),  # another report made then: seats add up
        start + timedelta(minutes=20),  # a late report, older than what is stored
        start + timedelta(hours=3, minutes=5),
    ]
    before = _snapshot(ctx)
    for step in steps:
        at, users = step if isinstance(step, tuple) else (step, 15)
        _report(ctx, at, offset, users=users)
        now = _same_as_resummed(ctx)
        assert now != before, at
        before = now
    assert resums == []  # every report took the short way
    with ctx.db.session() as s:
        seats = s.scalars(select(ReportSeats.used).where(ReportSeats.report_at == steps[3])).all()
        hours = set(s.scalars(select(UsageHourRollup.at)))
    assert len(seats) == 1 and seats[0] > 0  # the sessions of both reports
    # Both sides of the month boundary; hours starting at :30 with the half-hour offset.
    assert {datetime.fromtimestamp(at, UTC).month for at in hours} == (
        {10, 11, 12} if start == EVE else {10, 11}
    )
    assert {at % 3600 for at in hours} == ({0} if offset == 720 else {1800})


def test_a_report_whose_rows_cannot_be_added_is_resummed(ctx: IngestContext, resums: list[int]) -> None:
    _report(ctx, NOON - timedelta(hours=1), 330)
    assert resums == []
    # Rollup rows of hours the next report repeats are gone (a hand edit past the ORM): adding to them
    # is impossible, the general re-sum puts them back.
    with ctx.db.session() as s:
        last = s.scalar(select(UsageHourRollup.at).order_by(UsageHourRollup.at.desc()).limit(1))
    assert last is not None
    with ctx.db.write() as s:
        s.execute(delete(UsageHourRollup).where(UsageHourRollup.at == last))
    _report(ctx, NOON, 330)
    assert resums == [1]
    _same_as_resummed(ctx)


def test_a_replaced_hour_changes_the_rollups_by_the_difference_unless_its_requests_drop_to_zero(
    ctx: IngestContext, resums: list[int]
) -> None:
    _report(ctx, NOON - timedelta(hours=1), 330)
    _report(ctx, NOON, 330)
    with ctx.db.session() as s:
        row = s.scalars(
            select(SysinfoUsageHour)
            .where(SysinfoUsageHour.report_at == NOON, SysinfoUsageHour.db_requests > 0)
            .order_by(SysinfoUsageHour.hour, SysinfoUsageHour.login)
        ).first()
    assert row is not None and row.db_requests
    keys = ("dealer_id", "cabinet_id", "installation_id", "hour", "login", *COUNTERS)
    stored = {k: getattr(row, k) for k in keys}
    # The same hour and user again from a report made at the same time: more requests and documents,
    # then none (the month's first or last request may then be another hour: the general re-sum).
    for change, added in (
        ({"db_requests": row.db_requests + 4, "docs": (row.docs or 0) + 2}, True),
        ({"db_requests": 0}, False),
    ):
        with ctx.db.write() as s:
            read, params = usage_rollup.report_state(s, row.client_id, NOON, [row.hour])
            state = list(s.execute(read, params))
            s.execute(update(SysinfoUsageHour).where(SysinfoUsageHour.id == row.id).values(**change))
            written = usage_rollup.ReportRows(
                row.client_id,
                NOON,
                [{**stored, **change}],
                row.dealer_id,
                row.cabinet_id,
                row.installation_id,
                0,
                None,
            )
            assert usage_rollup.add_report(s, written, state) is added
            if not added:
                usage_rollup.refresh_hours(s, row.client_id, [row.hour])
        _same_as_resummed(ctx)
