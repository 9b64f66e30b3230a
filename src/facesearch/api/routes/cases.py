"""Cases: list, create, read, activate and close (closing deletes the watchlist's templates that no other
live case needs), and who is assigned to each (need to know: officers and reviewers see only their cases)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import AssignIn, AssignmentOut, AuthoriseIn, CaseIn, CaseOut, RecordingWindowIn
from facesearch.cases import access
from facesearch.cases import service as cases

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses={**DENIED})
Reader = Annotated[Principal, Depends(require("cases.read"))]
Writer = Annotated[Principal, Depends(require("cases.write"))]
Assigner = Annotated[Principal, Depends(require("cases.assign"))]


@router.get("", response_model=list[CaseOut])
def list_cases(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    """The cases the caller may see: officers and reviewers, those they are assigned to."""
    return [c.to_json() for c in cases.list_cases(ctx.sessions, actor=who.actor)]


@router.post("", status_code=201, response_model=CaseOut)
def create_case(body: CaseIn, ctx: Ctx, who: Writer) -> dict[str, Any]:
    """A new case: ``authorised`` when every authorisation field is given, else ``draft``."""
    fields = body.model_dump()
    case = cases.create_case(ctx.sessions, actor=who.actor, max_span=timedelta(days=ctx.settings.max_case_days),
                             lookback=timedelta(days=ctx.settings.recording_lookback_days),
                             min_reviewers=ctx.settings.min_reviewers, **fields)
    return case.to_json()


@router.get("/{ref}", response_model=CaseOut)
def get_case(ref: str, ctx: Ctx, who: Reader) -> dict[str, Any]:
    return cases.get_case(ctx.sessions, ref, actor=who.actor).to_json()


@router.post("/{ref}/recording-window", response_model=CaseOut)
def change_recording_window(ref: str, body: RecordingWindowIn, ctx: Ctx, who: Writer) -> dict[str, Any]:
    """Move the recording window (which recordings searches may cover); widening it needs the
    authorisation fields again. Audited with the window before and after."""
    return cases.change_recording_window(ctx.sessions, ref, actor=who.actor, **body.model_dump()).to_json()


@router.post("/{ref}/authorise", response_model=CaseOut)
def authorise_case(ref: str, body: AuthoriseIn, ctx: Ctx, who: Writer) -> dict[str, Any]:
    """Record a draft's authorisation (the fields given); with all of them it becomes authorised."""
    return cases.authorise_case(ctx.sessions, ref, actor=who.actor, **body.model_dump()).to_json()


@router.post("/{ref}/activate", response_model=CaseOut)
def activate_case(ref: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    return cases.activate_case(ctx.sessions, ref, actor=who.actor).to_json()


@router.post("/{ref}/close", response_model=CaseOut)
def close_case(ref: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    return cases.close_case(ctx.sessions, ref, actor=who.actor).to_json()


@router.get("/{ref}/assignments", response_model=list[AssignmentOut])
def list_assignments(ref: str, ctx: Ctx, _who: Assigner) -> list[dict[str, str]]:
    """The officers and reviewers assigned to the case (administrators only)."""
    return [a.to_json() for a in access.assignments(ctx.sessions, ref)]


@router.post("/{ref}/assignments", status_code=201, response_model=list[AssignmentOut])
def assign(ref: str, body: AssignIn, ctx: Ctx, who: Assigner) -> list[dict[str, str]]:
    """Assign an officer or reviewer to the case (audited); the answer lists everyone assigned."""
    return [a.to_json() for a in access.assign(ctx.sessions, ref, body.username, actor=who.actor)]


@router.delete("/{ref}/assignments/{username}", response_model=list[AssignmentOut])
def unassign(ref: str, username: str, ctx: Ctx, who: Assigner) -> list[dict[str, str]]:
    """Take a person off the case (audited): from now on they see nothing of it."""
    return [a.to_json() for a in access.unassign(ctx.sessions, ref, username, actor=who.actor)]
