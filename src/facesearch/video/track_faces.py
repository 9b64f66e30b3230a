"""The few best faces of each track, aligned as they are seen, so that a track is embedded once.

Embedding every face of every frame is what makes naive video search slow; a track needs only its
best views. Each detection is scored for usefulness (size up to what the recognizers use, and how
frontal it is); a track keeps the ``keep`` best, already aligned for each recognizer, and the one frame
of its best face for evidence. Everything here lives in memory only and is dropped with the track
unless the track matches someone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from facesearch.align import AlignmentTemplate, align_many


def usefulness(face_size: NDArray[np.float32], frontal: NDArray[np.float32]) -> NDArray[np.float32]:
    """Higher for faces a recognizer can do more with: size counts up to 112 px, a turned head costs."""
    return (np.minimum(face_size, 112.0) * (0.25 + frontal)).astype(np.float32)


@dataclass
class FaceSample:
    seconds: float
    box: NDArray[np.float32]
    usefulness: float
    chips: list[NDArray[np.uint8]]  # one per recognizer, aligned onto its template


@dataclass
class TrackFaces:
    """What is kept of one track while it is open."""

    track_id: int
    first_s: float
    last_s: float
    detections: int = 0
    samples: list[FaceSample] = field(default_factory=list)
    best_frame: NDArray[np.uint8] | None = None  # the frame of the most useful face, for evidence
    best_box: NDArray[np.float32] | None = None
    best_s: float = 0.0

    def offer(self, seconds: float, box: NDArray[np.float32], useful: float, landmarks: NDArray[np.float32],
              frame: NDArray[np.uint8], templates: list[AlignmentTemplate], keep: int) -> None:
        self.detections += 1
        self.last_s = seconds
        if len(self.samples) >= keep and useful <= self.samples[-1].usefulness:
            return
        chips = [align_many(frame, landmarks[None], t)[0] for t in templates]
        self.samples.append(FaceSample(seconds, box.copy(), useful, chips))
        self.samples.sort(key=lambda s: -s.usefulness)
        del self.samples[keep:]
        if self.samples[0].seconds == seconds:
            self.best_frame, self.best_box, self.best_s = frame, box.copy(), seconds
