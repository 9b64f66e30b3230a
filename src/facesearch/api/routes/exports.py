"""The evidence package of a case: its confirmed sightings, redacted, as a zip (audited with its SHA-256)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.downloads import zip_download
from facesearch.api.routes.errors import DENIED
from facesearch.review.export import hand_over

router = APIRouter(prefix="/v1/exports", tags=["exports"], responses={**DENIED})
ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


@router.post("", status_code=201, response_class=Response, responses={
    201: {"content": ZIP, "description": "The package (zip); its SHA-256 in the X-Content-SHA256 header"}})
def export_case(case: str, ctx: Ctx, who: Annotated[Principal, Depends(require("exports.write"))]) -> Response:
    """The redacted evidence package (zip) of the case's confirmed sightings."""
    return zip_download(hand_over(ctx, case, actor=who.actor), status_code=201)
