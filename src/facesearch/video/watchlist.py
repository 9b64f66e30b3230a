"""The watchlists a video search matches tracks against: one per case, each with its own threshold.

A case's threshold holds its false positive identification rate per *track* to the target (default
1e-3) for its watchlist size, as for photos. A case applies to footage recorded inside its validity
and, when it names cameras, to those cameras only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.cases.service import CaseError, require_searchable
from facesearch.engine import Engine
from facesearch.errors import FacesearchError
from facesearch.gallery.cache import IndexCache
from facesearch.gallery.index import GalleryIndex
from facesearch.gallery.service import load_index
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CaseTargetRow, IdentityRow

DEFAULT_FPIR = 1e-3


@dataclass(frozen=True)
class TrackMatch:
    case_ref: str
    identity_id: int
    name: str
    score: float
    fmr: float
    threshold: float


@dataclass(frozen=True)
class CaseWatchlist:
    case_ref: str
    index: GalleryIndex
    names: dict[int, str]
    threshold: float
    target_fpir: float
    valid_from: datetime
    valid_until: datetime

    @property
    def size(self) -> int:
        return len(self.names)

    def covers(self, moment: datetime | None) -> bool:
        """Whether footage recorded at ``moment`` falls inside the case's validity (unknown: it does not)."""
        return moment is not None and self.valid_from <= moment <= self.valid_until


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def load_watchlists(engine: Engine, sessions: sessionmaker[Session], sealer: Sealer, case_refs: list[str], *,
                    camera: str | None, actor: str, fpir: float = DEFAULT_FPIR, source: str = "",
                    cache: IndexCache | None = None) -> list[CaseWatchlist]:
    """The watchlists of ``case_refs``; a case that may not be searched (now, on ``camera``) is refused
    with ``CaseError`` and the refusal audited."""
    if engine.calibration is None:
        raise FacesearchError(engine.profile, "profile is not calibrated: identification needs calibrated scores")
    out: list[CaseWatchlist] = []
    for ref in case_refs:
        refused: CaseError | None = None
        with sessions() as s:
            try:
                case = require_searchable(s, ref, camera=camera)
            except CaseError as exc:
                refused = exc
            else:
                targets = set(s.scalars(select(CaseTargetRow.identity_id).where(CaseTargetRow.case_id == case.id)))
                names = {r.id: r.name for r in s.scalars(select(IdentityRow).where(IdentityRow.id.in_(targets)))}
                window = (_aware(case.valid_from), _aware(case.valid_until))
        if refused is not None:
            with sessions.begin() as s:
                audit.append(s, actor=actor, action="search.refused", case_id=str(ref).upper(),
                             details={"source": source, "camera": camera, "reason": refused.reason})
            raise refused
        index = load_index(sessions, sealer, engine.profile, engine.embedding_size, identity_ids=targets, cache=cache)
        present = {int(i) for i in index.identity_ids.tolist()}
        names = {i: n for i, n in names.items() if i in present}
        threshold, _ = engine.calibration.threshold_for_fmr(fpir / max(len(names), 1))
        out.append(CaseWatchlist(f"C{case.id}", index, names, threshold, fpir, *window))
    return out


def match(engine: Engine, watchlists: list[CaseWatchlist], embedding: NDArray[np.float32],
          recorded_at: datetime | None, max_candidates: int = 5) -> list[TrackMatch]:
    """A track's embedding against every watchlist whose case covers the footage's time."""
    assert engine.calibration is not None
    found = []
    for w in watchlists:
        if w.size == 0 or not w.covers(recorded_at):
            continue
        for identity, score in w.index.matches(embedding[None], w.threshold, max_candidates)[0]:
            found.append(TrackMatch(w.case_ref, identity, w.names.get(identity, "?"), score,
                                    engine.calibration.fmr(score)[0], w.threshold))
    return found
