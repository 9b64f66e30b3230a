"""Cases: the list (the console's home page), a new case, a case with its sightings and timeline, its
authorisation, activation and closing, the export of its confirmed sightings, and (for administrators)
who is assigned to it: officers and reviewers see only the cases they are assigned to."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.console.forms import blank_is_none, comma_list, one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.downloads import zip_download
from facesearch.api.params import RowId
from facesearch.api.schemas import AssignIn, AuthoriseIn, CaseIn
from facesearch.cases import access, removal
from facesearch.cases.photos import watchlist_photos
from facesearch.cases.service import (
    PURPOSES,
    activate_case,
    authorise_case,
    close_case,
    create_case,
    get_case,
    list_people,
)
from facesearch.errors import FacesearchError
from facesearch.review.export import hand_over
from facesearch.video.case_report import timeline_svg
from facesearch.video.recording_length import recording_lengths
from facesearch.video.sightings import list_sightings

router = APIRouter()
Reader = Annotated[Principal, Depends(may("cases.read"))]
Writer = Annotated[Principal, Depends(may("cases.write"))]
TextBox = Annotated[str, Form()]  # a text box that may be left empty


@router.get("/cases/new", response_class=HTMLResponse)
def new_case(request: Request, ctx: Ctx, who: Writer, error: str = "") -> HTMLResponse:
    return render(request, "case_new.html", who, title="New case", purposes=PURPOSES, error=error,
                  min_reviewers=ctx.settings.min_reviewers, lookback_days=ctx.settings.recording_lookback_days)


@router.post("/cases")
def create(ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()], title: Annotated[str, Form()],
           purpose: Annotated[str, Form()], valid_until: Annotated[str, Form()], valid_from: TextBox = "",
           recorded_from: TextBox = "", recorded_until: TextBox = "",
           purpose_text: TextBox = "", legal_basis: TextBox = "", authorisation_ref: TextBox = "",
           authorised_by: TextBox = "", authorising_authority: TextBox = "", cameras: TextBox = "",
           reviewers: Annotated[int | None, Form()] = None) -> Response:
    """A new case from the form, read by the API's ``CaseIn`` (its limits, and its date rule: a bare
    ``valid_until`` date lasts to the end of that day, UTC)."""
    check_csrf(who, csrf_token)
    form = {"title": title, "purpose": purpose, "valid_until": valid_until, "valid_from": blank_is_none(valid_from),
            "recorded_from": blank_is_none(recorded_from), "recorded_until": blank_is_none(recorded_until),
            "purpose_text": blank_is_none(purpose_text), "legal_basis": blank_is_none(legal_basis),
            "authorisation_ref": blank_is_none(authorisation_ref), "authorised_by": blank_is_none(authorised_by),
            "authorising_authority": blank_is_none(authorising_authority), "cameras": comma_list(cameras),
            "reviewers_required": reviewers}
    try:
        body = CaseIn.model_validate(form)
        created = create_case(ctx.sessions, actor=who.actor, max_span=timedelta(days=ctx.settings.max_case_days),
                              lookback=timedelta(days=ctx.settings.recording_lookback_days),
                              min_reviewers=ctx.settings.min_reviewers, **body.model_dump())
    except ValidationError as exc:
        return back_to("/console/cases/new", error=one_line(exc, labels={"reviewers_required": "reviewers"}))
    except FacesearchError as exc:
        return back_to("/console/cases/new", error=str(exc))
    return back_to(f"/console/cases/{created.ref}")


@router.post("/cases/{ref}/export")
def export(ref: str, ctx: Ctx, who: Annotated[Principal, Depends(may("exports.write"))],
           csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    return zip_download(hand_over(ctx, ref, actor=who.actor))


@router.get("/cases/{ref}", response_class=HTMLResponse)
def case(ref: str, request: Request, ctx: Ctx, who: Reader) -> HTMLResponse:
    """A case: its record, who is assigned, its watchlist (each person's enrolment photos as thumbnails, for
    those who may see its people) and its sightings, with a timeline per person and recording."""
    found = get_case(ctx.sessions, ref, actor=who.actor)
    lengths: dict[str, float] = {}
    with ctx.sessions() as s:
        sightings = list_sightings(s, ref, actor=who.actor) if allowed(who.role, "sightings.read") else []
        if sightings:
            lengths = recording_lengths(s, ref, actor=who.actor)
    can_assign = allowed(who.role, "cases.assign")
    watchlist, photos = None, {}
    if allowed(who.role, "identities.read"):
        try:
            watchlist = list_people(ctx.sessions, actor=who.actor, case=ref)
            photos = watchlist_photos(ctx.sessions, ref, actor=who.actor)
        except FacesearchError:  # need to know: not assigned, so no people shown
            watchlist, photos = None, {}
    return render(request, "case.html", who, title=found.ref, case=found, sightings=sightings,
                  watchlist=watchlist, photos=photos, can_enrol=allowed(who.role, "identities.enrol"),
                  can_write=allowed(who.role, "cases.write"), can_export=allowed(who.role, "exports.write"),
                  can_assign=can_assign, assigned=access.assignments(ctx.sessions, ref) if can_assign else [],
                  timeline=timeline_svg(sightings, lengths) if sightings else "")


@router.post("/cases/{ref}/assign")
def assign(ref: str, ctx: Ctx, who: Annotated[Principal, Depends(may("cases.assign"))],
           csrf_token: Annotated[str, Form()], username: Annotated[str, Form()]) -> Response:
    """An administrator assigns an officer or reviewer to the case (audited)."""
    check_csrf(who, csrf_token)
    try:
        body = AssignIn(username=username)
    except ValidationError as exc:
        raise HTTPException(400, one_line(exc, subject=ref)) from None
    access.assign(ctx.sessions, ref, body.username, actor=who.actor)
    return back_to(f"/console/cases/{ref}")


@router.post("/cases/{ref}/unassign/{username}")
def unassign(ref: str, username: str, ctx: Ctx, who: Annotated[Principal, Depends(may("cases.assign"))],
             csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    access.unassign(ctx.sessions, ref, username, actor=who.actor)
    return back_to(f"/console/cases/{ref}")


@router.post("/cases/{ref}/people/{identity_id}/remove")
def remove_person(ref: str, identity_id: RowId, ctx: Ctx,
                  who: Annotated[Principal, Depends(may("identities.enrol"))],
                  csrf_token: Annotated[str, Form()]) -> Response:
    """Take a person off the watchlist (audited; their templates go at once unless another live case needs them)."""
    check_csrf(who, csrf_token)
    removal.remove_person(ctx, ref, identity_id, actor=who.actor)
    return back_to(f"/console/cases/{ref}")


@router.post("/cases/{ref}/authorise")
def authorise(ref: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()], legal_basis: TextBox = "",
              authorisation_ref: TextBox = "", authorised_by: TextBox = "") -> Response:
    check_csrf(who, csrf_token)
    try:
        body = AuthoriseIn(legal_basis=blank_is_none(legal_basis), authorisation_ref=blank_is_none(authorisation_ref),
                           authorised_by=blank_is_none(authorised_by))
    except ValidationError as exc:  # the case page has no error line: refused as the service's errors are
        raise HTTPException(400, one_line(exc, subject=ref)) from None
    authorise_case(ctx.sessions, ref, actor=who.actor, **body.model_dump())
    return back_to(f"/console/cases/{ref}")


# Last of the case routes: ``{action}`` would also match ``export`` and ``authorise``.
@router.post("/cases/{ref}/{action}")
def case_action(ref: str, action: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    if action not in ("activate", "close"):
        raise HTTPException(404, f"no such action {action!r}")
    (activate_case if action == "activate" else close_case)(ctx.sessions, ref, actor=who.actor)
    return back_to(f"/console/cases/{ref}")
