"""Kits avoid the installation's known backup and restart times on their own."""

from __future__ import annotations

from sqlalchemy import select

from kodeks_smart.lib.secrets import SecretBox
from kodeks_smart.onboarding.kits import QuietWindow, build_kit, request_for_client
from kodeks_smart.store.db import Database
from kodeks_smart.store.models import Client, Dealer, Installation
from tests.conftest import Tenants


def test_the_window_covers_the_known_times_and_an_hour_after() -> None:
    window = QuietWindow.around(["02:00", "03:30"])
    assert window is not None and window.describe() == "02:00–04:30"
    assert window.excluded_hours() == [2, 3, 4]
    across_midnight = QuietWindow.around(["23:30", "00:15"])
    assert across_midnight is not None and across_midnight.describe() == "23:30–01:15"
    assert QuietWindow.around([None, ""]) is None


def test_a_kit_for_an_installation_with_known_times_skips_them(
    db: Database, box: SecretBox, tenants: Tenants
) -> None:
    with db.write() as s:
        client = s.scalars(select(Client).where(Client.short_name == "alpha_client")).one()
        inst = s.scalars(select(Installation).where(Installation.client_id == client.id)).one()
        inst.backup_time, inst.restart_time = "02:00", "03:00"
    with db.session() as s:
        dealer = s.get(Dealer, tenants.dealer_id)
        assert dealer is not None
        request = request_for_client(s, box, dealer, "alpha_client", "linux", server_url="http://smart.local")
    assert request.quiet_window is not None and request.quiet_window.describe() == "02:00–04:00"
    files = build_kit(request)
    readme = next(v for k, v in files.items() if k.startswith("README")).decode("utf-8")
    assert "02:00–04:00" in readme
