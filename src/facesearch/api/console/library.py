"""The photo library's pages: a grid of people, a person's faces and photos, and the corrections (rename,
merge, split, "not this person", forget). Crops are served from their sealed store, never as files."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from facesearch.accounts.service import Principal
from facesearch.api.console.forms import one_line
from facesearch.api.console.pages import back_to, render
from facesearch.api.console.paging import page_links
from facesearch.api.deps import Ctx, check_csrf, may
from facesearch.api.schemas import MergeIn, NameIn
from facesearch.errors import FacesearchError
from facesearch.library import people as library
from facesearch.library.cluster import split_attempts
from facesearch.library.listing import search_people
from facesearch.library.records import calibration_of, grouping_thresholds
from facesearch.paging import QUERY_MAX, page_number
from facesearch.refs import RefKind, normalise_ref

router = APIRouter()
Reader = Annotated[Principal, Depends(may("library.read"))]
Writer = Annotated[Principal, Depends(may("library.write"))]


def back(ref: str | None, error: str = "", note: str = "") -> RedirectResponse:
    """To the person's page (the grid for ``None``), with what happened."""
    return back_to("/console/library" + (f"/{ref}" if ref else ""), error=error, note=note)


@router.get("/library", response_class=HTMLResponse)
def people(request: Request, ctx: Ctx, who: Reader, q: str = "", page: str = "", everyone: str = "",
           error: str = "", note: str = "") -> HTMLResponse:
    """The grid of people, a page of tiles at a time, with a name search; bad input is one line on the page
    (status 400), never an error trace."""
    show_all = everyone.strip().lower() in ("true", "1", "on", "yes")
    found, refused = None, ""
    try:
        found = search_people(ctx.sessions, text=q, page=page_number(page), everyone=show_all)
    except FacesearchError as exc:
        refused = str(exc)
    links = (page_links("/console/library", found.page, found.pages, q=q.strip(), everyone="true" if show_all else "")
             if found else {})
    return render(request, "library.html", who, status_code=400 if refused else 200, title="People", found=found,
                  q=q[:QUERY_MAX], everyone=show_all, links=links, error=refused or error, note=note)


# The image routes come before ``/library/{ref}``, so that ``faces`` and ``photos`` are never taken for people.
@router.get("/library/faces/{face}.jpg")
def crop(face: str, ctx: Ctx, _who: Reader) -> Response:
    return Response(library.open_crop(ctx, face), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/library/photos/{face}.jpg")
def photo(face: str, ctx: Ctx, _who: Reader) -> Response:
    return Response(library.photo_preview(ctx.sessions, face), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=600"})


@router.get("/library/{ref}", response_class=HTMLResponse)
def person(ref: str, request: Request, ctx: Ctx, who: Reader, error: str = "", note: str = "") -> HTMLResponse:
    summary, faces = library.person_faces(ctx.sessions, ref)
    others = [p for p in library.list_people(ctx.sessions).people if p.id != summary.id]
    return render(request, "library_person.html", who, title=summary.name or summary.ref, person=summary,
                  faces=faces, others=others, error=error, note=note)


@router.post("/library/{ref}/name")
def name(ref: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()],
         new_name: Annotated[str, Form(alias="name")]) -> Response:
    check_csrf(who, csrf_token)
    try:
        body = NameIn(name=new_name)
        library.name_person(ctx.sessions, ref, body.name, actor=who.actor)
    except ValidationError as exc:
        return back(ref, error=one_line(exc))
    except FacesearchError as exc:
        return back(ref, error=str(exc))
    return back(ref, note="Name saved.")


@router.post("/library/{ref}/merge")
def merge(ref: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()],
          other: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        body = MergeIn(others=[other])
        moved = library.merge_people(ctx.sessions, ref, body.others, actor=who.actor)
    except ValidationError as exc:
        return back(ref, error=one_line(exc))
    except FacesearchError as exc:
        return back(ref, error=str(exc))
    return back(ref, note=f"{normalise_ref(other, RefKind.PERSON)} merged in: {moved} faces moved.")


@router.post("/library/{ref}/split")
def split(ref: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        refs = library.split_person(ctx, ref, split_attempts(calibration_of(ctx.engine())),
                                    actor=who.actor)
    except FacesearchError as exc:
        return back(ref, error=str(exc))
    if len(refs) == 1:
        return back(ref, note="These faces still look like one person: nothing changed. Use 'Not this person' on "
                              "single faces.")
    return back(ref, note=f"Split into {', '.join(refs)}.")


@router.post("/library/{ref}/not/{face}")
def not_this(ref: str, face: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        went = library.not_person(ctx, face, ref, grouping_thresholds(ctx.engine()),
                                  actor=who.actor)
    except FacesearchError as exc:
        return back(ref, error=str(exc))
    now = f"with {went}." if went else "unsorted."
    return back(ref, note=f"{normalise_ref(face, RefKind.FACE)} removed; it is now {now}")


@router.post("/library/{ref}/forget")
def forget(ref: str, ctx: Ctx, who: Writer, csrf_token: Annotated[str, Form()]) -> Response:
    check_csrf(who, csrf_token)
    try:
        done = library.forget_person(ctx.sessions, ref, actor=who.actor)
    except FacesearchError as exc:
        return back(ref, error=str(exc))
    return back(None, note=f"{done.person} forgotten: {done.faces} faces deleted.")
