"""Finding a person across the library from one photo of them, and their contact sheet.

``find`` compares the query face with every face in the library (unsorted ones too) and keeps those
at or above the calibrated threshold for the chosen false-match rate. Photos of the people those
matches belong to are added as "via the person": the grouping found them, not the query.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy import select

from facesearch.context import Context
from facesearch.errors import NoFaceError
from facesearch.images import ImageInput
from facesearch.library.people import open_crop, person_faces
from facesearch.library.records import calibration_of, load_faces
from facesearch.refs import face_ref, person_ref
from facesearch.store.schema import LibraryPhotoRow

FIND_FMR = 1e-5


@dataclass(frozen=True)
class FoundPhoto:
    """A photo where the person appears: the best-scoring face in it, or the person it was found through."""

    path: str
    score: float | None  # None when found through the person, not by the query
    person: str | None
    via_person: bool

    def to_json(self) -> dict[str, object]:
        return {"photo": self.path, "score": None if self.score is None else round(self.score, 4),
                "person": self.person, "via_person": self.via_person}


@dataclass(frozen=True)
class FindResult:
    query: str
    threshold: float
    fmr: float
    photos: list[FoundPhoto]
    people: list[str]  # the people the direct matches belong to, most matches first

    def to_json(self) -> dict[str, object]:
        return {"query": self.query, "threshold": round(self.threshold, 4), "fmr": self.fmr,
                "people": self.people, "photos": [p.to_json() for p in self.photos]}


def find_person(ctx: Context, photo: ImageInput, *, fmr: float = FIND_FMR, source: str | None = None,
                expand: bool = True) -> FindResult:
    """The library's photos of the person in ``photo`` (its largest face).

    Example:
        >>> result = find_person(Context.open(), "friend.jpg")
        >>> [p.path for p in result.photos]
    """
    engine, sessions, sealer = ctx.engine(), ctx.sessions, ctx.sealer
    faces = engine.analyze(photo, source=source)
    name = source or faces.source
    if len(faces) == 0:
        raise NoFaceError(name, "no face found in the query photo")
    query = faces.embeddings[faces.largest()]
    threshold = calibration_of(engine).operating_threshold(fmr, subject=name, advice="choose a larger --fmr")[0]
    with sessions() as s:
        stored = load_faces(s, sealer, clusterable_only=False)
        duplicates = list(s.execute(select(LibraryPhotoRow.path, LibraryPhotoRow.duplicate_of).where(
            LibraryPhotoRow.status == "duplicate")))
        paths = dict(s.execute(select(LibraryPhotoRow.id, LibraryPhotoRow.path)).all())
    best: dict[str, FoundPhoto] = {}
    hits: Counter[int] = Counter()
    if stored:
        scores = np.stack([f.embedding for f in stored]) @ query
        for face, score in zip(stored, scores.tolist(), strict=True):
            if score < threshold:
                continue
            if face.person_id is not None:
                hits[face.person_id] += 1
            current = best.get(face.path)
            if current is None or (current.score or 0) < score:
                best[face.path] = FoundPhoto(face.path, score, None if face.person_id is None else
                                             person_ref(face.person_id), False)
    people = [person_ref(p) for p, _ in hits.most_common()]
    if expand:
        for ref in people:
            _, members = person_faces(sessions, ref)
            for member in members:
                best.setdefault(member.path, FoundPhoto(member.path, None, ref, True))
    for copy, original in duplicates:  # a copy of a photo found shows the same moment
        found = best.get(paths.get(original, "")) if original is not None else None
        if found is not None:
            best.setdefault(copy, FoundPhoto(copy, found.score, found.person, found.via_person))
    ordered = sorted(best.values(), key=lambda p: (p.via_person, -(p.score or 0.0), p.path))
    return FindResult(name, threshold, fmr, ordered, people)


def contact_sheet(ctx: Context, ref: str, *, columns: int = 8, limit: int = 96, side: int = 120) -> bytes:
    """A JPEG grid of a person's faces (largest first), ``columns`` wide, at most ``limit`` faces."""
    _, faces = person_faces(ctx.sessions, ref)
    chosen = sorted(faces, key=lambda f: (-f.face_size, f.id))[:limit]
    columns = max(1, min(columns, len(chosen) or 1))
    rows = max(1, -(-len(chosen) // columns))
    sheet = Image.new("RGB", (columns * side, rows * side), (246, 247, 249))
    for i, face in enumerate(chosen):
        with Image.open(io.BytesIO(open_crop(ctx, face_ref(face.id)))) as crop:
            tile = crop.convert("RGB").resize((side - 4, side - 4), Image.Resampling.LANCZOS)
        sheet.paste(tile, ((i % columns) * side + 2, (i // columns) * side + 2))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=88)
    return out.getvalue()
