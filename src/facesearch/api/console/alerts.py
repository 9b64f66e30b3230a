"""Live alerts and the console's two scripts: a server-sent event for each new sighting (read from the
database, so sightings from any process, scan jobs and ``watch`` alike, arrive), the script that shows
them as a banner, and htmx (installed into the data folder by ``facesearch assets install``).

A stream holds no worker thread: it is an async generator that sleeps on the event loop and borrows a
thread only for each short poll of the database (which also checks that the session still holds). It ends
when the client goes, when the session expires or is signed out, or after an hour; one person holds at most
``max_streams_per_user`` streams and the process ``max_streams`` (``api/slots.py``)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.assets import htmx_path
from facesearch.api.console.pages import API_DIR
from facesearch.api.deps import SESSION_COOKIE, Ctx, may
from facesearch.api.notices import SightingNotices
from facesearch.api.slots import StreamSlots
from facesearch.context import Context
from facesearch.video.sightings import Sighting, latest_sighting_id, sightings_after

router = APIRouter()
LONGEST_S = 3600.0  # a stream ends after an hour at most; the browser's EventSource reconnects by itself
POLL_S = (0.2, 10.0)  # the shortest and longest pause between two looks at the database
NOTICE_CHECK_S = 0.05  # how often a waiting stream looks for a notice (in memory)
ACTION = "sightings.read"


def event(sighting: Sighting) -> str:
    data = {"id": sighting.id, "case": sighting.case, "name": sighting.name, "camera": sighting.camera,
            "score": round(sighting.score, 4), "status": sighting.status}
    return f"event: sighting\nid: {sighting.id}\ndata: {json.dumps(data)}\n\n"


def poll(ctx: Context, token: str, last: int) -> list[Sighting] | None:
    """Sightings stored after ``last``; ``None`` when the session behind the stream no longer may read them
    (expired, signed out, its person disabled or moved to a role without the right). Runs in a thread."""
    who = accounts.by_session(ctx.sessions, token)
    if who is None or not allowed(who.role, ACTION):
        return None
    with ctx.sessions() as s:
        return sightings_after(s, last, actor=who.actor)


async def stream(ctx: Context, notices: SightingNotices, token: str, last: int, poll_s: float,
                 limit_s: float) -> AsyncIterator[str]:
    """Events for the sightings stored after ``last``, for ``limit_s``: the database is read when a notice says
    a sighting was stored (PostgreSQL), or every ``poll_s`` seconds without notices, and at least every
    ``POLL_S[1]`` either way (the session is checked then too)."""
    yield ": connected\n\n"
    pause = min(max(poll_s, POLL_S[0]), POLL_S[1])
    deadline = time.monotonic() + min(max(limit_s, 1.0), LONGEST_S)
    while time.monotonic() < deadline:
        seen = notices.generation
        found = await run_in_threadpool(poll, ctx, token, last)
        if found is None:
            yield "event: end\ndata: {\"reason\": \"session expired or signed out\"}\n\n"
            return
        for sighting in found:
            last = sighting.id
            yield event(sighting)
        if not found:
            yield ": idle\n\n"  # a comment: writing it is how a closed connection is noticed
        if not notices.live:
            await anyio.sleep(max(0.0, min(pause, deadline - time.monotonic())))
            continue
        until = min(deadline, time.monotonic() + POLL_S[1])
        while time.monotonic() < until and notices.generation == seen:  # memory only: no database while idle
            await anyio.sleep(NOTICE_CHECK_S)


class EventStream(StreamingResponse):
    """A streaming response that gives its stream slot back however it ends: finished, cancelled when the
    client went away, or never sent at all (then when it is dropped)."""

    def __init__(self, content: AsyncIterator[str], close: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
        self._close = close
        weakref.finalize(self, close)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._close()


@router.get("/alerts")
async def alerts(request: Request, ctx: Ctx, who: Annotated[Principal, Depends(may(ACTION))], poll_s: float = 1.0,
                 limit_s: float = LONGEST_S) -> Response:
    """Server-sent events: each sighting stored from now on, as it is stored."""
    slots: StreamSlots = request.app.state.streams
    close = slots.open(f"{who.kind}:{who.name}")  # 429 over the person's cap, 503 over the process's
    try:
        last = await run_in_threadpool(_latest, ctx)
    except BaseException:
        close()
        raise
    token = request.cookies.get(SESSION_COOKIE, "")
    return EventStream(stream(ctx, request.app.state.notices, token, last, poll_s, limit_s), close)


def _latest(ctx: Context) -> int:
    with ctx.sessions() as s:
        return latest_sighting_id(s)


@router.get("/static/alerts.js")
def alerts_script() -> Response:
    return Response((API_DIR / "static" / "alerts.js").read_bytes(), media_type="text/javascript")


@router.get("/static/htmx.min.js")
def htmx(ctx: Ctx) -> Response:
    path = htmx_path(ctx.settings.home)
    if not path.is_file():
        raise HTTPException(404, "htmx is not installed (facesearch assets install)")
    return Response(path.read_bytes(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
