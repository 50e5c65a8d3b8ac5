"""Facts for cabinets A (alpha) and B (beta) of the `tenants` fixture, sized so that panels differ.

A: 3 connected users of 10 seats, 2 empty searches + 1 found, 1 firing alert, the server down 3 hours.
B: 5 connected users of 20 seats, 4 empty searches, 2 firing alerts, never down.
Every string of B contains ``beta`` (and of C ``gamma``), so a leak shows up in any result set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.store.alert_models import AlertState
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import (
    SysinfoDbError,
    SysinfoKassistDay,
    SysinfoOperUpFile,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
    Upload,
)
from kodeks_smart.store.models import Client, Installation, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeLatency, ProbeStateInterval


@dataclass(frozen=True)
class Shape:
    prefix: str
    sessions: int
    seats: int
    empty_searches: int
    found_searches: int
    firing_alerts: int
    down_hours: int


SHAPES = {
    "alpha": Shape(
        "alpha", sessions=3, seats=10, empty_searches=2, found_searches=1, firing_alerts=1, down_hours=3
    ),
    "beta": Shape(
        "beta", sessions=5, seats=20, empty_searches=4, found_searches=0, firing_alerts=2, down_hours=0
    ),
    "gamma": Shape(
        "gamma", sessions=1, seats=5, empty_searches=1, found_searches=0, firing_alerts=1, down_hours=1
    ),
}


def seed(db: Database, now: datetime) -> None:
    """One sysinfo report (2 days ago) and probe/alert rows for every cabinet's client."""
    with db.write() as s:
        for shape in SHAPES.values():
            client = s.scalars(select(Client).where(Client.short_name == f"{shape.prefix}_client")).one()
            inst = s.scalars(select(Installation).where(Installation.client_id == client.id)).one()
            _seed_client(s, shape, client, inst, now)


def _seed_client(s: Session, shape: Shape, client: Client, inst: Installation, now: datetime) -> None:
    at = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    tenant = {"dealer_id": client.dealer_id, "cabinet_id": client.cabinet_id}
    upload = Upload(
        **tenant,
        client_id=client.id,
        installation_id=inst.id,
        filename=f"{shape.prefix}_client.xml",
        client_name=f"{shape.prefix}_client",
        kind="sysinfo",
        fmt="xml",
        size=1000,
        sha256=shape.prefix.ljust(64, "0"),
        status="done",
        received_at=at,
        last_received_at=at,
        report_time=at,
    )
    broken = Upload(
        **tenant,
        client_id=client.id,
        installation_id=inst.id,
        filename=f"{shape.prefix}_client.zip",
        client_name=f"{shape.prefix}_client",
        kind="sysinfo",
        fmt="zip",
        size=10,
        sha256=shape.prefix.ljust(64, "1"),
        status="failed",
        error="Файл повреждён",
        received_at=at - timedelta(hours=1),
        last_received_at=at - timedelta(hours=1),
    )
    s.add_all([upload, broken])
    s.flush()
    fact = {**tenant, "client_id": client.id, "installation_id": inst.id, "upload_id": upload.id}
    s.add(
        SysinfoReportRow(
            **fact,
            created_at=at,
            utc_offset_minutes=180,
            seats=shape.seats,
            regnum=f"{shape.prefix}-reg",
            support_until=(now + timedelta(days=100)).date(),
            module_version="2.0.6.15",
        )
    )
    for n in range(shape.sessions):
        s.add(SysinfoSession(**fact, report_at=at, login=f"{shape.prefix}_user{n}", ip="10.0.0.1", domain=""))
    for n in range(shape.empty_searches):
        s.add(
            SysinfoSearch(
                **fact,
                occurred_at=at - timedelta(minutes=n + 1),
                login=f"{shape.prefix}_user0",
                query_key=f"{shape.prefix}e{n}",
                catalog="/docs",
                type="intelligent",
                result="empty",
                source="ksrv",
                query=f"{shape.prefix} пустой запрос {n}",
            )
        )
    for n in range(shape.found_searches):
        s.add(
            SysinfoSearch(
                **fact,
                occurred_at=at - timedelta(minutes=30 + n),
                login=f"{shape.prefix}_user1",
                query_key=f"{shape.prefix}f{n}",
                catalog="/docs",
                type="intelligent",
                result="found",
                found=7,
                source="ksrv",
                query=f"{shape.prefix} удачный запрос {n}",
            )
        )
    s.add(
        SysinfoUsageHour(
            **fact,
            hour=at,
            login=f"{shape.prefix}_user0",
            report_at=at,
            db_requests=40,
            docs=5,
            saved=2,
            printed=1,
            kassist=3,
            services=1,
            searches=shape.empty_searches + shape.found_searches,
        )
    )
    s.add(
        SysinfoUser(
            **fact,
            login=f"{shape.prefix}_user0",
            first_seen_at=at - timedelta(days=100),
            last_seen_at=at,
            last_login_at=at - timedelta(days=90),
            month_docs=15,
            month_searches=10,
        )
    )
    s.add(
        SysinfoOperUpFile(
            **fact,
            report_at=at,
            path=f"C:\\Kodeks\\OperUp\\{shape.prefix}.ud6",
            modified_at=at - timedelta(days=4),
        )
    )
    s.add(
        SysinfoDbError(
            **fact, report_at=at, database="DB1", volume=f"{shape.prefix}.vol", text="Invalid protect string"
        )
    )
    s.add(SysinfoRefusal(**fact, occurred_at=at, login=f"{shape.prefix}_user9", reason="no-seats"))
    s.add(
        ProbeCheck(
            **tenant, installation_id=inst.id, check_name="http200", status="ok", since=at, checked_at=now
        )
    )
    s.add(
        ProbeLatency(
            **tenant,
            installation_id=inst.id,
            check_name="http200",
            at=at,
            samples=4,
            mean_ms=120.0,
            max_ms=300.0,
        )
    )
    s.add(
        SysinfoKassistDay(
            **fact,
            day=at.date(),
            report_at=at,
            links_added=9,
            unique_links=4,
            not_matched=1,
            active_checked=6,
        )
    )
    access = s.scalars(select(OnlineAccess).where(OnlineAccess.client_id == client.id)).one()
    for hours, used in ((3, 100), (1, 140)):
        s.add(
            OnlineBillingReading(
                **tenant,
                online_access_id=access.id,
                read_at=now - timedelta(hours=hours),
                docs_max=300,
                docs_used=used,
                search_max=1000,
                search_used=5,
                print_max=100,
                print_used=0,
                upload_max=100,
                upload_used=1,
            )
        )
    if shape.down_hours:
        start = now - timedelta(days=1)
        s.add(
            ProbeStateInterval(
                **tenant,
                installation_id=inst.id,
                state="server_down",
                http_code=None,
                started_at=start,
                ended_at=start + timedelta(hours=shape.down_hours),
            )
        )
    for n in range(shape.firing_alerts):
        s.add(
            AlertState(
                **tenant,
                client_id=client.id,
                installation_id=inst.id,
                rule="KodeksIcmp",
                key=f"inst:{inst.id}:{n}",
                status="firing",
                severity="critical",
                priority=1,
                category="critical",
                summary=f"{shape.prefix}: сервер не отвечает",
                started_at=at,
                last_seen_at=now,
            )
        )


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
