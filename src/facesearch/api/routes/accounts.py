"""Accounts, for administrators: people (passwords, disabling) and programs' API keys (shown once,
stored as their hash). Anyone signed in with their own account makes keys for their programs: a key
belongs to them and acts with their role (a key may not make keys)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends

from facesearch.accounts import service as accounts
from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import (
    KeyCreatedOut,
    KeyIn,
    KeyOut,
    KeyRevokedOut,
    UserAddedOut,
    UserDisabledOut,
    UserIn,
    UserOut,
)

router = APIRouter(prefix="/v1", tags=["accounts"], responses={**DENIED})
Admin = Annotated[Principal, Depends(require("accounts.write"))]
Person = Annotated[Principal, Depends(require("apikeys.own"))]


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: Ctx, _who: Admin) -> list[dict[str, object]]:
    return [u.to_json() for u in accounts.list_users(ctx.sessions)]


@router.post("/users", status_code=201, response_model=UserAddedOut)
def add_user(body: UserIn, ctx: Ctx, who: Admin) -> dict[str, str]:
    accounts.add_user(ctx.sessions, body.username, body.password, body.role, actor=who.actor)
    return {"username": body.username, "role": body.role}


@router.post("/users/{username}/disable", response_model=UserDisabledOut)
def disable_user(username: str, ctx: Ctx, who: Admin) -> dict[str, object]:
    """Disable a person's account; their sessions end at once."""
    accounts.set_user_disabled(ctx.sessions, username, True, actor=who.actor)
    return {"username": username, "disabled": True}


@router.post("/users/{username}/enable", response_model=UserDisabledOut)
def enable_user(username: str, ctx: Ctx, who: Admin) -> dict[str, object]:
    accounts.set_user_disabled(ctx.sessions, username, False, actor=who.actor)
    return {"username": username, "disabled": False}


@router.get("/apikeys", response_model=list[KeyOut])
def list_api_keys(ctx: Ctx, _who: Admin) -> list[dict[str, object]]:
    """Programs' keys: names, roles and whether revoked (the keys themselves are never stored)."""
    return [k.to_json() for k in accounts.list_api_keys(ctx.sessions)]


@router.post("/apikeys", status_code=201, response_model=KeyCreatedOut)
def add_api_key(body: KeyIn, ctx: Ctx, who: Person) -> dict[str, str]:
    """A new API key of the caller's, with the caller's role (any other is refused): shown in this answer
    only, stored as its hash."""
    key = accounts.add_api_key(ctx.sessions, body.name, body.role, owner=who.name)
    return {"name": body.name, "role": who.role, "key": key}


@router.post("/apikeys/{name}/revoke", response_model=KeyRevokedOut)
def revoke_api_key(name: str, ctx: Ctx, who: Admin) -> dict[str, object]:
    accounts.revoke_api_key(ctx.sessions, name, actor=who.actor)
    return {"name": name, "revoked": True}
