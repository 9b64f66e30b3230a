"""1:1 verification's result types: the decision, the score with the false match rate it carries, and which
face of each photo was compared. ``Engine.verify`` makes them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from facesearch.errors import NoFaceError
from facesearch.faces import Faces
from facesearch.images import LoadedImage

log = logging.getLogger(__name__)

# Used only by a profile that has not been calibrated yet (a freshly registered model).
UNCALIBRATED_THRESHOLD = 0.5
# The operating point of 1:1 verification: at most one false match in a thousand impostor attempts.
# LFW's accuracy-optimal threshold sits near FMR 1e-2, too lax for sign-in.
DEFAULT_TARGET_FMR = 1e-3


@dataclass(frozen=True)
class FaceChoice:
    """Which face of an image was compared, and the other faces it held."""

    source: str
    used: dict[str, Any]
    others: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Verification:
    same: bool
    score: float
    threshold: float
    target_fmr: float | None  # the FMR the threshold was set for (None: a threshold given by hand)
    fmr: float | None  # None: the profile is not calibrated
    fmr_extrapolated: bool
    model: str
    faces: tuple[FaceChoice, FaceChoice]

    def to_json(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "score": round(self.score, 6),
            "fmr": None if self.fmr is None else float(f"{self.fmr:.4g}"),
            "fmr_extrapolated": self.fmr_extrapolated,
            "threshold": round(self.threshold, 6),
            "target_fmr": self.target_fmr,
            "model": self.model,
            "faces": [{"source": c.source, "used": c.used, "others": c.others} for c in self.faces],
        }


def choose_largest(image: LoadedImage, faces: Faces) -> tuple[int, FaceChoice]:
    if len(faces) == 0:
        raise NoFaceError(image.source, "no face found in the image")
    i = faces.largest()
    records = faces.to_records()
    others = [r for k, r in enumerate(records) if k != i]
    if others:
        log.info("%s: %d faces; using the largest", image.source, len(faces))
    return i, FaceChoice(image.source, records[i], others)
