"""Sightings found in footage, and the reviewers' decisions on them (confirmation takes the number of
distinct reviewers the case requires; one rejection closes a sighting)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.params import RowId
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import ReviewIn, ReviewOut, SightingOut
from facesearch.review import service as review
from facesearch.video import sightings

router = APIRouter(prefix="/v1/sightings", tags=["sightings"], responses={**DENIED})


@router.get("", response_model=list[SightingOut])
def list_sightings(case: str, ctx: Ctx, who: Annotated[Principal, Depends(require("sightings.read"))]
              ) -> list[dict[str, Any]]:
    """The case's sightings (its assigned officers and reviewers only)."""
    with ctx.sessions() as s:
        return [x.to_json() for x in sightings.list_sightings(s, case, actor=who.actor)]


@router.post("/{sighting_id}/review", response_model=ReviewOut)
def review_sighting(sighting_id: RowId, body: ReviewIn, ctx: Ctx,
           who: Annotated[Principal, Depends(require("sightings.review"))]) -> dict[str, Any]:
    """Confirm or reject: a person signed in with their own account only (never an API key), assigned to the
    case; confirmation takes the case's number of distinct people."""
    return review.review(ctx.sessions, sighting_id, reviewer=who.actor, decision=body.decision, note=body.note,
                         min_reviewers=ctx.settings.min_reviewers).to_json()
