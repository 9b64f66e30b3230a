"""Recording times, evidence redaction and shot cuts, on generated inputs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from facesearch.video.cuts import CutDetector
from facesearch.video.evidence import redact_frame
from facesearch.video.recording_time import from_file_name, from_metadata, recording_start
from facesearch.video.source import redact_url


def test_recording_start_prefers_what_is_most_trustworthy(tmp_path: Path) -> None:
    path = tmp_path / "cam1_20261120_143005.mp4"
    path.write_bytes(b"x")
    os.utime(path, (1_790_000_000, 1_790_000_000))
    given = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert recording_start(path, {"creation_time": "2026-11-19T10:00:00.000000Z"}, 60, given).source == "given"
    meta = recording_start(path, {"creation_time": "2026-11-19T10:00:00.000000Z"}, 60)
    assert (meta.source, meta.at) == ("metadata", datetime(2026, 11, 19, 10, 0, tzinfo=UTC))
    named = recording_start(path, {"creation_time": "1970-01-01T00:00:00Z"}, 60)  # a camera without a clock
    assert (named.source, named.at) == ("file name", datetime(2026, 11, 20, 14, 30, 5, tzinfo=UTC))
    plain = tmp_path / "clip.mp4"
    plain.write_bytes(b"x")
    os.utime(plain, (1_790_000_000, 1_790_000_000))
    modified = recording_start(plain, {}, 60)
    assert modified.source == "file modified"
    assert modified.at == datetime.fromtimestamp(1_790_000_000, UTC) - timedelta(seconds=60)


def test_date_patterns_in_file_names() -> None:
    assert from_file_name("2026-11-20_14-30-05.mkv") == datetime(2026, 11, 20, 14, 30, 5, tzinfo=UTC)
    assert from_file_name("NVR 20261120T143005 ch2.mp4") == datetime(2026, 11, 20, 14, 30, 5, tzinfo=UTC)
    assert from_file_name("clip_12345678901234.mp4") is None
    assert from_file_name("20261340_250000.mp4") is None  # not a date
    assert from_metadata({"creation_time": "not a time"}) is None


def test_redaction_keeps_the_matched_face_and_destroys_everyone_else() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)  # fine detail everywhere, like faces
    out = redact_frame(frame, [300, 100, 380, 200])
    assert (out[100:200, 300:380] == frame[100:200, 300:380]).all()  # the matched face, untouched
    bystander = (slice(150, 230), slice(40, 110))
    original_detail = frame[bystander].astype(float).std()
    assert out[bystander].astype(float).std() < original_detail / 10  # a bystander: no detail left


def test_cuts_are_found_and_motion_is_not() -> None:
    detector = CutDetector()
    import cv2

    rng = np.random.default_rng(1)

    def view() -> np.ndarray:  # large smooth shapes, like a scene (not pixel noise)
        coarse = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
        return cv2.resize(coarse, (160, 90), interpolation=cv2.INTER_CUBIC)

    scene, other = view(), view()
    cuts = []
    for i in range(40):
        base = scene if i < 20 else other
        cuts.append(detector.is_cut(np.roll(base, i, axis=1)))  # a slow pan, then a cut at frame 20
    assert cuts.index(True) == 20 and sum(cuts) == 1


def test_urls_lose_their_passwords_in_messages() -> None:
    assert redact_url("rtsp://admin:hunter2@10.0.0.5:554/stream1") == "rtsp://admin:***@10.0.0.5:554/stream1"
    assert redact_url("rtsp://10.0.0.5/stream1") == "rtsp://10.0.0.5/stream1"


def test_a_live_batch_goes_to_the_detector_once_it_spans_enough_of_the_stream(engine: object) -> None:
    from dataclasses import replace

    from facesearch.video.search import SearchConfig, VideoSearch
    from facesearch.video.source import VideoFrame
    from facesearch.video.watch import LIVE_BATCH_SPAN_S

    frames = [VideoFrame(i, i / 10, np.zeros((48, 64, 3), np.uint8)) for i in range(20)]  # 10 frames/s
    for span, expected in ((None, [8, 8, 4]), (LIVE_BATCH_SPAN_S, [4, 4, 4, 4, 4])):
        search = VideoSearch(engine, [], recording_start=None, fps=10,  # type: ignore[arg-type]
                             config=replace(SearchConfig(), batch_span_s=span))
        sizes: list[int] = []

        def counted(batch: list[VideoFrame], first: int, detect: Any = search._detect, sizes: list[int] = sizes) -> Any:
            sizes.append(len(batch))
            return detect(batch, first)

        search._detect = counted  # type: ignore[method-assign]
        assert list(search.run(iter(frames))) == []
        assert sizes == expected, (span, sizes)  # a file waits for full batches; a live stream 0.3 s at most


def test_a_track_keeps_its_best_views_weighed_by_quality_and_only_the_best_frame() -> None:
    import cv2

    from facesearch.align import ARCFACE_112
    from facesearch.video.source import VideoFrame
    from facesearch.video.track_faces import TrackFaces

    rng = np.random.default_rng(4)
    sharp = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_NEAREST)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 6)
    kept = TrackFaces(1, 0.0, 0.0)
    landmarks = np.array([[300, 220], [340, 220], [320, 245], [305, 265], [335, 265]], np.float32)
    box = np.array([290, 200, 350, 280], np.float32)
    for i in range(12):
        pixels = blurred if i == 11 else sharp
        # The blurred view is the largest and most confident; views 0-10 grow more useful as they come.
        kept.offer(VideoFrame(i, i / 10, pixels), box, 10.0 + i, landmarks, keep=8, score=0.9)
    assert len(kept.samples) == 8 and kept.detections == 12
    assert [round(s.seconds, 1) for s in kept.samples] == [1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert kept.best.frame is not None and all(s.frame is None for s in kept.samples[1:])  # one whole frame only
    weights = kept.weights()
    assert np.isclose(weights.sum(), 1.0) and weights[0] < weights[1] / 2  # the blurred best counts for little
    chips = kept.samples[1].chips([ARCFACE_112])
    assert chips[0].shape == (112, 112, 3) and chips[0].std() > 10  # aligned from the kept neighbourhood


def test_redaction_leaves_no_findable_face_but_the_matched_one(engine: Any, people: Path) -> None:
    """A real face twice in a 4K frame: after redaction the detector finds the kept one and not its copy (at
    any size: the frame is searched whole and in parts at full resolution)."""
    import cv2

    from facesearch.images import LoadedImage, load_image

    face = cv2.resize(load_image(people / "obama.jpg").pixels, (400, 500), interpolation=cv2.INTER_AREA)
    frame = np.full((2160, 3840, 3), 90, np.uint8)
    h, w = face.shape[:2]
    frame[200 : 200 + h, 300 : 300 + w] = face
    frame[1200 : 1200 + h, 2500 : 2500 + w] = face
    found = engine.detect([LoadedImage(frame, "frame")])[0]
    assert len(found) == 2
    kept = found.boxes[np.argmin(found.boxes[:, 0])]
    out = redact_frame(frame, kept)
    x0, y0, x1, y1 = (int(v) for v in kept)
    assert (out[y0:y1, x0:x1] == frame[y0:y1, x0:x1]).all()  # the matched face is untouched
    whole = engine.detect([LoadedImage(out, "frame")])[0]
    assert all(box[2] < 1200 for box in whole.boxes)  # nothing where the copy was
    for part in (out[1000:, 2200:], cv2.resize(out, (960, 540), interpolation=cv2.INTER_AREA)):
        assert len(engine.detect([LoadedImage(np.ascontiguousarray(part), "frame")])[0]) == 0
