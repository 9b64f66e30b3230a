"""The people searched for: enrolment by upload (into a case's watchlist, or the gallery alone) with each
photo's quality verdict, and the list of who is enrolled."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, UploadFile

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.routes.uploads import upload
from facesearch.api.schemas import EnrolmentOut, ErrorOut, IdentityOut
from facesearch.cases.service import enrol_person
from facesearch.gallery import service as gallery
from facesearch.refs import parse_case_ref

router = APIRouter(prefix="/v1/identities", tags=["identities"], responses={**DENIED})


@router.post("", status_code=201, response_model=EnrolmentOut, responses={
    400: {"model": ErrorOut, "description": "No photo could be enrolled (each one's reason), or a bad upload"}})
def enrol(name: Annotated[str, Form(min_length=1, max_length=300)], photos: list[UploadFile], ctx: Ctx,
          who: Annotated[Principal, Depends(require("identities.enrol"))],
          case: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """Enrol a person from photos; with ``case``, into that case's watchlist (not closed or expired)."""
    data = [upload(ctx, p) for p in photos]
    report = enrol_person(ctx, name, data, actor=who.name, case=case)
    return {"identity_id": report.identity_id, "name": report.name, "case": case,
            "photos": [{"source": f.source, "accepted": f.accepted, "reason": f.reason,
                        "similar_to": f.similar_to} for f in report.photos]}


@router.get("", response_model=list[IdentityOut])
def list_identities(ctx: Ctx, _who: Annotated[Principal, Depends(require("identities.read"))],
                    case: str | None = None) -> list[dict[str, object]]:
    """Enrolled people (of one case's watchlist, when given), with how many templates they have."""
    case_id = None if case is None else parse_case_ref(case)
    return [p.to_json() for p in gallery.list_identities(ctx.sessions, case_id)]
