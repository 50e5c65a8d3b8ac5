"""Twelve (or more) months of facts of one client, written through the store models.

The numbers vary by month (and the client's ``seed``) so that a report that mixes up months, clients or
installations shows it. Each month has one processed sysinfo report (the 15th, 12:00 local) with its
sessions, DB errors and licence, hourly usage of several users on working days, a search log with empty
and intelligent searches, and refused logins; one month has no data at all (SMART did not collect).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.reports.data import add_months
from kodeks_smart.store.db import Database
from kodeks_smart.store.ingest_models import (
    SysinfoDatabase,
    SysinfoDbError,
    SysinfoRefusal,
    SysinfoReportRow,
    SysinfoSearch,
    SysinfoSession,
    SysinfoUsageHour,
    SysinfoUser,
    Upload,
)
from kodeks_smart.store.models import Client, Installation, OnlineAccess
from kodeks_smart.store.probe_models import OnlineBillingReading, ProbeCheck, ProbeStateInterval

LOCAL = timedelta(hours=3)


@dataclass
class Built:
    client_id: int
    installation_id: int
    months: list[date]
    missing: date
    seats: int
    licence_to: date
    empty_queries: dict[str, int] = field(default_factory=dict)


def _upload(s: Session, client: Client, inst: Installation, at: datetime, n: int) -> Upload:
    up = Upload(
        dealer_id=client.dealer_id,
        cabinet_id=client.cabinet_id,
        client_id=client.id,
        installation_id=inst.id,
        filename=f"{client.short_name}.zip",
        client_name=client.short_name,
        kind="sysinfo",
        fmt="zip",
        size=1,
        sha256=hashlib.sha256(f"{client.id}-{n}".encode()).hexdigest(),
        status="done",
        received_at=at,
        last_received_at=at,
        report_time=at,
    )
    s.add(up)
    s.flush()
    return up


def build_client(
    db: Database, short_name: str, first: date, count: int = 12, *, seed: int = 1, seats: int = 10
) -> Built:
    """Facts for ``count`` months from ``first`` plus the month before (for the first change)."""
    months = [add_months(first, i) for i in range(-1, count)]
    missing = months[4]
    licence_to = add_months(first, count + 1)
    built = Built(0, 0, months[1:], missing, seats, licence_to)
    with db.write() as s:
        client = s.scalars(select(Client).where(Client.short_name == short_name)).one()
        inst = s.scalars(select(Installation).where(Installation.client_id == client.id)).one()
        built.client_id, built.installation_id = client.id, inst.id
        tenant = {"dealer_id": client.dealer_id, "cabinet_id": client.cabinet_id, "client_id": client.id}
        logins = [f"user{i}" for i in range(seats + 2)]
        for login in logins:
            at = datetime(first.year, first.month, 1, tzinfo=UTC)
            s.add(
                SysinfoUser(
                    **tenant,
                    installation_id=inst.id,
                    upload_id=0,
                    login=login,
                    first_seen_at=at,
                    last_seen_at=at,
                    full_name=f"Пользователь {login}",
                )
            )
        for n, month in enumerate(months):
            if month == missing:
                continue
            k = n + seed
            report_at = datetime(month.year, month.month, 15, 12, tzinfo=UTC) - LOCAL
            up = _upload(s, client, inst, report_at, n)
            fact = {**tenant, "installation_id": inst.id, "upload_id": up.id}
            s.add(SysinfoReportRow(**fact, created_at=report_at, utc_offset_minutes=180, seats=seats))
            s.add(SysinfoDatabase(**fact, report_at=report_at, code="KOD", license_to=licence_to))
            for i in range(min(seats, 3 + k % 6)):
                s.add(SysinfoSession(**fact, report_at=report_at, login=logins[i]))
            for i in range(k % 3):
                s.add(SysinfoDbError(**fact, report_at=report_at, database="KOD", volume=f"v{i}", code=2007))
            # Users active this month: 3 + k % 7 of them (up to seats + 2, so involvement may pass 100 %).
            active = logins[: 3 + k % 7]
            # Hours at the start of the local month (the first hours fall before UTC midnight of the 1st)
            # and at its end, so a month boundary in the wrong time zone moves numbers.
            local_start = datetime(month.year, month.month, 1, tzinfo=UTC) - LOCAL
            local_end = datetime(add_months(month, 1).year, add_months(month, 1).month, 1, tzinfo=UTC) - LOCAL
            hours = [local_start + timedelta(hours=h) for h in (0, 1, 9, 30, 200)]
            hours.append(local_end - timedelta(hours=1))
            for ui, login in enumerate(active):
                for hi, hour in enumerate(hours):
                    s.add(
                        SysinfoUsageHour(
                            **fact,
                            hour=hour,
                            login=login,
                            report_at=report_at,
                            db_requests=(k + ui + hi) % 5,
                            docs=k * 2 + ui + hi,
                            saved=(k + hi) % 3,
                            printed=(ui + hi) % 2,
                            searches=hi % 4,
                        )
                    )
            for i in range(5 + k % 4):
                empty = i % 3 == 0
                query = ("ГОСТ 12.1.004" if i % 2 else "СП 60.13330") if empty else f"договор аренды {i}"
                if empty and month >= first:
                    built.empty_queries[query] = built.empty_queries.get(query, 0) + 1
                s.add(
                    SysinfoSearch(
                        **fact,
                        occurred_at=local_start + timedelta(days=2, minutes=i),
                        login=active[i % len(active)],
                        query_key=f"{n}-{i}",
                        type="intelligent" if i % 2 == 0 else "attribute",
                        result="empty" if empty else "found",
                        query=query,
                    )
                )
            for i in range(k % 4):
                s.add(
                    SysinfoRefusal(
                        **fact,
                        occurred_at=local_start + timedelta(days=3, minutes=i),
                        login=logins[-1 - i % 2],
                        reason="no-seats",
                        code=2008,
                    )
                )
            s.add(
                SysinfoRefusal(
                    **fact, occurred_at=local_start + timedelta(days=4), login="x", reason="bad-password"
                )
            )
    return built


def add_online_billing(db: Database, short_name: str, months: list[date]) -> int:
    """Two readings a month for the client's online access; the month-end one used ``docs`` 50 + 10·i."""
    with db.write() as s:
        client = s.scalars(select(Client).where(Client.short_name == short_name)).one()
        access = s.scalars(select(OnlineAccess).where(OnlineAccess.client_id == client.id)).one()
        for i, month in enumerate(months):
            for day, used in ((5, 10), (25, 50 + 10 * i)):
                s.add(
                    OnlineBillingReading(
                        dealer_id=client.dealer_id,
                        cabinet_id=client.cabinet_id,
                        online_access_id=access.id,
                        read_at=datetime(month.year, month.month, day, 12, tzinfo=UTC),
                        docs_max=400,
                        docs_used=used,
                        search_max=4000,
                        search_used=used * 3,
                        print_max=3000,
                        print_used=used // 2,
                        upload_max=3000,
                        upload_used=used // 5,
                    )
                )
        return access.id


def add_downtime(db: Database, installation_id: int, since: datetime, start: datetime, hours: float) -> None:
    """The installation is probed since ``since`` and was down ``hours`` from ``start``."""
    with db.write() as s:
        inst = s.get(Installation, installation_id)
        assert inst is not None
        s.add(
            ProbeCheck(
                dealer_id=inst.dealer_id,
                cabinet_id=inst.cabinet_id,
                installation_id=inst.id,
                check_name="http200",
                status="ok",
                since=since,
            )
        )
        s.add(
            ProbeStateInterval(
                dealer_id=inst.dealer_id,
                cabinet_id=inst.cabinet_id,
                installation_id=inst.id,
                state="server_down",
                started_at=start,
                ended_at=start + timedelta(hours=hours),
            )
        )
