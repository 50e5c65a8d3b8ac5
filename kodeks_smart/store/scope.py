"""The cabinet-scoped query layer: every tenant read goes through a `Scope`.

A scope is one of
* operator — sees everything;
* dealer — a dealer admin sees every cabinet of one dealer;
* cabinets — a cabinet user sees the cabinets granted to him (all of one dealer).

`Tenant` wraps a session and a scope. Its `select` adds the scope's WHERE clause to a statement over a
tenant model, and `get` answers `NotFound` for a row outside the scope exactly as for a missing row, so a
caller cannot tell "not yours" from "does not exist".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import Session

from kodeks_smart.store.models import (
    TENANT_MODELS,
    Account,
    AccountCabinet,
    Cabinet,
    Dealer,
)

M = TypeVar("M")


class NotFound(LookupError):
    """The object does not exist or is outside the caller's scope."""


class ScopeError(PermissionError):
    """The caller's scope does not allow the operation."""


@dataclass(frozen=True)
class Scope:
    level: Literal["operator", "dealer", "cabinets"]
    dealer_id: int | None = None
    cabinet_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def operator(cls) -> Scope:
        return cls("operator")

    @classmethod
    def dealer(cls, dealer_id: int) -> Scope:
        return cls("dealer", dealer_id)

    @classmethod
    def cabinets(cls, dealer_id: int, cabinet_ids: Sequence[int]) -> Scope:
        return cls("cabinets", dealer_id, frozenset(cabinet_ids))

    @classmethod
    def for_account(cls, session: Session, account: Account) -> Scope:
        """The scope an account logs in with."""
        if account.role == "operator":
            return cls.operator()
        assert account.dealer_id is not None
        if account.role == "dealer-admin":
            return cls.dealer(account.dealer_id)
        ids = session.scalars(
            select(AccountCabinet.cabinet_id)
            .join(Cabinet, Cabinet.id == AccountCabinet.cabinet_id)
            .where(AccountCabinet.account_id == account.id, Cabinet.dealer_id == account.dealer_id)
        ).all()
        return cls.cabinets(account.dealer_id, ids)

    def narrowed_to(self, cabinet_id: int, cabinet_dealer_id: int) -> Scope:
        """The scope of one cabinet the caller may see (switching cabinets in the web UI)."""
        if not self.allows(cabinet_dealer_id, cabinet_id):
            raise NotFound("cabinet")
        return Scope.cabinets(cabinet_dealer_id, [cabinet_id])

    def allows(self, dealer_id: int, cabinet_id: int | None = None) -> bool:
        if self.level == "operator":
            return True
        if dealer_id != self.dealer_id:
            return False
        if self.level == "dealer":
            return True
        return cabinet_id is not None and cabinet_id in self.cabinet_ids

    def condition(self, model: Any) -> ColumnElement[bool]:
        """The WHERE clause that confines ``model`` rows to this scope."""
        if self.level == "operator":
            return true()
        if model is Dealer:
            return Dealer.id == self.dealer_id
        if model is Cabinet:
            if self.level == "dealer":
                return Cabinet.dealer_id == self.dealer_id
            return (Cabinet.dealer_id == self.dealer_id) & Cabinet.id.in_(self.cabinet_ids)
        if model in TENANT_MODELS or (hasattr(model, "dealer_id") and hasattr(model, "cabinet_id")):
            cond = model.dealer_id == self.dealer_id
            if self.level == "cabinets":
                cond = cond & model.cabinet_id.in_(self.cabinet_ids)
            return cond  # type: ignore[no-any-return]
        if model is Account:
            if self.level == "dealer":
                return Account.dealer_id == self.dealer_id
            return false()  # cabinet users do not list accounts
        raise ScopeError(f"{getattr(model, '__name__', model)} is not a tenant model")


class Tenant:
    """A session seen through a scope."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def select(self, model: type[M], *where: ColumnElement[bool]) -> Select[M]:
        return select(model).where(self.scope.condition(model), *where)

    def list(self, model: type[M], *where: ColumnElement[bool], order_by: Any = None) -> list[M]:
        stmt = self.select(model, *where)
        stmt = stmt.order_by(order_by if order_by is not None else model.id)  # type: ignore[attr-defined]
        return list(self.session.scalars(stmt))

    def get(self, model: type[M], ident: int) -> M:
        row = self.session.scalars(self.select(model, model.id == ident)).first()  # type: ignore[attr-defined]
        if row is None:
            raise NotFound(f"{model.__name__} {ident}")
        return row

    def cabinet(self, ident: int) -> Cabinet:
        return self.get(Cabinet, ident)

    def check_writable(self, dealer_id: int, cabinet_id: int | None = None) -> None:
        """Raise NotFound unless the scope covers the target (used before inserts)."""
        if not self.scope.allows(dealer_id, cabinet_id):
            raise NotFound("cabinet")
