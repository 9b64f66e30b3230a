"""Every face from a minimum size up, in each frame of a batch: the views ``frame_plan`` chooses, detected in
one detector call per input size, mapped back to source pixels and merged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from facesearch.detect.common import DetectorConfig
from facesearch.engine import Engine
from facesearch.faces import Faces
from facesearch.images import LoadedImage
from facesearch.video.frame_plan import ChangedAreas, KnownFace, Region, around, reduced_side
from facesearch.video.source import VideoFrame
from facesearch.video.tracker import TrackerConfig, overlap_of_smaller

MERGE_OVERLAP = 0.5  # boxes from two views overlapping by this share of the smaller are one face
EDGE_PX = 2.0  # a face touching a cut edge of a view is partly outside it: another view holds it whole
MOST_UPSCALE = 2.0  # tiles are enlarged at most this much: below half the detector's reliable size is hopeless
FOLLOW_S = 1.0  # seconds: a small face this search found is followed in crops until unseen this long
# A face this confident starts being followed (a weaker one keeps it followed): the tracker's own bar for
# starting a track, since a weaker face could never make one.
START_SCORE = TrackerConfig.high_score
WHOLE_SLACK_S = 0.005  # frame times are rounded: a frame this much early for the whole view is on time


@dataclass(frozen=True)
class FinderConfig:
    min_face: float  # source pixels: every face at least this big is searched for
    detect_side: int  # the whole frame's reduced view (longer side)
    whole_every_s: float  # seconds: that view on the first frame and then the first after each such interval
    # (new big faces; tracked small ones are followed in crops). Seconds, not frames: at 8 frames/s a big face
    # seen on every third frame would give a half-second appearance too few detections to make a track.
    changed_every: float  # seconds: an area whose picture changed is searched again after this long
    still_every: float  # and any area after this long


@dataclass
class FinderStats:
    tiles: int = 0  # tiles searched
    crops: int = 0  # crops around tracked faces searched


@dataclass(frozen=True)
class _Seen:
    """A small face this search found, as last seen, and when (seconds into the footage)."""

    face: KnownFace
    seconds: float


@dataclass(frozen=True)
class _View:
    frame: int  # position in the batch
    region: Region | None  # None: the whole frame, reduced
    scale: float
    pixels: NDArray[np.uint8]


class FaceFinder:
    """Finds faces in frames for one source (it remembers which tiles it searched when). Not thread-safe."""

    def __init__(self, engine: Engine, detector: DetectorConfig, config: FinderConfig) -> None:
        self.engine = engine
        self.config = config
        self.reliable = float(engine.video_detector.reliable_face_px)
        self.detector_config = replace(detector, max_side=1 << 30)  # inputs are made at the size to search
        self.stats = FinderStats()
        self._changes: ChangedAreas | None = None
        self._seen: list[_Seen] = []  # small faces this search found lately, followed on the next frames
        self._size: tuple[int, int] | None = None
        self._whole_lock = threading.Lock()
        self._whole: dict[int, bool] = {}  # frame index -> searched whole, decided once, in frame order
        self._last_whole: float | None = None  # seconds of the last frame searched whole

    def searches_whole(self, frame: VideoFrame) -> bool:
        """Whether ``frame`` is searched whole (in its reduced view): the first frame, then the first at least
        ``whole_every_s`` after the last one. Decided once per frame, in frame order: the decoding thread asks
        ahead of ``find`` (to make the reduced view off the detector's thread), and ``find`` gets its answer."""
        with self._whole_lock:
            decided = self._whole.get(frame.index)
            if decided is None:
                last = self._last_whole
                decided = (last is None or frame.seconds < last
                           or frame.seconds - last >= self.config.whole_every_s - WHOLE_SLACK_S)
                if decided:
                    self._last_whole = frame.seconds
                self._whole[frame.index] = decided
            return decided

    def _take_whole(self, frame: VideoFrame) -> bool:
        whole = self.searches_whole(frame)
        with self._whole_lock:
            self._whole.pop(frame.index, None)
        return whole

    @property
    def smallest_face(self) -> float:
        """The smallest face searched for (source pixels): what a user is told and what tracks are held to."""
        return smallest_searched(self.config.min_face, self.reliable)

    def tile_scale(self, size: tuple[int, int]) -> float | None:
        """The scale tiles are searched at for frames of ``size``; None when the reduced view is enough."""
        if self.reliable / self._reduced_scale(size) <= self.config.min_face:
            return None
        return min(self.reliable / self.smallest_face, MOST_UPSCALE)

    def _reduced_scale(self, size: tuple[int, int]) -> float:
        longer = max(size)
        return reduced_side(self.config.detect_side, longer) / longer

    def _areas(self, size: tuple[int, int]) -> ChangedAreas | None:
        if self._size != size:  # the first frame, or a stream that changed resolution
            self._size = size
            scale = self.tile_scale(size)
            self._changes = None
            if scale is not None:
                # Areas must hold whole every face the reduced view might miss (10% to spare).
                margin = 1.1 * self.reliable / self._reduced_scale(size)
                self._changes = ChangedAreas(size, scale, margin, self.config.changed_every, self.config.still_every)
        return self._changes

    def find(self, frames: list[tuple[int, VideoFrame]], known: list[KnownFace]) -> dict[int, Faces]:
        """Faces in each of ``frames`` (``(position, frame)``: its position among the frames fed to the search),
        in source pixels, by frame index. ``known``: tracked faces as last seen, searched for around where
        they will be.

        A small face is found first in a tile, which is searched only now and then; a short appearance makes a
        track only if the face is then found on the frames that follow. The tracker's faces come late (it
        tracks one batch while this detects the next), so this search also follows the small faces it found
        itself, for ``FOLLOW_S`` after it last saw each, and a face first found in this batch is searched for
        again on the batch's later frames (a second, small detector call, made only when a new face appeared)."""
        views: list[_View] = []
        searched: list[list[Region]] = []
        # The tracker follows what it knows: this search's own faces fill in only for those it does not (yet).
        self._seen = [seen for seen in self._seen if not _near(seen.face.box, known)]
        followed = known + [seen.face for seen in self._seen]
        for k, (position, frame) in enumerate(frames):
            size = frame.size
            scale = self._reduced_scale(size)
            changes = self._areas(size)
            tiles = changes.due(frame.seconds, frame.grey(round(max(size) * scale))) if changes is not None else []
            if self._take_whole(frame):
                reduced, scale = self._reduced(frame)
                views.append(_View(k, None, scale, reduced))
            views += [_View(k, t, t.scale, _pixels(frame, t)) for t in tiles]
            self.stats.tiles += len(tiles)
            searched.append(list(tiles))
            views += self._follow(k, position, frame, followed, searched[k], scale)
        per_frame = self._detect(views, frames)
        merged = [merge_views(parts, frame.size) for (_, frame), parts in zip(frames, per_frame, strict=True)]
        merged = self._follow_new(frames, merged, followed, searched)
        self._remember(frames, merged)
        return {frame.index: faces for (_, frame), faces in zip(frames, merged, strict=True)}

    def _small(self, faces: Faces, size: tuple[int, int]) -> list[tuple[NDArray[np.float32], float]]:
        """The boxes and scores of ``faces`` too small for the whole frame's reduced view: those followed in
        crops."""
        limit = self.reliable / self._reduced_scale(size)
        return [(box, float(score)) for box, score in zip(faces.boxes, faces.scores, strict=True)
                if float(box[3] - box[1]) < limit]

    def _follow_new(self, frames: list[tuple[int, VideoFrame]], merged: list[Faces], followed: list[KnownFace],
                    searched: list[list[Region]]) -> list[Faces]:
        """``merged`` with the faces first found in this batch also searched for on the batch's later frames."""
        views: list[_View] = []
        for k, ((position, _), faces) in enumerate(zip(frames, merged, strict=True)):
            new = [KnownFace(position, box, np.zeros(2, np.float32))
                   for box, score in self._small(faces, faces.image_size)
                   if score >= START_SCORE and not _near(box, followed)]
            followed = followed + new
            for j in range(k + 1, len(frames)) if new else ():
                later_position, frame = frames[j]
                views += self._follow(j, later_position, frame, new, searched[j], self._reduced_scale(frame.size))
        if not views:
            return merged
        per_frame = self._detect(views, frames)
        return [merge_views([faces, *parts], faces.image_size) for faces, parts in zip(merged, per_frame, strict=True)]

    def _remember(self, frames: list[tuple[int, VideoFrame]], merged: list[Faces]) -> None:
        """Keeps the small faces found in this batch (their motion measured from where they were last seen) and
        forgets those unseen for ``FOLLOW_S``."""
        seen = list(self._seen)
        for (position, frame), faces in zip(frames, merged, strict=True):
            for box, score in self._small(faces, frame.size):
                same = [] if not seen else np.flatnonzero(
                    overlap_of_smaller(box[None], np.stack([s.face.box for s in seen]))[0] > MERGE_OVERLAP).tolist()
                if not same and score < START_SCORE:
                    continue
                velocity = np.zeros(2, np.float32)
                if same:
                    before = seen[same[0]].face
                    if position > before.frame:
                        moved = (box[:2] + box[2:]) / 2 - (before.box[:2] + before.box[2:]) / 2
                        velocity = (moved / (position - before.frame)).astype(np.float32)
                    seen = [s for i, s in enumerate(seen) if i not in same]
                seen.append(_Seen(KnownFace(position, box.copy(), velocity), frame.seconds))
        if frames:
            now = frames[-1][1].seconds
            seen = [s for s in seen if 0 <= now - s.seconds <= FOLLOW_S]  # (a clock that went back: forgotten)
        self._seen = seen

    def _follow(self, k: int, position: int, frame: VideoFrame, faces: list[KnownFace], searched: list[Region],
                scale: float) -> list[_View]:
        """Crops around ``faces`` in the ``k``-th frame of the batch, for those too small for the whole frame's
        view (``scale``) and not inside an area already searched there."""
        size = frame.size
        most = self._changes.scale if self._changes is not None else 1.0
        views = []
        for face in faces:
            height = float(face.box[3] - face.box[1])
            if height * scale >= self.reliable:
                continue  # the whole frame's view finds it when it runs; the tracker carries it between
            x0, y0, x1, y1 = (float(v) for v in face.box)
            if any(r.x0 <= x0 and r.y0 <= y0 and x1 <= r.x1 and y1 <= r.y1 for r in searched):
                continue  # searched there already (a tile, or a crop around the same face)
            crop = around(face, position, size[0], size[1], most)
            if crop.x1 - crop.x0 < 8 or crop.y1 - crop.y0 < 8 or any(_inside(crop, t) for t in searched):
                continue
            searched.append(crop)
            views.append(_View(k, crop, crop.scale, _pixels(frame, crop)))
            self.stats.crops += 1
        return views

    def _detect(self, views: list[_View], frames: list[tuple[int, VideoFrame]]) -> list[list[Faces]]:
        found = self.engine.detect_video([LoadedImage(v.pixels, "frame") for v in views], self.detector_config)
        per_frame: list[list[Faces]] = [[] for _ in frames]
        for view, faces in zip(views, found, strict=True):
            per_frame[view.frame].append(_in_source(faces, view, frames[view.frame][1].size))
        return per_frame

    def _reduced(self, frame: VideoFrame) -> tuple[NDArray[np.uint8], float]:
        small = frame.small
        if small is not None:
            return small, small.shape[1] / frame.size[1]
        h, w = frame.size
        scale = self._reduced_scale((h, w))
        if scale == 1.0:
            return frame.pixels, 1.0
        size = (max(round(w * scale), 1), max(round(h * scale), 1))
        small = np.asarray(cv2.resize(frame.pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
        return small, size[0] / w


def smallest_searched(min_face: float, reliable_px: float) -> float:
    """The smallest face a search for faces from ``min_face`` px finds, with a detector reliable from
    ``reliable_px``: tiles are enlarged at most ``MOST_UPSCALE`` times."""
    return max(min_face, reliable_px / MOST_UPSCALE)


def _pixels(frame: VideoFrame, region: Region) -> NDArray[np.uint8]:
    part = frame.region(region.x0, region.y0, region.x1, region.y1)
    h, w = region.input_size
    if (h, w) == part.shape[:2]:
        return np.ascontiguousarray(part)
    # Area averaging only where bilinear would alias badly (to under a third); it costs several times as much.
    interpolation = cv2.INTER_AREA if region.scale < 0.34 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(part, (w, h), interpolation=interpolation), np.uint8)


def _near(box: NDArray[np.float32], faces: list[KnownFace]) -> bool:
    """Whether ``box`` is one of ``faces`` (overlapping one by ``MERGE_OVERLAP`` of the smaller box)."""
    if not faces:
        return False
    return bool((overlap_of_smaller(box[None], np.stack([f.box for f in faces])) > MERGE_OVERLAP).any())


def _inside(inner: Region, outer: Region) -> bool:
    return (outer.x0 <= inner.x0 and outer.y0 <= inner.y0 and inner.x1 <= outer.x1 and inner.y1 <= outer.y1
            and outer.scale >= inner.scale)


def _in_source(faces: Faces, view: _View, size: tuple[int, int]) -> Faces:
    """``faces`` found in a view, in the frame's pixels; those cut by an inner edge of a region left out."""
    if len(faces) == 0:
        return Faces.empty(size)
    scale = np.float32(view.scale)
    x0, y0 = (0, 0) if view.region is None else (view.region.x0, view.region.y0)
    offset = np.array([x0, y0], np.float32)
    boxes = faces.boxes / scale + np.tile(offset, 2)
    keep = np.ones(len(faces), bool)
    if view.region is not None:
        r, margin = view.region, EDGE_PX / float(scale)
        h, w = size
        keep &= ~((r.x0 > 0) & (boxes[:, 0] <= r.x0 + margin))
        keep &= ~((r.y0 > 0) & (boxes[:, 1] <= r.y0 + margin))
        keep &= ~((r.x1 < w) & (boxes[:, 2] >= r.x1 - margin))
        keep &= ~((r.y1 < h) & (boxes[:, 3] >= r.y1 - margin))
    moved = faces.with_columns(boxes=boxes.astype(np.float32),
                               landmarks=(faces.landmarks / scale + offset).astype(np.float32),
                               face_size=(faces.face_size / scale).astype(np.float32), image_size=size)
    return moved[keep]


def merge_views(parts: list[Faces], size: tuple[int, int]) -> Faces:
    """One ``Faces`` for a frame from the faces of its views: a face seen in several, once (the most confident)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Faces.empty(size)
    if len(parts) == 1:
        return parts[0]
    joined = Faces(boxes=np.concatenate([p.boxes for p in parts]), scores=np.concatenate([p.scores for p in parts]),
                   landmarks=np.concatenate([p.landmarks for p in parts]),
                   face_size=np.concatenate([p.face_size for p in parts]),
                   sharpness=np.concatenate([p.sharpness for p in parts]),
                   frontal=np.concatenate([p.frontal for p in parts]), image_size=size)
    return joined[_distinct(joined.boxes, joined.scores)]


def _distinct(boxes: NDArray[np.float32], scores: NDArray[np.float32]) -> NDArray[np.intp]:
    """The most confident of each set of boxes that are one face: overlapping by ``MERGE_OVERLAP`` of the smaller
    box. Intersection over union is not enough here: the same face found at two scales (a tile, a crop) can
    give a box and a larger one around it, whose union is big, and two tracks of one person would follow."""
    overlap = overlap_of_smaller(boxes, boxes)
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable").tolist():
        if not keep or not (overlap[i, keep] > MERGE_OVERLAP).any():
            keep.append(i)
    return np.asarray(keep, np.intp)
