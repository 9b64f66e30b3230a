"""Cases: list, create, read, activate and close (closing deletes the watchlist's templates that no other
live case needs)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import AuthoriseIn, CaseIn, CaseOut
from facesearch.cases import service as cases

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses={**DENIED})
Reader = Annotated[Principal, Depends(require("cases.read"))]
Writer = Annotated[Principal, Depends(require("cases.write"))]


@router.get("", response_model=list[CaseOut])
def list_cases(ctx: Ctx, _who: Reader) -> list[dict[str, Any]]:
    return [c.to_json() for c in cases.list_cases(ctx.sessions)]


@router.post("", status_code=201, response_model=CaseOut)
def create_case(body: CaseIn, ctx: Ctx, who: Writer) -> dict[str, Any]:
    """A new case: ``authorised`` when every authorisation field is given, else ``draft``."""
    fields = body.model_dump()
    case = cases.create_case(ctx.sessions, actor=who.name, max_span=timedelta(days=ctx.settings.max_case_days),
                             **fields)
    return case.to_json()


@router.get("/{ref}", response_model=CaseOut)
def get_case(ref: str, ctx: Ctx, _who: Reader) -> dict[str, Any]:
    return cases.get_case(ctx.sessions, ref).to_json()


@router.post("/{ref}/authorise", response_model=CaseOut)
def authorise_case(ref: str, body: AuthoriseIn, ctx: Ctx, who: Writer) -> dict[str, Any]:
    """Record a draft's authorisation (the fields given); with all of them it becomes authorised."""
    return cases.authorise_case(ctx.sessions, ref, actor=who.name, **body.model_dump()).to_json()


@router.post("/{ref}/activate", response_model=CaseOut)
def activate_case(ref: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    return cases.activate_case(ctx.sessions, ref, actor=who.name).to_json()


@router.post("/{ref}/close", response_model=CaseOut)
def close_case(ref: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    return cases.close_case(ctx.sessions, ref, actor=who.name).to_json()
