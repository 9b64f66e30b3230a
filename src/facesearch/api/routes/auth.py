"""Signing in and out (a session cookie and its CSRF token, for people using the API from a browser)
and changing one's own password."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from facesearch.accounts import service as accounts
from facesearch.accounts.service import Principal
from facesearch.api.deps import SESSION_COOKIE, Ctx, Limiter, api_principal, client_key
from facesearch.api.routes.errors import REFUSED
from facesearch.api.schemas import ErrorOut, LoginIn, LoginOut, PasswordChangedOut, PasswordIn, SignedOutOut

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses={**REFUSED})
Caller = Annotated[Principal, Depends(api_principal)]


@router.post("/login", response_model=LoginOut, responses={
    401: {"model": ErrorOut, "description": "Wrong user name or password"},
    429: {"model": ErrorOut, "description": "Too many failed sign-ins from this address for this name"}})
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx, limiter: Limiter) -> dict[str, str]:
    """Sign in: sets the session cookie and returns the CSRF token that changes must carry."""
    key = client_key(request, body.username)
    if limiter.blocked(key):
        raise HTTPException(429, "too many failed sign-ins; wait a minute", headers={"Retry-After": "60"})
    signed = accounts.sign_in(ctx.sessions, body.username, body.password, failures=limiter.failed_sign_ins,
                              address=request.client.host if request.client else "?")
    if signed is None:
        limiter.failed(key)
        raise HTTPException(401, "wrong user name or password")
    token, who = signed
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=accounts.SESSION_HOURS * 3600)
    return {"user": who.name, "role": who.role, "csrf_token": who.csrf_token or ""}


@router.post("/logout", response_model=SignedOutOut)
def logout(request: Request, response: Response, ctx: Ctx, _who: Caller) -> dict[str, str]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.sign_out(ctx.sessions, token)
    response.delete_cookie(SESSION_COOKIE)
    return {"status": "signed out"}


@router.post("/password", response_model=PasswordChangedOut)
def change_password(body: PasswordIn, request: Request, ctx: Ctx, who: Caller, limiter: Limiter) -> dict[str, str]:
    """Change your own password (people only); your other sessions end. Wrong current passwords are
    limited as failed sign-ins are (429)."""
    if who.kind != "user":
        raise HTTPException(403, "API keys have no password: revoke the key and make a new one")
    accounts.change_password(ctx.sessions, who.name, body.current, body.new,
                             keep_token=request.cookies.get(SESSION_COOKIE), limiter=limiter)
    return {"status": "password changed"}
