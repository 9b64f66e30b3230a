"""Signing in and out of the console, and changing your own password. Failed sign-ins are counted per
address and name (``Limiter``), as the API counts them."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
import hmac
import secrets
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
LOGIN_CSRF_COOKIE = "facesearch_login_csrf"


def _login_form(request: Request, *, error: str = "", status_code: int = 200) -> HTMLResponse:
    """The sign-in form with a fresh CSRF token, in a hidden field and in a cookie the form must match
    (a double-submit token: a page on another site can neither read the cookie nor set the field)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, title="Sign in", error=error, csrf_token=token,
                      status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console/login",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


def _cross_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site", "")
    if origin == "null":  # our own form too: under our Referrer-Policy (no-referrer) a browser posts Origin: null
        return site != "same-origin"  # so only the browser's own word that it is this site's page is taken
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        return True
    return site in ("cross-site", "same-site")


def _login_csrf_ok(request: Request, token: str) -> bool:
    """The form's token, when sent, must be the one in its cookie (which a page of another site can neither
    read nor send: it is ``SameSite=Strict``). A post without one (a program's) is taken only when nothing
    says it came from another site: browsers send ``Origin`` and ``Sec-Fetch-Site`` with every post."""
    if _cross_site(request):
        return False
    if token:
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), token.encode())
    return True


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _login_form(request)


@router.post("/login")
def login(request: Request, ctx: Ctx, limiter: Limiter, username: Annotated[str, Form()],
          password: Annotated[str, Form()], csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _login_form(request, status_code=403,
                           error="The sign-in form expired or came from another site: sign in again.")
    key = client_key(request, username)
    if limiter.blocked(key):
        return _login_form(request, error="Too many failed sign-ins: wait a minute.")
    try:
        LoginIn(username=username, password=password)
    except ValidationError as exc:  # refused before any password is hashed, as the API refuses it
        return _login_form(request, error=one_line(exc))
    signed = accounts.sign_in(ctx.sessions, username, password, failures=limiter.failed_sign_ins,
                              address=request.client.host if request.client else "?")
    if signed is None:
        limiter.failed(key)
        return _login_form(request, error="Wrong user name or password.")
    token, signed_in = signed
    # Each role lands on its first page of the menu: the library role has no cases to see, and the sign-in role
    # (a kiosk's account) has the face sign-in page.
    home = ("/console" if allowed(signed_in.role, "cases.read") else
            "/console/library" if allowed(signed_in.role, "library.read") else
            "/console/signin" if allowed(signed_in.role, "signin.verify") else "/console/password")
    response = RedirectResponse(home, status_code=303)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
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
