"""Reading and writing the library's faces and people; grouping new faces into people.

Embeddings and crops are sealed like gallery templates, each bound to its photo's bytes and its place
in the photo, so a sealed value copied to another row does not open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facesearch.errors import FacesearchError, NotFoundError, RefusedError
from facesearch.library.cluster import Group, LinkThresholds, group_from, link
from facesearch.refs import RefKind, parse_ref
from facesearch.store.crypto import Sealer
from facesearch.store.schema import LibraryFaceRow, LibraryPersonRow, LibraryPhotoRow, LibraryRejectionRow

if TYPE_CHECKING:
    from facesearch.calibration import Calibration
    from facesearch.engine import Engine


class LibraryError(FacesearchError):
    """A library command cannot be carried out as asked (a wrong folder, a bad name)."""


class LibraryNotFound(LibraryError, NotFoundError):
    """No person or face in the library has this reference."""


class LibraryRefused(LibraryError, RefusedError):
    """The library's state forbids it (another model profile, a photo gone from disk)."""


def calibration_of(engine: Engine) -> Calibration:
    """The engine's score calibration: grouping and finding are set by false-match rates."""
    if engine.calibration is None:
        raise LibraryError(engine.profile, "profile is not calibrated: the library needs calibrated scores "
                                           "('facesearch eval lfw --save-calibration')")
    return engine.calibration


def grouping_thresholds(engine: Engine) -> LinkThresholds:
    """The thresholds people are grouped with, from the engine's calibration."""
    return LinkThresholds.from_calibration(calibration_of(engine))


def embedding_purpose(sha256: str, face_index: int, profile: str) -> str:
    return f"library/embedding/{sha256}/{face_index}/{profile}"


def crop_purpose(sha256: str, face_index: int) -> str:
    return f"library/crop/{sha256}/{face_index}"




@dataclass(frozen=True)
class StoredFace:
    """A face read back from the library, embedding opened."""

    id: int
    photo_id: int
    person_id: int | None
    path: str
    embedding: NDArray[np.float32]


def load_faces(s: Session, sealer: Sealer, *, clusterable_only: bool = True,
               person_ids: Iterable[int] | None = None) -> list[StoredFace]:
    """Faces with their opened embeddings (all clusterable ones, or those of some people)."""
    query = (select(LibraryFaceRow.id, LibraryFaceRow.photo_id, LibraryFaceRow.person_id, LibraryFaceRow.face_index,
                    LibraryFaceRow.profile, LibraryFaceRow.embedding, LibraryPhotoRow.sha256, LibraryPhotoRow.path)
             .join(LibraryPhotoRow, LibraryPhotoRow.id == LibraryFaceRow.photo_id).order_by(LibraryFaceRow.id))
    if clusterable_only:
        query = query.where(LibraryFaceRow.clusterable.is_(True))
    if person_ids is not None:
        query = query.where(LibraryFaceRow.person_id.in_(list(person_ids)))
    out = []
    for fid, pid, person, index, profile, sealed, sha, path in s.execute(query):
        vector = sealer.open_vector(sealed, embedding_purpose(sha or "", index, profile))
        out.append(StoredFace(fid, pid, person, path, vector))
    return out


def library_profile(s: Session) -> str | None:
    """The model profile the library's faces were embedded with (one per library)."""
    return s.scalar(select(LibraryFaceRow.profile).limit(1))


def drop_empty_people(s: Session) -> int:
    """Delete unnamed people left with no faces (named ones stay until forgotten: their photos may be
    on a drive that is not mounted right now)."""
    with_faces = select(LibraryFaceRow.person_id).where(LibraryFaceRow.person_id.is_not(None)).distinct()
    result = s.execute(delete(LibraryPersonRow).where(LibraryPersonRow.name.is_(None),
                                                      LibraryPersonRow.name_sealed.is_(None),  # named: sealed
                                                      LibraryPersonRow.id.not_in(with_faces)))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class GroupingSummary:
    """What one grouping pass did: faces that joined existing people, and people it created."""

    joined: int
    new_people: int


def group_new_faces(s: Session, sealer: Sealer, thresholds: LinkThresholds) -> GroupingSummary:
    """Give every clusterable face without a person one: an existing person's, or a new person's.

    Existing people are never merged or renamed here; faces a person placed stay where they are.
    """
    faces = load_faces(s, sealer)
    new = [f for f in faces if f.person_id is None]
    if not new:
        return GroupingSummary(0, 0)
    old = [f for f in faces if f.person_id is not None]
    by_person: dict[int, list[StoredFace]] = defaultdict(list)
    for f in old:
        assert f.person_id is not None
        by_person[f.person_id].append(f)
    groups: list[Group] = []
    group_index: dict[int, int] = {}
    for person, members in by_person.items():
        group_index[person] = len(groups)
        groups.append(group_from(person, np.stack([m.embedding for m in members]), [m.photo_id for m in members]))
    rejections: dict[int, set[int]] = defaultdict(set)
    new_position = {f.id: i for i, f in enumerate(new)}
    for face_id, person_id in s.execute(select(LibraryRejectionRow.face_id, LibraryRejectionRow.person_id)):
        if face_id in new_position:
            rejections[new_position[face_id]].add(person_id)
    dim = new[0].embedding.shape[0]
    result = link(np.stack([f.embedding for f in new]), [f.photo_id for f in new], thresholds, groups=groups,
                  group_faces=np.stack([f.embedding for f in old]) if old else np.zeros((0, dim), np.float32),
                  group_of_face=[group_index[f.person_id] for f in old if f.person_id is not None],
                  forbidden=rejections)
    assign: dict[int, int | None] = {new[i].id: key for i, key in result.joined.items()}
    now = datetime.now(UTC)
    for faces_of_new in result.new_people:
        created = LibraryPersonRow(name=None, created_at=now)
        s.add(created)
        s.flush()
        for i in faces_of_new:
            assign[new[i].id] = created.id
    set_people(s, assign)
    return GroupingSummary(len(result.joined), len(result.new_people))


def set_people(s: Session, assign: dict[int, int | None]) -> None:
    """Set faces' people in few statements (one per person)."""
    by_person: dict[int | None, list[int]] = defaultdict(list)
    for face, person in assign.items():
        by_person[person].append(face)
    for person, face_ids in by_person.items():
        for start in range(0, len(face_ids), 500):
            s.query(LibraryFaceRow).filter(LibraryFaceRow.id.in_(face_ids[start:start + 500])).update(
                {LibraryFaceRow.person_id: person}, synchronize_session=False)


def person_row(s: Session, ref: str) -> LibraryPersonRow:
    row = s.get(LibraryPersonRow, parse_ref(ref, RefKind.PERSON))
    if row is None:
        raise LibraryNotFound(ref, "no such person in the library")
    return row


def face_row(s: Session, ref: str) -> LibraryFaceRow:
    row = s.get(LibraryFaceRow, parse_ref(ref, RefKind.FACE))
    if row is None:
        raise LibraryNotFound(ref, "no such face in the library")
    return row
