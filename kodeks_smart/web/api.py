"""The JSON API: who am I, and the cabinets and objects I can see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from kodeks_smart.store.models import Cabinet, Client, Dealer, Installation
from kodeks_smart.store.scope import NotFound, Tenant
from kodeks_smart.web.deps import Principal, require_principal, tenant_session

router = APIRouter(prefix="/api/v1", tags=["api"])


@router.get("/me")
def me(principal: Principal = Depends(require_principal)) -> dict[str, Any]:
    return {
        "login": principal.login,
        "role": principal.role,
        "scope": principal.scope.level,
        "cabinet_ids": sorted(principal.scope.cabinet_ids),
    }


@router.get("/cabinets")
def cabinets(tenant: Tenant = Depends(tenant_session)) -> list[dict[str, Any]]:
    dealers = {d.id: d.code for d in tenant.list(Dealer)} if tenant.scope.level != "cabinets" else {}
    return [
        {"id": c.id, "name": c.name, "dealer": dealers.get(c.dealer_id)}
        for c in tenant.list(Cabinet, order_by=Cabinet.name)
    ]


@router.get("/cabinets/{cabinet_id}/installations")
def installations(cabinet_id: int, tenant: Tenant = Depends(tenant_session)) -> list[dict[str, Any]]:
    try:
        cabinet = tenant.cabinet(cabinet_id)
    except NotFound:
        raise HTTPException(404, "Кабинет не найден") from None
    rows = tenant.session.execute(
        tenant.select(Installation, Installation.cabinet_id == cabinet.id)
        .add_columns(Client.short_name)
        .join(Client, Client.id == Installation.client_id)
        .order_by(Client.short_name, Installation.id)
    )
    return [
        {"id": inst.id, "client": short_name, "kind": inst.kind, "address": inst.address}
        for inst, short_name in rows
    ]
