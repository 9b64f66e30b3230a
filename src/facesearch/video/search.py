"""Frames in, matched tracks out: detect -> end tracks at shot cuts -> track -> keep each track's best
faces -> embed a track once -> match it against the watchlists.

Decoding runs in a thread of its own (FFmpeg releases the GIL) while frames are detected in batches.
A track is embedded when it ends: the mean of its best faces' embeddings, one comparison per track,
so the false positive rate per track is the one the threshold was set for. A track that matches
nobody is dropped with everything kept of it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from facesearch.engine import Engine
from facesearch.images import LoadedImage
from facesearch.video.cuts import CutDetector
from facesearch.video.source import VideoFrame
from facesearch.video.track_faces import TrackFaces, usefulness
from facesearch.video.tracker import FaceTracker, Track, TrackerConfig
from facesearch.video.watchlist import CaseWatchlist, TrackMatch, match


@dataclass(frozen=True)
class SearchConfig:
    batch: int = 8  # frames per detector call
    faces_per_track: int = 5  # best faces kept and embedded per track
    min_face_size: float = 20.0  # px; smaller faces are tracked but never embedded
    min_frontal: float = 0.15  # faces turned further away are tracked but never embedded
    min_detections: int = 3  # a track seen fewer times is a flicker, not a face
    max_gap_s: float = 1.0  # a track unseen this long has ended


@dataclass(frozen=True)
class MatchedTrack:
    """A track that matched at least one watchlist identity: what a sighting is made of."""

    track_id: int
    start_s: float
    end_s: float
    best_s: float
    best_box: NDArray[np.float32]
    best_frame: NDArray[np.uint8]
    best_chip: NDArray[np.uint8]
    detections: int
    matches: list[TrackMatch]


@dataclass
class SearchProgress:
    frames: int = 0
    seconds: float = 0.0  # footage time reached
    tracks: int = 0  # tracks ended
    matched: int = 0


def _prefetch(frames: Iterable[VideoFrame], depth: int) -> Iterator[VideoFrame]:
    """Decode ahead in a thread; errors surface in the caller at the frame where they happened."""
    q: queue.Queue[VideoFrame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for f in frames:
                while not stop.is_set():
                    try:
                        q.put(f, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it where it reads
            q.put(exc)

    thread = threading.Thread(target=work, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class VideoSearch:
    """One source's search: feed frames, receive matched tracks. Not thread-safe; one per source."""

    def __init__(self, engine: Engine, watchlists: list[CaseWatchlist], *, recording_start: datetime | None,
                 fps: float, config: SearchConfig | None = None) -> None:
        self.engine = engine
        self.watchlists = watchlists
        self.recording_start = recording_start
        self.config = config or SearchConfig()
        gap = max(round(self.config.max_gap_s * (fps or 30.0)), 1)
        self.tracker = FaceTracker(TrackerConfig(max_gap_frames=gap))
        self.open: dict[int, TrackFaces] = {}
        self.templates = [r.template for r in engine.recognizers]
        self.progress = SearchProgress()
        self.cuts = CutDetector()

    def run(self, frames: Iterable[VideoFrame], on_progress: Callable[[SearchProgress], None] | None = None,
            should_stop: Callable[[VideoFrame], bool] | None = None) -> Iterator[MatchedTrack]:
        """Matched tracks as they end; at the end of ``frames`` (or when ``should_stop`` says so) the
        tracks still open are finished too."""
        batch: list[VideoFrame] = []
        for frame in _prefetch(frames, depth=2 * self.config.batch):
            if should_stop is not None and should_stop(frame):
                break
            batch.append(frame)
            if len(batch) == self.config.batch:
                yield from self._process(batch)
                batch = []
                if on_progress is not None:
                    on_progress(self.progress)
        if batch:
            yield from self._process(batch)
        yield from self._finish(self.tracker.finish())
        if on_progress is not None:
            on_progress(self.progress)

    def _process(self, frames: list[VideoFrame]) -> Iterator[MatchedTrack]:
        cfg = self.config
        detections = self.engine.detect([LoadedImage(f.pixels, "frame") for f in frames])
        for frame, faces in zip(frames, detections, strict=True):
            if self.cuts.is_cut(frame.pixels):  # another view: nobody's track continues across it
                yield from self._finish(self.tracker.finish())
            assignment = self.tracker.step(frame.index, faces.boxes, faces.scores)
            useful = usefulness(faces.face_size, faces.frontal)
            for i, track_id in enumerate(assignment.track_ids.tolist()):
                if track_id < 0:
                    continue
                kept = self.open.setdefault(track_id, TrackFaces(track_id, frame.seconds, frame.seconds))
                if faces.face_size[i] < cfg.min_face_size or faces.frontal[i] < cfg.min_frontal:
                    kept.detections += 1
                    kept.last_s = frame.seconds
                    continue
                kept.offer(frame.seconds, faces.boxes[i], float(useful[i]), faces.landmarks[i], frame.pixels,
                           self.templates, cfg.faces_per_track)
            self.progress.frames += 1
            self.progress.seconds = frame.seconds
            yield from self._finish(assignment.ended)

    def _finish(self, ended: list[Track]) -> Iterator[MatchedTrack]:
        for track in ended:
            kept = self.open.pop(track.id, None)
            self.progress.tracks += 1
            if kept is None or not kept.samples or kept.detections < self.config.min_detections:
                continue
            found = self._match(kept)
            if found:
                self.progress.matched += 1
                assert kept.best_frame is not None and kept.best_box is not None
                yield MatchedTrack(track.id, kept.first_s, kept.last_s, kept.best_s, kept.best_box,
                                   kept.best_frame, kept.samples[0].chips[0], kept.detections, found)

    def _match(self, kept: TrackFaces) -> list[TrackMatch]:
        per_model = [rec.embed(np.stack([s.chips[k] for s in kept.samples]))
                     for k, rec in enumerate(self.engine.recognizers)]
        fused = self.engine.fuse(per_model)
        mean = fused.mean(axis=0)
        mean = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        at = None if self.recording_start is None else self.recording_start + timedelta(seconds=kept.first_s)
        return match(self.engine, self.watchlists, mean, at)
