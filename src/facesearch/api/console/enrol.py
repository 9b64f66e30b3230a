"""Enrolling a person from uploaded photos: into a case's watchlist when a case is given (the cases
service checks it is open), else into the gallery alone. Each photo's outcome is shown by its file name."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from facesearch.accounts.service import Principal
from facesearch.api.console.forms import one_line
from facesearch.api.console.pages import render
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.params import read_photo
from facesearch.api.schemas import NameIn
from facesearch.api.slots import FaceWork
from facesearch.cases.service import enrol_person
from facesearch.errors import FacesearchError

router = APIRouter()
Enroller = Annotated[Principal, Depends(may("identities.enrol"))]


@router.get("/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, who: Enroller) -> HTMLResponse:
    return render(request, "enrol.html", who, title="Enrol")


@router.post("/enrol", response_class=HTMLResponse)
def enrol_submit(request: Request, ctx: Ctx, who: Enroller, _work: FaceWork, csrf_token: Annotated[str, Form()],
                 name: Annotated[str, Form()], photos: list[UploadFile],
                 case: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(who, csrf_token)
    try:
        body = NameIn(name=name)
        uploads = [read_photo(f, ctx.settings.max_upload_bytes, ctx.settings.max_upload_pixels) for f in photos]
        report = enrol_person(ctx, body.name, uploads, actor=who.actor, case=case.strip() or None)
    except ValidationError as exc:
        return render(request, "enrol.html", who, title="Enrol", error=one_line(exc))
    except HTTPException as exc:  # an upload too large or empty
        return render(request, "enrol.html", who, title="Enrol", error=str(exc.detail))
    except FacesearchError as exc:
        return render(request, "enrol.html", who, title="Enrol", error=str(exc))
    # The service names uploads by their size; people know them by their file names.
    named = [replace(p, source=f.filename or p.source) for p, f in zip(report.photos, photos, strict=True)]
    return render(request, "enrol.html", who, title="Enrol", report=replace(report, photos=named))
