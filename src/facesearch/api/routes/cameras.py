"""Cameras footage comes from: listed with their stream addresses' passwords hidden, added, disabled, enabled
and removed by admins (``video.cameras``)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED, Responses
from facesearch.api.schemas import CameraIn, CameraOut, ErrorOut
from facesearch.video import cameras

router = APIRouter(prefix="/v1/cameras", tags=["cameras"], responses={**DENIED})


@router.get("", response_model=list[CameraOut])
def list_cameras(ctx: Ctx, _who: Annotated[Principal, Depends(require("cameras.read"))]) -> list[dict[str, Any]]:
    return [c.to_json() for c in cameras.list_cameras(ctx.sessions)]


@router.post("", status_code=201, response_model=CameraOut)
def add_camera(body: CameraIn, ctx: Ctx, who: Annotated[Principal, Depends(require("cameras.write"))]
               ) -> dict[str, Any]:
    return cameras.add_camera(ctx, body.id, name=body.name, url=body.url, min_face=body.min_face,
                              location=body.location, actor=who.actor).to_json()


Admin = Annotated[Principal, Depends(require("cameras.write"))]
NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "No such camera"}}


@router.post("/{camera_id}/disable", response_model=CameraOut, responses={**NOT_FOUND})
def disable_camera(camera_id: str, ctx: Ctx, who: Admin) -> dict[str, Any]:
    """Nothing is scanned, identified or watched on the camera until it is enabled (running watches stop)."""
    return cameras.set_camera_enabled(ctx.sessions, camera_id, False, actor=who.actor).to_json()


@router.post("/{camera_id}/enable", response_model=CameraOut, responses={**NOT_FOUND})
def enable_camera(camera_id: str, ctx: Ctx, who: Admin) -> dict[str, Any]:
    return cameras.set_camera_enabled(ctx.sessions, camera_id, True, actor=who.actor).to_json()


@router.delete("/{camera_id}", response_model=CameraOut, responses={**NOT_FOUND, 409: {
    "model": ErrorOut, "description": "In use (a live case names it, or a scan job uses it), or removed already"}})
def remove_camera(camera_id: str, ctx: Ctx, who: Admin) -> dict[str, Any]:
    """Remove the camera: kept as removed (sightings name it), its stream address deleted."""
    return cameras.remove_camera(ctx.sessions, camera_id, actor=who.actor).to_json()
