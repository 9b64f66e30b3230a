"""Searches by upload: 1:1 verification of two photos, and 1:N identification against an active case's
watchlist (audited, with the threshold that held the false-alarm rate)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.routes.system import Metrics
from facesearch.api.routes.uploads import photo, upload
from facesearch.api.schemas import ErrorOut, IdentificationOut, VerifyOut
from facesearch.cases.identify import identify as run_identify

router = APIRouter(prefix="/v1", tags=["search"], responses={
    **DENIED, 400: {"model": ErrorOut, "description": "An upload that is not a usable photo"},
    413: {"model": ErrorOut, "description": "An upload over the size limit"}})


@router.post("/verify", response_model=VerifyOut)
def verify(a: UploadFile, b: UploadFile, ctx: Ctx, metrics: Metrics,
           _who: Annotated[Principal, Depends(require("search.verify"))]) -> dict[str, Any]:
    """Whether the largest faces of two photos are the same person, at the calibrated threshold."""
    result = ctx.engine().verify(photo(ctx, a), photo(ctx, b), channels="rgb")
    metrics.faces.labels("/v1/verify").inc(2)
    return {"same": result.same, "score": result.score, "fmr": result.fmr, "threshold": result.threshold}


@router.post("/identify", response_model=IdentificationOut)
def identify(image: Annotated[UploadFile, File(alias="photo")], case: Annotated[str, Form()], ctx: Ctx,
             who: Annotated[Principal, Depends(require("search.identify"))],
             camera: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """Every face of the photo against the watchlist of an active case."""
    data = upload(ctx, image)
    ctx.engine().load(data, source=image.filename or "upload")  # a bad upload is named in the error
    return run_identify(ctx, case, data, actor=who.name, camera=camera).to_json()
