"""Cameras: the list (whether a stream address is stored, never the address) and adding one."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.console.forms import blank_is_none, one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.schemas import CameraIn
from facesearch.errors import FacesearchError
from facesearch.video.cameras import add_camera, list_cameras

router = APIRouter()


@router.get("/cameras", response_class=HTMLResponse)
def cameras(request: Request, ctx: Ctx, who: Annotated[Principal, Depends(may("cameras.read"))],
            error: str = "") -> HTMLResponse:
    return render(request, "cameras.html", who, title="Cameras", cameras=list_cameras(ctx.sessions), error=error,
                  can_write=allowed(who.role, "cameras.write"))


@router.post("/cameras")
def add(ctx: Ctx, who: Annotated[Principal, Depends(may("cameras.write"))], csrf_token: Annotated[str, Form()],
        camera_id: Annotated[str, Form()], name: Annotated[str, Form()], location: Annotated[str, Form()] = "",
        url: Annotated[str, Form()] = "") -> Response:
    check_csrf(who, csrf_token)
    try:
        body = CameraIn(id=camera_id, name=name, url=blank_is_none(url), location=blank_is_none(location))
        add_camera(ctx, body.id, name=body.name, url=body.url, location=body.location,
                   actor=who.actor)
    except ValidationError as exc:
        return back_to("/console/cameras", error=one_line(exc, labels={"id": "camera id"}))
    except FacesearchError as exc:
        return back_to("/console/cameras", error=str(exc))
    return back_to("/console/cameras")
