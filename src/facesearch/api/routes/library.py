"""The photo library over HTTP (``/v1/library``): people, a person's faces, name, merge, split,
"not this person", forget, and face crops. Indexing a folder stays on the command line, where the
photos are."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import (
    FaceMovedOut,
    FaceNotPersonOut,
    MergeIn,
    NameIn,
    PeopleMergedOut,
    PeopleOut,
    PersonFacesOut,
    PersonForgottenOut,
    PersonNamedOut,
    PersonSplitOut,
)
from facesearch.library import people as library
from facesearch.library.cluster import split_attempts
from facesearch.library.records import calibration_of, grouping_thresholds
from facesearch.refs import RefKind, normalise_ref

router = APIRouter(prefix="/v1/library", tags=["library"], responses={**DENIED})
Reader = Annotated[Principal, Depends(require("library.read"))]
Writer = Annotated[Principal, Depends(require("library.write"))]
JPEG = {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}


@router.get("/people", response_model=PeopleOut)
def list_people(ctx: Ctx, _who: Reader, everyone: bool = False,
                name: Annotated[str | None, Query(min_length=1, max_length=300)] = None) -> dict[str, object]:
    """People found in the library, most faces first (with ``everyone``, those seen once too; with ``name``,
    the people of that name only)."""
    return library.list_people(ctx.sessions, everyone=everyone, name=name).to_json()


@router.get("/people/{ref}", response_model=PersonFacesOut)
def get_person(ref: str, ctx: Ctx, _who: Reader) -> dict[str, object]:
    summary, faces = library.person_faces(ctx.sessions, ref)
    return {**summary.to_json(), "faces": [f.to_json() for f in faces]}


@router.post("/people/{ref}/name", response_model=PersonNamedOut)
def name_person(ref: str, body: NameIn, ctx: Ctx, who: Writer) -> dict[str, object]:
    library.name_person(ctx.sessions, ref, body.name, actor=who.actor)
    return {"id": normalise_ref(ref, RefKind.PERSON), "name": body.name.strip()}


@router.post("/people/{ref}/merge", response_model=PeopleMergedOut)
def merge_people(ref: str, body: MergeIn, ctx: Ctx, who: Writer) -> dict[str, object]:
    moved = library.merge_people(ctx.sessions, ref, body.others, actor=who.actor)
    return {"id": normalise_ref(ref, RefKind.PERSON), "faces_moved": moved}


@router.post("/people/{ref}/split", response_model=PersonSplitOut)
def split_person(ref: str, ctx: Ctx, who: Writer) -> dict[str, object]:
    attempts = split_attempts(calibration_of(ctx.engine()))
    return {"people": library.split_person(ctx, ref, attempts, actor=who.actor)}


@router.post("/people/{ref}/forget", response_model=PersonForgottenOut)
def forget_person(ref: str, ctx: Ctx, who: Writer) -> dict[str, object]:
    done = library.forget_person(ctx.sessions, ref, actor=who.actor)
    return {"id": done.person, "faces_deleted": done.faces, "photos": done.photos}


@router.post("/faces/{face}/not/{ref}", response_model=FaceNotPersonOut)
def not_person(face: str, ref: str, ctx: Ctx, who: Writer) -> dict[str, object]:
    """Take the face out of the person; it may join someone else, or nobody."""
    thresholds = grouping_thresholds(ctx.engine())
    return {"face": normalise_ref(face, RefKind.FACE),
            "now_with": library.not_person(ctx, face, ref, thresholds, actor=who.actor)}


@router.post("/faces/{face}/move/{ref}", response_model=FaceMovedOut)
def move_face(face: str, ref: str, ctx: Ctx, who: Writer) -> dict[str, object]:
    library.move_face(ctx.sessions, face, ref, actor=who.actor)
    return {"face": normalise_ref(face, RefKind.FACE), "person": normalise_ref(ref, RefKind.PERSON)}


@router.get("/faces/{face}/photo.jpg", response_class=Response,
            responses={200: {"content": JPEG, "description": "The photo (JPEG)"}})
def face_photo(face: str, ctx: Ctx, _who: Reader) -> Response:
    """The photo the face is in (at most 1600 px, re-encoded without the file's metadata)."""
    return Response(library.photo_preview(ctx.sessions, face), media_type="image/jpeg")


@router.get("/faces/{face}.jpg", response_class=Response,
            responses={200: {"content": JPEG, "description": "The face's crop (JPEG)"}})
def face_crop(face: str, ctx: Ctx, _who: Reader) -> Response:
    return Response(library.open_crop(ctx, face), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})
