"""The console's photo-library pages: a grid of people, a person's faces and photos, and the
corrections (rename, merge, split, "not this person", forget). Crops are served from their sealed
store, never as files."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts.service import Principal
from facesearch.errors import FacesearchError
from facesearch.store.crypto import Sealer


def add_library_pages(router: APIRouter, sessions: sessionmaker[Session], sealer: Sealer, *,
                      engine: Callable[[], Any], may: Callable[[str], Any], csrf: Callable[[Principal, str], None],
                      page: Callable[..., HTMLResponse]) -> None:
    from facesearch.library import people as library

    Reader = Annotated[Principal, Depends(may("library.read"))]
    Writer = Annotated[Principal, Depends(may("library.write"))]

    def back(ref: str | None, error: str = "", note: str = "") -> RedirectResponse:
        target = "/console/library" + (f"/{ref}" if ref else "")
        query = urlencode({k: v for k, v in (("error", error), ("note", note)) if v})
        return RedirectResponse(target + (f"?{query}" if query else ""), status_code=303)

    @router.get("/library", response_class=HTMLResponse)
    def people(request: Request, who: Reader, everyone: bool = False, error: str = "", note: str = "") -> HTMLResponse:
        listing = library.list_people(sessions, everyone=everyone)
        return page(request, "library.html", who, title="People", listing=listing, everyone=everyone, error=error,
                    note=note)

    @router.get("/library/faces/{face}.jpg")
    def crop(face: str, _who: Reader) -> Response:
        return Response(library.open_crop(sessions, sealer, face), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/library/photos/{face}.jpg")
    def photo(face: str, _who: Reader) -> Response:
        return Response(library.photo_preview(sessions, face), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=600"})

    @router.get("/library/{ref}", response_class=HTMLResponse)
    def person(ref: str, request: Request, who: Reader, error: str = "", note: str = "") -> HTMLResponse:
        summary, faces = library.person_faces(sessions, ref)
        others = [p for p in library.list_people(sessions).people if p.id != summary.id]
        return page(request, "library_person.html", who, title=summary.name or summary.ref, person=summary,
                    faces=faces, others=others, error=error, note=note)

    @router.post("/library/{ref}/name")
    def name(ref: str, csrf_token: Annotated[str, Form()], new_name: Annotated[str, Form(alias="name")],
             who: Writer) -> Response:
        csrf(who, csrf_token)
        try:
            library.name_person(sessions, ref, new_name, actor=who.name)
        except FacesearchError as exc:
            return back(ref, error=str(exc))
        return back(ref, note="Name saved.")

    @router.post("/library/{ref}/merge")
    def merge(ref: str, csrf_token: Annotated[str, Form()], other: Annotated[str, Form()], who: Writer) -> Response:
        csrf(who, csrf_token)
        try:
            moved = library.merge_people(sessions, ref, [other], actor=who.name)
        except FacesearchError as exc:
            return back(ref, error=str(exc))
        return back(ref, note=f"{other.upper()} merged in: {moved} faces moved.")

    @router.post("/library/{ref}/split")
    def split(ref: str, csrf_token: Annotated[str, Form()], who: Writer) -> Response:
        from facesearch.library.cluster import split_attempts
        from facesearch.library.store import calibration_of

        csrf(who, csrf_token)
        try:
            refs = library.split_person(sessions, sealer, ref, split_attempts(calibration_of(engine())),
                                        actor=who.name)
        except FacesearchError as exc:
            return back(ref, error=str(exc))
        if len(refs) == 1:
            return back(ref, note="These faces still look like one person: nothing changed. Use 'Not this "
                                  "person' on single faces.")
        return back(ref, note=f"Split into {', '.join(refs)}.")

    @router.post("/library/{ref}/not/{face}")
    def not_this(ref: str, face: str, csrf_token: Annotated[str, Form()], who: Writer) -> Response:
        csrf(who, csrf_token)
        try:
            from facesearch.library.store import grouping_thresholds

            went = library.not_person(sessions, sealer, face, ref, grouping_thresholds(engine()), actor=who.name)
        except FacesearchError as exc:
            return back(ref, error=str(exc))
        return back(ref, note=f"{face.upper()} removed; it is now " + (f"with {went}." if went else "unsorted."))

    @router.post("/library/{ref}/forget")
    def forget(ref: str, csrf_token: Annotated[str, Form()], who: Writer) -> Response:
        csrf(who, csrf_token)
        try:
            done = library.forget_person(sessions, ref, actor=who.name)
        except FacesearchError as exc:
            return back(ref, error=str(exc))
        return back(None, note=f"{done.person} forgotten: {done.faces} faces deleted.")
