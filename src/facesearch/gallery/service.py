"""Enrolment and gallery reads: identities and their sealed templates, one transaction per identity.

An identity and all of its accepted templates are written in one transaction together with the audit
entry that records them, so a killed process leaves either the whole enrolment or none of it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.calibration import MAX_SCORE, Calibration
from facesearch.calibration_store import in_force
from facesearch.errors import FacesearchError
from facesearch.gallery.policy import EnrolmentPolicy, EnrolmentRefused, choose_face
from facesearch.images import read_file, to_jpeg
from facesearch.index.cache import IndexCache
from facesearch.index.gallery_index import GalleryIndex, fingerprint
from facesearch.store import sealed_text
from facesearch.store.crypto import Sealer
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import CaseTargetRow, EnrolmentPhotoRow, IdentityRow, TemplateRow
from facesearch.text import require_plain

if TYPE_CHECKING:
    from facesearch.engine import Engine  # the models' runtimes load with an engine, not with this module
    from facesearch.faces import Faces
    from facesearch.images import LoadedImage

log = logging.getLogger(__name__)


PHOTO_SIDE = 480  # enrolment photos are kept this large (longer side) for reviewers


def photo_purpose(template_id: int) -> str:
    return f"enrolment-photo:{template_id}"


def enrolment_photos(sessions: sessionmaker[Session], sealer: Sealer, identity_id: int) -> list[bytes]:
    """The identity's enrolment photos (JPEG), for reviewers; none once its templates are deleted."""
    with sessions() as s:
        rows = s.execute(select(EnrolmentPhotoRow).join(TemplateRow, TemplateRow.id == EnrolmentPhotoRow.template_id)
                         .where(TemplateRow.identity_id == identity_id).order_by(TemplateRow.id)).scalars().all()
        return [sealer.open(r.sealed, photo_purpose(r.template_id)) for r in rows]


@dataclass(frozen=True)
class IdentitySummary:
    """An enrolled person as listed: name, who enrolled them and when, and how many templates they have."""

    id: int
    name: str
    templates: int
    created_by: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "templates": self.templates, "created_by": self.created_by,
                "created_at": self.created_at.isoformat()}


def list_identities(sessions: sessionmaker[Session], case_id: int | None = None) -> list[IdentitySummary]:
    """Enrolled people (of one case's watchlist, when ``case_id`` is given), oldest first."""
    query = (select(IdentityRow, func.count(TemplateRow.id)).outerjoin(TemplateRow)
             .group_by(IdentityRow.id).order_by(IdentityRow.id))
    if case_id is not None:
        query = query.join(CaseTargetRow, CaseTargetRow.identity_id == IdentityRow.id).where(
            CaseTargetRow.case_id == case_id)
    with sessions() as s:
        return [_summary(s, r, n) for r, n in s.execute(query)]


def _summary(s: Session, r: IdentityRow, templates: int) -> IdentitySummary:
    return IdentitySummary(r.id, sealed_text.get(s, r, "name"), int(templates), r.created_by,
                           r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC))


def find_identities(sessions: sessionmaker[Session], name: str) -> list[IdentitySummary]:
    """Enrolled people named ``name`` (compared case-folded, spaces collapsed), oldest first: found through
    the names' keyed blind index, never by reading every name."""
    query = (select(IdentityRow, func.count(TemplateRow.id)).outerjoin(TemplateRow)
             .group_by(IdentityRow.id).order_by(IdentityRow.id))
    with sessions() as s:
        rows = s.execute(query.where(sealed_text.index_matches(s, IdentityRow, name))).all()
        return [_summary(s, r, n) for r, n in rows if sealed_text.name_is(s, r, name)]


def template_purpose(identity_id: int, source_sha256: str, profile: str) -> str:
    """What a sealed template is bound to: opening it under any other row fails."""
    return f"template:{identity_id}:{profile}:{source_sha256}"


@dataclass(frozen=True)
class PhotoOutcome:
    source: str
    accepted: bool
    reason: str = ""
    similar_to: list[dict[str, object]] = field(default_factory=list)  # other identities it matches
    # Added to a person enrolled before (``enrol``'s ``add_to``) whose photos it does not match: their best
    # score, below the one-to-one threshold. Someone else's photo under their name, perhaps.
    unlike_person: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "accepted": self.accepted, "reason": self.reason,
                "similar_to": self.similar_to, "unlike_person": self.unlike_person}


@dataclass(frozen=True)
class EnrolmentReport:
    identity_id: int | None
    name: str
    photos: list[PhotoOutcome]
    added: bool = False  # the photos joined a person enrolled before (``enrol``'s ``add_to``)

    @property
    def accepted(self) -> int:
        return sum(p.accepted for p in self.photos)


def photo_faces(engine: Engine, data: bytes, source: str) -> tuple[LoadedImage, Faces]:
    """An enrolment photo and its faces, in the order ``enrol``'s ``face`` (the CLI's ``--face N``) counts
    them from 0: the detector's, most confident first. ``facesearch faces`` shows this same list."""
    loaded = engine.load(data, source=source)
    return loaded, engine.analyze(loaded.pixels, channels="rgb", source=source)


def enrol(
    engine: Engine,
    sessions: sessionmaker[Session],
    sealer: Sealer,
    name: str,
    photos: Sequence[Path | bytes],
    *,
    actor: str,
    reference: dict[str, object] | None = None,
    policy: EnrolmentPolicy | None = None,
    face: int | None = None,
    warn_threshold: float | None = None,
    link: Callable[[Session, int], str] | None = None,
    cache: IndexCache | None = None,
    add_to: int | None = None,
) -> EnrolmentReport:
    """Enrol a new identity from ``photos``; photos that fail the policy are refused with their reason.

    Nothing is written unless at least one photo is accepted. ``warn_threshold`` (default: the
    calibrated score for a false-warning rate of 1e-3 per photo against the whole gallery) flags
    accepted photos that already match another identity. ``link`` runs inside the enrolment's
    transaction with the new identity's id, and returns the case reference it was linked to for the
    audit entry: enrolment into a case is the cases service's (``cases.service.enrol_into_case``).
    ``add_to``: the photos join that enrolled person instead of a new one (a photo already theirs is refused,
    and their own templates are not reported as "already matches").
    """
    require_plain("name", name)  # before any photo is read
    policy = policy or EnrolmentPolicy()
    outcomes: list[PhotoOutcome] = []
    accepted: list[tuple[str, NDArray[np.float32], dict[str, object], bytes]] = []  # sha, vector, quality, JPEG
    seen: set[str] = set() if add_to is None else _sources_of(sessions, add_to, engine.profile)
    for photo in photos:
        data = photo if isinstance(photo, bytes) else read_file(photo, str(photo))
        source = f"<{len(data)} bytes>" if isinstance(photo, bytes) else str(photo)
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            outcomes.append(PhotoOutcome(source, False, "the same photo was given twice" if add_to is None
                                         else "this photo is already enrolled for this person"))
            continue
        seen.add(digest)
        try:
            loaded, faces = photo_faces(engine, data, source)
            i = choose_face(faces, policy, face)
        except FacesearchError as exc:
            outcomes.append(PhotoOutcome(source, False, exc.reason))
            continue
        quality: dict[str, object] = {"face_size": float(faces.face_size[i]), "sharpness": float(faces.sharpness[i]),
                   "frontal": float(faces.frontal[i]), "score": float(faces.scores[i])}
        accepted.append((digest, faces.embeddings[i], quality, to_jpeg(loaded.pixels, PHOTO_SIDE)))
        outcomes.append(PhotoOutcome(source, True))
    if not accepted:
        raise EnrolmentRefused(name, "no photo could be enrolled: " + "; ".join(
            f"{o.source}: {o.reason}" for o in outcomes))

    index = load_index(sessions, sealer, engine.profile, engine.embedding_size, cache=cache)
    threshold = warn_threshold
    calibration = in_force(sessions, engine.profile, engine.calibration).calibration
    if threshold is None and calibration is not None:
        # A new face is compared with everyone enrolled: hold the chance of a false warning per photo to
        # 1e-3 whatever the gallery's size (FPIR ~= N x FMR), as identification does.
        people = max(len(set(index.identity_ids.tolist())), 1)
        # Past the calibration's reach (a gallery of millions) the warning holds at the highest usable score.
        threshold = min(calibration.threshold_for_fmr(1e-3 / people)[0], MAX_SCORE)
    similar = [[x for x in found if x["identity_id"] != add_to]  # a person's own photos match them: expected
               for found in _similar(index, np.stack([v for _, v, _, _ in accepted]), threshold, sessions, sealer)]
    unlike = _unlike(calibration, index, add_to, np.stack([v for _, v, _, _ in accepted]))
    k = 0
    for j, o in enumerate(outcomes):
        if o.accepted:
            if unlike[k] is not None:
                outcomes[j] = o = PhotoOutcome(o.source, True, "", o.similar_to, unlike[k])
            if similar[k]:
                outcomes[j] = PhotoOutcome(o.source, True, "", similar[k], o.unlike_person)
                # The caller tells the person enrolling (the CLI's warning, the API's ``similar_to``); the log
                # records it at INFO, ids only: a log is no place for the names of people who are sought.
                log.info("photo %d already matches identities %s", j + 1,
                         ", ".join(str(x["identity_id"]) for x in similar[k]))
            k += 1

    now = datetime.now(UTC)
    with sessions.begin() as s:
        if add_to is None:
            identity = IdentityRow(name="", reference={}, created_at=now, created_by=actor)
            sealed_text.put(s, identity, {"name": name, "reference": reference or {}}, sealer)  # bound to the row
            s.add(identity)
            s.flush()
        else:
            found = s.get(IdentityRow, add_to)
            if found is None:  # removed since the caller looked it up
                raise EnrolmentRefused(name, f"identity {add_to} no longer exists")
            identity = found
        case_ref = None if link is None else link(s, identity.id)
        new_rows = []
        for digest, vector, quality, _ in accepted:
            new_rows.append(TemplateRow(identity_id=identity.id, profile=engine.profile, dim=int(vector.shape[0]),
                              sealed=sealer.seal_vector(vector, template_purpose(identity.id, digest, engine.profile)),
                              source_sha256=digest, quality=quality, created_at=now))
        s.add_all(new_rows)
        s.flush()
        for row, (_, _, _, shown) in zip(new_rows, accepted, strict=True):  # for reviewers, sealed like the rest
            s.add(EnrolmentPhotoRow(template_id=row.id, sealed=sealer.seal(shown, photo_purpose(row.id))))
        audit.append(s, actor=actor, action=AuditAction.IDENTITY_ENROL, case_id=case_ref,
                     subject=f"identity:{identity.id}",
                     details={"profile": engine.profile,  # no name: the log cannot be sealed, only its rows
                              "added_to_existing": add_to is not None,
                              "photos_sha256": [d for d, _, _, _ in accepted],
                              # photos by number: a file's name may be the person's
                              "refused": [{"photo": i + 1, "reason": o.reason}
                                          for i, o in enumerate(outcomes) if not o.accepted],
                              "similar_to": [{"identity_id": x["identity_id"], "score": x["score"]}
                                             for o in outcomes for x in o.similar_to]})
        notify(s, Channel.GALLERY, engine.profile)  # other nodes' index replicas look again, at commit
        identity_id = identity.id
        new_ids = np.array([r.id for r in new_rows], np.int64)
    if cache is not None:
        # The index gains the new templates without decrypting the gallery again. If this process dies
        # first, the next load sees a fingerprint that no longer matches the database and rebuilds.
        vectors = np.stack([v for _, v, _, _ in accepted])
        index.add(new_ids, np.full(len(new_ids), identity_id, np.int64), vectors)
        cache.save(engine.profile, index)
    return EnrolmentReport(identity_id, name, outcomes, added=add_to is not None)


def _unlike(calibration: Calibration | None, index: GalleryIndex, add_to: int | None,
            vectors: NDArray[np.float32]) -> list[float | None]:
    """For photos joining person ``add_to``: each one's best score against that person's own templates when it
    falls below verification's threshold (FMR 1e-3), else ``None`` (a match, or nothing to compare with)."""
    own = index.subset({add_to}) if add_to is not None else None
    if own is None or len(own) == 0 or calibration is None:
        return [None for _ in vectors]
    same = calibration.threshold_for_fmr(1e-3)[0]
    best = [row[0][1] if row else -1.0 for row in own.matches(vectors, -2.0, 1)]
    return [round(b, 4) if b < same else None for b in best]


def _sources_of(sessions: sessionmaker[Session], identity_id: int, profile: str) -> set[str]:
    """The SHA-256 of the photos already enrolled for ``identity_id`` under ``profile``."""
    with sessions() as s:
        return set(s.scalars(select(TemplateRow.source_sha256).where(TemplateRow.identity_id == identity_id,
                                                                     TemplateRow.profile == profile)))


def _similar(index: GalleryIndex, vectors: NDArray[np.float32], threshold: float | None,
             sessions: sessionmaker[Session], sealer: Sealer) -> list[list[dict[str, object]]]:
    if threshold is None or len(index) == 0:
        return [[] for _ in vectors]
    hits = index.matches(vectors, threshold, 5)
    with sessions() as s:
        wanted = {i for row in hits for i, _ in row}
        names = {r.id: sealed_text.get(s, r, "name", sealer)
                 for r in s.scalars(select(IdentityRow).where(IdentityRow.id.in_(wanted)))}
    return [[{"identity_id": i, "name": names.get(i, "?"), "score": round(v, 4)} for i, v in row] for row in hits]


def load_index(
    sessions: sessionmaker[Session],
    sealer: Sealer,
    profile: str,
    dim: int,
    identity_ids: set[int] | None = None,
    cache: IndexCache | None = None,
) -> GalleryIndex:
    """The index of ``profile``'s templates (of ``identity_ids`` only, when given).

    With a ``cache``, the sealed index on disk is used when its fingerprint matches the database's
    template ids, and rebuilt (and saved) when it is missing or stale.
    """
    if cache is not None:
        with sessions() as s:
            ids = np.array(list(s.scalars(select(TemplateRow.id).where(TemplateRow.profile == profile))), np.int64)
        full = cache.load(profile, dim, fingerprint(ids))
        if full is None:
            full = _index_from_database(sessions, sealer, profile, dim, None)
            cache.save(profile, full)
        return full if identity_ids is None else full.subset(identity_ids)
    return _index_from_database(sessions, sealer, profile, dim, identity_ids)


def _index_from_database(
    sessions: sessionmaker[Session], sealer: Sealer, profile: str, dim: int, identity_ids: set[int] | None
) -> GalleryIndex:
    query = (select(TemplateRow.id, TemplateRow.identity_id, TemplateRow.sealed, TemplateRow.source_sha256,
                    TemplateRow.dim).where(TemplateRow.profile == profile).order_by(TemplateRow.id))
    if identity_ids is not None:
        query = query.where(TemplateRow.identity_id.in_(identity_ids))
    with sessions() as s:
        rows = s.execute(query).all()
    vectors = np.zeros((len(rows), dim), np.float32)
    for i, row in enumerate(rows):
        if row.dim != dim:
            raise FacesearchError(f"template {row.id}", f"has {row.dim} dimensions, the profile makes {dim}")
        vectors[i] = sealer.open_vector(row.sealed, template_purpose(row.identity_id, row.source_sha256, profile))
    ids = np.array([r.id for r in rows], np.int64)
    owners = np.array([r.identity_id for r in rows], np.int64)
    return GalleryIndex.build(ids, owners, vectors, dim)
