"""Face sign-in over HTTP: verify a live capture (a photo, or a clip of 1-3 s) against one enrolled person.
A kiosk's or app's key holds the ``signin`` role; people are enrolled and removed by an administrator."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, UploadFile

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.routes.uploads import checked, upload
from facesearch.api.schemas import (
    ErrorOut,
    SignInChallengeOut,
    SignInEnrolmentOut,
    SignInPersonOut,
    SignInRemovedOut,
    SignInResultOut,
)
from facesearch.api.slots import FaceWork
from facesearch.signin import service as signin
from facesearch.signin.service import DEFAULT_TARGET_FMR

router = APIRouter(prefix="/v1/signin", tags=["sign-in"], responses={
    **DENIED, 400: {"model": ErrorOut, "description": "A capture that is neither a photo nor a short clip, or a "
                                                       "target FMR or challenge out of range"},
    404: {"model": ErrorOut, "description": "Nobody of this name is enrolled for sign-in"},
    413: {"model": ErrorOut, "description": "A capture over the upload size limit"},
    429: {"model": ErrorOut, "description": "Locked out after repeated failures: try again after Retry-After "
                                            "seconds"}})

PersonName = Annotated[str, Path(min_length=1, max_length=300, description="The person's name, as enrolled")]


@router.post("", status_code=201, response_model=SignInEnrolmentOut, responses={
    409: {"model": ErrorOut, "description": "Somebody of this name is enrolled for sign-in already"}})
def signin_enrol(name: Annotated[str, Form(min_length=1, max_length=300)], photos: list[UploadFile], ctx: Ctx,
                 who: Annotated[Principal, Depends(require("signin.manage"))], _work: FaceWork,
                 consent_ref: Annotated[str | None, Form(max_length=200)] = None) -> dict[str, Any]:
    """Enrol a person for sign-in (purpose "authentication"), held to the enrolment photo policy."""
    data = [checked(ctx, p) for p in photos]
    return signin.enrol(ctx, name, data, actor=who.actor, consent_ref=consent_ref).to_json()


@router.get("", response_model=list[SignInPersonOut])
def signin_people(ctx: Ctx, _who: Annotated[Principal, Depends(require("signin.manage"))]) -> list[dict[str, Any]]:
    """The people enrolled for sign-in."""
    return [p.to_json() for p in signin.list_people(ctx)]


@router.delete("/{person}", response_model=SignInRemovedOut)
def signin_remove(person: PersonName, ctx: Ctx, who: Annotated[Principal, Depends(require("signin.manage"))]
                  ) -> dict[str, Any]:
    """Delete a person's sign-in enrolment and every template of it (audited)."""
    return {"removed": signin.remove(ctx, person, actor=who.actor).to_json()}


@router.post("/{person}/challenge", response_model=SignInChallengeOut)
def signin_challenge(person: PersonName, ctx: Ctx, _who: Annotated[Principal, Depends(require("signin.verify"))]
                     ) -> dict[str, Any]:
    """A way to turn the head, chosen at random by the server, for the person's next clip (valid 2 minutes)."""
    return signin.issue_challenge(ctx, person).to_json()


@router.post("/{person}/verify", response_model=SignInResultOut)
def signin_verify(person: PersonName, capture: UploadFile, ctx: Ctx,
                  who: Annotated[Principal, Depends(require("signin.verify"))], _work: FaceWork,
                  target_fmr: Annotated[float, Form()] = DEFAULT_TARGET_FMR,
                  challenge: Annotated[str | None, Form(max_length=20)] = None,
                  challenge_token: Annotated[str | None, Form(max_length=1000)] = None) -> dict[str, Any]:
    """Accepted or not, the score at the operating point, and each liveness layer with its reasons. Every
    attempt is audited; no capture is kept. ``challenge_token``: from ``/challenge``, so that the direction the
    head must turn is the server's choice."""
    data = upload(ctx, capture)
    return signin.verify(ctx, person, data, capture.filename or "capture", actor=who.actor, target_fmr=target_fmr,
                         challenge=challenge, challenge_token=challenge_token).to_json()
