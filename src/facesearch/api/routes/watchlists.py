"""Undo on a case's watchlist: take a person off it, or delete one of their enrolment photos (audited; only
officers assigned to the case, ``cases.removal``)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.params import RowId
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import ErrorOut, RemovalOut
from facesearch.cases import removal

router = APIRouter(prefix="/v1/cases", tags=["identities"], responses={
    **DENIED, 404: {"model": ErrorOut, "description": "No such case, person on its watchlist, or photo"}})
Enroller = Annotated[Principal, Depends(require("identities.enrol"))]


@router.delete("/{ref}/people/{identity_id}", response_model=RemovalOut)
def remove_person(ref: str, identity_id: RowId, ctx: Ctx, who: Enroller) -> dict[str, Any]:
    """Take a person off the case's watchlist; their templates and enrolment photos are deleted at once unless
    another live case still searches them."""
    return removal.remove_person(ctx, ref, identity_id, actor=who.actor).to_json()


@router.delete("/{ref}/people/{identity_id}/photos/{photo}", response_model=RemovalOut)
def remove_photo(ref: str, identity_id: RowId, photo: Annotated[int, Path(ge=1, le=1000)], ctx: Ctx,
                 who: Enroller, sha256: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{8,64}$")] = None,
                 ) -> dict[str, Any]:
    """Delete one enrolment photo (numbered from 1 in enrolment order) of a person on the watchlist, with its
    templates. ``sha256`` (the photo's, or its first characters): refused (409) unless photo ``photo`` is still
    that one, for a client that may race another."""
    return removal.remove_photo(ctx, ref, identity_id, photo, actor=who.actor, expected_sha256=sha256).to_json()
