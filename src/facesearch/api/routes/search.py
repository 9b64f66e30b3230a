"""Searches by upload: 1:1 verification of two photos, and 1:N identification against an active case's
watchlist (audited, with the threshold that held the false-alarm rate)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.routes.system import Metrics
from facesearch.api.routes.uploads import photo, photo_of, upload
from facesearch.api.schemas import ErrorOut, IdentificationOut, VerifyOut
from facesearch.api.slots import FaceWork
from facesearch.calibration_store import in_force
from facesearch.cases.identify import identify as run_identify

router = APIRouter(prefix="/v1", tags=["search"], responses={
    **DENIED, 400: {"model": ErrorOut, "description": "An upload that is not a usable photo, or too many pixels"},
    413: {"model": ErrorOut, "description": "An upload over the size limit"},
    503: {"model": ErrorOut, "description": "Too many searches at once: try again after Retry-After seconds"}})


@router.post("/verify", response_model=VerifyOut)
def verify(a: UploadFile, b: UploadFile, ctx: Ctx, metrics: Metrics,
           _who: Annotated[Principal, Depends(require("search.verify"))], _work: FaceWork) -> dict[str, Any]:
    """Whether the largest faces of two photos are the same person, at the calibrated threshold."""
    first, second = photo(ctx, a), photo(ctx, b)  # each decoded once, before any model is loaded
    engine = ctx.engine()
    result = engine.verify(first, second, calibration=in_force(ctx.sessions, engine.profile,
                                                               engine.calibration).calibration)
    metrics.faces.labels("/v1/verify").inc(2)
    return {"same": result.same, "score": result.score, "fmr": result.fmr, "threshold": result.threshold}


@router.post("/identify", response_model=IdentificationOut)
def identify(image: Annotated[UploadFile, File(alias="photo")], case: Annotated[str, Form()], ctx: Ctx,
             who: Annotated[Principal, Depends(require("search.identify"))], _work: FaceWork,
             camera: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """Every face of the photo against the watchlist of an active case."""
    data = upload(ctx, image)
    decoded = photo_of(ctx, data, image.filename or "upload")  # once; a bad upload is named in the error
    return run_identify(ctx, case, data, actor=who.actor, camera=camera, decoded=decoded).to_json()
