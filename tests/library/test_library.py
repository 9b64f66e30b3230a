"""The photo library with the real models on real photos (LFW), on SQLite and PostgreSQL: people are
found, names survive new photos, a person's corrections hold, forgetting deletes, bad input is reported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlalchemy import func, select

from facesearch.audit import log as audit
from facesearch.engine import Engine
from facesearch.errors import NoFaceError
from facesearch.library.cluster import LinkThresholds
from facesearch.library.find import contact_sheet, find_person
from facesearch.library.ingest import index_library
from facesearch.library.people import (
    forget_person,
    list_people,
    merge_people,
    move_face,
    name_person,
    not_person,
    person_faces,
    split_person,
)
from facesearch.library.records import LibraryError, load_faces
from facesearch.store.crypto import Sealer
from facesearch.store.schema import LibraryFaceRow, LibraryPersonRow, LibraryPhotoRow, LibraryRejectionRow
from support.audit import open_audited
from support.context import context_for
from support.library import copy_photos, people_by_identity, who

GROUPS = {"George_W_Bush": 6, "Colin_Powell": 6, "Tony_Blair": 6, "Serena_Williams": 6}
SINGLES = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Ai_Sugiyama"]


@pytest.fixture()
def stores(database_url: str) -> tuple[object, Sealer]:
    return open_audited(database_url)[1], Sealer(os.urandom(32))


def test_people_are_found_and_keep_their_names_as_photos_arrive(
        engine: Engine, stores: tuple[object, Sealer], lfw: Path, tmp_path: Path) -> None:
    sessions, sealer = stores
    ctx = context_for(sessions, sealer, engine, tmp_path)
    folder = tmp_path / "Pictures"
    copy_photos(lfw, folder, GROUPS)
    copy_photos(lfw, folder, dict.fromkeys(SINGLES, 1))
    first = index_library(ctx, folder, actor="me")
    assert (first.files, first.indexed, first.unchanged, first.unreadable) == (28, 28, 0, {})
    found = people_by_identity(sessions)
    assert all(found[p][1] >= 5 for p in GROUPS), found  # each person, nearly whole
    listed = list_people(sessions)  # type: ignore[arg-type]
    assert {p.ref for p in listed.people} >= {found[p][0] for p in GROUPS}
    assert listed.hidden >= len(SINGLES)  # seen once: listed only with --all
    bush = found["George_W_Bush"][0]
    name_person(sessions, bush, "George", actor="me")  # type: ignore[arg-type]

    copy_photos(lfw, folder, {"George_W_Bush": 3}, first=7)
    copy_photos(lfw, folder, {"Gloria_Macapagal_Arroyo": 4})
    second = index_library(ctx, folder, actor="me")
    assert (second.unchanged, second.indexed) == (28, 7)  # only the new files
    after = people_by_identity(sessions)
    assert after["George_W_Bush"][0] == bush and after["George_W_Bush"][1] >= found["George_W_Bush"][1] + 2
    assert {p.ref: p.name for p in list_people(sessions).people}[bush] == "George"  # type: ignore[arg-type]
    assert after["Gloria_Macapagal_Arroyo"][1] >= 3
    assert after["Gloria_Macapagal_Arroyo"][0] not in {found[p][0] for p in GROUPS}  # a new person
    with sessions() as s:  # type: ignore[operator]
        assert s.scalar(select(func.count()).select_from(LibraryFaceRow)) >= 35  # some photos show others too
        stored = load_faces(s, sealer)[0]
        sealed = s.get(LibraryFaceRow, stored.id).embedding
    assert stored.embedding.tobytes() not in sealed  # sealed, not stored as it is


def test_corrections_hold_and_forgetting_deletes_everything(
        engine: Engine, lfw: Path, tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'lib.db'}")
    sealer = Sealer(os.urandom(32))
    ctx = context_for(sessions, sealer, engine, tmp_path)
    thresholds = LinkThresholds.from_calibration(engine.calibration)  # type: ignore[arg-type]
    folder = tmp_path / "Pictures"
    copy_photos(lfw, folder, {"Colin_Powell": 6, "Tony_Blair": 6})
    index_library(ctx, folder, actor="me")
    found = people_by_identity(sessions)
    powell, blair = found["Colin_Powell"][0], found["Tony_Blair"][0]

    # Merge two different people by mistake, then split them apart again.
    name_person(sessions, powell, "Colin", actor="me")
    assert merge_people(sessions, powell, [blair], actor="me") == found["Tony_Blair"][1]
    with pytest.raises(LibraryError, match="no such person"):
        person_faces(sessions, blair)
    refs = split_person(ctx, powell, [thresholds], actor="me")
    assert refs[0] == powell and len(refs) == 2
    again = people_by_identity(sessions)
    assert again["Colin_Powell"][0] == powell and again["Tony_Blair"][0] == refs[1]
    assert {p.ref: p.name for p in list_people(sessions).people}[powell] == "Colin"

    # "Not this person": the face leaves for good, even when grouping runs again, and even when its
    # file changes (a photo app writing tags into it): the mark follows the face to its new row.
    _, blair_faces = person_faces(sessions, refs[1])
    face, photo = f"F{blair_faces[0].id}", Path(blair_faces[0].path)
    went = not_person(ctx, face, refs[1], thresholds, actor="me")
    assert went != refs[1]

    def face_of(path: Path) -> str:
        with sessions() as s:
            query = select(LibraryFaceRow.id).join(LibraryPhotoRow).where(LibraryPhotoRow.path == str(path))
            return f"F{s.scalar(query)}"

    photo.touch()  # same bytes: nothing is embedded again
    touched = index_library(ctx, folder, actor="me")
    assert (touched.indexed, face_of(photo)) == (0, face)
    photo.write_bytes(photo.read_bytes() + b"tags written by a photo app")  # new bytes, same picture
    rewritten = index_library(ctx, folder, actor="me")
    assert rewritten.indexed == 1 and face_of(photo) != face
    face = face_of(photo)
    assert face not in {f"F{f.id}" for f in person_faces(sessions, refs[1])[1]}
    with pytest.raises(LibraryError, match="not with"):
        not_person(ctx, face, refs[1], thresholds, actor="me")
    # Moving it back by hand pins it there, through later runs.
    move_face(sessions, face, refs[1], actor="me")
    index_library(ctx, folder, actor="me")
    assert face in {f"F{f.id}" for f in person_faces(sessions, refs[1])[1]}

    # Find: the photos of the person in a photo the library has never seen.
    result = find_person(ctx, lfw / "Colin_Powell" / "Colin_Powell_0010.jpg")
    assert result.people[0] == powell
    assert {who(p.path) for p in result.photos} == {"Colin_Powell"}
    assert len(result.photos) == 6
    with pytest.raises(NoFaceError, match="no face"):
        blank = np.full((120, 120), 200, np.uint8)
        find_person(ctx, blank, source="blank.png")

    sheet = contact_sheet(ctx, powell, columns=3)
    with Image.open(__import__("io").BytesIO(sheet)) as image:
        assert image.format == "JPEG" and image.size == (360, 240)

    gone = forget_person(sessions, powell, actor="me")
    assert gone.faces == 6
    with sessions() as s:
        assert s.get(LibraryPersonRow, int(powell[1:])) is None
        left = [who(p) for p in s.scalars(select(LibraryPhotoRow.path).join(
            LibraryFaceRow, LibraryFaceRow.photo_id == LibraryPhotoRow.id))]
        assert "Colin_Powell" not in left  # embeddings and crops deleted with the faces
        assert s.scalar(select(func.count()).select_from(LibraryRejectionRow).where(
            LibraryRejectionRow.person_id == int(powell[1:]))) == 0
        logged = [e.to_json() if hasattr(e, "to_json") else e.__dict__ for e in audit.events(s)]
    assert "Colin" not in str(logged)  # the log holds ids and counts, never a name
    assert [e for e in logged if "library.person.forget" in str(e)]
    assert find_person(ctx, lfw / "Colin_Powell" / "Colin_Powell_0010.jpg").photos == []


def test_bad_input_is_reported_and_the_rest_indexed(engine: Engine, lfw: Path, tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'lib.db'}")
    sealer = Sealer(os.urandom(32))
    ctx = context_for(sessions, sealer, engine, tmp_path)
    folder = tmp_path / "Pictures"
    photos = copy_photos(lfw, folder, {"Tony_Blair": 4, "Serena_Williams": 3})
    (folder / "notes.jpg").write_text("not a photo")
    truncated = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(truncated[: len(truncated) // 3])
    Image.new("RGB", (240, 180), (90, 140, 210)).save(folder / "sky.png")
    shutil.copy(photos[0], folder / "same-bytes.jpg")
    with Image.open(photos[1]) as image:
        image.save(folder / "re-encoded.jpg", quality=55)
    # Photos of someone else (a smaller or blurred copy of a photo in the folder would be a copy of it).
    with Image.open(lfw / "Colin_Powell" / "Colin_Powell_0002.jpg") as image:
        image.resize((70, 70)).save(folder / "tiny.jpg")  # a face of ~30 px: indexed, but unsorted
    with Image.open(lfw / "Colin_Powell" / "Colin_Powell_0003.jpg") as image:
        image.filter(ImageFilter.GaussianBlur(5)).save(folder / "blurred.jpg")
    (folder / "Tony_Blair" / "loop").symlink_to(folder)
    (folder / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")

    summary = index_library(ctx, folder, actor="me")
    assert set(summary.duplicates) == {str(folder / "same-bytes.jpg"), str(folder / "re-encoded.jpg")}
    assert summary.duplicates[str(folder / "re-encoded.jpg")] == str(photos[1])
    assert set(summary.unreadable) == {str(folder / "notes.jpg"), str(folder / "cut.jpg")}
    assert all(reason.startswith(path) for path, reason in summary.unreadable.items())  # one line, names the file
    assert "symbolic link loop" in summary.problems[str(folder / "Tony_Blair" / "loop")]
    assert "broken symbolic link" in summary.problems[str(folder / "dangling.jpg")]
    assert summary.no_faces == 1
    assert summary.unsorted >= 1
    with sessions() as s:
        floor = {who(p): c for p, c in s.execute(select(LibraryPhotoRow.path, LibraryFaceRow.clusterable).join(
            LibraryFaceRow, LibraryFaceRow.photo_id == LibraryPhotoRow.id).where(
            LibraryPhotoRow.path.in_([str(folder / "tiny.jpg"), str(folder / "blurred.jpg")])))}
    assert True not in floor.values() and floor  # too small or blurred: kept out of people
    people = people_by_identity(sessions)
    assert people["Tony_Blair"][1] == 4 and people["Serena_Williams"][1] == 3

    # A removed file goes with its faces; a missing folder changes nothing.
    photos[2].unlink()
    again = index_library(ctx, folder, actor="me")
    assert again.removed == 1 and again.indexed == 0
    assert people_by_identity(sessions)["Tony_Blair"][1] == 3
    with pytest.raises(LibraryError, match="not a folder"):
        index_library(ctx, tmp_path / "unmounted-drive", actor="me")
    with sessions.begin() as s:
        s.query(LibraryFaceRow).update({LibraryFaceRow.profile: "other-model"})
    with pytest.raises(LibraryError, match="'other-model'"):
        index_library(ctx, folder, actor="me")
