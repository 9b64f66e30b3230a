"""Accounts (administrators only): people and their roles, enabling and disabling them, and programs' API
keys. A new key is shown once, in the answer to the form that made it; it is stored only as its hash."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import ROLES
from facesearch.accounts.service import Principal
from facesearch.api.console.forms import one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.schemas import KeyIn, UserIn
from facesearch.context import Context
from facesearch.errors import FacesearchError

router = APIRouter()
Admin = Annotated[Principal, Depends(may("accounts.write"))]


def accounts_page(request: Request, ctx: Context, who: Principal, *, error: str = "",
                  new_key: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    """The page, also as the answer to a refused form (400, with why) and to a new key (with the key)."""
    return render(request, "accounts.html", who, status_code=status_code, title="Accounts",
                  users=accounts.list_users(ctx.sessions), keys=accounts.list_api_keys(ctx.sessions), roles=ROLES,
                  error=error, new_key=new_key)


@router.get("/accounts", response_class=HTMLResponse)
def accounts_view(request: Request, ctx: Ctx, who: Admin, error: str = "") -> HTMLResponse:
    return accounts_page(request, ctx, who, error=error)


@router.post("/accounts/users")
def add_user(request: Request, ctx: Ctx, who: Admin, csrf_token: Annotated[str, Form()],
             username: Annotated[str, Form()], password: Annotated[str, Form()],
             role: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        body = UserIn(username=username, password=password, role=role)
        accounts.add_user(ctx.sessions, body.username, body.password, body.role, actor=who.actor)
    except ValidationError as exc:
        return accounts_page(request, ctx, who, error=one_line(exc, subject=username), status_code=400)
    except FacesearchError as exc:
        return accounts_page(request, ctx, who, error=str(exc), status_code=400)
    return back_to("/console/accounts")


@router.post("/accounts/users/{username}/{action}")
def user_action(request: Request, ctx: Ctx, who: Admin, username: str, action: str,
                csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    if action not in ("disable", "enable"):
        raise HTTPException(404, f"no such action {action!r}")
    try:
        accounts.set_user_disabled(ctx.sessions, username, action == "disable", actor=who.actor)
    except FacesearchError as exc:
        return accounts_page(request, ctx, who, error=str(exc), status_code=400)
    return back_to("/console/accounts")


@router.post("/accounts/keys", response_class=HTMLResponse)
def add_key(request: Request, ctx: Ctx, who: Admin, csrf_token: Annotated[str, Form()],
            name: Annotated[str, Form()], role: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        body = KeyIn(name=name, role=role)
        key = accounts.add_api_key(ctx.sessions, body.name, body.role, owner=who.name)  # the admin's own key
    except ValidationError as exc:
        return accounts_page(request, ctx, who, error=one_line(exc, subject=name), status_code=400)
    except FacesearchError as exc:
        return accounts_page(request, ctx, who, error=str(exc), status_code=400)
    # The key is shown in this answer only (never in a URL or a log); it is stored as its hash.
    return accounts_page(request, ctx, who, new_key={"name": body.name, "key": key})


@router.post("/accounts/keys/{name}/revoke")
def revoke_key(request: Request, ctx: Ctx, who: Admin, name: str, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        accounts.revoke_api_key(ctx.sessions, name, actor=who.actor)
    except FacesearchError as exc:
        return accounts_page(request, ctx, who, error=str(exc), status_code=400)
    return back_to("/console/accounts")
