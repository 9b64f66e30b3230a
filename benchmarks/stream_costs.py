"""Per-stream cost of the live pipeline, stage by stage, in CPU time: what one camera costs a node.

The Hamilton clip is searched as a live watch searches a stream (``VideoReader`` at ``--fps`` frames per
second, ``VideoSearch`` with the default ``SearchConfig``), at 640x360 as it is and scaled up to 1920x1080
(``video_scan.footage``). The stages run one after another in this process, so that each one's CPU time
(``time.process_time``: every thread of the process, FFmpeg's and ONNX Runtime's included) is its own, and
another benchmark on the same cores changes the wall times but hardly the CPU times:

1. decode: every frame of the clip is decoded (H.264 cannot skip frames), ``--fps`` of them are kept and
   shrunk for detection;
2. detect: those frames, in batches, at the search's detection sizes;
3. track and align: the tracker on the detections, cut detection, keeping each track's best faces, and
   aligning them from the full-resolution frame when the track ends;
4. embed and match: per track that qualifies (long enough, a face big and frontal enough), its chips
   embedded (the cheap recognizer first; the costly one only where the cascade leaves a match possible) and
   matched against a watchlist of the two people ``video_scan.py`` looks for.

Also: chips per second and their bytes (what would cross the network to GPU embedding nodes), CPU ms per
chip per recognizer, and the sealed index's size per 1,000 enrolled people.

    python benchmarks/stream_costs.py [--fps 10] [--json FILE] [--no-record]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, markdown_table, record
from facesearch.cases.watchlist import CaseWatchlist
from facesearch.engine import Engine
from facesearch.faces import Faces
from facesearch.index.cache import IndexCache
from facesearch.index.gallery_index import GalleryIndex
from facesearch.store.crypto import Sealer
from facesearch.video.search import SearchConfig, VideoSearch
from facesearch.video.source import VideoFrame, VideoReader
from facesearch.video.track_faces import FaceSample, TrackFaces
from facesearch.video.track_matching import TrackMatch
from facesearch.video.tracker import Track

# video_scan.py is a script beside this one: its clip, people and made footage are reused, loaded by name so that
# this file's type check stays about this file (that script has findings of its own).
_video_scan: Any = importlib.import_module("video_scan")
CLIP: Path = _video_scan.CLIP
PEOPLE: Path = _video_scan.PEOPLE
TARGETS: tuple[tuple[str, str], ...] = _video_scan.TARGETS
footage: Callable[[str], Path] = _video_scan.footage  # "1080p-up": the clip scaled up whole

DECODE_REPEATS = 3  # decoding is the cheapest stage to repeat; the median counts
EMBED_REPEATS = 20  # batches per recognizer when timing one chip's embedding
INDEX_PEOPLE = 1000


@dataclass
class StreamCost:
    """One resolution's costs, per frame searched, per track and per second of footage."""

    resolution: str
    source_fps: float
    searched_fps: float
    footage_s: float
    frames_decoded: int
    frames_searched: int
    decode_ms_per_decoded_frame: float
    decode_ms_per_searched_frame: float  # the frames decoded but not searched included
    detect_ms_per_frame: float
    track_ms_per_frame: float  # tracking, cut detection, keeping the best faces
    align_ms_per_track: float  # the kept faces aligned from the full-resolution frame, per qualifying track
    embed_ms_per_track: float  # embedding and matching, per qualifying track
    faces_per_s: float
    tracks_ended_per_s: float
    tracks_embedded_per_s: float  # ended tracks that qualified for embedding
    chips_per_s: dict[str, float]  # per recognizer
    chips_per_s_no_cascade: dict[str, float]  # per recognizer, were every costly chip embedded too
    cpu_ms_per_s: dict[str, float]  # CPU ms per second of footage, per stage
    wall_s: dict[str, float]  # wall time of each stage over the clip (noisy on a shared machine)

    @property
    def cpu_cores(self) -> float:
        """Cores one stream keeps busy in real time."""
        return sum(self.cpu_ms_per_s.values()) / 1000.0


@dataclass
class Measured:
    date: str
    machine: str
    fps: float
    streams: list[StreamCost]
    bytes_per_chip: dict[str, int]
    embed_ms_per_chip: dict[str, float]  # CPU, batches of faces_per_track chips
    embedding_dims: dict[str, int]
    index_bytes_per_1000: dict[str, int]
    faces_per_track: int = SearchConfig().faces_per_track
    notes: list[str] = field(default_factory=list)


class _CpuClock:
    """CPU seconds of the whole process (all threads) and wall seconds, since it was made."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def lap(self) -> tuple[float, float]:
        return time.process_time() - self.cpu, time.perf_counter() - self.wall


class _Replay(VideoSearch):
    """A search fed detections made beforehand, so that its own CPU time is tracking, aligning and embedding
    only; the aligning (chips) and the embedding and matching are timed apart, and chips counted per recognizer."""

    def __init__(self, *args: Any, detections: dict[int, list[Faces]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detections = detections
        self.finish_cpu = 0.0  # aligning + embedding + matching of ended tracks
        self.match_cpu = 0.0  # embedding + matching
        self.embedded_tracks = 0
        self.chips = [0] * len(self.engine.recognizers)
        self.offered_chips = 0
        self.offered_costly = 0  # the costly model's chips, were the cascade never to skip it
        self.align_cpu = 0.0  # aligning the views of ended tracks
        self.longest: TrackFaces | None = None  # the track with the most views, for timing the recognizers

    def _detect(self, frames: list[VideoFrame], first: int) -> list[Faces]:
        return self.detections[first]

    def _finish(self, ended: list[Track]) -> Iterator[Any]:
        inner = super()._finish(ended)
        while True:
            began = time.process_time()
            item = next(inner, None)
            self.finish_cpu += time.process_time() - began
            if item is None:
                return
            yield item

    def _match(self, kept: TrackFaces) -> list[TrackMatch]:
        began, pruned, aligned = time.process_time(), self.progress.pruned, self.align_cpu
        found = super()._match(kept)
        self.match_cpu += time.process_time() - began - (self.align_cpu - aligned)  # aligning is timed apart
        views = len(kept.samples)
        self.embedded_tracks += 1
        self.offered_chips += views
        self.offered_costly += min(views, self.config.costly_views)
        costly = max(range(len(self.chips)), key=lambda k: self.engine.recognizers[k].spec.input_size)
        for k in range(len(self.chips)):
            if k != costly:
                self.chips[k] += views
            elif self.progress.pruned == pruned:  # the costly model sees the best few views only
                self.chips[k] += min(views, self.config.costly_views)
        if self.longest is None or views > len(self.longest.samples):
            self.longest = kept
        return found


@contextmanager
def _aligning_timed(search: _Replay) -> Iterator[None]:
    """Every face aligned while this lasts adds its CPU time to ``search.align_cpu`` (the search aligns a
    track's views inside its matching, once a watchlist could hold a match)."""
    original = FaceSample.chips

    def timed(sample: FaceSample, templates: list[Any]) -> list[NDArray[np.uint8]]:
        began = time.process_time()
        try:
            return original(sample, templates)
        finally:
            search.align_cpu += time.process_time() - began

    FaceSample.chips = timed  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        FaceSample.chips = original  # type: ignore[method-assign]


def watchlists(engine: Engine, now: datetime) -> list[CaseWatchlist]:
    """A live watchlist of ``video_scan``'s two people, made in memory (no database: only matching is timed)."""
    assert engine.calibration is not None, "the profile must be calibrated to match"
    vectors = np.vstack([engine.analyze(PEOPLE / photo).embeddings[:1] for _, photo in TARGETS])
    ids = np.arange(1, len(TARGETS) + 1, dtype=np.int64)
    index = GalleryIndex.build(ids, ids, vectors, engine.embedding_size)
    threshold, extrapolated = engine.calibration.operating_threshold(1e-3 / len(TARGETS), subject="bench",
                                                                     advice="-")
    day = timedelta(days=1)
    return [CaseWatchlist("bench", index, {int(i): name for i, (name, _) in zip(ids, TARGETS, strict=True)},
                          threshold, extrapolated, 1e-3, now - day, now + day, now - day, now + day)]


def decode(clip: Path, fps: float, detect_side: int) -> tuple[list[VideoFrame], float, float, int, float]:
    """The searched frames of one decode, its CPU and wall seconds, frames decoded and the source's rate."""
    clock = _CpuClock()
    with VideoReader(clip, fps=fps, detect_side=detect_side) as reader:
        frames = list(reader.frames())
        source_fps = reader.info.fps
    cpu, wall = clock.lap()
    return frames, cpu, wall, frames[-1].index + 1, source_fps


def measure_stream(engine: Engine, clip: Path, resolution: str, fps: float) -> tuple[StreamCost, list[Any]]:
    config = SearchConfig()
    decodes = [decode(clip, fps, config.detect_side) for _ in range(DECODE_REPEATS)]
    frames, _, _, decoded, source_fps = decodes[-1]  # fresh frames: nothing converted yet by an earlier pass
    decode_cpu = statistics.median(d[1] for d in decodes)
    decode_wall = statistics.median(d[2] for d in decodes)
    now = datetime.now(UTC)
    lists = watchlists(engine, now)
    detector = VideoSearch(engine, lists, recording_start=now, fps=source_fps, config=config)
    batches = [(first, frames[first:first + config.batch]) for first in range(0, len(frames), config.batch)]
    detector._detect(batches[0][1], 0)  # warm-up: the first call of a model sets up its kernels
    clock = _CpuClock()
    detections = {first: detector._detect(batch, first) for first, batch in batches}
    detect_cpu, detect_wall = clock.lap()

    search = _Replay(engine, lists, recording_start=now, fps=source_fps, config=config, detections=detections)
    clock = _CpuClock()
    with _aligning_timed(search):
        for _ in search.run(frames):
            pass
    rest_cpu, rest_wall = clock.lap()
    track_cpu = rest_cpu - search.finish_cpu
    align_cpu = search.align_cpu
    footage = (decoded / source_fps) if source_fps else frames[-1].seconds
    n, embedded = len(frames), max(search.embedded_tracks, 1)
    names = [r.name for r in engine.recognizers]
    costly = max(range(len(names)), key=lambda k: engine.recognizers[k].spec.input_size)
    per_s = {"decode": decode_cpu, "detect": detect_cpu, "track": track_cpu, "align": align_cpu,
             "embed": search.match_cpu}
    cost = StreamCost(
        resolution=resolution, source_fps=source_fps, searched_fps=n / footage, footage_s=footage,
        frames_decoded=decoded, frames_searched=n,
        decode_ms_per_decoded_frame=1000 * decode_cpu / decoded, decode_ms_per_searched_frame=1000 * decode_cpu / n,
        detect_ms_per_frame=1000 * detect_cpu / n, track_ms_per_frame=1000 * track_cpu / n,
        align_ms_per_track=1000 * align_cpu / embedded, embed_ms_per_track=1000 * search.match_cpu / embedded,
        faces_per_s=search.progress.faces / footage, tracks_ended_per_s=search.progress.tracks / footage,
        tracks_embedded_per_s=search.embedded_tracks / footage,
        chips_per_s={name: c / footage for name, c in zip(names, search.chips, strict=True)},
        chips_per_s_no_cascade={name: (search.offered_costly if k == costly else search.offered_chips) / footage
                                for k, name in enumerate(names)},
        cpu_ms_per_s={k: 1000 * v / footage for k, v in per_s.items()},
        wall_s={"decode": decode_wall, "detect": detect_wall, "track+align+embed": rest_wall})
    sample = [] if search.longest is None else [view.chips(search.templates) for view in search.longest.samples]
    return cost, sample


def embed_ms_per_chip(engine: Engine, sample: list[list[NDArray[np.uint8]]]) -> dict[str, float]:
    """CPU ms per chip, each recognizer embedding one track's chips at a time as a search does."""
    out: dict[str, float] = {}
    for k, rec in enumerate(engine.recognizers):
        chips = np.stack([c[k] for c in sample])
        rec.embed(chips)  # warm-up
        began = time.process_time()
        for _ in range(EMBED_REPEATS):
            rec.embed(chips)
        out[rec.name] = 1000 * (time.process_time() - began) / (EMBED_REPEATS * len(chips))
    return out


def index_bytes(engine: Engine) -> dict[str, int]:
    """The index of 1,000 people (one template each) in memory and as the sealed file on disk."""
    dim = engine.embedding_size
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((INDEX_PEOPLE, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(INDEX_PEOPLE, dtype=np.int64)
    index = GalleryIndex.build(ids, ids, vectors, dim, kind="exact")
    with tempfile.TemporaryDirectory() as folder:
        cache = IndexCache(Path(folder), Sealer(os.urandom(32)))
        cache.save("bench", index)
        sealed = cache.path("bench").stat().st_size
    # The search keeps the vectors twice (its own array, which the cache is written from, and FAISS's copy)
    # and the ids: template and identity ids, and FAISS's id map.
    in_memory = 2 * index.vectors.nbytes + index.template_ids.nbytes + index.identity_ids.nbytes + 8 * len(index)
    return {"vectors": int(index.vectors.nbytes), "in_memory": int(in_memory), "sealed_file": int(sealed)}


def measure(fps: float) -> Measured:
    engine = Engine()
    streams: list[StreamCost] = []
    sample: list[list[NDArray[np.uint8]]] = []
    for clip, resolution in ((footage("1080p-up"), "1920x1080"), (CLIP, "640x360")):
        cost, chips = measure_stream(engine, clip, resolution, fps)
        streams.append(cost)
        sample = chips if len(chips) > len(sample) else sample
        print(f"{resolution}: {cost.cpu_cores:.3f} cores per stream", flush=True)
    return Measured(
        date=datetime.now(UTC).strftime("%Y-%m-%d"), machine=machine(), fps=fps, streams=streams,
        bytes_per_chip={r.name: r.spec.input_size ** 2 * 3 for r in engine.recognizers},
        embed_ms_per_chip=embed_ms_per_chip(engine, sample),
        embedding_dims={r.name: r.spec.embedding_size for r in engine.recognizers},
        index_bytes_per_1000=index_bytes(engine),
        notes=["CPU times are process CPU (all threads) with the stages run one after another",
               "the clip is 29.97 fps: every frame is decoded, --fps of them searched"])


def stream_table(m: Measured) -> str:
    names = list(m.bytes_per_chip)
    rows: list[list[object]] = []
    fields: list[tuple[str, Any]] = [
        ("frames decoded / searched", lambda s: f"{s.frames_decoded} / {s.frames_searched}"),
        ("decode, ms CPU per decoded frame", lambda s: f"{s.decode_ms_per_decoded_frame:.2f}"),
        ("decode, ms CPU per searched frame", lambda s: f"{s.decode_ms_per_searched_frame:.2f}"),
        ("detect, ms CPU per searched frame", lambda s: f"{s.detect_ms_per_frame:.2f}"),
        ("track, ms CPU per searched frame", lambda s: f"{s.track_ms_per_frame:.2f}"),
        ("align, ms CPU per embedded track", lambda s: f"{s.align_ms_per_track:.1f}"),
        ("embed + match, ms CPU per embedded track", lambda s: f"{s.embed_ms_per_track:.1f}"),
        ("faces detected per s", lambda s: f"{s.faces_per_s:.1f}"),
        ("tracks ended per s", lambda s: f"{s.tracks_ended_per_s:.2f}"),
        ("tracks embedded per s", lambda s: f"{s.tracks_embedded_per_s:.2f}"),
        *[(f"chips per s, {n}", lambda s, n=n: f"{s.chips_per_s[n]:.2f} ({s.chips_per_s_no_cascade[n]:.2f} "
           "without the cascade)") for n in names],
        *[(f"CPU ms per s of footage, {k}", lambda s, k=k: f"{s.cpu_ms_per_s[k]:.1f}")
          for k in ("decode", "detect", "track", "align", "embed")],
        ("cores per stream (all stages, CPU)", lambda s: f"{s.cpu_cores:.3f}"),
        ("wall s: decode, detect, the rest (this clip)",
         lambda s: ", ".join(f"{v:.2f}" for v in s.wall_s.values())),
    ]
    for label, get in fields:
        rows.append([label, *[get(s) for s in m.streams]])
    return markdown_table([f"per stream, searched at {m.fps:g} frames/s", *[s.resolution for s in m.streams]], rows)


def model_table(m: Measured) -> str:
    rows: list[list[object]] = [
        [name, f"{m.bytes_per_chip[name]:,}", f"{m.embed_ms_per_chip[name]:.2f}", m.embedding_dims[name],
         f"{m.embedding_dims[name] * 4 * INDEX_PEOPLE:,}"] for name in m.bytes_per_chip]
    idx = m.index_bytes_per_1000
    rows.append(["index of 1,000 people, all models", "-", "-", sum(m.embedding_dims.values()),
                 f"{idx['vectors']:,} vectors; {idx['in_memory']:,} in memory; {idx['sealed_file']:,} sealed file"])
    return markdown_table(["recognizer", "bytes per chip (RGB uint8)", "ms CPU per chip", "embedding dims",
                           "index bytes per 1,000 people"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fps", type=float, default=10.0, help="frames searched per second of footage")
    parser.add_argument("--json", type=Path, help="write the measured numbers here (for cluster_sim.py)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    m = measure(args.fps)
    tables = stream_table(m) + "\n\n" + model_table(m)
    print(tables)
    print(f"total {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(asdict(m), indent=1) + "\n")
    if not args.no_record:
        record(f"Per-stream costs of the live pipeline at {args.fps:g} frames/s searched",
               "python benchmarks/stream_costs.py" + (f" --fps {args.fps:g}" if args.fps != 10 else ""), tables,
               "Hamilton clip (9.2 s, 29.97 fps) as it is and scaled up to 1920x1080. CPU times are the process's "
               "(all threads), stage by stage, one after another: another program on the same cores hardly changes "
               "them, wall times it does. Every frame is decoded; the searched ones are shrunk for detection "
               "(384 px longer side) while decoding. Embedding: the cheap recognizer on every qualifying track, the "
               "costly one where the cascade leaves a match possible against a 2-person watchlist. Bytes per chip: "
               "the recognizer's input, RGB uint8.")


if __name__ == "__main__":
    main()
