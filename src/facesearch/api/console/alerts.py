"""Live alerts and the console's two scripts: a server-sent event for each new sighting (read from the
database, so sightings from any process, scan jobs and ``watch`` alike, arrive), the script that shows
them as a banner, and htmx (installed into the data folder by ``facesearch assets install``)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
import json
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import StreamingResponse

from facesearch.accounts.service import Principal
from facesearch.api.assets import htmx_path
from facesearch.api.console.pages import API_DIR
from facesearch.api.deps import Ctx, may
from facesearch.context import Context
from facesearch.video.sightings import Sighting, latest_sighting_id, sightings_after

router = APIRouter()
LONGEST_S = 3600.0  # a stream ends after an hour at most; the browser's EventSource reconnects by itself


def event(sighting: Sighting) -> str:
    data = {"id": sighting.id, "case": sighting.case, "name": sighting.name, "camera": sighting.camera,
            "score": round(sighting.score, 4), "status": sighting.status}
    return f"event: sighting\nid: {sighting.id}\ndata: {json.dumps(data)}\n\n"


def stream(ctx: Context, last: int, poll_s: float, limit_s: float) -> Iterator[str]:
    """Events for the sightings stored after ``last``, polled every ``poll_s`` seconds for ``limit_s``."""
    yield ": connected\n\n"
    deadline = time.monotonic() + min(max(limit_s, 1.0), LONGEST_S)
    while time.monotonic() < deadline:
        with ctx.sessions() as s:
            found = sightings_after(s, last)
        for sighting in found:
            last = sighting.id
            yield event(sighting)
        if not found:
            yield ": idle\n\n"  # a comment: writing it is how a closed connection is noticed
        time.sleep(min(max(poll_s, 0.2), 10.0))


@router.get("/alerts")
def alerts(ctx: Ctx, _who: Annotated[Principal, Depends(may("sightings.read"))], poll_s: float = 1.0,
           limit_s: float = LONGEST_S) -> Response:
    """Server-sent events: each sighting stored from now on, as it is stored."""
    with ctx.sessions() as s:
        last = latest_sighting_id(s)
    return StreamingResponse(stream(ctx, last, poll_s, limit_s), media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})


@router.get("/static/alerts.js")
def alerts_script() -> Response:
    return Response((API_DIR / "static" / "alerts.js").read_bytes(), media_type="text/javascript")


@router.get("/static/htmx.min.js")
def htmx(ctx: Ctx) -> Response:
    path = htmx_path(ctx.settings.home)
    if not path.is_file():
        raise HTTPException(404, "htmx is not installed (facesearch assets install)")
    return Response(path.read_bytes(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
