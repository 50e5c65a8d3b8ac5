"""Helpers of the dashboard tests: a logged-in client, facts written through the store models, and
readers for what a dashboard page embeds (chart JSON, stat values, table rows)."""

from __future__ import annotations

import html
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from kodeks_smart.store.ingest_models import Upload
from kodeks_smart.store.models import Client, Installation
from kodeks_smart.store.types import utcnow

HTML = {"accept": "text/html"}


@dataclass
class Site:
    """One client of a cabinet with its installation and an upload row that facts can reference."""

    dealer_id: int
    cabinet_id: int
    client_id: int
    installation_id: int
    upload_id: int
    short_name: str
    host: str

    def base(self) -> dict[str, Any]:
        return {
            "dealer_id": self.dealer_id,
            "cabinet_id": self.cabinet_id,
            "client_id": self.client_id,
            "installation_id": self.installation_id,
        }

    def fact(self) -> dict[str, Any]:
        return {**self.base(), "upload_id": self.upload_id}


def site_of(s: Session, cabinet_id: int, short_name: str | None = None) -> Site:
    """The (first) client of a cabinet, with an upload row created for fact rows to point at."""
    stmt = select(Client).where(Client.cabinet_id == cabinet_id)
    if short_name:
        stmt = stmt.where(Client.short_name == short_name)
    client = s.scalars(stmt.order_by(Client.id)).first()
    assert client is not None
    inst = s.scalars(select(Installation).where(Installation.client_id == client.id)).first()
    assert inst is not None
    upload = Upload(
        dealer_id=client.dealer_id,
        cabinet_id=cabinet_id,
        client_id=client.id,
        installation_id=inst.id,
        filename=f"{client.short_name}.xml",
        client_name=client.short_name,
        kind="sysinfo",
        fmt="xml",
        size=1,
        sha256=secrets.token_hex(32),
        status="done",
        source="manual",
    )
    s.add(upload)
    s.flush()
    return Site(
        client.dealer_id,
        cabinet_id,
        client.id,
        inst.id,
        upload.id,
        client.short_name,
        inst.address or client.short_name,
    )


def open_dashboard(client: TestClient, cabinet_id: int, slug: str, query: str = "") -> str:
    response = client.get(f"/c/{cabinet_id}/d/{slug}" + (f"?{query}" if query else ""), headers=HTML)
    assert response.status_code == 200, response.text[:2000]
    return response.text


def chart(page: str, name: str) -> dict[str, Any]:
    m = re.search(
        rf'<script type="application/json" class="chart-data" data-for="{re.escape(name)}">(.*?)</script>',
        page,
        re.S,
    )
    assert m, f"no chart {name}"
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def series(page: str, name: str) -> dict[str, dict[str, Any]]:
    """A chart's series by name: {"points": [[t, v], …], "stats": {…}}."""
    return {s["name"]: s for s in chart(page, name)["series"]}


def stat(page: str, name: str) -> str:
    m = re.search(rf'data-stat="{re.escape(name)}">([^<]*)<', page)
    assert m, f"no stat {name}"
    return html.unescape(m.group(1))


def table_rows(page: str, name: str) -> list[list[str]]:
    """Cell texts of a table panel's current page."""
    m = re.search(rf'<section [^>]*data-panel="{re.escape(name)}">(.*?)</section>', page, re.S)
    assert m, f"no panel {name}"
    body = re.search(r"<tbody>(.*?)</tbody>", m.group(1), re.S)
    assert body
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
        cells = [
            html.unescape(c) for c in re.findall(r'<td title="[^"]*"(?: class="[^"]*")?>(.*?)</td>', tr, re.S)
        ]
        if cells:
            rows.append(cells)
    return rows


def hour(moment: datetime | None = None) -> datetime:
    return (moment or utcnow()).replace(minute=0, second=0, microsecond=0)
