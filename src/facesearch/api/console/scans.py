"""Scans: recordings under the media folder searched for a case's watchlist by the server's job runner;
the job table refreshes itself (htmx) while they run."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.console.forms import blank_is_none, one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.deps import Ctx, Jobs, check_csrf, may
from facesearch.api.params import RowId, media_path
from facesearch.api.schemas import ScanIn
from facesearch.cases.service import get_case
from facesearch.cases.watchlist import check_searchable
from facesearch.context import Context
from facesearch.errors import FacesearchError
from facesearch.video.jobs import JobRunner

router = APIRouter()
Reader = Annotated[Principal, Depends(may("scans.read"))]
Writer = Annotated[Principal, Depends(may("scans.write"))]


def scans_context(ctx: Context, jobs: JobRunner, who: Principal) -> dict[str, Any]:
    return {"jobs": [j.to_json() for j in jobs.list(actor=who.actor)], "can_write": allowed(who.role, "scans.write"),
            "media_root": ctx.settings.resolved_media_root}


@router.get("/scans", response_class=HTMLResponse)
def scans(request: Request, ctx: Ctx, jobs: Jobs, who: Reader, error: str = "") -> HTMLResponse:
    return render(request, "scans.html", who, title="Scans", error=error, **scans_context(ctx, jobs, who))


@router.get("/scans/table", response_class=HTMLResponse)
def scans_table(request: Request, ctx: Ctx, jobs: Jobs, who: Reader) -> HTMLResponse:
    return render(request, "scans_table.html", who, **scans_context(ctx, jobs, who))


def usable_recordings(ctx: Context, body: ScanIn, actor: str) -> tuple[list[Path], list[str]]:
    """The recordings asked for that may be scanned, and what is wrong with the rest and with the case
    and camera (all of it at once, so one answer lists every mistake). A search of the case the rules
    refuse (not active, a camera it does not allow, none where it names cameras, a camera not registered)
    is audited as a refused search."""
    wanted, bad = [], []
    for raw in body.paths:
        path, problem = media_path(raw, ctx.settings.resolved_media_root)
        if path is not None:
            wanted.append(path)
        else:  # the path and why it cannot be searched (outside the media folder, no such file, ...)
            bad.append(problem if "\0" not in raw else f"{raw!r}: not a usable path")
    try:
        get_case(ctx.sessions, body.case, actor=actor, contents=True)
        check_searchable(ctx.sessions, body.case, camera=body.camera, actor=actor,
                         refusal_details={"source": ", ".join(map(str, wanted))})
    except FacesearchError as exc:
        bad.append(str(exc))
    return wanted, bad


@router.post("/scans")
def start_scan(ctx: Ctx, jobs: Jobs, who: Writer, csrf_token: Annotated[str, Form()], case: Annotated[str, Form()],
               paths: Annotated[str, Form()], camera: Annotated[str, Form()] = "",
               start: Annotated[str, Form()] = "") -> Response:
    """Queue a scan; ``start`` (optional, an ISO time, UTC without a zone) is when the recordings started,
    for files whose own time (metadata, name, modification) is wrong: the CLI's ``--start``."""
    check_csrf(who, csrf_token)
    try:
        body = ScanIn.model_validate({"case": case, "paths": [p.strip() for p in paths.splitlines() if p.strip()],
                                      "camera": blank_is_none(camera), "start": blank_is_none(start)})
    except ValidationError as exc:
        return back_to("/console/scans", error=f"not started: {one_line(exc, labels={'paths': 'recordings'})}")
    except FacesearchError as exc:  # the one date rule's refusal
        return back_to("/console/scans", error=f"not started: recording start {exc}")
    wanted, bad = usable_recordings(ctx, body, who.actor)
    if bad or not wanted:
        return back_to("/console/scans", error=f"not started: {'; '.join(bad) or 'no recordings given'}")
    jobs.submit_scan(body.case, [str(p) for p in wanted], camera=body.camera, actor=who.actor, start=body.start)
    return back_to("/console/scans")


@router.post("/scans/{job_id}/cancel")
def cancel_scan(job_id: RowId, jobs: Jobs, who: Writer, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    jobs.cancel(job_id, actor=who.actor)
    return back_to("/console/scans")
