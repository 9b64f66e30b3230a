"""Indexing a folder of photos: only new or changed files, resumable, nothing lost to one bad file.

Each batch of photos is written in one transaction with its faces, so a run killed part way keeps
every batch it finished and the next run starts after them: nothing is embedded twice and nothing is
lost. Grouping into people runs on *every* face still without a person, so faces whose run was cut
before grouping are grouped by the next one.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.context import Context
from facesearch.engine import Engine, ImageResult
from facesearch.images import to_jpeg
from facesearch.library.cluster import LinkThresholds
from facesearch.library.disk_photos import DiskPhoto, Fingerprint, fingerprint, near_copies, same_picture, walk_photos
from facesearch.library.records import (
    LibraryError,
    LibraryRefused,
    crop_purpose,
    drop_empty_people,
    embedding_purpose,
    group_new_faces,
    grouping_thresholds,
    library_profile,
)
from facesearch.store.crypto import Sealer
from facesearch.store.schema import LibraryFaceRow, LibraryPhotoRow, LibraryRejectionRow

log = logging.getLogger(__name__)
CROP_SIDE = 150


@dataclass(frozen=True)
class QualityFloor:
    """Faces below these are indexed (and found by ``find``) but kept out of people, as "unsorted":
    tiny or blurred crops are what glue different people together."""

    min_face_size: float = 40.0  # pixels (geometric mean of the box's sides)
    min_sharpness: float = 30.0  # variance of the Laplacian of the normalised crop (blurred: < ~20)
    min_score: float = 0.7  # detector confidence

    def admits(self, face_size: float, sharpness: float, score: float) -> bool:
        return face_size >= self.min_face_size and sharpness >= self.min_sharpness and score >= self.min_score


@dataclass
class IndexSummary:
    """What one ``library index`` run found and did."""

    root: str
    files: int = 0
    unchanged: int = 0
    indexed: int = 0
    faces: int = 0
    unsorted: int = 0
    no_faces: int = 0
    removed: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)  # copy -> the photo it copies
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> reason
    problems: dict[str, str] = field(default_factory=dict)  # walk problems: loops, broken links
    joined_people: int = 0
    new_people: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Known:
    """The library's photos as the run starts, and the copies' keys, grown as the run goes."""

    by_path: dict[str, LibraryPhotoRow]
    by_sha: dict[str, str]
    dhashes: list[int]
    dhash_paths: list[str]
    _array: NDArray[np.uint64] | None = None

    def hash_array(self) -> NDArray[np.uint64]:
        """The hashes as one array, grown in place (not rebuilt for every photo of a large library)."""
        if self._array is None or len(self._array) < len(self.dhashes):
            grown = np.zeros(max(1024, 2 * len(self.dhashes)), np.uint64)
            grown[: len(self.dhashes)] = np.array(self.dhashes, np.uint64)
            self._array = grown
        return self._array[: len(self.dhashes)]

    def add_hash(self, dhash: int, path: str) -> None:
        self.dhashes.append(dhash)
        self.dhash_paths.append(path)
        if self._array is not None and len(self.dhashes) <= len(self._array):
            self._array[len(self.dhashes) - 1] = dhash


def _load_known(s: Session) -> _Known:
    rows = list(s.scalars(select(LibraryPhotoRow)))
    for row in rows:
        s.expunge(row)
    originals = [r for r in rows if r.status in ("faces", "no_faces") and r.sha256]
    return _Known({r.path: r for r in rows}, {r.sha256: r.path for r in originals if r.sha256},
                  [int(r.dhash, 16) for r in originals if r.dhash], [r.path for r in originals if r.dhash])


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def index_library(
    ctx: Context,
    root: Path,
    *,
    actor: str,
    floor: QualityFloor | None = None,
    thresholds: LinkThresholds | None = None,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> IndexSummary:
    """Index new and changed photos under ``root``, forget removed ones, and group new faces into people.

    Example:
        >>> summary = index_library(Context.open(), Path("~/Pictures").expanduser(), actor="me")
        >>> summary.indexed, summary.new_people
    """
    engine, sessions, sealer = ctx.engine(), ctx.sessions, ctx.sealer
    began = time.perf_counter()
    floor = floor or QualityFloor()
    thresholds = thresholds or grouping_thresholds(engine)
    root = root.expanduser().absolute()
    if not root.is_dir():
        # A missing folder is often an unmounted drive: never read it as "every photo was deleted".
        raise LibraryError(str(root), "not a folder (nothing was changed)")
    with sessions() as s:
        profile = library_profile(s)
        known = _load_known(s)
    if profile is not None and profile != engine.profile:
        raise LibraryRefused(str(root), f"the library was indexed with the model profile {profile!r}, not "
                                      f"{engine.profile!r}; use --model {profile}")
    walked = walk_photos(root)
    summary = IndexSummary(root=str(root), files=len(walked.photos), problems=walked.problems)

    # Files gone from disk since the last run: their faces go with them.
    on_disk = {p.path for p in walked.photos}
    gone = [row.id for path, row in known.by_path.items() if _is_under(path, str(root)) and path not in on_disk]
    if gone:
        with sessions.begin() as s:
            for start in range(0, len(gone), 500):
                s.query(LibraryPhotoRow).filter(LibraryPhotoRow.id.in_(gone[start:start + 500])).delete(
                    synchronize_session=False)
            drop_empty_people(s)
        summary.removed = len(gone)

    todo: list[DiskPhoto] = []
    for photo in walked.photos:
        row = known.by_path.get(photo.path)
        if row is not None and row.size == photo.size and row.mtime_ns == photo.mtime_ns:
            summary.unchanged += 1
            continue
        todo.append(photo)  # new, or changed since it was indexed (its old row is replaced)
    if on_total is not None:
        on_total(len(todo))
    _index_files(engine, sessions, sealer, todo, known, summary, floor, batch_size, progress)

    with sessions.begin() as s:
        drop_empty_people(s)  # people whose every photo changed or went
        grouped = group_new_faces(s, sealer, thresholds)
        summary.joined_people, summary.new_people = grouped.joined, grouped.new_people
        summary.seconds = round(time.perf_counter() - began, 2)
        audit.append(s, actor=actor, action=AuditAction.LIBRARY_INDEX, subject="library",
                     details={k: v if isinstance(v, int | float) else len(v) for k, v in summary.to_json().items()
                              if k != "root"})
    return summary


def _index_files(engine: Engine, sessions: sessionmaker[Session], sealer: Sealer, todo: list[DiskPhoto],
                 known: _Known, summary: IndexSummary, floor: QualityFloor, batch_size: int,
                 progress: Callable[[int], None] | None) -> None:
    """Fingerprint, set copies aside, embed the rest, and write them batch by batch."""
    copies: list[tuple[DiskPhoto, Fingerprint, str]] = []
    touched: list[DiskPhoto] = []
    queued: deque[tuple[DiskPhoto, Fingerprint]] = deque()

    def originals(prints: Iterator[tuple[DiskPhoto, Fingerprint | OSError]]) -> Iterator[str]:
        for photo, found in prints:
            if isinstance(found, OSError):
                summary.unreadable[photo.path] = f"{photo.path}: cannot read ({found.strerror or found})"
                _write(sessions, [(photo, None, "unreadable", summary.unreadable[photo.path], None)], sealer,
                       engine.profile, floor, summary)
                if progress is not None:
                    progress(1)
                continue
            before = known.by_path.get(photo.path)
            if before is not None and before.sha256 == found.sha256:  # touched, not changed: keep its faces
                touched.append(photo)
                if progress is not None:
                    progress(1)
                continue
            original = known.by_sha.get(found.sha256)
            if original is None and found.dhash is not None:
                candidates = near_copies(found.dhash, known.hash_array())
                original = next((known.dhash_paths[i] for i in candidates
                                 if same_picture(photo.path, known.dhash_paths[i])), None)
            if original is not None and original != photo.path:
                copies.append((photo, found, original))
                if progress is not None:
                    progress(1)
                continue
            known.by_sha[found.sha256] = photo.path
            if found.dhash is not None:
                known.add_hash(found.dhash, photo.path)
            queued.append((photo, found))
            yield photo.path

    def read(photo: DiskPhoto) -> tuple[DiskPhoto, Fingerprint | OSError]:
        try:
            return photo, fingerprint(photo.path)
        except OSError as exc:
            return photo, exc

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fingerprint") as pool:
        batch: list[tuple[DiskPhoto, Fingerprint | None, str, str | None, ImageResult | None]] = []
        for result in engine.analyze_many(originals(pool.map(read, todo)), chips=True, batch_size=batch_size):
            photo, found = queued.popleft()
            if not result.ok:
                summary.unreadable[photo.path] = result.error or "unreadable"
                batch.append((photo, found, "unreadable", result.error, None))
            elif result.faces is None or len(result.faces) == 0:
                summary.no_faces += 1
                batch.append((photo, found, "no_faces", None, None))
            else:
                batch.append((photo, found, "faces", None, result))
            if len(batch) >= batch_size:
                _write(sessions, batch, sealer, engine.profile, floor, summary)
                batch = []
            if progress is not None:
                progress(1)
        _write(sessions, batch, sealer, engine.profile, floor, summary)
    if touched:
        with sessions.begin() as s:
            for photo in touched:
                s.query(LibraryPhotoRow).filter(LibraryPhotoRow.path == photo.path).update(
                    {LibraryPhotoRow.size: photo.size, LibraryPhotoRow.mtime_ns: photo.mtime_ns})
        summary.unchanged += len(touched)
    # Copies last: the photos they copy are written by now.
    if copies:
        with sessions.begin() as s:
            for photo, found, original in copies:
                s.query(LibraryPhotoRow).filter(LibraryPhotoRow.path == photo.path).delete()
                of = s.scalar(select(LibraryPhotoRow.id).where(LibraryPhotoRow.path == original))
                s.add(LibraryPhotoRow(path=photo.path, size=photo.size, mtime_ns=photo.mtime_ns, sha256=found.sha256,
                                      dhash=None if found.dhash is None else f"{found.dhash:016x}", status="duplicate",
                                      reason=f"a copy of {original}", duplicate_of=of, indexed_at=datetime.now(UTC)))
                summary.duplicates[photo.path] = original


@dataclass(frozen=True)
class _Correction:
    """What a person said about a face of a file that has since changed (its tags edited, say)."""

    box: list[float]
    person_id: int | None
    pinned: bool
    rejected: tuple[int, ...]


def _corrections(s: Session, photo_ids: list[int]) -> dict[str, list[_Correction]]:
    """The people, pins and "not this person" marks of the faces of photos about to be replaced."""
    if not photo_ids:
        return {}
    rejected: dict[int, list[int]] = {}
    query = select(LibraryRejectionRow).join(LibraryFaceRow).where(LibraryFaceRow.photo_id.in_(photo_ids))
    for mark in s.scalars(query):
        rejected.setdefault(mark.face_id, []).append(mark.person_id)
    out: dict[str, list[_Correction]] = {}
    for face, path in s.execute(select(LibraryFaceRow, LibraryPhotoRow.path).join(LibraryPhotoRow).where(
            LibraryFaceRow.photo_id.in_(photo_ids))):
        out.setdefault(path, []).append(_Correction(list(face.box), face.person_id, face.pinned,
                                                    tuple(rejected.get(face.id, ()))))
    return out


def _same_face(before: list[_Correction], box: list[float]) -> _Correction | None:
    """The face of the file's earlier version in the same place (boxes overlapping by half or more)."""
    def iou(a: list[float], b: list[float]) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    best = max(before, key=lambda c: iou(c.box, box), default=None)
    return best if best is not None and iou(best.box, box) >= 0.5 else None


def _write(sessions: sessionmaker[Session],
           batch: list[tuple[DiskPhoto, Fingerprint | None, str, str | None, ImageResult | None]], sealer: Sealer,
           profile: str, floor: QualityFloor, summary: IndexSummary) -> None:
    """One transaction: the batch's photos (replacing changed files' old rows) and their faces."""
    if not batch:
        return
    now = datetime.now(UTC)
    with sessions.begin() as s:
        paths = [photo.path for photo, *_ in batch]
        old = list(s.scalars(select(LibraryPhotoRow.id).where(LibraryPhotoRow.path.in_(paths))))
        kept = _corrections(s, old)
        if old:
            s.query(LibraryPhotoRow).filter(LibraryPhotoRow.id.in_(old)).delete(synchronize_session=False)
        for photo, found, status, reason, result in batch:
            row = LibraryPhotoRow(path=photo.path, size=photo.size, mtime_ns=photo.mtime_ns,
                                  sha256=None if found is None else found.sha256,
                                  dhash=None if found is None or found.dhash is None else f"{found.dhash:016x}",
                                  status=status, reason=reason, indexed_at=now)
            s.add(row)
            if result is None or result.faces is None:
                continue
            s.flush()
            faces, sha = result.faces, row.sha256 or ""
            for i in range(len(faces)):
                clusterable = floor.admits(float(faces.face_size[i]), float(faces.sharpness[i]),
                                           float(faces.scores[i]))
                box = [round(float(v), 1) for v in faces.boxes[i]]
                same = _same_face(kept.get(photo.path, []), box)
                face = LibraryFaceRow(
                    photo_id=row.id, person_id=same.person_id if same else None, face_index=i, box=box,
                    face_size=float(faces.face_size[i]), sharpness=float(faces.sharpness[i]), clusterable=clusterable,
                    pinned=same.pinned if same else False, profile=profile,
                    embedding=sealer.seal_vector(faces.embeddings[i], embedding_purpose(sha, i, profile)),
                    crop=sealer.seal(to_jpeg(faces.chips[i], CROP_SIDE, quality=85), crop_purpose(sha, i)))
                s.add(face)
                if same and same.rejected:
                    s.flush()
                    s.add_all(LibraryRejectionRow(face_id=face.id, person_id=p) for p in same.rejected)
                summary.faces += 1
                summary.unsorted += 0 if clusterable else 1
        summary.indexed += sum(1 for _, _, status, _, _ in batch if status in ("faces", "no_faces"))
