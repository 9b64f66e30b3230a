"""Matching a track against the watchlists of the cases a video search runs under.

A case applies to footage recorded inside its validity and, when it names cameras, to those only;
each watchlist has its own threshold (``facesearch.cases.watchlist``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from facesearch.cases.watchlist import CaseWatchlist
from facesearch.engine import Engine


@dataclass(frozen=True)
class TrackMatch:
    case_ref: str
    identity_id: int
    name: str
    score: float
    fmr: float
    threshold: float
    # The track's views scored one by one against this person (lowest, median, highest): a wide spread says
    # the match rests on some views only, which a reviewer should look at.
    view_scores: tuple[float, float, float] | None = None
    calibration: str = ""  # which calibration the threshold and FMR came from


def match(engine: Engine, watchlists: list[CaseWatchlist], embedding: NDArray[np.float32],
          recorded_at: datetime | None, max_candidates: int = 5) -> list[TrackMatch]:
    """A track's embedding against every watchlist whose case covers the footage's time."""
    found = []
    for w in watchlists:
        if w.size == 0 or not w.covers(recorded_at):
            continue
        calibration = w.calibration or engine.calibration
        assert calibration is not None  # load_watchlists refuses an uncalibrated profile
        for identity, score in w.index.matches(embedding[None], w.threshold, max_candidates)[0]:
            found.append(TrackMatch(w.case_ref, identity, w.names.get(identity, "?"), score,
                                    calibration.fmr(score)[0], w.threshold, calibration=w.calibration_label))
    return found
