"""Face tracks across frames, in the manner of ByteTrack: a constant-velocity Kalman filter per track,
IoU association of confident detections first and of weak ones second.

Weak detections (a face turning away, motion blur, a passing occlusion) are never allowed to start a
track, but they keep an existing one alive, which is what stops one person's appearance from breaking
into several tracks, each matched (and reviewed) separately. Association is greedy, highest IoU first:
faces in one frame rarely overlap, and for boxes that do not overlap greedy and optimal assignment agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

# Kalman filter on (cx, cy, aspect, height) and their velocities; noise scaled by the box height, as
# in SORT/DeepSORT/ByteTrack, so that a far face and a close one are tracked alike.
_STD_POSITION = 1.0 / 20
_STD_VELOCITY = 1.0 / 160
_F = np.eye(8, dtype=np.float64)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8, dtype=np.float64)


def _xyah(box: NDArray[np.float32]) -> NDArray[np.float64]:
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w / max(h, 1e-6), h], np.float64)


def _box(state: NDArray[np.float64]) -> NDArray[np.float32]:
    cx, cy, a, h = state[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def _intersections(a: NDArray[np.float32], b: NDArray[np.float32]) -> tuple[NDArray[np.float32], ...]:
    """The intersection area of every box in ``a`` (n, 4) with every box in ``b`` (m, 4), and each box's area."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    return inter, np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1), np.prod(
        np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)


def iou_matrix(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    inter, area_a, area_b = _intersections(a, b)
    return (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)).astype(np.float32)


def overlap_of_smaller(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Intersection over the smaller box's area, for every box in ``a`` against every box in ``b``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    inter, area_a, area_b = _intersections(a, b)
    return (inter / np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-6)).astype(np.float32)


def greedy_match(iou: NDArray[np.float32], min_iou: float) -> list[tuple[int, int]]:
    """Pairs (row, column), highest IoU first, each row and column used once, IoU at least ``min_iou``."""
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    order = np.argsort(-iou, axis=None)
    used_r: set[int] = set()
    used_c: set[int] = set()
    for flat in order:
        r, c = divmod(int(flat), iou.shape[1])
        if iou[r, c] < min_iou:
            break
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


@dataclass
class Track:
    """One face followed across frames. ``frames`` are the frame numbers it was detected in."""

    id: int
    mean: NDArray[np.float64]
    covariance: NDArray[np.float64]
    first_frame: int
    last_frame: int
    hits: int = 1
    frames: list[int] = field(default_factory=list)

    @property
    def box(self) -> NDArray[np.float32]:
        return _box(self.mean)

    def predict(self) -> None:
        h = self.mean[3]
        q = np.square(np.r_[[_STD_POSITION * h] * 2, 1e-2, _STD_POSITION * h,
                            [_STD_VELOCITY * h] * 2, 1e-5, _STD_VELOCITY * h])
        self.mean = _F @ self.mean
        self.covariance = _F @ self.covariance @ _F.T + np.diag(q)

    def update(self, box: NDArray[np.float32], frame: int) -> None:
        h = self.mean[3]
        r = np.diag(np.square([_STD_POSITION * h, _STD_POSITION * h, 1e-1, _STD_POSITION * h]))
        s = _H @ self.covariance @ _H.T + r
        gain = np.linalg.solve(s, _H @ self.covariance).T
        self.mean = self.mean + gain @ (_xyah(box) - _H @ self.mean)
        self.covariance = self.covariance - gain @ s @ gain.T
        self.last_frame, self.hits = frame, self.hits + 1
        self.frames.append(frame)


def _new_track(track_id: int, box: NDArray[np.float32], frame: int) -> Track:
    mean = np.r_[_xyah(box), np.zeros(4)]
    h = mean[3]
    std = [2 * _STD_POSITION * h, 2 * _STD_POSITION * h, 1e-2, 2 * _STD_POSITION * h,
           10 * _STD_VELOCITY * h, 10 * _STD_VELOCITY * h, 1e-5, 10 * _STD_VELOCITY * h]
    return Track(track_id, mean, np.diag(np.square(std)), frame, frame, frames=[frame])


@dataclass(frozen=True)
class TrackerConfig:
    high_score: float = 0.7  # detections that can start a track and are matched first
    low_score: float = 0.3  # weaker detections only extend existing tracks
    match_iou: float = 0.2  # confident detections against predicted boxes
    weak_match_iou: float = 0.5  # weak detections need a closer fit
    max_gap_frames: int = 30  # frames a track may go unseen before it ends (about 1 s at 30 fps)
    same_face_overlap: float = 0.6  # an unpaired confident face this much inside a track's box is that track's


@dataclass(frozen=True)
class FrameAssignment:
    """For one frame: the track id of each detection (``-1``: not tracked) and the tracks that ended."""

    track_ids: NDArray[np.int64]
    ended: list[Track]


class FaceTracker:
    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1

    def step(self, frame: int, boxes: NDArray[np.float32], scores: NDArray[np.float32]) -> FrameAssignment:
        """Advance to ``frame`` with its detections; frames may be skipped (sampling)."""
        cfg = self.config
        assigned = np.full(len(boxes), -1, np.int64)
        for t in self.tracks:
            t.predict()
        predicted = np.array([t.box for t in self.tracks], np.float32).reshape(-1, 4)
        high = np.flatnonzero(scores >= cfg.high_score)
        low = np.flatnonzero((scores >= cfg.low_score) & (scores < cfg.high_score))

        free_tracks = list(range(len(self.tracks)))
        for r, c in greedy_match(iou_matrix(predicted, boxes[high]), cfg.match_iou):
            self.tracks[r].update(boxes[high[c]], frame)
            assigned[high[c]] = self.tracks[r].id
            free_tracks.remove(r)
        rest = np.array(free_tracks, np.int64)
        for r, c in greedy_match(iou_matrix(predicted[rest], boxes[low]), cfg.weak_match_iou):
            track = self.tracks[int(rest[r])]
            track.update(boxes[low[c]], frame)
            assigned[low[c]] = track.id

        updated = {t.id for t in self.tracks if t.last_frame == frame}
        for d in high:
            if assigned[d] >= 0:
                continue
            # A confident face on a track's predicted box that IoU did not pair (the box of one face found in
            # views of different scales, or a jump at a low frame rate) continues that track, or if the track
            # already has its face this frame, is that face again: a second track would make a second sighting
            # of the same person over the same time.
            overlap = overlap_of_smaller(boxes[d][None], predicted)[0] if len(predicted) else np.zeros(0)
            near = int(np.argmax(overlap)) if overlap.size else -1
            if near >= 0 and overlap[near] > cfg.same_face_overlap:
                track = self.tracks[near]
                if track.id not in updated:
                    track.update(boxes[d], frame)
                    updated.add(track.id)
                    assigned[d] = track.id
                continue
            track = _new_track(self._next_id, boxes[d], frame)
            self._next_id += 1
            self.tracks.append(track)
            assigned[d] = track.id
        ended = [t for t in self.tracks if frame - t.last_frame > cfg.max_gap_frames]
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= cfg.max_gap_frames]
        return FrameAssignment(assigned, ended)

    def end_within(self, x0: float, y0: float, x1: float, y1: float) -> list[Track]:
        """End the tracks whose face's centre lies in the rectangle (a cut in part of the picture)."""
        def inside(t: Track) -> bool:
            return bool(x0 <= t.mean[0] <= x1 and y0 <= t.mean[1] <= y1)

        ended = [t for t in self.tracks if inside(t)]
        self.tracks = [t for t in self.tracks if not inside(t)]
        return ended

    def finish(self) -> list[Track]:
        """End every open track (the source ended)."""
        ended, self.tracks = self.tracks, []
        return ended
