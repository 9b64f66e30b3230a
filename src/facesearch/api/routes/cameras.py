"""Cameras footage comes from: listed with their stream addresses' passwords hidden, added by admins."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import CameraIn, CameraOut
from facesearch.video import cameras

router = APIRouter(prefix="/v1/cameras", tags=["cameras"], responses={**DENIED})


@router.get("", response_model=list[CameraOut])
def list_cameras(ctx: Ctx, _who: Annotated[Principal, Depends(require("cameras.read"))]) -> list[dict[str, Any]]:
    return [c.to_json() for c in cameras.list_cameras(ctx.sessions)]


@router.post("", status_code=201, response_model=CameraOut)
def add_camera(body: CameraIn, ctx: Ctx, who: Annotated[Principal, Depends(require("cameras.write"))]
               ) -> dict[str, Any]:
    return cameras.add_camera(ctx, body.id, name=body.name, url=body.url,
                              location=body.location, actor=who.actor).to_json()
