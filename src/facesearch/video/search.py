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
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from facesearch.cases.watchlist import CaseWatchlist
from facesearch.engine import Engine
from facesearch.faces import Faces
from facesearch.quality import usefulness
from facesearch.video.cascade import score_bound
from facesearch.video.cuts import CutDetector
from facesearch.video.face_finder import FaceFinder, FinderConfig
from facesearch.video.face_size import MIN_FACE_DEFAULT
from facesearch.video.frame_plan import KnownFace
from facesearch.video.source import VideoFrame
from facesearch.video.track_faces import TrackFaces
from facesearch.video.track_matching import TrackMatch, match
from facesearch.video.tracker import FaceTracker, Track, TrackerConfig

CUT_SIDE = 256  # px: the grey picture shot cuts are looked for in


# A live search this far behind the stream (seconds) embeds tracks from their best views only, until it is back
# within CAUGHT_UP_S (see ``VideoSearch._keep_up``).
BEHIND_S = 1.0
CAUGHT_UP_S = 0.5


@dataclass(frozen=True)
class SearchConfig:
    # Every face at least this tall (source pixels) is searched for, however big the frame: the whole frame
    # reduced finds big faces, native-resolution tiles and crops around tracked faces the small ones
    # (``frame_plan``). Smaller faces found anyway are tracked and counted, never identified.
    min_face: float = MIN_FACE_DEFAULT
    # The whole frame's reduced view (longer side, px; at least a quarter of the frame's): it finds the faces
    # too big for the tiles to hold whole, from ~60 px in a 640x360 clip, ~100 px in 1080p and 4K.
    detect_side: int = 256
    # The whole frame's reduced view at least this often (seconds of footage: every third frame at 30 frames/s,
    # every frame at 10 or fewer): it finds faces that came into view, and big faces at a rate that makes a
    # track of a short appearance; small faces already found are searched in crops on every frame.
    whole_every_s: float = 0.1
    # A tile is searched again once its picture has changed and this long has passed (seconds of footage),
    # and after ``tile_still_s`` regardless (someone standing still). A face found is then followed in a
    # crop on every frame; these only bound how long a new small face can go unnoticed.
    tile_changed_s: float = 0.5
    tile_still_s: float = 4.0
    detect_every: int = 1  # detect faces on every n-th frame (1: all); all frames are still tracked
    batch: int = 8  # frames per detector call
    # A live watch's batch goes to the detector once it spans this much of the stream, full or not: at 10
    # frames/s a batch of 8 held each frame 0.8 s (1.6 s to tracking) before a track could end. None: full
    # batches only (files, where only throughput counts).
    batch_span_s: float | None = None
    faces_per_track: int = 8  # best views kept and embedded per track, weighed by quality
    # The costliest recognizer (dlib's ResNet in the default profile) embeds the best few of them only: its part
    # of the track's embedding is the weighted mean over those, the others' over all the views.
    costly_views: int = 3
    min_frontal: float = 0.15  # faces turned further away are tracked but never embedded
    min_detections: int = 3  # a track seen fewer times is a flicker, not a face
    detect_score: float = 0.3  # weak detections too: they keep tracks alive (ByteTrack), never start one
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
    views: int = 1  # views of the face embedded (the track's best, weighed by quality)


@dataclass
class SearchProgress:
    frames: int = 0
    seconds: float = 0.0  # footage time reached
    faces: int = 0  # faces detected, over every frame
    tracks: int = 0  # tracks ended
    matched: int = 0
    # Where the time goes (seconds of wall time; decoding overlaps the rest, in its own thread).
    decode_s: float = 0.0
    detect_s: float = 0.0
    track_s: float = 0.0  # tracking, cut detection, keeping and aligning the best faces
    embed_s: float = 0.0  # embedding and matching ended tracks
    pruned: int = 0  # tracks the cascade ruled out before the costly recognizer
    hurried: int = 0  # tracks embedded from their best views only, because a live search was behind the stream
    too_small: int = 0  # tracks whose face never reached the smallest size identified
    smallest_face: float = 0.0  # px: faces from this size up were searched for
    tiles: int = 0  # native-resolution tiles searched
    crops: int = 0  # crops around tracked faces searched


def _prefetch(frames: Iterable[VideoFrame], depth: int, progress: SearchProgress,
              prepare: Callable[[int, VideoFrame], object]) -> Iterator[VideoFrame]:
    """Decode ahead in a thread, calling ``prepare`` on each frame (and its position) there, in order; errors
    surface in the caller at the frame where they happened.

    When the caller stops early, the decoding thread is stopped and *joined* before this returns: the
    caller then closes the container, and FFmpeg must not be decoding from it in another thread at
    that moment (it crashes the process).
    """
    q: queue.Queue[VideoFrame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: VideoFrame | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        source = iter(frames)
        position = 0
        try:
            while not stop.is_set():
                began = time.perf_counter()
                f = next(source, None)
                if f is not None:
                    prepare(position, f)
                position += 1
                progress.decode_s += time.perf_counter() - began
                if not put(f) or f is None:
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it where it reads
            put(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # the decoder's own clean-up, in the thread that used it

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
        thread.join(timeout=60)  # a blocked network read ends within the reader's socket timeout


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
        cfg = self.config
        detector = replace(engine.video_detector.config, score_threshold=cfg.detect_score, sharpness=False)
        self.finder = FaceFinder(engine, detector, FinderConfig(
            cfg.min_face, cfg.detect_side, whole_every_s=cfg.whole_every_s,
            changed_every=cfg.tile_changed_s, still_every=cfg.tile_still_s))
        self.progress.smallest_face = self.finder.smallest_face
        self._clock: tuple[float, float] | None = None  # live: (monotonic time, stream seconds) of the first frame
        self._hurried = False  # live and behind the stream: tracks are embedded from their best views only
        # The open tracks as of the last frame tracked, for the detector's worker to search around. Replaced
        # whole (never changed in place): the worker reads it while this thread tracks.
        self._known: list[KnownFace] = []

    def run(self, frames: Iterable[VideoFrame], on_progress: Callable[[SearchProgress], None] | None = None,
            should_stop: Callable[[VideoFrame], bool] | None = None) -> Iterator[MatchedTrack]:
        """Matched tracks as they end; at the end of ``frames`` (or when ``should_stop`` says so) the
        tracks still open are finished too.

        Detection of the next batch runs in a worker thread (ONNX Runtime releases the GIL) while this
        thread tracks and embeds the previous one: three stages in flight, decode, detect and the rest.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect") as pool:
            pending: tuple[list[VideoFrame], Future[list[Faces]]] | None = None
            batch: list[VideoFrame] = []
            submitted = 0
            every = self.config.detect_every

            def prepare(position: int, frame: VideoFrame) -> None:
                # The frames searched whole get their reduced view in the decoding thread, off the detector's.
                if position % every == 0 and self.finder.searches_whole(frame):
                    _ = frame.small

            for frame in _prefetch(frames, 2 * self.config.batch, self.progress, prepare):
                if should_stop is not None and should_stop(frame):
                    break
                batch.append(frame)
                if pending is not None and self.config.batch_span_s is not None and pending[1].done():
                    # Live: the detections are back, so track them now rather than when the next batch fills.
                    yield from self._track(*pending)
                    pending = None
                    if on_progress is not None:
                        on_progress(self.progress)
                if len(batch) < self.config.batch and not self._spans_enough(batch):
                    continue
                future = pool.submit(self._detect, batch, submitted)
                submitted += len(batch)
                if pending is not None:
                    yield from self._track(*pending)
                    if on_progress is not None:
                        on_progress(self.progress)
                pending, batch = (batch, future), []
            if pending is not None:
                yield from self._track(*pending)
            if batch:
                yield from self._track(batch, pool.submit(self._detect, batch, submitted))
        yield from self._finish(self.tracker.finish())
        if on_progress is not None:
            on_progress(self.progress)

    def _spans_enough(self, batch: list[VideoFrame]) -> bool:
        span = self.config.batch_span_s
        return span is not None and batch[-1].seconds - batch[0].seconds >= span

    def _detect(self, frames: list[VideoFrame], first: int) -> list[Faces]:
        """Faces in each frame, in full-resolution pixels. Every frame is decoded, checked for cuts and
        tracked; faces are detected on every ``detect_every``-th (the tracker's prediction carries a
        track over the others). ``first``: how many frames came before these."""
        began = time.perf_counter()
        every = self.config.detect_every
        chosen = [(first + k, f) for k, f in enumerate(frames) if (first + k) % every == 0]
        by_index = self.finder.find(chosen, self._known)
        self.progress.detect_s += time.perf_counter() - began
        self.progress.tiles, self.progress.crops = self.finder.stats.tiles, self.finder.stats.crops
        return [by_index.get(f.index, Faces.empty(f.size)) for f in frames]

    def _track(self, frames: list[VideoFrame], detected: Future[list[Faces]]) -> Iterator[MatchedTrack]:
        cfg = self.config
        detections = detected.result()
        began = time.perf_counter()
        ended: list[Track] = []
        for frame, faces in zip(frames, detections, strict=True):
            for x0, y0, x1, y1 in self.cuts.cuts(frame.grey(CUT_SIDE)):
                # Another view there: nobody's track continues across it.
                h, w = frame.size
                ended += self.tracker.end_within(x0 * w, y0 * h, x1 * w, y1 * h)
            assignment = self.tracker.step(frame.index, faces.boxes, faces.scores)
            self.progress.faces += len(faces.boxes)
            useful = usefulness(faces.face_size, faces.frontal)
            for i, track_id in enumerate(assignment.track_ids.tolist()):
                if track_id < 0:
                    continue
                kept = self.open.setdefault(track_id, TrackFaces(track_id, frame.seconds, frame.seconds))
                if faces.face_size[i] < self.finder.smallest_face or faces.frontal[i] < cfg.min_frontal:
                    kept.detections += 1
                    kept.last_s = frame.seconds
                    kept.small += int(faces.face_size[i] < self.finder.smallest_face)
                    continue
                kept.offer(frame, faces.boxes[i], float(useful[i]), faces.landmarks[i], cfg.faces_per_track,
                           float(faces.scores[i]))
            self.progress.frames += 1
            self.progress.seconds = frame.seconds
            ended += assignment.ended
        if frames:
            self._keep_up(frames[-1].seconds)
        position = self.progress.frames - 1
        self._known = [KnownFace(position, t.box, t.mean[4:6].astype(np.float32)) for t in self.tracker.tracks]
        self.progress.track_s += time.perf_counter() - began
        yield from self._finish(ended)

    def _keep_up(self, seconds: float) -> None:
        """A live search that falls ``BEHIND_S`` behind the stream embeds each ended track from its best views
        only (with every model, as the costliest one always does) until it is back within ``CAUGHT_UP_S``.
        Embedding is most of a busy camera's work, and an alert a minute late is worth less than one from three
        views of the face instead of eight; a file is searched in full however long it takes."""
        if self.config.batch_span_s is None:
            return
        now = time.monotonic()
        if self._clock is None:
            self._clock = (now, seconds)
        lag = (now - self._clock[0]) - (seconds - self._clock[1])
        self._hurried = lag > BEHIND_S or (self._hurried and lag > CAUGHT_UP_S)

    def _finish(self, ended: list[Track]) -> Iterator[MatchedTrack]:
        for track in ended:
            kept = self.open.pop(track.id, None)
            self.progress.tracks += 1
            if kept is None or kept.detections < self.config.min_detections:
                continue
            if not kept.samples:
                self.progress.too_small += int(kept.small > 0)
                continue
            began = time.perf_counter()
            found = self._match(kept)
            self.progress.embed_s += time.perf_counter() - began
            if found:
                self.progress.matched += 1
                best = kept.best
                assert best.frame is not None  # the best view keeps its frame
                yield MatchedTrack(track.id, kept.first_s, kept.last_s, best.seconds, best.box, best.frame.pixels,
                                   best.chips(self.templates)[0], kept.detections, found, views=len(kept.samples))

    def _match(self, kept: TrackFaces) -> list[TrackMatch]:
        """The watchlist matches of a track (its views aligned only once a watchlist could hold a match)."""
        recognizers = self.engine.recognizers
        at = None if self.recording_start is None else self.recording_start + timedelta(seconds=kept.first_s)
        if not any(w.size and w.covers(at) for w in self.watchlists):
            return []
        weights = kept.weights()
        order = np.argsort(-weights, kind="stable")
        best = order[: self.config.costly_views]
        if self._hurried:  # behind live: every model sees the best views only, as the costliest always does
            self.progress.hurried += 1
            order = best
        sample_chips = {int(i): kept.samples[i].chips(self.templates) for i in order}
        # The recognizer with the largest input does the most work: it sees the best views only, and runs only
        # if the others leave a match possible (an exact bound; see ``cascade``).
        costly = max(range(len(recognizers)), key=lambda k: recognizers[k].spec.input_size)
        seen_by = {k: best if k == costly and len(recognizers) > 1 else order for k in range(len(recognizers))}
        chips = {k: np.stack([sample_chips[int(i)][k] for i in seen_by[k]]) for k in range(len(recognizers))}
        # Each model's share of a view: its weight among the views that model sees (they sum to 1).
        shares = {k: weights[seen_by[k]] / weights[seen_by[k]].sum() for k in range(len(recognizers))}
        per_model: dict[int, NDArray[np.float32]] = {}
        if len(recognizers) > 1:
            known = [k for k in range(len(recognizers)) if k != costly]
            for k in known:
                per_model[k] = recognizers[k].embed(chips[k])
            if not self._could_match(known, costly, per_model, shares, at):
                self.progress.pruned += 1
                return []
        for k, rec in enumerate(recognizers):
            if k not in per_model:
                per_model[k] = rec.embed(chips[k])
        # Each model's part: the weighted mean of its unit embeddings over the views it saw.
        parts = [(shares[k][:, None] * per_model[k]).sum(axis=0, keepdims=True).astype(np.float32)
                 for k in range(len(recognizers))]
        mean = self.engine.fuse(parts)[0]
        mean = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        # The best views, seen by every model, scored one by one for the spread a reviewer is shown.
        # (Every model's rows begin with them: the views are in order of weight.)
        views = self.engine.fuse([per_model[k][: len(best)] for k in range(len(recognizers))])
        return [replace(m, view_scores=self._view_scores(views, m)) for m in match(self.engine, self.watchlists,
                                                                                     mean, at)]

    def _view_scores(self, views: NDArray[np.float32], m: TrackMatch) -> tuple[float, float, float]:
        """Each view's score against the matched person's templates (the best of them), summarised."""
        w = next(w for w in self.watchlists if w.case_ref == m.case_ref)
        templates = w.index.vectors[w.index.identity_ids == m.identity_id]
        scores = (views @ templates.T).max(axis=1)
        return float(scores.min()), float(np.median(scores)), float(scores.max())

    def _could_match(self, known: list[int], costly: int, per_model: dict[int, NDArray[np.float32]],
                     shares: dict[int, NDArray[np.float64]], at: datetime | None) -> bool:
        weights_of_models = np.asarray(self.engine.weights, np.float64)
        dims = [r.spec.embedding_size for r in self.engine.recognizers]
        # Weighted means of unit vectors (the shares sum to 1): still at most 1 long, as the bound needs.
        means = {k: (shares[k][:, None] * per_model[k]).sum(axis=0).astype(np.float32) for k in known}
        for w in self.watchlists:
            if w.size and w.covers(at):
                bound = score_bound(weights_of_models, known, costly, means, w.index.vectors, dims)
                if (bound >= w.threshold).any():
                    return True
        return False
