"""The report queries: monthly indicators against direct SQL over the store, formulas, tenant isolation."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from kodeks_smart.reports import data
from kodeks_smart.store.db import Database
from kodeks_smart.store.scope import NotFound, Scope, Tenant
from tests.conftest import Tenants
from tests.reports.conftest import FIRST, LAST
from tests.reports.helpers import Built, add_downtime


def local_month(m: date) -> tuple[datetime, datetime]:
    nxt = data.add_months(m, 1)
    shift = timedelta(hours=3)
    return (
        datetime(m.year, m.month, 1, tzinfo=UTC) - shift,
        datetime(nxt.year, nxt.month, 1, tzinfo=UTC) - shift,
    )


def sql_scalar(db: Database, sql: str, **params: object) -> int:
    with db.session() as s:
        return int(s.execute(text(sql), params).scalar() or 0)


def test_monthly_indicators_match_direct_queries_of_the_store(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    with db.session() as s:
        rows = data.monthly_indicators(Tenant(s, Scope.operator()), alpha.client_id, alpha.months)
    assert [r.month for r in rows] == alpha.months
    for row in rows:
        start, end = local_month(row.month)
        p = {"c": alpha.client_id, "a": start, "b": end}
        if row.month == alpha.missing:
            assert not row.has_data and row.involvement is None and row.value("docs") is None
            continue
        usage = "FROM sysinfo_usage WHERE client_id = :c AND hour >= :a AND hour < :b"
        assert row.docs == sql_scalar(db, f"SELECT SUM(docs) {usage}", **p) > 0
        assert row.saved == sql_scalar(db, f"SELECT SUM(saved) {usage}", **p)
        assert row.printed == sql_scalar(db, f"SELECT SUM(printed) {usage}", **p)
        users = sql_scalar(db, f"SELECT COUNT(DISTINCT login) {usage} AND db_requests > 0", **p)
        assert row.users == users
        assert row.involvement == pytest.approx(users * 100 / alpha.seats)
        searches = "FROM sysinfo_searches WHERE client_id = :c AND occurred_at >= :a AND occurred_at < :b"
        intelligent = sql_scalar(db, f"SELECT COUNT(*) {searches} AND type = 'intelligent'", **p)
        assert row.activity == intelligent + row.docs
        assert row.empty_searches == sql_scalar(db, f"SELECT COUNT(*) {searches} AND result = 'empty'", **p)
        refusals = "FROM sysinfo_refusals WHERE client_id = :c AND occurred_at >= :a AND occurred_at < :b"
        assert row.refusals == sql_scalar(db, f"SELECT COUNT(*) {refusals} AND reason = 'no-seats'", **p)
        sessions = "FROM sysinfo_sessions WHERE client_id = :c AND report_at >= :a AND report_at < :b"
        assert row.max_used == sql_scalar(db, f"SELECT COUNT(*) {sessions}", **p)
        assert row.seats == alpha.seats


def test_month_boundaries_are_the_installations_local_months(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    """Hours between 21:00 UTC of the last day and midnight belong to the next (Moscow) month."""
    alpha, _ = year
    m = alpha.months[0]
    with db.session() as s:
        [row] = data.monthly_indicators(Tenant(s, Scope.operator()), alpha.client_id, [m])
    start, end = local_month(m)
    utc_start = datetime(m.year, m.month, 1, tzinfo=UTC)
    p = {"c": alpha.client_id, "a": utc_start, "b": utc_start + (end - start)}
    utc_docs = sql_scalar(
        db, "SELECT SUM(docs) FROM sysinfo_usage WHERE client_id = :c AND hour >= :a AND hour < :b", **p
    )
    assert utc_docs != row.docs


def test_change_formula_follows_the_spec() -> None:
    assert data.pct_change(234, 28) == pytest.approx(735.714, rel=1e-4)
    assert data.pct_change(9, 20) == pytest.approx(-55)
    assert data.pct_change(5, 0) == math.inf
    assert data.pct_change(0, 0) is None
    assert data.pct_change(None, 3) is None
    assert data.fmt_change(math.inf) == "∞"
    assert data.fmt_change(None) == "Нет данных"
    assert data.fmt_change(-66.666) == "-66,7"


def test_renewal_report_changes_compare_with_the_month_before(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    with db.session() as s:
        report = data.renewal_report(Tenant(s, Scope.operator()), alpha.client_id, FIRST, LAST)
    assert report.previous.month == data.add_months(FIRST, -1) and report.previous.has_data
    assert report.change("docs", 0) == pytest.approx(
        (report.months[0].docs - report.previous.docs) / report.previous.docs * 100
    )
    gap = alpha.months.index(alpha.missing)
    assert report.change("docs", gap) is None and report.change("docs", gap + 1) is None
    assert report.months_with_data == 11
    assert report.licence_to == alpha.licence_to
    counts = {q.query.lower(): q.count for q in report.empty_queries}
    assert counts == {k.lower(): v for k, v in alpha.empty_queries.items()}
    assert sum(u.count for u in report.refused_users) == report.total("refusals")
    [online] = report.online
    assert [m.docs_left for m in online.months] == [400 - (50 + 10 * i) for i in range(12)]
    assert online.months[0].docs_used_pct == pytest.approx(50 * 100 / 400)


def test_availability_is_the_share_of_the_month_without_an_abnormal_state(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    march = date(2026, 3, 1)
    start, end = local_month(march)
    add_downtime(
        db,
        alpha.installation_id,
        since=start - timedelta(days=40),
        start=start + timedelta(days=10),
        hours=12,
    )
    with db.session() as s:
        rows = data.monthly_indicators(
            Tenant(s, Scope.operator()), alpha.client_id, [data.add_months(march, -1), march]
        )
    assert rows[0].availability == pytest.approx(100.0)
    assert rows[1].availability == pytest.approx(100 * (1 - 12 * 3600 / (end - start).total_seconds()))


def test_a_cabinet_cannot_read_another_cabinets_client(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, beta = year
    with db.session() as s:
        a = Tenant(s, Scope.cabinets(tenants.dealer_id, [tenants.cabinet_a]))
        assert data.monthly_indicators(a, alpha.client_id, alpha.months)[0].docs > 0
        with pytest.raises(NotFound):
            data.monthly_indicators(a, beta.client_id, beta.months)
        with pytest.raises(NotFound):
            data.renewal_report(a, beta.client_id, FIRST, LAST)
        with pytest.raises(NotFound):
            data.trial_report(a, beta.installation_id, date(2026, 3, 1), date(2026, 3, 31))
        with pytest.raises(NotFound):
            data.quarterly_report(a, tenants.cabinet_b, date(2026, 7, 1))
        other = Tenant(s, Scope.dealer(tenants.other_dealer_id))
        with pytest.raises(data.ReportError, match="не найден"):
            data.find_client(other, str(alpha.client_id))
        with pytest.raises(data.ReportError, match="не найден"):
            data.find_client(a, "beta_client")


def test_trial_report_counts_users_searches_and_days(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    with db.session() as s:
        t = Tenant(s, Scope.operator())
        report = data.trial_report(t, alpha.installation_id, first, last)
        [month] = data.monthly_indicators(t, alpha.client_id, [first])
    assert report.total("docs") == month.docs
    assert report.active_users == month.users
    assert sum(d.activity for d in report.days) == month.activity
    assert len(report.days) == 31
    assert sum(q.count for q in report.empty_queries) == month.empty_searches
    assert sum(q.count for q in report.top_queries) == month.searches
    assert report.refusals == month.refusals
    assert all(u.full_name.startswith("Пользователь") for u in report.users if u.db_requests)


def test_quarterly_report_sorts_by_risk_and_compares_quarters(
    db: Database, tenants: Tenants, year: tuple[Built, Built]
) -> None:
    alpha, _ = year
    with db.write() as s:  # a second client of cabinet A without any data: the riskiest
        from kodeks_smart.store import admin
        from kodeks_smart.store.models import Cabinet

        cabinet = s.get(Cabinet, tenants.cabinet_a)
        assert cabinet is not None
        admin.add_client(s, cabinet, "silent_client", "ООО «Тишина»")
    q3 = date(2026, 7, 1)
    with db.session() as s:
        t = Tenant(s, Scope.cabinets(tenants.dealer_id, [tenants.cabinet_a]))
        report = data.quarterly_report(t, tenants.cabinet_a, q3, today=date(2026, 11, 26))
        months = data.monthly_indicators(t, alpha.client_id, [data.add_months(q3, i) for i in range(-3, 3)])
    risks = [r.risk for r in report.rows]
    assert risks == sorted(risks, reverse=True)
    by_name = {r.client.short_name: r for r in report.rows}
    assert set(by_name) == {"silent_client", "alpha_client"}  # nothing of cabinet B
    row = by_name["alpha_client"]
    involvement = [m.involvement for m in months[3:] if m.involvement is not None]
    assert row.involvement == pytest.approx(sum(involvement) / len(involvement))
    assert row.risk == 2 + (2 if row.involvement < 60 else 0) + (1 if (row.activity_change or 0) < -20 else 0)
    assert row.activity == sum(m.activity for m in months[3:])
    assert row.prev_activity == sum(m.activity for m in months[:3])
    assert row.docs == sum(m.docs for m in months[3:])
    assert row.days_left == (alpha.licence_to - date(2026, 11, 26)).days
    assert "лицензия истекает" in "; ".join(row.reasons)
    assert by_name["silent_client"].reasons == ["нет данных за квартал"]
    assert by_name["silent_client"].risk == 2


def test_bad_parameters_are_rejected_in_russian() -> None:
    with pytest.raises(data.ReportError, match="ГГГГ-ММ"):
        data.parse_month("11.2026")
    with pytest.raises(data.ReportError, match="ГГГГQN"):
        data.parse_quarter("2026Q5")
    assert data.parse_quarter("2026-q3") == date(2026, 7, 1)
    assert data.last_full_months(12, date(2026, 11, 26)) == (date(2025, 11, 1), date(2026, 10, 1))
