"""Processing queued uploads: metrics and sysinfo records, UTC times, overlapping reports, hostile files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_xml, generate_zip
from kodeks_smart.store import admin
from kodeks_smart.store.ingest_models import (
    CatalogHealthFact,
    HourlyRollup,
    MetricSeries,
    Sample,
    SysinfoDatabase,
    SysinfoGap,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
    Upload,
)
from kodeks_smart.store.models import Cabinet, Client, Installation
from tests.conftest import Tenants
from tests.ingest.conftest import DEALER, Agent, status_body
from tests.parsers.hostile import CORPUS

NOW = datetime.now(UTC).replace(microsecond=0)


def _upload(ctx: IngestContext, upload_id: int) -> Upload:
    with ctx.db.session() as s:
        upload = s.get(Upload, upload_id)
        assert upload is not None
        return upload


def _count(ctx: IngestContext, model: type, *where: object) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def _profile(at: datetime = NOW, **kw: object) -> SysinfoProfile:
    values: dict[str, object] = {"users": 25, "days": 3, "now": at}
    values.update(kw)
    return SysinfoProfile("alpha_client", **values)  # type: ignore[arg-type]


def test_a_status_file_becomes_samples_rollups_and_catalog_health(agent: Agent, ctx: IngestContext) -> None:
    sampled = NOW - timedelta(minutes=3)
    agent.upload("alpha_client.status", status_body(sessions=7, date=format_datetime(sampled, usegmt=True)))
    assert drain(ctx) == 1
    upload = _upload(ctx, 1)
    assert upload.status == "done" and upload.error is None and upload.processed_count == 1
    assert upload.report_time == sampled and upload.stats["samples"] == 5
    with ctx.db.session() as s:
        sessions = s.scalars(select(MetricSeries).where(MetricSeries.name == "kserver_sessions")).one()
        sample = s.scalars(select(Sample).where(Sample.series_id == sessions.id)).one()
        assert (sample.ts, sample.value) == (sampled, 7.0)
        rollup = s.scalars(select(HourlyRollup).where(HourlyRollup.series_id == sessions.id)).one()
        assert rollup.hour == sampled.replace(minute=0, second=0) and (rollup.count, rollup.last) == (1, 7.0)
        health = {h.path: h for h in s.scalars(select(CatalogHealthFact))}
        assert health["/docs"].main_page == 0.0 and health["/kodeks01"].main_page == 1.0
        assert health["/kodeks01"].main_page_status == "update DB"
        assert {h.cabinet_id for h in health.values()} == {upload.cabinet_id}


def test_an_infinite_sample_is_stored_as_it_is(agent: Agent, ctx: IngestContext) -> None:
    # JSON cannot carry an infinity: on PostgreSQL such rows go the array way instead of the JSON one.
    body = status_body(sessions=3) + b"smart_test_ceiling +Inf\nsmart_test_floor -Inf\n"
    agent.upload("alpha_client.status", body)
    assert drain(ctx) == 1
    assert _upload(ctx, 1).status == "done"
    with ctx.db.session() as s:
        values = {
            name: value
            for name, value in s.execute(
                select(MetricSeries.name, Sample.value)
                .join(Sample, Sample.series_id == MetricSeries.id)
                .where(MetricSeries.name.in_(["smart_test_ceiling", "smart_test_floor", "kserver_sessions"]))
            )
        }
    assert values == {
        "smart_test_ceiling": float("inf"),
        "smart_test_floor": float("-inf"),
        "kserver_sessions": 3.0,
    }


def test_samples_of_one_hour_roll_up_together(agent: Agent, ctx: IngestContext) -> None:
    hour = NOW.replace(minute=0, second=0) - timedelta(hours=1)
    for minute, value in ((5, 3), (20, 9), (50, 6)):
        stamp = format_datetime(hour + timedelta(minutes=minute), usegmt=True)
        agent.upload("alpha_client.status", status_body(sessions=value, date=stamp))
    drain(ctx)
    with ctx.db.session() as s:
        series = s.scalars(select(MetricSeries).where(MetricSeries.name == "kserver_sessions")).one()
        rollup = s.scalars(select(HourlyRollup).where(HourlyRollup.series_id == series.id)).one()
    assert (rollup.hour, rollup.count, rollup.sum, rollup.min, rollup.max, rollup.last) == (
        hour,
        3,
        18,
        3,
        9,
        6,
    )


def test_a_status_date_far_from_the_time_of_receipt_is_not_believed(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.status", status_body(date="Thu, 16 Apr 2020 10:08:51 GMT"))
    drain(ctx)
    upload = _upload(ctx, 1)
    assert upload.report_time == upload.received_at
    assert any("30 дней" in w for w in upload.warnings)


def test_a_sysinfo_report_is_stored_block_by_block_in_utc(agent: Agent, ctx: IngestContext) -> None:
    profile = _profile(tz_offset_minutes=300)
    agent.upload("alpha_client.zip", generate_zip(profile))
    assert drain(ctx) == 1
    upload = _upload(ctx, 1)
    assert upload.status == "done", upload.error
    assert upload.report_time == NOW
    assert any("не совпадает с настройкой инсталляции" in w for w in upload.warnings)  # installation says +3
    with ctx.db.session() as s:
        report = s.scalars(select(SysinfoReportRow)).one()
        assert report.created_at == NOW and report.utc_offset_minutes == 300
        assert report.regnum and report.seats and report.protection_status == "ok"
        assert report.sections["sessions"]["seats"] == report.seats
        searches = list(s.scalars(select(SysinfoSearch)))
        assert searches and all(q.occurred_at <= NOW for q in searches)
        assert max(q.occurred_at for q in searches) > NOW - timedelta(days=1)
        assert s.scalar(select(func.count()).select_from(SysinfoUser)) == 25
        assert s.scalar(select(func.count()).select_from(SysinfoDatabase)) >= 4
        assert s.scalar(select(func.count()).select_from(SysinfoGap)) == 0
    assert upload.stats["users"] == 25 and upload.stats["searches"] == len(searches)


def test_a_plain_xml_report_is_processed_like_a_zip(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("beta_client.xml", generate_xml(SysinfoProfile("beta_client", users=5, days=1, now=NOW)))
    drain(ctx)
    assert _upload(ctx, 1).status == "done"
    assert _count(ctx, SysinfoUser) == 5


@pytest.mark.parametrize(
    ("scenario", "gap"),
    [
        ("no-senselock-block", ("protection", None, None)),
        ("no-licence-block", ("databases", "license_to", "*")),
    ],
)
def test_a_report_missing_a_block_gets_a_data_missing_record(
    agent: Agent, ctx: IngestContext, scenario: str, gap: tuple[str, str | None, str | None]
) -> None:
    agent.upload("alpha_client.zip", generate_zip(_profile(scenarios=frozenset({scenario}))))
    drain(ctx)
    assert _upload(ctx, 1).status == "done"
    with ctx.db.session() as s:
        gaps = [(g.block, g.field, "*" if g.item else None) for g in s.scalars(select(SysinfoGap))]
    assert gap in gaps


def test_overlapping_hourly_reports_store_each_event_once(agent: Agent, ctx: IngestContext) -> None:
    reports = [generate_zip(_profile(NOW - timedelta(hours=h))) for h in (3, 2, 1, 0)]
    for data in reports:
        agent.upload("alpha_client.zip", data)
    drain(ctx)
    in_order = _events(ctx)
    assert _upload(ctx, 4).stats.get("skipped_known", {}).get("searches", 0) > 0
    # The same reports arriving newest first give the same rows.
    with ctx.db.write() as s:
        for model in (SysinfoSearch, SysinfoUsageHour, SysinfoUser, SysinfoReportRow):
            s.execute(model.__table__.delete())  # type: ignore[attr-defined]
        s.execute(Upload.__table__.delete())  # type: ignore[attr-defined]
    for data in reversed(reports):
        agent.upload("alpha_client.zip", data)
    drain(ctx)
    assert _events(ctx) == in_order
    expected = {(q.time, q.login) for q in _parse_searches(reports)}
    assert {
        (t.replace(tzinfo=None) + timedelta(hours=3), login) for t, login, _ in in_order["searches"]
    } == expected


@pytest.mark.parametrize("minute", [14, 16, 18, 22, 32, 38])
def test_an_event_logged_after_a_report_was_made_is_stored_from_the_next_report(
    agent: Agent, ctx: IngestContext, minute: int
) -> None:
    # The simulated server, like a real one, may log an event of the report's last moments only after the
    # report took its copy: the next report then has it inside the period of the one before. Times of day
    # at which the simulator does that (yesterday, so the consumer's look-back covers them).
    day = (NOW - timedelta(days=1)).replace(hour=8, minute=minute, second=minute * 7 % 60)
    reports = [generate_zip(_profile(day - timedelta(hours=h))) for h in (3, 2, 1, 0)]
    for data in reports:
        agent.upload("alpha_client.zip", data)
    assert drain(ctx) == 4
    stored = {
        (t.replace(tzinfo=None) + timedelta(hours=3), login) for t, login, _ in _events(ctx)["searches"]
    }
    assert stored == {(q.time, q.login) for q in _parse_searches(reports)}


def _parse_searches(reports: list[bytes]) -> list[object]:
    from kodeks_smart.parsers.sysinfo import parse_sysinfo

    found: list[object] = []
    for data in reports:
        found.extend(parse_sysinfo(data).searches)
    return found


def _events(ctx: IngestContext) -> dict[str, list[tuple[object, ...]]]:
    with ctx.db.session() as s:
        searches = sorted(
            s.execute(select(SysinfoSearch.occurred_at, SysinfoSearch.login, SysinfoSearch.query_key))
        )
        usage = sorted(
            s.execute(select(SysinfoUsageHour.hour, SysinfoUsageHour.login, SysinfoUsageHour.db_requests))
        )
        users = sorted(s.execute(select(SysinfoUser.login, SysinfoUser.last_seen_at, SysinfoUser.month_docs)))
    return {
        "searches": [tuple(r) for r in searches],
        "usage": [tuple(r) for r in usage],
        "users": [tuple(r) for r in users],
    }


def test_the_hour_in_progress_is_updated_by_the_newer_report(agent: Agent, ctx: IngestContext) -> None:
    earlier, later = NOW - timedelta(minutes=40), NOW
    agent.upload("alpha_client.zip", generate_zip(_profile(later)))
    agent.upload("alpha_client.zip", generate_zip(_profile(earlier)))  # arrives late
    drain(ctx)
    from kodeks_smart.parsers.sysinfo import parse_sysinfo

    newest = parse_sysinfo(generate_zip(_profile(later)))
    with ctx.db.session() as s:
        stored = {(u.hour, u.login): u.db_requests for u in s.scalars(select(SysinfoUsageHour))}
    for hour in newest.usage:
        assert hour.start is not None
        key = ((hour.start - timedelta(hours=3)).replace(tzinfo=UTC), hour.login)
        assert stored[key] == hour.db_requests


def test_users_keep_the_time_smart_first_saw_them(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.zip", generate_zip(_profile(NOW - timedelta(hours=1))))
    drain(ctx)
    agent.upload("alpha_client.zip", generate_zip(_profile(NOW, scenarios=frozenset({"new-user"}))))
    drain(ctx)
    with ctx.db.session() as s:
        users = list(s.scalars(select(SysinfoUser)))
    assert len(users) == 26
    assert {u.last_seen_at for u in users} == {NOW}
    assert sorted(u.first_seen_at for u in users)[-1] == NOW
    assert sum(1 for u in users if u.first_seen_at == NOW - timedelta(hours=1)) == 25


@pytest.mark.parametrize(("name", "make", "code"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_hostile_upload_ends_as_a_visible_error_and_the_pipeline_goes_on(
    agent: Agent, ctx: IngestContext, name: str, make: Callable[[], bytes], code: str | None
) -> None:
    data = make()
    filename = "alpha_client.zip" if data.startswith(b"PK") else "alpha_client.xml"
    assert agent.upload(filename, data).status_code == 200
    agent.upload("beta_client.zip", generate_zip(SysinfoProfile("beta_client", users=3, days=1, now=NOW)))
    assert drain(ctx) == 2
    hostile, good = _upload(ctx, 1), _upload(ctx, 2)
    if code is None:
        assert hostile.status == "done", hostile.error
    else:
        assert (hostile.status, hostile.error_code) == ("failed", code)
        assert hostile.error and "(" in hostile.error  # Russian message with the English gloss
        assert _count(ctx, SysinfoReportRow, SysinfoReportRow.upload_id == hostile.id) == 0
    assert good.status == "done"


def test_a_metrics_file_that_is_not_metrics_fails_visibly(agent: Agent, ctx: IngestContext) -> None:
    agent.upload("alpha_client.status", b"")
    agent.upload("beta_client.status", generate_zip(SysinfoProfile("beta_client", users=2, days=1)))
    drain(ctx)
    assert (_upload(ctx, 1).status, _upload(ctx, 1).error_code) == ("failed", "empty")
    assert (_upload(ctx, 2).status, _upload(ctx, 2).error_code) == ("failed", "not-metrics")


def test_a_quarantined_file_is_processed_once_its_client_is_registered(
    agent: Agent, ctx: IngestContext, tenants: Tenants
) -> None:
    assert agent.upload("newcomer.status", status_body()).status_code == 202
    assert service.release_quarantine(ctx.db) == []
    assert drain(ctx) == 0
    with ctx.db.write() as s:
        cabinet = s.get(Cabinet, tenants.cabinet_b)
        assert cabinet is not None
        admin.add_client(s, cabinet, "newcomer")
    assert service.release_quarantine(ctx.db) == [1]
    assert drain(ctx) == 1
    upload = _upload(ctx, 1)
    assert (upload.status, upload.cabinet_id) == ("done", tenants.cabinet_b)
    assert _count(ctx, CatalogHealthFact, CatalogHealthFact.cabinet_id == tenants.cabinet_b) == 2


def test_an_upload_by_hand_is_processed_like_an_agents(ctx: IngestContext, tenants: Tenants) -> None:
    accepted = service.ingest_file(ctx, DEALER, "alpha_client", data=status_body(), fmt="status")
    assert (accepted.status, accepted.duplicate, accepted.filename) == (
        "queued",
        False,
        "alpha_client.status",
    )
    drain(ctx)
    upload = _upload(ctx, accepted.upload_id)
    assert (upload.status, upload.source) == ("done", "manual")


def test_a_client_with_two_installations_keeps_reports_on_the_one_with_their_regnum(
    agent: Agent, ctx: IngestContext, box: object
) -> None:
    with ctx.db.write() as s:
        client = s.scalars(select(Client).where(Client.short_name == "alpha_client")).one()
        internet_id = s.scalars(select(Installation.id).where(Installation.client_id == client.id)).one()
        closed = admin.add_installation(s, box, client, "closed", tz_offset_minutes=300)  # type: ignore[arg-type]
        closed_id = closed.id
    agent.upload("alpha_client.xml", generate_xml(_profile(regnum="0599_111111")))
    drain(ctx)
    with ctx.db.session() as s:
        first = s.scalars(select(SysinfoReportRow)).one()
    assert first.installation_id == closed_id  # the closed contour is preferred for agent uploads
    with ctx.db.write() as s:
        # An operator moved the report to the other installation: later reports of that regnum follow it.
        s.execute(SysinfoReportRow.__table__.update().values(installation_id=internet_id))  # type: ignore[attr-defined]
    agent.upload("alpha_client.xml", generate_xml(_profile(NOW + timedelta(minutes=1), regnum="0599_111111")))
    drain(ctx)
    with ctx.db.session() as s:
        latest = s.scalars(select(SysinfoReportRow).order_by(SysinfoReportRow.id.desc())).first()
    assert latest is not None and latest.installation_id == internet_id


def test_connected_sessions_are_a_snapshot_per_report(agent: Agent, ctx: IngestContext) -> None:
    for hours in (1, 0):
        agent.upload("alpha_client.zip", generate_zip(_profile(NOW - timedelta(hours=hours))))
    drain(ctx)
    with ctx.db.session() as s:
        per_report = dict(
            s.execute(select(SysinfoSession.upload_id, func.count()).group_by(SysinfoSession.upload_id)).all()
        )
    assert set(per_report) <= {1, 2}


def test_rollups_count_each_sample_once_whatever_is_reprocessed_or_repeated(
    agent: Agent, ctx: IngestContext
) -> None:
    from kodeks_smart.ingest.reprocess import enqueue_reprocess

    hour = NOW.replace(minute=0, second=0) - timedelta(hours=2)
    stamps = [format_datetime(hour + timedelta(minutes=m), usegmt=True) for m in (10, 40)]
    agent.upload("alpha_client.status", status_body(sessions=4, date=stamps[0]))
    agent.upload("alpha_client.status", status_body(sessions=8, date=stamps[1]))
    drain(ctx)
    enqueue_reprocess(ctx)
    drain(ctx)
    # Another file with the time of the second one (the agent ran twice in a second): its value wins.
    agent.upload("alpha_client.status", status_body(sessions=2, date=stamps[1]) + b"# again\n")
    drain(ctx)
    with ctx.db.session() as s:
        series = s.scalars(select(MetricSeries).where(MetricSeries.name == "kserver_sessions")).one()
        rollup = s.scalars(select(HourlyRollup).where(HourlyRollup.series_id == series.id)).one()
        samples = list(
            s.scalars(select(Sample.value).where(Sample.series_id == series.id).order_by(Sample.ts))
        )
    assert samples == [4.0, 2.0]
    assert (rollup.count, rollup.sum, rollup.min, rollup.max, rollup.last) == (2, 6.0, 2.0, 4.0, 2.0)


def test_a_report_that_lacked_a_block_does_not_hide_that_blocks_events_later(
    agent: Agent, ctx: IngestContext
) -> None:
    import re

    without = re.sub(
        rb"<searches .*?</searches>", b"", generate_xml(_profile(NOW - timedelta(hours=1))), flags=re.S
    )
    agent.upload("alpha_client.xml", without)
    drain(ctx)
    assert _count(ctx, SysinfoSearch) == 0
    with ctx.db.session() as s:
        assert s.scalars(select(SysinfoGap.block)).all() == ["searches"]
    full = generate_xml(_profile(NOW))
    agent.upload("alpha_client.xml", full)
    drain(ctx)
    from kodeks_smart.parsers.sysinfo import parse_sysinfo

    assert _count(ctx, SysinfoSearch) == len(
        {(q.time, q.login, q.query) for q in parse_sysinfo(full).searches}
    )
