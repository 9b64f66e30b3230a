"""What every route depends on, in one place for the API and the console alike: the process's context,
who is calling, whether their role allows the action, and the CSRF check for sessions.

Programs authenticate with an API key (``Authorization: Bearer``; a key acts with its owner's role, and
never for the actions in ``roles.PERSON_ONLY``, such as review decisions), people with the session cookie
that signing in sets; a request with a session cookie that changes anything must carry the session's CSRF
token (the ``X-CSRF-Token`` header for the API, a hidden ``csrf_token`` field for the console's forms).
"""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from facesearch.accounts import service as accounts
from facesearch.accounts.limits import LoginLimiter
from facesearch.accounts.roles import PERSON_ONLY, allowed
from facesearch.accounts.service import Principal
from facesearch.context import Context
from facesearch.video.jobs import JobRunner

SESSION_COOKIE = "fs_session"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def get_jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


def get_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.limiter
    return limiter


Ctx = Annotated[Context, Depends(get_context)]
Jobs = Annotated[JobRunner, Depends(get_jobs)]
Limiter = Annotated[LoginLimiter, Depends(get_limiter)]


def client_key(request: Request, username: str) -> str:
    """What failed sign-ins are counted by: the caller's address and the name tried."""
    return f"{request.client.host if request.client else '?'}:{username}"


def check_csrf(who: Principal, token: str | None) -> None:
    if who.csrf_token is None or token != who.csrf_token:
        raise HTTPException(403, "missing or wrong CSRF token")


def api_principal(request: Request, ctx: Ctx) -> Principal:
    """The caller of an API route: an API key, or a signed-in person (with the CSRF token for changes)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = accounts.by_api_key(ctx.sessions, header[7:].strip())
        if found is None:
            raise HTTPException(401, "invalid API key")
        return found
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        person = accounts.by_session(ctx.sessions, token)
        if person is None:
            raise HTTPException(401, "session expired or signed out")
        if request.method in UNSAFE_METHODS:
            check_csrf(person, request.headers.get("x-csrf-token"))
        return person
    raise HTTPException(401, "sign in, or send an API key as 'Authorization: Bearer <key>'")


def _role_check(caller: Callable[..., Principal], action: str) -> Callable[[Principal], Principal]:
    """A dependency: whoever ``caller`` finds, when their role may do ``action`` (403 otherwise)."""

    def check(who: Annotated[Principal, Depends(caller)]) -> Principal:
        if not allowed(who.role, action):
            raise HTTPException(403, f"role {who.role!r} may not {action}")
        if who.kind != "user" and action in PERSON_ONLY:
            raise HTTPException(403, f"an API key may not {action}: sign in with your own account")
        return who

    return check


def require(action: str) -> Callable[[Principal], Principal]:
    """A dependency: the API caller (key or session), when their role may do ``action``."""
    return _role_check(api_principal, action)


def console_person(request: Request, ctx: Ctx) -> Principal:
    """The person using the console (a session, never an API key); not signed in: off to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    who = accounts.by_session(ctx.sessions, token) if token else None
    if who is None:
        raise HTTPException(303, headers={"Location": "/console/login"})
    return who


def may(action: str) -> Callable[[Principal], Principal]:
    """A dependency: the console's person (a session only), when their role may do ``action``."""
    return _role_check(console_person, action)


Person = Annotated[Principal, Depends(console_person)]
