"""The people searched for: enrolment by upload (into a case's watchlist, or the gallery alone) with each
photo's quality verdict, and the list of who is enrolled."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, UploadFile

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.routes.uploads import checked
from facesearch.api.schemas import EnrolmentOut, ErrorOut, IdentityOut
from facesearch.api.slots import FaceWork
from facesearch.cases.service import enrol_person, list_people

router = APIRouter(prefix="/v1/identities", tags=["identities"], responses={**DENIED})


@router.post("", status_code=201, response_model=EnrolmentOut, responses={
    400: {"model": ErrorOut, "description": "No photo could be enrolled (each one's reason), or a bad upload"}})
def enrol(name: Annotated[str, Form(min_length=1, max_length=300)], photos: list[UploadFile], ctx: Ctx,
          who: Annotated[Principal, Depends(require("identities.enrol"))], _work: FaceWork,
          case: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """Enrol a person from photos; with ``case``, into that case's watchlist (not closed or expired)."""
    data = [checked(ctx, p) for p in photos]  # pixels counted from each header; the service decodes each once
    report = enrol_person(ctx, name, data, actor=who.actor, case=case)
    return {"identity_id": report.identity_id, "name": report.name, "case": case, "added_to_existing": report.added,
            "photos": [f.to_json() for f in report.photos]}


@router.get("", response_model=list[IdentityOut])
def list_identities(ctx: Ctx, who: Annotated[Principal, Depends(require("identities.read"))],
                    case: str | None = None,
                    name: Annotated[str | None, Query(min_length=1, max_length=300)] = None
                    ) -> list[dict[str, object]]:
    """Enrolled people (of one case's watchlist, when given; of that name, when ``name`` is given), with how
    many templates they have."""
    return [p.to_json() for p in list_people(ctx.sessions, actor=who.actor, case=case, name=name)]
