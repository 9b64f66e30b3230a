"""A case's watchlist on its page: each person's enrolment photos as thumbnails, and the removal of one photo.

Thumbnails go only to people who may see the case's contents (``cases.access``: officers and reviewers
assigned to it), are never cached by the browser or anything between, and name a photo by its number (1, 2,
... in enrolment order), as ``case remove-person --photo`` does."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response

from facesearch.accounts.service import Principal
from facesearch.api.console.pages import back_to
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.params import RowId
from facesearch.cases import removal
from facesearch.cases.photos import watchlist_thumbnail

router = APIRouter()


@router.get("/cases/{ref}/people/{identity_id}/photos/{photo}.jpg")
def thumbnail(ref: str, identity_id: RowId, photo: RowId, ctx: Ctx,
              who: Annotated[Principal, Depends(may("identities.read"))]) -> Response:
    """Enrolment photo ``photo`` of a person on case ``ref``'s watchlist, small (need to know: 403 unless
    assigned to the case; 404 for a person not on this case's watchlist)."""
    jpeg = watchlist_thumbnail(ctx.sessions, ctx.sealer, ref, identity_id, photo, actor=who.actor)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/cases/{ref}/people/{identity_id}/photos/{photo}/remove")
def remove_photo(ref: str, identity_id: RowId, photo: RowId, ctx: Ctx,
                 who: Annotated[Principal, Depends(may("identities.enrol"))],
                 csrf_token: Annotated[str, Form()],
                 photo_sha256: Annotated[str, Form(pattern="^[0-9a-f]{16,64}$")]) -> Response:
    """Delete one enrolment photo of a person on the watchlist, and its templates (audited by the service). The
    form names the photo it showed (``photo_sha256``): refused (409) if another removal renumbered them since."""
    check_csrf(who, csrf_token)
    done = removal.remove_photo(ctx, ref, identity_id, photo, actor=who.actor, expected_sha256=photo_sha256)
    return back_to(f"/console/cases/{done.case}")
