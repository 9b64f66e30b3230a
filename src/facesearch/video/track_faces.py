"""The few best faces of each track, aligned as they are seen, so that a track is embedded once.

Embedding every face of every frame is what makes naive video search slow; a track needs only its
best views. Each detection is scored for usefulness (size up to what the recognizers use, and how
frontal it is); a track keeps the ``keep`` best with their decoded frames, which are converted and
aligned only when the track ends (most candidates are replaced by better views before then). The best
one's frame is the evidence. Everything here lives in memory only and is dropped with the track unless
the track matches someone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from facesearch.align import AlignmentTemplate, align_many
from facesearch.video.source import VideoFrame


def usefulness(face_size: NDArray[np.float32], frontal: NDArray[np.float32]) -> NDArray[np.float32]:
    """Higher for faces a recognizer can do more with: size counts up to 112 px, a turned head costs."""
    return (np.minimum(face_size, 112.0) * (0.25 + frontal)).astype(np.float32)


@dataclass
class FaceSample:
    frame: VideoFrame  # decoded, converted to RGB only if this sample is still among the best at the end
    box: NDArray[np.float32]
    landmarks: NDArray[np.float32]
    usefulness: float

    @property
    def seconds(self) -> float:
        return self.frame.seconds

    def chips(self, templates: list[AlignmentTemplate]) -> list[NDArray[np.uint8]]:
        """The face aligned onto each recognizer's template, from the full-resolution frame."""
        pixels = self.frame.pixels
        return [align_many(pixels, self.landmarks[None], t)[0] for t in templates]


@dataclass
class TrackFaces:
    """What is kept of one track while it is open: its ``keep`` most useful detections."""

    track_id: int
    first_s: float
    last_s: float
    detections: int = 0
    small: int = 0  # detections too small to identify
    samples: list[FaceSample] = field(default_factory=list)

    def offer(self, frame: VideoFrame, box: NDArray[np.float32], useful: float, landmarks: NDArray[np.float32],
              keep: int) -> None:
        self.detections += 1
        self.last_s = frame.seconds
        if len(self.samples) >= keep and useful <= self.samples[-1].usefulness:
            return
        self.samples.append(FaceSample(frame, box.copy(), landmarks.copy(), useful))
        self.samples.sort(key=lambda s: -s.usefulness)
        del self.samples[keep:]

    @property
    def best(self) -> FaceSample:
        """The most useful face: its frame is the sighting's evidence."""
        return self.samples[0]
