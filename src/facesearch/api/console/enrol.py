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
from facesearch.api.params import read_upload
from facesearch.api.schemas import NameIn
from facesearch.cases.service import enrol_into_case
from facesearch.context import Context
from facesearch.errors import FacesearchError
from facesearch.gallery.service import EnrolmentReport, enrol

router = APIRouter()
Enroller = Annotated[Principal, Depends(may("identities.enrol"))]


@router.get("/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, who: Enroller) -> HTMLResponse:
    return render(request, "enrol.html", who, title="Enrol")


def run_enrolment(ctx: Context, name: str, photos: list[bytes], case: str | None, actor: str) -> EnrolmentReport:
    if case:
        return enrol_into_case(ctx, case, name, photos, actor=actor)
    return enrol(ctx.engine(), ctx.sessions, ctx.sealer, name, photos, actor=actor, cache=ctx.index_cache())


@router.post("/enrol", response_class=HTMLResponse)
def enrol_person(request: Request, ctx: Ctx, who: Enroller, csrf_token: Annotated[str, Form()],
                 name: Annotated[str, Form()], photos: list[UploadFile],
                 case: Annotated[str, Form()] = "") -> HTMLResponse:
    check_csrf(who, csrf_token)
    try:
        body = NameIn(name=name)
        uploads = [read_upload(f, ctx.settings.max_upload_bytes) for f in photos]
        report = run_enrolment(ctx, body.name, uploads, case.strip() or None, who.name)
    except ValidationError as exc:
        return render(request, "enrol.html", who, title="Enrol", error=one_line(exc))
    except HTTPException as exc:  # an upload too large or empty
        return render(request, "enrol.html", who, title="Enrol", error=str(exc.detail))
    except FacesearchError as exc:
        return render(request, "enrol.html", who, title="Enrol", error=str(exc))
    # The service names uploads by their size; people know them by their file names.
    named = [replace(p, source=f.filename or p.source) for p, f in zip(report.photos, photos, strict=True)]
    return render(request, "enrol.html", who, title="Enrol", report=replace(report, photos=named))
