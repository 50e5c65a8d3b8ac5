"""Condition of ``SmartAsrpForwardFailing`` (source ``meta``): forwarding of a client's sysinfo reports
to ASRP keeps failing.

Per client with ASRP forwarding: take the latest successful forward (accepted or duplicate, by finish
time); the rule holds when some forward of the client queued after it has failed and either was given up
(state ``failed``) or has been failing for `FAILING_FOR` (its first failed try is that old). A successful
forward moves the mark past every failing row, so the alert resolves with the first success. Key
``asrp:client:<client id>``; labels: ``client``, ``dealer``, ``value`` (hours since the first failure),
``text`` (the last error), ``count`` (failing reports).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kodeks_smart.alerts.engine import Condition, Instance
from kodeks_smart.store.asrp_models import AsrpForward
from kodeks_smart.store.models import Client, Dealer

RULE = "SmartAsrpForwardFailing"
FAILING_FOR = timedelta(hours=6)


def forward_failing(session: Session, now: datetime) -> Iterable[Instance]:
    last_ok = (
        select(AsrpForward.client_id, func.max(AsrpForward.finished_at).label("ok_at"))
        .where(AsrpForward.state.in_(("accepted", "duplicate")), AsrpForward.client_id.is_not(None))
        .group_by(AsrpForward.client_id)
        .subquery()
    )
    stmt = (
        select(AsrpForward, Client, Dealer)
        .join(Client, Client.id == AsrpForward.client_id)
        .join(Dealer, Dealer.id == AsrpForward.dealer_id)
        .outerjoin(last_ok, last_ok.c.client_id == AsrpForward.client_id)
        .where(
            AsrpForward.first_failed_at.is_not(None),
            AsrpForward.state.in_(("pending", "sending", "failed")),
            or_(last_ok.c.ok_at.is_(None), AsrpForward.created_at > last_ok.c.ok_at),
        )
        .order_by(AsrpForward.client_id, AsrpForward.id)
    )
    by_client: dict[int, list[tuple[AsrpForward, Client, Dealer]]] = {}
    for row, client, dealer in session.execute(stmt):
        by_client.setdefault(client.id, []).append((row, client, dealer))
    found = []
    for rows in by_client.values():
        first = min(r.first_failed_at for r, _, _ in rows if r.first_failed_at is not None)
        given_up = any(r.state == "failed" for r, _, _ in rows)
        if not given_up and now - first < FAILING_FOR:
            continue
        latest, client, dealer = max(rows, key=lambda t: (t[0].last_attempt_at or t[0].created_at, t[0].id))
        found.append(
            Instance(
                RULE,
                f"asrp:client:{client.id}",
                client.dealer_id,
                client.cabinet_id,
                client_id=client.id,
                labels={
                    "client": client.short_name,
                    "dealer": dealer.code,
                    "value": f"{max(0.0, (now - first).total_seconds()) / 3600:.0f} ч",
                    "text": latest.last_error or "",
                    "count": len(rows),
                },
            )
        )
    return found


CONDITIONS: dict[str, Condition] = {RULE: forward_failing}
