"""`smart demo`: registration of the demo objects and the local mail sink."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from kodeks_smart.demo import DemoLayout, MailSink, ensure_demo_login, register, start_simulator
from kodeks_smart.lib.secrets import PasswordHashing, SecretBox
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Account, Client, Installation, OnlineAccess
from tests.live import free_port


def test_the_demo_registers_every_kind_of_object_once(
    db: Database, box: SecretBox, hashing: PasswordHashing
) -> None:
    layout = DemoLayout(installations=10, online=3, port_base=0)
    sim = start_simulator(layout)
    try:
        for _ in range(2):
            with db.write() as s:
                register(s, box, sim, layout, 2525)
        with db.write() as s:
            first = ensure_demo_login(s, hashing)
            second = ensure_demo_login(s, hashing)
        assert first and second is None
        with db.session() as s:
            kinds = dict(s.execute(select(Installation.kind, func.count()).group_by(Installation.kind)).all())
            assert kinds == {"internet": 6, "cloud": 2, "closed": 2}
            assert s.scalar(select(func.count()).select_from(Client)) == 13
            accesses = s.scalars(select(OnlineAccess)).all()
            assert len(accesses) == 3
            assert all(box.decrypt(a.password_enc) for a in accesses)
            account = s.scalars(select(Account).where(Account.login == "demo")).one()
            assert account.role == "dealer-admin"
            closed = s.scalars(select(Installation).where(Installation.kind == "closed")).all()
            assert all(i.address is None and i.test_password_enc is None for i in closed)
    finally:
        sim.stop()


def test_the_mail_sink_keeps_every_message_as_an_eml_file(tmp_path: Path) -> None:
    port = free_port()
    sink = MailSink(tmp_path / "mail", port)
    sink.start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "smart@demo", "support@demo", "[SMART] Проверка"
        msg.set_content("Тело письма")
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(msg)
    finally:
        sink.stop()
    assert sink.subjects() == ["[SMART] Проверка"]
