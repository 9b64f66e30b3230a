"""Signing in and out of the console, and changing your own password. Failed sign-ins are counted per
address and name (``Limiter``), as the API counts them."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import allowed
from facesearch.api.console.forms import one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.deps import SESSION_COOKIE, Ctx, Limiter, Person, check_csrf, client_key
from facesearch.api.schemas import LoginIn, PasswordIn
from facesearch.errors import FacesearchError

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", None, title="Sign in")


@router.post("/login")
def login(request: Request, ctx: Ctx, limiter: Limiter, username: Annotated[str, Form()],
          password: Annotated[str, Form()]) -> Response:
    key = client_key(request, username)
    if limiter.blocked(key):
        return render(request, "login.html", None, title="Sign in", error="Too many failed sign-ins: wait a minute.")
    try:
        LoginIn(username=username, password=password)
    except ValidationError as exc:  # refused before any password is hashed, as the API refuses it
        return render(request, "login.html", None, title="Sign in", error=one_line(exc))
    signed = accounts.sign_in(ctx.sessions, username, password)
    if signed is None:
        limiter.failed(key)
        return render(request, "login.html", None, title="Sign in", error="Wrong user name or password.")
    token, signed_in = signed
    # Each role lands on its first page: the library role has no cases to see.
    home = "/console" if allowed(signed_in.role, "cases.read") else "/console/library"
    response = RedirectResponse(home, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=accounts.SESSION_HOURS * 3600)
    return response


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, who: Person, error: str = "", note: str = "") -> HTMLResponse:
    return render(request, "password.html", who, title="Password", error=error, note=note)


@router.post("/password")
def change_password(request: Request, ctx: Ctx, who: Person, limiter: Limiter, csrf_token: Annotated[str, Form()],
                    current: Annotated[str, Form()], new: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        body = PasswordIn(current=current, new=new)
        accounts.change_password(ctx.sessions, who.name, body.current, body.new,
                                 keep_token=request.cookies.get(SESSION_COOKIE), limiter=limiter)
    except ValidationError as exc:
        return back_to("/console/password", error=one_line(exc, subject=who.name,
                                                           labels={"current": "current password",
                                                                   "new": "new password"}))
    except FacesearchError as exc:
        return back_to("/console/password", error=str(exc))
    return back_to("/console/password", note="Password changed; your other sessions have ended.")


@router.post("/logout")
def logout(request: Request, ctx: Ctx, who: Person, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    accounts.sign_out(ctx.sessions, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
