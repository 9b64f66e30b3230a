"""The best views of each track, kept as they are seen, so that a track is embedded once from its best moments.

Embedding every face of every frame is what makes naive video search slow; a track needs only its best
views. Each detection is scored for usefulness (size up to what the recognizers use, how frontal it is, and
the detector's confidence); a track keeps the ``keep`` most useful, each as the neighbourhood of the face cut
from the full-resolution frame (a few kilobytes, where a whole 4K frame is 12 MB). Only the best view keeps
its whole frame, which is the evidence. When the track ends, the views are aligned and their sharpness
measured; the track's embedding is their mean weighted by quality, so that a small face is matched from its
best moments and one blurred or turned view does not sink it. Everything here lives in memory only and is
dropped with the track unless the track matches someone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from facesearch.align import AlignmentTemplate, align_many
from facesearch.quality import sharp_weight, sharpness
from facesearch.video.source import VideoFrame

NEIGHBOURHOOD = 1.5  # face sizes of picture kept around a view's face on each side: enough for every template
@dataclass
class FaceSample:
    """One view of a track's face: its neighbourhood in the full-resolution frame, where it was, how good."""

    seconds: float
    box: NDArray[np.float32]
    landmarks: NDArray[np.float32]  # in the frame's pixels
    usefulness: float
    neighbourhood: NDArray[np.uint8]  # RGB around the face
    origin: tuple[int, int]  # the neighbourhood's top-left corner in the frame
    frame: VideoFrame | None = None  # the whole frame, kept while this is the track's best view

    @classmethod
    def cut(cls, frame: VideoFrame, box: NDArray[np.float32], landmarks: NDArray[np.float32],
            useful: float) -> FaceSample:
        side = float(max(box[2] - box[0], box[3] - box[1], 1.0))
        x0, y0 = int(box[0] - NEIGHBOURHOOD * side), int(box[1] - NEIGHBOURHOOD * side)
        x1, y1 = int(box[2] + NEIGHBOURHOOD * side) + 1, int(box[3] + NEIGHBOURHOOD * side) + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        return cls(frame.seconds, box.copy(), landmarks.copy(), useful, np.array(frame.region(x0, y0, x1, y1)),
                   (x0, y0), frame)

    def chips(self, templates: list[AlignmentTemplate]) -> list[NDArray[np.uint8]]:
        """The face aligned onto each recognizer's template, from the full-resolution picture."""
        local = (self.landmarks - np.asarray(self.origin, np.float32))[None]
        return [align_many(self.neighbourhood, local, t)[0] for t in templates]

    def quality(self) -> float:
        """How much this view counts in the track's embedding: useful (size, pose, the detector's confidence)
        and sharp."""
        local = (self.landmarks - np.asarray(self.origin, np.float32))[None]
        sharp = float(sharpness(self.neighbourhood, local)[0])
        return self.usefulness * sharp_weight(sharp)


@dataclass
class TrackFaces:
    """What is kept of one track while it is open: its ``keep`` most useful views."""

    track_id: int
    first_s: float
    last_s: float
    detections: int = 0
    small: int = 0  # detections too small to identify
    samples: list[FaceSample] = field(default_factory=list)

    def offer(self, frame: VideoFrame, box: NDArray[np.float32], useful: float, landmarks: NDArray[np.float32],
              keep: int, score: float = 1.0) -> None:
        """A detection of this track's face; kept if among the ``keep`` most useful so far (``useful`` from
        ``usefulness``, weighed here by the detector's confidence ``score``)."""
        self.detections += 1
        self.last_s = frame.seconds
        useful *= score
        if len(self.samples) >= keep and useful <= self.samples[-1].usefulness:
            return
        sample = FaceSample.cut(frame, box, landmarks, useful)
        at = next((k for k, s in enumerate(self.samples) if s.usefulness < useful), len(self.samples))
        self.samples.insert(at, sample)
        del self.samples[keep:]
        for s in self.samples[1:]:
            s.frame = None  # only the best view's whole frame is kept (the evidence)

    @property
    def best(self) -> FaceSample:
        """The most useful view: its frame is the sighting's evidence."""
        return self.samples[0]

    def weights(self) -> NDArray[np.float64]:
        """Each kept view's share of the track's embedding (they sum to 1)."""
        raw = np.array([s.quality() for s in self.samples], np.float64)
        raw = np.maximum(raw, 1e-9)
        return raw / raw.sum()
