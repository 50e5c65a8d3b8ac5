"""Cabinets never see each other's objects; dealers never see each other's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kodeks_smart.store.db import Database
from kodeks_smart.store.models import (
    TENANT_MODELS,
    Account,
    Cabinet,
    Client,
    Dealer,
    Installation,
    OnlineAccess,
)
from kodeks_smart.store.scope import NotFound, Scope, Tenant
from tests.conftest import Tenants


def _scope_of(db: Database, login: str) -> Scope:
    with db.session() as s:
        account = s.scalars(select(Account).where(Account.login == login)).one()
        return Scope.for_account(s, account)


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_a_cabinet_user_sees_only_his_cabinets_rows(db: Database, tenants: Tenants, model: type) -> None:
    scope = _scope_of(db, "alice")
    with db.session() as s:
        rows = Tenant(s, scope).list(model)
        assert rows, f"alice should see her own {model.__name__}"
        assert {r.cabinet_id for r in rows} == {tenants.cabinet_a}
        everything = s.scalars(select(model)).all()
        assert len(everything) > len(rows)


def test_a_cabinet_user_gets_not_found_for_another_cabinets_object(db: Database, tenants: Tenants) -> None:
    scope = _scope_of(db, "alice")
    with db.session() as s:
        bobs = s.scalars(select(Installation).where(Installation.cabinet_id == tenants.cabinet_b)).one()
        with pytest.raises(NotFound):
            Tenant(s, scope).get(Installation, bobs.id)
        with pytest.raises(NotFound):
            Tenant(s, scope).cabinet(tenants.cabinet_b)


def test_a_user_granted_two_cabinets_sees_both(db: Database, tenants: Tenants) -> None:
    scope = _scope_of(db, "boss")
    with db.session() as s:
        clients = Tenant(s, scope).list(Client)
        assert {c.cabinet_id for c in clients} == {tenants.cabinet_a, tenants.cabinet_b}
        assert {c.id for c in Tenant(s, scope).list(Cabinet)} == {tenants.cabinet_a, tenants.cabinet_b}


def test_a_dealer_admin_sees_his_dealer_only(db: Database, tenants: Tenants) -> None:
    scope = _scope_of(db, "charlie")
    assert scope == Scope.dealer(tenants.other_dealer_id)
    with db.session() as s:
        t = Tenant(s, scope)
        assert {c.id for c in t.list(Cabinet)} == {tenants.cabinet_c}
        assert [d.id for d in t.list(Dealer)] == [tenants.other_dealer_id]
        for model in TENANT_MODELS:
            assert {r.dealer_id for r in t.list(model)} == {tenants.other_dealer_id}
        other_dealers_access = s.scalars(
            select(OnlineAccess).where(OnlineAccess.dealer_id == tenants.dealer_id)
        ).first()
        assert other_dealers_access is not None
        with pytest.raises(NotFound):
            t.get(OnlineAccess, other_dealers_access.id)


def test_the_operator_sees_everything(db: Database, tenants: Tenants) -> None:
    with db.session() as s:
        t = Tenant(s, Scope.operator())
        assert len(t.list(Cabinet)) == 3
        assert len(t.list(Installation)) == 3


def test_a_row_cannot_name_a_cabinet_of_another_dealer(db: Database, tenants: Tenants) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.write() as s:
        s.add(
            Client(
                dealer_id=tenants.dealer_id, cabinet_id=tenants.cabinet_c, short_name="x", display_name="x"
            )
        )
        s.flush()


def test_narrowing_to_a_foreign_cabinet_is_refused(tenants: Tenants) -> None:
    alice = Scope.cabinets(tenants.dealer_id, [tenants.cabinet_a])
    assert alice.narrowed_to(tenants.cabinet_a, tenants.dealer_id).cabinet_ids == {tenants.cabinet_a}
    with pytest.raises(NotFound):
        alice.narrowed_to(tenants.cabinet_b, tenants.dealer_id)
    with pytest.raises(NotFound):
        Scope.dealer(tenants.dealer_id).narrowed_to(tenants.cabinet_c, tenants.other_dealer_id)
