"""What a person does with the library's people: list, name, merge, split, move a face, "not this
person", forget. Every change is audited by id and count only: a name or a face never enters the
append-only log, so that forgetting a person leaves nothing about them behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.context import Context
from facesearch.library.cluster import LinkThresholds, link
from facesearch.library.records import (
    LibraryError,
    crop_purpose,
    drop_empty_people,
    face_row,
    group_new_faces,
    load_faces,
    person_row,
    set_people,
)
from facesearch.refs import face_ref, person_ref
from facesearch.store import sealed_text
from facesearch.store.schema import LibraryFaceRow, LibraryPersonRow, LibraryPhotoRow, LibraryRejectionRow
from facesearch.text import require_plain

MIN_SHOWN = 2  # people with fewer faces are listed only with --all (unless named)


@dataclass(frozen=True)
class PersonSummary:
    """One person of the library as listed: id, name, face and photo counts, and a sample face."""

    id: int
    name: str | None
    faces: int
    photos: int
    sample_face: int | None
    sample_photo: str | None

    @property
    def ref(self) -> str:
        return person_ref(self.id)

    def to_json(self) -> dict[str, object]:
        return {"id": self.ref, "name": self.name, "faces": self.faces, "photos": self.photos,
                "sample_face": None if self.sample_face is None else face_ref(self.sample_face),
                "sample_photo": self.sample_photo}


@dataclass(frozen=True)
class PeopleList:
    people: list[PersonSummary]
    hidden: int  # people with fewer than MIN_SHOWN faces, not listed
    unsorted: int  # faces below the quality floor, in no person

    def to_json(self) -> dict[str, object]:
        return {"people": [p.to_json() for p in self.people], "hidden_small": self.hidden, "unsorted": self.unsorted}


@dataclass(frozen=True)
class LibraryFace:
    """A face as shown in a person's page: where it is, and whether it counts towards people."""

    id: int
    person_id: int | None
    path: str
    box: list[float]
    face_size: float
    clusterable: bool
    pinned: bool

    def to_json(self) -> dict[str, object]:
        return {"id": face_ref(self.id), "person": None if self.person_id is None else person_ref(self.person_id),
                "photo": self.path, "box": self.box, "face_size": round(self.face_size, 1),
                "unsorted": not self.clusterable, "pinned": self.pinned}


def _faces_query() -> Select[LibraryFaceRow, str]:
    return (select(LibraryFaceRow, LibraryPhotoRow.path).join(LibraryPhotoRow,
                                                              LibraryPhotoRow.id == LibraryFaceRow.photo_id)
            .order_by(LibraryFaceRow.id))


def _face(row: LibraryFaceRow, path: str) -> LibraryFace:
    return LibraryFace(row.id, row.person_id, path, list(row.box), row.face_size, row.clusterable, row.pinned)


def _sample_rank(face: LibraryFaceRow | LibraryFace) -> tuple[bool, float]:
    """A person's sample face: the largest of those sharp enough to group."""
    return face.clusterable, face.face_size


def list_people(sessions: sessionmaker[Session], *, everyone: bool = False, name: str | None = None) -> PeopleList:
    """People, largest first (named people always listed); the sample is each one's largest sharp face.

    With ``name``, only the people of that name (compared case-folded, spaces collapsed), found through the
    names' keyed blind index rather than by opening every name."""
    with sessions() as s:
        rows = list(s.execute(_faces_query().where(LibraryFaceRow.person_id.is_not(None))))
        people_rows = select(LibraryPersonRow)
        if name is not None:
            people_rows = people_rows.where(sealed_text.index_matches(s, LibraryPersonRow, name))
        names = {p.id: sealed_text.get(s, p, "name") for p in s.scalars(people_rows)
                 if name is None or sealed_text.name_is(s, p, name)}
        unsorted = s.scalar(select(func.count()).select_from(LibraryFaceRow).where(
            LibraryFaceRow.person_id.is_(None))) or 0
    members: dict[int, list[tuple[LibraryFaceRow, str]]] = defaultdict(list)
    for face, path in rows:
        if face.person_id is not None:
            members[face.person_id].append((face, path))
    people, hidden = [], 0
    for pid, shown in names.items():
        faces = members.get(pid, [])
        if not everyone and shown is None and len(faces) < MIN_SHOWN:
            hidden += 1
            continue
        best = max(faces, key=lambda fp: _sample_rank(fp[0]), default=None)
        people.append(PersonSummary(pid, shown, len(faces), len({f.photo_id for f, _ in faces}),
                                    None if best is None else best[0].id, None if best is None else best[1]))
    people.sort(key=lambda p: (-p.faces, p.id))
    return PeopleList(people, hidden, unsorted)


def person_faces(sessions: sessionmaker[Session], ref: str) -> tuple[PersonSummary, list[LibraryFace]]:
    """A person and their faces (one per photo row, in the order they were found)."""
    with sessions() as s:
        person = person_row(s, ref)
        faces = [_face(f, path) for f, path in s.execute(_faces_query().where(LibraryFaceRow.person_id == person.id))]
        name = sealed_text.get(s, person, "name")
    best = max(faces, key=_sample_rank, default=None)
    summary = PersonSummary(person.id, name, len(faces), len({f.path for f in faces}),
                            None if best is None else best.id, None if best is None else best.path)
    return summary, faces


def name_person(sessions: sessionmaker[Session], ref: str, name: str, *, actor: str) -> None:
    name = name.strip()
    if not name or len(name) > 300:
        raise LibraryError(ref, "a name must be 1 to 300 characters")
    require_plain("name", name)
    with sessions.begin() as s:
        person = person_row(s, ref)
        sealed_text.put(s, person, {"name": name})  # sealed, with its blind index
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_PERSON_NAME, subject=person_ref(person.id))


def merge_people(sessions: sessionmaker[Session], into: str, others: list[str], *, actor: str) -> int:
    """Move every face of ``others`` into ``into``; returns the number of faces moved.

    ``into`` keeps its name; when it has none, it takes the first name among ``others``. Faces the
    person placed by hand stay pinned. "Not this person" marks against the merged people now hold
    against ``into``.
    """
    with sessions.begin() as s:
        target = person_row(s, into)
        sources = [person_row(s, ref) for ref in others]
        if any(p.id == target.id for p in sources):
            raise LibraryError(into, "cannot merge a person into themselves")
        moved = 0
        for source in sources:
            if sealed_text.get(s, target, "name") is None and sealed_text.get(s, source, "name") is not None:
                sealed_text.put(s, target, {"name": sealed_text.get(s, source, "name")})
            faces = list(s.scalars(select(LibraryFaceRow.id).where(LibraryFaceRow.person_id == source.id)))
            set_people(s, dict.fromkeys(faces, target.id))
            for face_id, in s.execute(select(LibraryRejectionRow.face_id).where(
                    LibraryRejectionRow.person_id == source.id)):
                if s.get(LibraryRejectionRow, (face_id, target.id)) is None:
                    s.add(LibraryRejectionRow(face_id=face_id, person_id=target.id))
            s.flush()
            s.delete(source)
            moved += len(faces)
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_PERSON_MERGE, subject=person_ref(target.id),
                     details={"merged": [person_ref(p.id) for p in sources], "faces": moved})
    return moved


def split_person(ctx: Context, ref: str, attempts: Sequence[LinkThresholds], *, actor: str) -> list[str]:
    """Re-group one person's faces, trying ``attempts`` in turn (the usual thresholds first: undoes a
    wrong merge; then stricter ones) until they form several groups. The largest group keeps the
    person (and name); each other group becomes a new person. Returns the people's ids, the kept first.

    Faces placed by hand stay with the person. When the faces form one group every time, nothing changes.
    """
    sessions, sealer = ctx.sessions, ctx.sealer
    with sessions.begin() as s:
        person = person_row(s, ref)
        faces = load_faces(s, sealer, person_ids=[person.id])
        pinned = set(s.scalars(select(LibraryFaceRow.id).where(LibraryFaceRow.person_id == person.id,
                                                               LibraryFaceRow.pinned.is_(True))))
        free = [f for f in faces if f.id not in pinned]
        if len(free) < 2:
            return [person_ref(person.id)]
        groups: list[list[int]] = []
        for thresholds in attempts:
            groups = link(np.stack([f.embedding for f in free]), [f.photo_id for f in free], thresholds).new_people
            if len(groups) >= 2:
                break
        if len(groups) < 2:
            return [person_ref(person.id)]
        refs = [person_ref(person.id)]
        now = datetime.now(UTC)
        assign: dict[int, int | None] = {}
        for members in groups[1:]:
            new = LibraryPersonRow(name=None, created_at=now)
            s.add(new)
            s.flush()
            refs.append(person_ref(new.id))
            for i in members:
                assign[free[i].id] = new.id
        set_people(s, assign)
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_PERSON_SPLIT, subject=person_ref(person.id),
                     details={"into": refs, "faces": len(faces)})
    return refs


def move_face(sessions: sessionmaker[Session], face: str, to: str, *, actor: str) -> None:
    """Put a face with a person, by hand: it is pinned there, and no later grouping moves it."""
    with sessions.begin() as s:
        row = face_row(s, face)
        person = person_row(s, to)
        row.person_id, row.pinned = person.id, True
        s.execute(delete(LibraryRejectionRow).where(LibraryRejectionRow.face_id == row.id,
                                                    LibraryRejectionRow.person_id == person.id))
        s.flush()
        drop_empty_people(s)  # the face may have been someone's only one
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_FACE_MOVE, subject=face_ref(row.id),
                     details={"to": person_ref(person.id)})


def not_person(ctx: Context, face: str, person: str, thresholds: LinkThresholds, *, actor: str) -> str | None:
    """"This face is not that person": it leaves them for good, and is grouped again (with someone
    else, or on its own). Returns where it went (a person id, or ``None`` for unsorted)."""
    sessions, sealer = ctx.sessions, ctx.sealer
    with sessions.begin() as s:
        row = face_row(s, face)
        target = person_row(s, person)
        if row.person_id != target.id:
            now_with = "nobody (unsorted)" if row.person_id is None else person_ref(row.person_id)
            raise LibraryError(face, f"this face is not with {person_ref(target.id)} but with {now_with}")
        if s.get(LibraryRejectionRow, (row.id, target.id)) is None:
            s.add(LibraryRejectionRow(face_id=row.id, person_id=target.id))
        row.person_id, row.pinned = None, False
        s.flush()
        group_new_faces(s, sealer, thresholds)
        s.flush()
        s.refresh(row)
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_FACE_NOT, subject=face_ref(row.id),
                     details={"person": person_ref(target.id)})
        return None if row.person_id is None else person_ref(row.person_id)


@dataclass(frozen=True)
class Forgotten:
    person: str
    faces: int
    photos: int


def forget_person(sessions: sessionmaker[Session], ref: str, *, actor: str) -> Forgotten:
    """Delete a person and everything about them: their faces' embeddings and crops, "not this person"
    marks, and their name. Their photo files are the user's and are not touched."""
    with sessions.begin() as s:
        person = person_row(s, ref)
        faces = list(s.execute(select(LibraryFaceRow.id, LibraryFaceRow.photo_id).where(
            LibraryFaceRow.person_id == person.id)))
        face_ids = [f for f, _ in faces]
        for start in range(0, len(face_ids), 500):
            s.execute(delete(LibraryFaceRow).where(LibraryFaceRow.id.in_(face_ids[start:start + 500])))
        s.execute(delete(LibraryRejectionRow).where(LibraryRejectionRow.person_id == person.id))
        s.delete(person)
        done = Forgotten(person_ref(person.id), len(face_ids), len({p for _, p in faces}))
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_PERSON_FORGET, subject=done.person,
                     details={"faces": done.faces, "photos": done.photos})
    return done


def photo_preview(sessions: sessionmaker[Session], face: str, max_side: int = 1600) -> bytes:
    """The photo a face is in, as a JPEG of at most ``max_side`` pixels, decoded and re-encoded: the
    file's metadata (place, camera, dates) is not passed on."""
    from pathlib import Path

    from facesearch.images import load_image, to_jpeg

    with sessions() as s:
        row = face_row(s, face)
        path = s.scalar(select(LibraryPhotoRow.path).where(LibraryPhotoRow.id == row.photo_id)) or ""
    if not Path(path).is_file():
        raise LibraryError(face, f"its photo is no longer on disk ({path})")
    return to_jpeg(load_image(Path(path)).pixels, max_side)


def open_crop(ctx: Context, face: str) -> bytes:
    """A face's crop (JPEG), opened."""
    sessions, sealer = ctx.sessions, ctx.sealer
    with sessions() as s:
        row = face_row(s, face)
        sha = s.scalar(select(LibraryPhotoRow.sha256).where(LibraryPhotoRow.id == row.photo_id)) or ""
        return sealer.open(row.crop, crop_purpose(sha, row.face_index))
