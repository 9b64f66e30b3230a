"""Identification (1:N) inside a case: every face of a photo against the case's watchlist.

The threshold comes from a target false positive identification rate per searched face (FPIR, default
1e-3) and the watchlist size N: a face is compared with N people, so each comparison may false-match
at most FPIR / N (FPIR ~= N x FMR for small rates). Both the target and the threshold are reported.
A face that matches nobody leaves nothing behind: the audit entry counts it, nothing more.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.watchlist import DEFAULT_FPIR, load_watchlists
from facesearch.context import Context
from facesearch.images import LoadedImage, read_file


@dataclass(frozen=True)
class Candidate:
    identity_id: int
    name: str
    score: float
    rank: int
    fmr: float


@dataclass(frozen=True)
class FaceResult:
    box: list[float]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def no_match(self) -> bool:
        return not self.candidates


@dataclass(frozen=True)
class Identification:
    case: str
    source: str
    target_fpir: float
    watchlist_size: int
    threshold: float
    threshold_extrapolated: bool
    faces: list[FaceResult]

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case, "source": self.source, "target_fpir": self.target_fpir,
            "watchlist_size": self.watchlist_size, "threshold": round(self.threshold, 6),
            "threshold_extrapolated": self.threshold_extrapolated,
            "faces": [{"box": f.box, "match": not f.no_match,
                       "candidates": [c.__dict__ | {"score": round(c.score, 6), "fmr": float(f"{c.fmr:.3g}")}
                                      for c in f.candidates]} for f in self.faces],
        }


def identify(
    ctx: Context,
    case_ref: str,
    image: Path | bytes,
    *,
    actor: str,
    fpir: float = DEFAULT_FPIR,
    max_candidates: int = 5,
    camera: str | None = None,
    decoded: LoadedImage | None = None,
) -> Identification:
    """Search every face of ``image`` against the watchlist of an active case. ``camera``: where the photo
    was taken; a case that names cameras is searched on one of them only, and it must be registered.
    ``decoded``: ``image`` already decoded (its bytes are still given: the audit entry holds their hash), so
    that nothing decodes it twice; boxes are reported in the file's own pixels even when it was decoded
    reduced."""
    engine, sessions, sealer = ctx.engine(), ctx.sessions, ctx.sealer
    data = image if isinstance(image, bytes) else read_file(Path(image), str(image))
    source = f"<{len(data)} bytes>" if isinstance(image, bytes) else str(image)
    digest = hashlib.sha256(data).hexdigest()
    started = datetime.now(UTC)
    [watchlist] = load_watchlists(engine, sessions, sealer, [case_ref], camera=camera, actor=actor, fpir=fpir,
                                  refusal_details={"input_sha256": digest}, cache=ctx.index_cache())
    ref, index, names = watchlist.case_ref, watchlist.index, watchlist.names
    calibration = watchlist.calibration or engine.calibration
    assert calibration is not None  # load_watchlists refuses an uncalibrated profile
    threshold, extrapolated, size = watchlist.threshold, watchlist.threshold_extrapolated, watchlist.size
    faces = engine.analyze(data if decoded is None else decoded, source=source)
    scale = 1.0 if decoded is None else decoded.scale
    results: list[FaceResult] = []
    if len(faces):
        for i, ranked in enumerate(index.matches(faces.embeddings, threshold, max_candidates)):
            results.append(FaceResult(
                [round(float(v) / scale, 1) for v in faces.boxes[i]],
                [Candidate(o, names.get(o, "?"), sc, r + 1, calibration.fmr(sc)[0])
                 for r, (o, sc) in enumerate(ranked)]))
    result = Identification(ref, source, fpir, size, threshold, extrapolated, results)
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.SEARCH_IDENTIFY, case_id=ref, details={
            "started_at": started.isoformat(), "ended_at": datetime.now(UTC).isoformat(),
            "input_sha256": digest, "faces": len(results), "faces_without_match": sum(f.no_match for f in results),
            "watchlist_size": size, "watchlist_templates": index.fingerprint, "target_fpir": fpir,
            "threshold": round(threshold, 6), "profile": engine.profile, "calibration": watchlist.calibration_label,
            "candidates": [{"face": i, "identity_id": c.identity_id, "score": round(c.score, 6)}
                           for i, f in enumerate(results) for c in f.candidates]})
    return result
