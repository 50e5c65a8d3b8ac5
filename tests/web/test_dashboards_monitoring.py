"""Monitoring dashboards: server metrics, availability (installations and online), disk space."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kodeks_smart.app import create_app
from kodeks_smart.ingest.writers import labels_key
from kodeks_smart.runtime import Services
from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import (
    HourlyRollup,
    MetricSeries,
    Sample,
    SysinfoReportRow,
    SysinfoVolume,
)
from kodeks_smart.store.models import Installation, OnlineAccess
from kodeks_smart.store.probe_models import ProbeCheck, ProbeStateInterval
from kodeks_smart.store.types import utcnow
from tests.conftest import Tenants
from tests.web.dashboard_helpers import chart, open_dashboard, series, site_of, table_rows
from tests.web.test_cabinet import login

GB = 1024**3


@pytest.fixture
def web(services: Services, tenants: Tenants) -> Iterator[TestClient]:
    with TestClient(create_app(services), follow_redirects=False) as c:
        yield c


def _age_everything(db: Database, days: int = 60) -> None:
    with db.write() as s:
        s.execute(update(Installation).values(created_at=utcnow() - timedelta(days=days)))
        s.execute(update(OnlineAccess).values(created_at=utcnow() - timedelta(days=days)))


def _states(db: Database, tenants: Tenants) -> None:
    now = utcnow()
    with db.write() as s:
        for cabinet in (tenants.cabinet_a, tenants.cabinet_b):
            site = site_of(s, cabinet)
            base = {
                "dealer_id": site.dealer_id,
                "cabinet_id": cabinet,
                "installation_id": site.installation_id,
            }
            s.add(
                ProbeStateInterval(
                    **base,
                    state="server_down",
                    started_at=now - timedelta(days=2),
                    ended_at=now - timedelta(days=2) + timedelta(hours=7, minutes=12),
                    detail="порт закрыт",
                )
            )
            s.add(
                ProbeStateInterval(
                    **base,
                    state="maintenance",
                    http_code=503,
                    started_at=now - timedelta(hours=10),
                    ended_at=now - timedelta(hours=10) + timedelta(hours=7, minutes=12),
                )
            )
            s.add(
                ProbeStateInterval(
                    **base, state="licences_exhausted", http_code=200, started_at=now - timedelta(hours=1)
                )
            )
            for check, status in (("tcp", "ok"), ("http200", "ok"), ("auth", "fail")):
                s.add(
                    ProbeCheck(
                        **base,
                        check_name=check,
                        status=status,
                        since=now - timedelta(hours=2),
                        checked_at=now,
                        detail="",
                    )
                )


def test_server_metrics_draw_states_with_their_http_codes_and_check_statuses(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _states(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "server-metrics")
    states = series(page, "states")
    assert set(states) == {
        "Режим обслуживания alpha.example.ru:80",
        "Кончились лицензии alpha.example.ru:80",
    }  # the server_down interval ended more than 24 hours ago
    assert states["Режим обслуживания alpha.example.ru:80"]["stats"]["max"] == 503
    assert states["Режим обслуживания alpha.example.ru:80"]["stats"]["last"] == 0
    assert states["Кончились лицензии alpha.example.ru:80"]["stats"]["last"] == 200
    checks = series(page, "checks")
    assert checks["tcp alpha.example.ru:80"]["stats"]["last"] == 1
    assert checks["auth alpha.example.ru:80"]["stats"]["last"] == 0
    assert len(table_rows(page, "intervals")) == 2 and "beta" not in page
    only_auth = open_dashboard(web, tenants.cabinet_a, "server-metrics", "checktype=auth")
    assert list(series(only_auth, "checks")) == ["auth alpha.example.ru:80"]
    assert [r[2] for r in table_rows(only_auth, "check-list")] == ["auth"]
    week = open_dashboard(web, tenants.cabinet_a, "server-metrics", "range=7d")
    assert "Сервер не работает alpha.example.ru:80" in series(week, "states")


def test_availability_is_the_share_of_the_last_30_days_without_an_outage(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _age_everything(db)
    _states(db, tenants)
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "availability")
    interface = series(page, "interface")["alpha.example.ru:80"]["stats"]
    port = series(page, "port")["alpha.example.ru:80"]["stats"]
    # 7.2 h down (port closed) + 7.2 h maintenance in 720 h.
    assert interface["last"] == pytest.approx(98.0, abs=0.01)
    assert port["last"] == pytest.approx(99.0, abs=0.01)
    assert interface["max"] == 100.0  # before the outages
    assert table_rows(page, "summary") == [
        ["alpha.example.ru:80", "alpha_client", "Менеджер alpha", "98.00", "99.00"]
    ]
    assert "beta" not in page
    none = open_dashboard(web, tenants.cabinet_a, "availability", "manager=Никто")
    assert chart(none, "interface")["series"] == []


def test_online_availability_counts_failed_logins_per_client_and_per_server(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    _age_everything(db)
    now = utcnow()
    with db.write() as s:
        for cabinet in (tenants.cabinet_a, tenants.cabinet_b):
            access = s.scalars(select(OnlineAccess).where(OnlineAccess.cabinet_id == cabinet)).one()
            s.add(
                AlertState(
                    dealer_id=access.dealer_id,
                    cabinet_id=cabinet,
                    client_id=access.client_id,
                    online_access_id=access.id,
                    rule="OnlineLoginFailed",
                    key=f"online:{access.id}",
                    status="resolved",
                    severity="critical",
                    priority=2,
                    category="online",
                    started_at=now - timedelta(days=3),
                    resolved_at=now - timedelta(days=3) + timedelta(hours=7, minutes=12),
                    last_seen_at=now,
                )
            )
    login(web, "alice", "alice-password")
    page = open_dashboard(web, tenants.cabinet_a, "availability-online", "range=7d")
    clients = series(page, "clients")
    assert list(clients) == ["alpha_client (alpha_online@nps2.cntd.ru)"]
    assert clients["alpha_client (alpha_online@nps2.cntd.ru)"]["stats"]["last"] == pytest.approx(
        99.0, abs=0.01
    )
    assert series(page, "servers")["nps2.cntd.ru"]["stats"]["min"] == pytest.approx(99.0, abs=0.01)
    assert "beta" not in page
    # «Сервер» narrows only the second panel, «Клиент» only the first.
    other = open_dashboard(web, tenants.cabinet_a, "availability-online", "range=7d&server=fs.kodeks.ru")
    assert chart(other, "servers")["series"] == [] and len(chart(other, "clients")["series"]) == 1


def test_disk_space_lists_partitions_under_10_gb_from_samples_and_rollups(
    web: TestClient, db: Database, tenants: Tenants
) -> None:
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    with db.write() as s:
        site = site_of(s, tenants.cabinet_a)
        for name, labels, values in (
            ("disk_free", {"path": "/"}, (6 * GB, 5 * GB)),
            ("disk_total", {"path": "/"}, (100 * GB, 100 * GB)),
            ("disk_free", {"path": "/data"}, (60 * GB, 50 * GB)),
        ):
            ms = MetricSeries(
                dealer_id=site.dealer_id,
                cabinet_id=site.cabinet_id,
                client_id=site.client_id,
                installation_id=site.installation_id,
                name=name,
                labels=labels,
                labels_key=labels_key(tuple(sorted(labels.items()))),
                source="metrics",
            )
            s.add(ms)
            s.flush()
            tenant = {"dealer_id": site.dealer_id, "cabinet_id": site.cabinet_id}
            for n, value in enumerate(values):
                ts = now - timedelta(hours=3 - 2 * n)
                s.add(Sample(series_id=ms.id, ts=ts, value=value, upload_id=site.upload_id, **tenant))
                s.add(
                    HourlyRollup(
                        series_id=ms.id,
                        hour=ts,
                        count=1,
                        sum=value,
                        min=value,
                        max=value,
                        last=value,
                        last_ts=ts,
                        **tenant,
                    )
                )
        report = SysinfoReportRow(**site.fact(), created_at=now, utc_offset_minutes=180, seats=10)
        s.add(report)
        for n in range(3):
            s.add(SysinfoVolume(**site.fact(), report_at=now, database="KOD", path=f"v{n}", size=GB))
    login(web, "alice", "alice-password")
    for query in ("range=24h", "range=30d"):
        page = open_dashboard(web, tenants.cabinet_a, "disk-space", query)
        free = series(page, "free")
        assert free["alpha.example.ru:80: /"]["stats"]["min"] == 5.0
        assert free["alpha.example.ru:80: /data"]["stats"]["last"] == 50.0
        assert table_rows(page, "low") == [
            [
                "alpha.example.ru:80",
                "alpha_client",
                "Менеджер alpha",
                "/",
                "5.0",
                "100.0",
                table_rows(page, "low")[0][6],
            ]
        ]
        assert table_rows(page, "volumes")[0][2:4] == ["3", "3.0"]
    login(web, "bob", "bob-password")
    assert chart(open_dashboard(web, tenants.cabinet_b, "disk-space"), "free")["series"] == []
