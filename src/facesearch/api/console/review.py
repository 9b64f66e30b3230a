"""Reviewing candidate sightings: the queue, a decision (confirm or reject, with a note), and the images a
reviewer compares: the stored evidence (the best frame with everyone else blurred, the matched face) and
the person's enrolment photo. Evidence is served only as stored: redacted, opened with the key."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from facesearch.accounts.service import Principal
from facesearch.api.console.forms import blank_is_none, one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.params import RowId
from facesearch.api.schemas import ReviewIn
from facesearch.errors import FacesearchError
from facesearch.gallery.service import enrolment_photos
from facesearch.review.service import review, review_progress
from facesearch.video.sightings import identity_of, open_evidence, review_queue

router = APIRouter()
Reviewer = Annotated[Principal, Depends(may("sightings.review"))]


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, ctx: Ctx, who: Reviewer, message: str = "", error: bool = False,
          case: str = "") -> HTMLResponse:
    """The candidates waiting for a decision, each with who has confirmed it so far and how many more it needs;
    ``case`` (``?case=C1``) shows one case's only (a case the person may not see: refused, 403)."""
    with ctx.sessions() as s:
        everything = review_queue(s, actor=who.actor)
        waiting = review_queue(s, case.strip(), actor=who.actor) if case.strip() else everything
        progress = review_progress(s, [w.id for w in waiting], min_reviewers=ctx.settings.min_reviewers)
    cases = sorted({w.case for w in everything}, key=lambda ref: (len(ref), ref))
    shown = waiting[0].case if case.strip() and waiting else case.strip().upper()
    return render(request, "review.html", who, title="Review", waiting=waiting, message=message, error=error,
                  progress=progress, cases=cases, case=shown)


@router.post("/review/{sighting_id}")
def decide(sighting_id: RowId, ctx: Ctx, who: Reviewer, decision: Annotated[str, Form()],
           csrf_token: Annotated[str, Form()], note: Annotated[str, Form()] = "") -> Response:
    check_csrf(who, csrf_token)
    try:
        body = ReviewIn(decision=decision, note=blank_is_none(note))
        outcome = review(ctx.sessions, sighting_id, reviewer=who.actor, decision=body.decision, note=body.note,
                         min_reviewers=ctx.settings.min_reviewers)
    except ValidationError as exc:
        return back_to("/console/review", message=one_line(exc, subject=f"Sighting {sighting_id}"), error=1)
    except FacesearchError as exc:
        return back_to("/console/review", message=str(exc), error=1)
    done = (f"Sighting {sighting_id}: {body.decision}ed; now {outcome.status} ({outcome.confirmations} of "
            f"{outcome.required} confirmations).")
    return back_to("/console/review", message=done, error=0)


@router.get("/evidence/{sighting_id}/{kind}.jpg")
def evidence(sighting_id: RowId, kind: str, ctx: Ctx,
             who: Annotated[Principal, Depends(may("sightings.read"))]) -> Response:
    with ctx.sessions() as s:
        found = open_evidence(s, ctx.sealer, sighting_id, (kind,), actor=who.actor)
    if kind not in found:
        raise HTTPException(404, f"no {kind} evidence for sighting {sighting_id}")
    return Response(found[kind], media_type="image/jpeg")


@router.get("/enrolment/{sighting_id}.jpg")
def enrolment(sighting_id: RowId, ctx: Ctx, who: Reviewer) -> Response:
    """The first enrolment photo of the person a sighting matched (gone once their case's watchlist is)."""
    with ctx.sessions() as s:
        identity = identity_of(s, sighting_id, actor=who.actor)
    photos = [] if identity is None else enrolment_photos(ctx.sessions, ctx.sealer, identity)
    if not photos:
        raise HTTPException(404, f"no enrolment photo for sighting {sighting_id} (deleted with the watchlist?)")
    return Response(photos[0], media_type="image/jpeg")
