"""The forwarding log as the cabinet and the CLI show it, and the test send of a dealer's configuration.

Log states (the original dashboard's «Состояние» and «Ответ сервера»): «Принят» (``accepted``, answer «ок»),
«Повтор» (``duplicate``: ASRP already has this file, «warning»), «Ошибка» (``failed``: given up, «warning»),
«В очереди» (``pending``/``sending``: not sent yet, or waiting for the next try after an error).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from kodeks_smart.asrp import configure
from kodeks_smart.asrp.forwarders import Answer, Forwarder, Report
from kodeks_smart.store.asrp_models import AsrpForward
from kodeks_smart.store.models import Client, Dealer
from kodeks_smart.store.scope import Tenant

STATE_RU: dict[str, str] = {
    "queued": "В очереди",
    "accepted": "Принят",
    "duplicate": "Повтор",
    "failed": "Ошибка",
}
_STORED: dict[str, tuple[str, ...]] = {
    "queued": ("pending", "sending"),
    "accepted": ("accepted",),
    "duplicate": ("duplicate",),
    "failed": ("failed",),
}


def shown_state(state: str) -> str:
    """The log state key of a stored state."""
    return "queued" if state in ("pending", "sending") else state


@dataclass(frozen=True)
class LogLine:
    id: int
    upload_id: int
    time: datetime
    client: str
    regnum: str
    state: str  # queued | accepted | duplicate | failed
    response: str  # ок | warning | ""
    answer: str
    number: str
    ident: str
    attempts: int
    dealer: str
    next_attempt_at: datetime | None

    @property
    def state_ru(self) -> str:
        return STATE_RU[self.state]


def log_lines(
    tenant: Tenant,
    *,
    client: str | None = None,
    state: str | None = None,
    response: str | None = None,
    limit: int = 5000,
) -> list[LogLine]:
    """The newest log lines in the tenant's scope, optionally of one client (short name) and state."""
    stmt = tenant.select(AsrpForward)
    if client:
        stmt = stmt.where(AsrpForward.client_name == client)
    if state:
        stmt = stmt.where(AsrpForward.state.in_(_STORED.get(state, ("-",))))
    if response == "ok":
        stmt = stmt.where(AsrpForward.state == "accepted")
    elif response == "warning":
        stmt = stmt.where(AsrpForward.state.in_(("duplicate", "failed")))
    rows = list(
        tenant.session.scalars(
            stmt.order_by(AsrpForward.created_at.desc(), AsrpForward.id.desc()).limit(limit)
        )
    )
    dealers: dict[int, str] = {}
    clients: dict[int, str] = {}
    if rows:
        dealers = {d.id: d.code for d in tenant.session.scalars(select(Dealer))}
        clients = {c.id: c.short_name for c in tenant.list(Client)}
    lines = []
    for r in rows:
        key = shown_state(r.state)
        answer = r.answer or ""
        if key == "queued" and r.last_error:
            answer = f"ошибка: {r.last_error}" + (f" — {answer}" if answer else "")
        elif key == "failed" and r.last_error:
            answer = r.last_error + (f" — {answer}" if answer else "")
        lines.append(
            LogLine(
                id=r.id,
                upload_id=r.upload_id,
                time=r.last_attempt_at or r.created_at,
                client=clients.get(r.client_id or 0, r.client_name),
                regnum=r.regnum or "",
                state=key,
                response={"accepted": "ок", "duplicate": "warning", "failed": "warning"}.get(key, ""),
                answer=answer,
                number=r.upload_number or "",
                ident=r.ident or "",
                attempts=r.attempts,
                dealer=dealers.get(r.dealer_id, ""),
                next_attempt_at=r.next_attempt_at if key == "queued" else None,
            )
        )
    return lines


def sample_report(dealer: Dealer) -> Report:
    """A small ZIP that says it is a test of SMART's forwarding, with sample placeholder values."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "sysinfo.xml",
            '<?xml version="1.0" encoding="utf-8"?>\n<sysinfo test="smart-asrp-test">'
            "Проверка настроек передачи в АСРП из СМАРТ</sysinfo>\n",
        )
    values = dict(configure.SAMPLE_VALUES, dealer=dealer.code, client="smart-test", filename="smart-test.zip")
    return Report(buf.getvalue(), "smart-test.zip", values)


def send_sample(forwarder: Forwarder, dealer: Dealer) -> Answer:
    """Send the sample report through a forwarder; raises `ForwardError` like a real send."""
    return forwarder.send(sample_report(dealer))
