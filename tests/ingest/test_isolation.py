"""Cabinet A never sees cabinet B's ingest data; a dealer never sees another dealer's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from kodeks_smart.ingest import service
from kodeks_smart.ingest.consumer import drain
from kodeks_smart.ingest.context import IngestContext
from kodeks_smart.simulator.sysinfo import SysinfoProfile, generate_zip
from kodeks_smart.store.ingest_models import INGEST_TENANT_MODELS, Upload
from kodeks_smart.store.models import Account
from kodeks_smart.store.scope import NotFound, Scope, Tenant
from tests.conftest import Tenants
from tests.ingest.conftest import Agent, status_body

NOW = datetime.now(UTC).replace(microsecond=0)
#: Scenarios that make a report fill every fact table, data gaps and refusals included.
EVERYTHING = frozenset({"no-senselock-block", "seats-exhausted", "db-errors"})


@pytest.fixture
def loaded(agent: Agent, other_agent: Agent, ctx: IngestContext) -> IngestContext:
    """Data of every kind for alpha (cabinet A), beta (cabinet B) and gamma (the other dealer)."""
    for client, who in (("alpha_client", agent), ("beta_client", agent), ("gamma_client", other_agent)):
        profile = SysinfoProfile(client, users=8, days=2, now=NOW, scenarios=EVERYTHING)
        who.upload(f"{client}.zip", generate_zip(profile))
        who.upload(f"{client}.status", status_body())
    agent.upload("unknown_one.status", status_body())
    other_agent.upload("unknown_two.status", status_body())
    assert drain(ctx) == 6
    return ctx


def _scope(ctx: IngestContext, login: str) -> Scope:
    with ctx.db.session() as s:
        account = s.scalars(select(Account).where(Account.login == login)).one()
        return Scope.for_account(s, account)


def test_a_cabinet_user_sees_only_his_cabinets_ingest_rows(loaded: IngestContext, tenants: Tenants) -> None:
    with loaded.db.session() as s:
        alice = Tenant(s, _scope(loaded, "alice"))
        for model in INGEST_TENANT_MODELS:
            mine = s.scalars(alice.select(model)).all()
            everything = s.scalars(select(model)).all()
            assert mine, f"alice should see her own {model.__name__}"
            assert {r.cabinet_id for r in mine} == {tenants.cabinet_a}, model.__name__
            assert len(everything) > len(mine), model.__name__


def test_a_dealer_admin_sees_only_his_dealers_ingest_rows(loaded: IngestContext, tenants: Tenants) -> None:
    with loaded.db.session() as s:
        charlie = Tenant(s, _scope(loaded, "charlie"))
        for model in INGEST_TENANT_MODELS:
            rows = s.scalars(charlie.select(model)).all()
            assert rows and {r.dealer_id for r in rows} == {tenants.other_dealer_id}, model.__name__


def test_the_quarantine_is_visible_to_the_dealer_admin_only(loaded: IngestContext, tenants: Tenants) -> None:
    with loaded.db.session() as s:
        charlie = service.list_quarantine(Tenant(s, _scope(loaded, "charlie")))
        alice = service.list_quarantine(Tenant(s, _scope(loaded, "alice")))
        dealer_admin = service.list_quarantine(Tenant(s, Scope.dealer(tenants.dealer_id)))
    assert [u.filename for u in charlie] == ["unknown_two.status"]
    assert alice == []
    assert [u.filename for u in dealer_admin] == ["unknown_one.status"]


def test_the_upload_log_of_a_cabinet_lists_its_clients_files(loaded: IngestContext, tenants: Tenants) -> None:
    with loaded.db.session() as s:
        log = service.list_uploads(Tenant(s, _scope(loaded, "bob")))
        other = s.scalars(select(Upload).where(Upload.cabinet_id == tenants.cabinet_a)).first()
        assert other is not None
        with pytest.raises(NotFound):
            Tenant(s, _scope(loaded, "bob")).get(Upload, other.id)
    assert sorted(u.filename for u in log) == ["beta_client.status", "beta_client.zip"]
    assert all(u.status == "done" for u in log)
