"""The photo library over HTTP (``/v1/library``): people, a person's faces, name, merge, split,
"not this person", forget, and face crops. Indexing a folder stays on the command line, where the
photos are."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts.service import Principal
from facesearch.store.crypto import Sealer


class NameIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)


class MergeIn(BaseModel):
    others: list[str] = Field(min_length=1, max_length=100)


def library_router(sessions: sessionmaker[Session], sealer: Sealer, engine: Callable[[], Any],
                   require: Callable[[str], Callable[..., Principal]]) -> APIRouter:
    from facesearch.library import people as library

    router = APIRouter(prefix="/v1/library", tags=["library"])
    Reader = Annotated[Principal, Depends(require("library.read"))]
    Writer = Annotated[Principal, Depends(require("library.write"))]

    @router.get("/people")
    def people(_who: Reader, everyone: bool = False) -> dict[str, object]:
        """People found in the library, most faces first (with ``everyone``, those seen once too)."""
        return library.list_people(sessions, everyone=everyone).to_json()

    @router.get("/people/{ref}")
    def person(ref: str, _who: Reader) -> dict[str, object]:
        summary, faces = library.person_faces(sessions, ref)
        return {**summary.to_json(), "faces": [f.to_json() for f in faces]}

    @router.post("/people/{ref}/name")
    def name(ref: str, body: NameIn, who: Writer) -> dict[str, object]:
        library.name_person(sessions, ref, body.name, actor=who.name)
        return {"id": ref.upper(), "name": body.name.strip()}

    @router.post("/people/{ref}/merge")
    def merge(ref: str, body: MergeIn, who: Writer) -> dict[str, object]:
        return {"id": ref.upper(), "faces_moved": library.merge_people(sessions, ref, body.others, actor=who.name)}

    @router.post("/people/{ref}/split")
    def split(ref: str, who: Writer) -> dict[str, object]:
        from facesearch.library.cluster import split_attempts
        from facesearch.library.store import calibration_of

        attempts = split_attempts(calibration_of(engine()))
        return {"people": library.split_person(sessions, sealer, ref, attempts, actor=who.name)}

    @router.post("/people/{ref}/forget")
    def forget(ref: str, who: Writer) -> dict[str, object]:
        done = library.forget_person(sessions, ref, actor=who.name)
        return {"id": done.person, "faces_deleted": done.faces, "photos": done.photos}

    @router.post("/faces/{face}/not/{ref}")
    def not_person(face: str, ref: str, who: Writer) -> dict[str, object]:
        from facesearch.library.store import grouping_thresholds

        thresholds = grouping_thresholds(engine())
        return {"face": face.upper(), "now_with": library.not_person(sessions, sealer, face, ref, thresholds,
                                                                     actor=who.name)}

    @router.post("/faces/{face}/move/{ref}")
    def move(face: str, ref: str, who: Writer) -> dict[str, object]:
        library.move_face(sessions, face, ref, actor=who.name)
        return {"face": face.upper(), "person": ref.upper()}

    @router.get("/faces/{face}/photo.jpg", response_class=Response)
    def photo(face: str, _who: Reader) -> Response:
        """The photo the face is in (at most 1600 px, re-encoded without the file's metadata)."""
        return Response(library.photo_preview(sessions, face), media_type="image/jpeg")

    @router.get("/faces/{face}.jpg", response_class=Response)
    def crop(face: str, _who: Reader) -> Response:
        return Response(library.open_crop(sessions, sealer, face), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    return router
