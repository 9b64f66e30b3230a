"""Sightings: stored candidates with their sealed evidence, each audited, and read back for review.

A matched track becomes one sighting per (case, identity) it matched, written with its evidence and
its audit entry in one transaction. Evidence is sealed with the installation's key and bound to its
sighting, like templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases import access
from facesearch.cases.service import as_utc
from facesearch.images import to_jpeg as jpeg
from facesearch.refs import case_ref, parse_case_ref
from facesearch.store import sealed_text
from facesearch.store.crypto import Sealer
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import EvidenceRow, IdentityRow, SightingRow
from facesearch.video.evidence import redact_frame, sha256
from facesearch.video.leases import Lease, check_fence, track_key
from facesearch.video.recording_time import WEAK_SOURCES, RecordingStart
from facesearch.video.search import MatchedTrack


def evidence_purpose(sighting_id: int, kind: str) -> str:
    return f"evidence:{sighting_id}:{kind}"


@dataclass(frozen=True)
class Sighting:
    """A candidate sighting as reviewers and ``sightings --json`` see it."""

    id: int
    case: str
    identity_id: int
    name: str
    camera: str | None
    source: str
    start: float  # seconds from the start of the recording
    end: float
    best: float
    started_at: datetime | None
    ended_at: datetime | None
    time_source: str
    score: float
    fmr: float
    threshold: float
    status: str
    calibration: str | None = None  # which calibration the threshold came from (None: stored before it was kept)

    @property
    def time_weak(self) -> bool:
        """Whether the absolute time rests on weak evidence (the file's modification time)."""
        return self.time_source in WEAK_SOURCES

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case": self.case, "identity_id": self.identity_id, "name": self.name,
                "camera": self.camera, "source": self.source, "start": round(self.start, 3),
                "end": round(self.end, 3), "best": round(self.best, 3),
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None, "time_source": self.time_source,
                "time_weak": self.time_weak,
                "score": round(self.score, 6), "fmr": float(f"{self.fmr:.3g}"), "threshold": round(self.threshold, 6),
                "calibration": self.calibration, "status": self.status}


def save_track(s: Session, sealer: Sealer, track: MatchedTrack, *, source: str, camera: str | None,
               start: RecordingStart | None, actor: str, source_sha256: str | None = None,
               fence: Lease | None = None) -> list[int]:
    """One sighting per match of ``track``, with sealed evidence and an audit entry, in ``s``'s transaction.
    ``source_sha256``: the recording's content hash (the input that led to the match), for files.

    ``fence``: the camera lease of the worker writing (a cluster's stream worker). Nothing is written unless
    it still owns the camera (``LeaseLost``), and a track written before under this lease (a retry after an
    answer was lost) gives the sightings already stored instead of new ones."""
    key = None
    if fence is not None:
        check_fence(s, fence)
        key = track_key(fence, track.track_id)
    frame_jpeg = jpeg(redact_frame(track.best_frame, track.best_box))
    crop_jpeg = jpeg(track.best_chip)
    hashes = {"frame": sha256(frame_jpeg), "crop": sha256(crop_jpeg)}
    now = datetime.now(UTC)
    ids = []
    for m in track.matches:
        if key is not None:
            stored = s.scalar(select(SightingRow.id).where(SightingRow.track_key == key,
                                                           SightingRow.identity_id == m.identity_id))
            if stored is not None:
                ids.append(stored)
                continue
        row = SightingRow(
            case_id=parse_case_ref(m.case_ref), identity_id=m.identity_id, camera_id=camera, source=source,
            track=track.track_id, start_s=track.start_s, end_s=track.end_s, best_s=track.best_s,
            started_at=None if start is None else start.at + timedelta(seconds=track.start_s),
            ended_at=None if start is None else start.at + timedelta(seconds=track.end_s),
            time_source=start.source if start else "unknown", score=m.score, fmr=m.fmr, threshold=m.threshold,
            calibration=m.calibration or None, box=[round(float(v), 1) for v in track.best_box], status="candidate",
            created_at=now, track_key=key)
        s.add(row)
        s.flush()
        for kind, data in (("frame", frame_jpeg), ("crop", crop_jpeg)):
            s.add(EvidenceRow(sighting_id=row.id, kind=kind, sealed=sealer.seal(data, evidence_purpose(row.id, kind)),
                              sha256=hashes[kind]))
        audit.append(s, actor=actor, action=AuditAction.SIGHTING_CREATE, case_id=m.case_ref,
                     subject=f"sighting:{row.id}",
                     details={"identity_id": m.identity_id, "source": source, "source_sha256": source_sha256,
                              "camera": camera,
                              "start_s": round(track.start_s, 3), "end_s": round(track.end_s, 3),
                              "score": round(m.score, 6), "fmr": float(f"{m.fmr:.3g}"),
                              "threshold": round(m.threshold, 6), "calibration": m.calibration or None,
                              "views": track.views,
                              "view_scores": None if m.view_scores is None else [round(v, 4) for v in m.view_scores],
                              "evidence_sha256": hashes})
        notify(s, Channel.SIGHTINGS, f"{m.case_ref} {row.id}")  # heard at commit: the console's alerts
        ids.append(row.id)
    return ids


def list_sightings(s: Session, case: str, *, actor: str) -> list[Sighting]:
    """The sightings of ``case``, when ``actor`` may see them (``cases.access``: assigned to the case)."""
    access.check(s, actor, parse_case_ref(case), contents=True)
    rows = s.execute(select(SightingRow, IdentityRow).join(IdentityRow, IdentityRow.id == SightingRow.identity_id)
                     .where(SightingRow.case_id == parse_case_ref(case))
                     .order_by(SightingRow.source, SightingRow.start_s, SightingRow.id)).all()
    return _to_sightings(s, rows)


def _aware(t: datetime | None) -> datetime | None:
    return None if t is None else as_utc(t)


def _to_sightings(s: Session, rows: Sequence[Any]) -> list[Sighting]:
    """Sightings with their people's names, each name opened once."""
    names: dict[int, str] = {}
    out = []
    for r, identity in rows:
        if identity.id not in names:
            names[identity.id] = sealed_text.get(s, identity, "name")
        out.append(_to_sighting(r, names[identity.id]))
    return out


def _to_sighting(r: SightingRow, name: str) -> Sighting:
    return Sighting(r.id, case_ref(r.case_id), r.identity_id, name, r.camera_id, r.source, r.start_s, r.end_s, r.best_s,
                    _aware(r.started_at), _aware(r.ended_at), r.time_source, r.score, r.fmr, r.threshold, r.status,
                    r.calibration)


def open_evidence(s: Session, sealer: Sealer, sighting_id: int, kinds: Sequence[str] = ("frame", "crop"), *,
                  actor: str) -> dict[str, bytes]:
    """The evidence JPEGs of a sighting, opened with the key (``KeyMismatchError`` with the wrong one), when
    ``actor`` may see its case's contents (none for no such sighting)."""
    sighting = s.get(SightingRow, sighting_id)
    if sighting is None:
        return {}
    access.check(s, actor, sighting.case_id, contents=True)
    rows = s.scalars(select(EvidenceRow).where(EvidenceRow.sighting_id == sighting_id, EvidenceRow.kind.in_(kinds)))
    return {r.kind: sealer.open(r.sealed, evidence_purpose(sighting_id, r.kind)) for r in rows}


def latest_sighting_id(s: Session) -> int:
    """The newest sighting's id (0 when none): where a live alert stream starts."""
    from sqlalchemy import func

    return int(s.scalar(select(func.max(SightingRow.id))) or 0)


def sightings_after(s: Session, last_id: int, *, actor: str) -> list[Sighting]:
    """Sightings stored after ``last_id`` in the cases ``actor`` may see, oldest first, from any process (scan
    jobs and ``watch`` alike)."""
    query = (select(SightingRow, IdentityRow).join(IdentityRow, IdentityRow.id == SightingRow.identity_id)
             .where(SightingRow.id > last_id))
    visible = access.visible_case_ids(s, actor, contents=True)
    if visible is not None:
        query = query.where(SightingRow.case_id.in_(visible))
    rows = s.execute(query.order_by(SightingRow.id).limit(500)).all()
    return _to_sightings(s, rows)


def review_queue(s: Session, case: str | None = None, *, actor: str) -> list[Sighting]:
    """Candidates waiting for a decision (of one case, when given) in the cases ``actor`` may see, oldest
    case first."""
    query = (select(SightingRow, IdentityRow).join(IdentityRow, IdentityRow.id == SightingRow.identity_id)
             .where(SightingRow.status == "candidate"))
    visible = access.visible_case_ids(s, actor, contents=True)
    if visible is not None:
        query = query.where(SightingRow.case_id.in_(visible))
    if case is not None:
        access.check(s, actor, parse_case_ref(case), contents=True)
        query = query.where(SightingRow.case_id == parse_case_ref(case))
    rows = s.execute(query.order_by(SightingRow.case_id, SightingRow.source, SightingRow.start_s,
                                    SightingRow.id)).all()
    return _to_sightings(s, rows)


def identity_of(s: Session, sighting_id: int, *, actor: str) -> int | None:
    """The enrolled person a sighting matched (``None`` for no such sighting), when ``actor`` may see its case."""
    row = s.get(SightingRow, sighting_id)
    if row is not None:
        access.check(s, actor, row.case_id, contents=True)
    return None if row is None else row.identity_id
