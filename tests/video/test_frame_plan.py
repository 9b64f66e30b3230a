"""Where each frame is searched for small faces: tiles that hold every face whole, areas searched again only
where the picture changed, crops that follow a tracked face, views merged into one set of faces, regions
converted from the decoded frame, and cuts inside an inset picture."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np

from facesearch.detect.common import DetectorConfig
from facesearch.engine import Engine
from facesearch.faces import Faces
from facesearch.images import LoadedImage
from facesearch.video.cuts import WHOLE, CutDetector
from facesearch.video.face_finder import FaceFinder, FinderConfig, _in_source, _View, merge_views
from facesearch.video.frame_plan import ChangedAreas, KnownFace, Region, around, reduced_side, tile_grid
from facesearch.video.source import VideoFrame, VideoReader


def _holds(regions: list[Region], box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    return any(r.x0 <= x0 and r.y0 <= y0 and x1 <= r.x1 and y1 <= r.y1 for r in regions)


def test_tiles_hold_every_face_up_to_the_overlap_whole() -> None:
    tiles = tile_grid(1080, 1920, 1.0, overlap=106)
    assert all(t.input_size[0] <= 640 and t.input_size[1] <= 640 for t in tiles)
    rng = np.random.default_rng(0)
    for _ in range(500):
        side = int(rng.integers(8, 107))
        x, y = int(rng.integers(0, 1920 - side)), int(rng.integers(0, 1080 - side))
        assert _holds(tiles, (x, y, x + side, y + side)), (x, y, side)
    assert reduced_side(384, 640) == 384 and reduced_side(384, 1920) == 480 and reduced_side(384, 3840) == 960
    assert reduced_side(384, 200) == 200  # never enlarged


def test_only_what_changed_is_searched_again_and_everything_after_a_while() -> None:
    areas = ChangedAreas((1080, 1920), 1.0, margin=106, changed_every=0.5, still_every=2.0)
    rng = np.random.default_rng(1)
    still = cv2.resize(rng.integers(0, 256, (9, 16), dtype=np.uint8), (480, 270), interpolation=cv2.INTER_CUBIC)
    first = areas.due(0.0, still)
    assert _holds(first, (0, 0, 1920, 1080)) or sum((r.x1 - r.x0) * (r.y1 - r.y0) for r in first) >= 1920 * 1080
    assert areas.due(0.7, still) == []  # nothing changed
    moved = still.copy()
    moved[100:120, 300:310] = 255 - moved[100:120, 300:310]  # someone in the reduced frame's pixels 300-310
    assert areas.due(0.3, moved) == []  # changed, but searched too recently
    found = areas.due(0.7, moved)
    assert found and _holds(found, (1200 - 100, 400 - 100, 1240 + 100, 480 + 100))  # widened by the margin
    assert sum((r.x1 - r.x0) * (r.y1 - r.y0) for r in found) < 1920 * 1080 / 4  # not the whole frame
    assert all(r.input_size[0] % 64 == 0 and r.input_size[1] % 64 == 0 for r in found)  # sizes that batch
    assert areas.due(1.0, moved) == []
    assert _holds(areas.due(2.1, moved), (0, 0, 640, 640))  # a still area, after still_every


def test_a_tracked_face_is_searched_where_its_motion_takes_it() -> None:
    face = KnownFace(10, np.array([500, 300, 530, 330], np.float32), np.array([6.0, -2.0], np.float32))
    crop = around(face, 18, 1080, 1920, most_scale=1.0)
    assert _holds([crop], (548, 284, 578, 314))  # eight frames on
    assert crop.scale == 1.0  # a 30 px face is searched at its own size, never enlarged past the tiles
    big = around(KnownFace(0, np.array([0, 0, 200, 200], np.float32), np.zeros(2, np.float32)), 0, 1080, 1920, 1.0)
    assert big.scale == 48 / 200 and big.x0 == 0 and big.y0 == 0  # clipped to the frame


def _faces(boxes: list[list[float]], scores: list[float]) -> Faces:
    b = np.asarray(boxes, np.float32)
    n = len(b)
    points = np.repeat(((b[:, :2] + b[:, 2:]) / 2)[:, None, :], 5, axis=1)
    return Faces(b, np.asarray(scores, np.float32), points.astype(np.float32), np.sqrt(
        (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).astype(np.float32), np.zeros(n, np.float32),
        np.ones(n, np.float32), image_size=(640, 640))


def _view(region: Region | None, scale: float = 1.0) -> _View:
    return _View(0, region, scale, np.zeros((1, 1, 3), np.uint8))


def test_views_are_mapped_to_the_frame_and_one_face_seen_twice_is_kept_once() -> None:
    tile = Region(600, 400, 1240, 1040, 1.0)
    in_tile = _faces([[400, 100, 440, 140], [0, 200, 30, 240]], [0.9, 0.8])  # the second is cut by the tile's edge
    from_tile = _in_source(in_tile, _view(tile), (1080, 1920))
    assert len(from_tile) == 1 and np.allclose(from_tile.boxes[0], [1000, 500, 1040, 540])
    crop = Region(900, 450, 1092, 642, 0.5)
    from_crop = _in_source(_faces([[50, 25, 70, 45], [60, 60, 80, 80]], [0.95, 0.7]), _view(crop, 0.5),
                           (1080, 1920))
    assert np.allclose(from_crop.boxes, [[1000, 500, 1040, 540], [1020, 570, 1060, 610]])
    assert np.allclose(from_crop.face_size, 40) and np.allclose(from_crop.landmarks[0], [1020, 520])
    merged = merge_views([from_tile, from_crop], (1080, 1920))
    assert len(merged) == 2 and sorted(merged.scores.tolist()) == [np.float32(0.7), np.float32(0.95)]
    at_frame_edge = _in_source(_faces([[0, 10, 30, 40]], [0.9]), _view(Region(0, 0, 640, 640, 1.0)), (1080, 1920))
    assert len(at_frame_edge) == 1  # the frame's own edge cuts nothing
    assert len(merge_views([Faces.empty((1080, 1920))], (1080, 1920))) == 0
    # One face seen at two scales: a box, and a larger one around it (IoU 0.36, but one face): kept once.
    nested = merge_views([_faces([[100, 100, 130, 130]], [0.8]), _faces([[95, 95, 145, 145]], [0.9])], (1080, 1920))
    assert len(nested) == 1 and nested.scores[0] == np.float32(0.9)


def test_a_region_of_a_decoded_frame_is_the_same_picture_as_the_whole_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    rng = np.random.default_rng(2)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(3):
            rgb = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoReader(path, detect_side=100) as reader:
        frame = next(reader.frames())
        part = frame.region(31, 17, 200, 151)  # odd bounds: chroma is sampled per 2x2 block
        grey = frame.grey(80)  # from the luma plane, before any conversion
        small = frame.small  # the reduced view, made when first asked for
        whole = frame.pixels
    assert grey.shape == (60, 80) and small is not None and small.shape == (75, 100, 3)
    expected = cv2.cvtColor(whole, cv2.COLOR_RGB2GRAY)[::4, ::4]  # luma is in video range (16-235): correlate
    assert np.corrcoef(grey.ravel(), expected.ravel())[0, 1] > 0.99
    assert np.abs(small.astype(int) - cv2.resize(whole, (100, 75), interpolation=cv2.INTER_AREA)).mean() < 6
    assert part.shape == (134, 169, 3)
    assert np.abs(part.astype(int) - whole[17:151, 31:200]).mean() < 3  # two converters, rounding apart
    assert frame.region(-5, -5, 10_000, 10_000).shape == whole.shape  # clipped to the frame


def test_a_cut_inside_an_inset_picture_ends_the_tracks_there_only() -> None:
    rng = np.random.default_rng(3)

    def scene() -> np.ndarray:
        return cv2.resize(rng.integers(0, 256, (5, 8, 3), dtype=np.uint8), (256, 144), interpolation=cv2.INTER_CUBIC)

    background = cv2.GaussianBlur(scene(), (0, 0), 8)
    shot, other = scene(), scene()
    detector = CutDetector()
    found = []
    for i in range(45):  # a panning shot inset in a still scene, cut at frame 30
        frame = background.copy()
        frame[72:144, 128:256] = cv2.resize(np.roll(shot if i < 30 else other, 4 * i, axis=1), (128, 72))
        found.append(detector.cuts(frame))
    assert [i for i, c in enumerate(found) if c] == [30]
    x0, y0, x1, y1 = found[30][0]
    assert found[30][0] != WHOLE and 0.4 <= x0 <= 0.55 and 0.4 <= y0 <= 0.55 and x1 == 1.0 and y1 == 1.0

    walker = CutDetector()  # someone walking across a still scene is no cut
    for i in range(40):
        frame = background.copy()
        cv2.rectangle(frame, (10 + 5 * i, 40), (30 + 5 * i, 110), (250, 250, 250), -1)
        assert walker.cuts(frame) == []


class _SquareDetector:
    """Finds bright squares of at least 20 input pixels, as a detector that misses faces below its reliable size;
    counts its calls and inputs."""

    reliable_face_px = 24

    def __init__(self) -> None:
        self.calls = 0
        self.inputs = 0

    def detect(self, images: list[LoadedImage], config: object = None) -> list[Faces]:
        self.calls += 1
        self.inputs += len(images)
        found = []
        for image in images:
            bright = (image.pixels[..., 0] > 128).astype(np.uint8)
            count, _, boxes, _ = cv2.connectedComponentsWithStats(bright)
            squares = [[x, y, x + w, y + h] for x, y, w, h, _ in boxes[1:count] if min(w, h) >= 20]
            found.append(_faces(squares, [0.9] * len(squares)) if squares else Faces.empty(image.pixels.shape[:2]))
        return found


class _SquareEngine:
    def __init__(self) -> None:
        self.video_detector = _SquareDetector()

    def detect_video(self, images: list[LoadedImage], config: object = None) -> list[Faces]:
        return self.video_detector.detect(images, config)


def _far_frames(count: int, present: range, fps: float = 8.0) -> list[VideoFrame]:
    """1080p frames with a still 40 px face (a bright square) on the frames in ``present``: 10 px in the reduced
    view, found only in tiles and crops."""
    frames = []
    for i in range(count):
        pixels = np.full((1080, 1920, 3), 30, np.uint8)
        if i in present:
            pixels[500:540, 1200:1240] = 230
        frames.append(VideoFrame(i, i / fps, pixels))
    return frames


def test_a_short_small_face_is_followed_on_every_frame_after_it_is_first_found() -> None:
    # A far face on screen for half a second of an 8 frames/s stream, searched in batches of two frames, as a
    # live watch does. Its first frame is the stream's first (every tile searched); after that no tile is due
    # before 0.5 s. It must still be found on each of its frames: a track needs three.
    engine = _SquareEngine()
    finder = FaceFinder(cast(Engine, engine), DetectorConfig(), FinderConfig(
        24, 256, whole_every_s=0.1, changed_every=0.5, still_every=4.0))
    frames = _far_frames(20, range(4))
    found: dict[int, Faces] = {}
    for first in range(0, 8, 2):
        found |= finder.find([(first + k, f) for k, f in enumerate(frames[first:first + 2])], [])
    assert [len(found[i]) for i in range(8)] == [1, 1, 1, 1, 0, 0, 0, 0]
    assert all(np.allclose(found[i].boxes[0], [1200, 500, 1240, 540], atol=1) for i in range(4))
    # Once unseen for FOLLOW_S it is no longer searched for: no crops on the frames after that.
    for first in range(8, 20, 2):
        finder.find([(first + k, f) for k, f in enumerate(frames[first:first + 2])], [])
    crops = finder.stats.crops
    finder.find([(20, VideoFrame(20, 20 / 8.0, frames[19].pixels))], [])
    assert finder.stats.crops == crops


def test_a_face_found_in_a_batch_is_searched_again_only_when_it_is_new() -> None:
    engine = _SquareEngine()
    finder = FaceFinder(cast(Engine, engine), DetectorConfig(), FinderConfig(
        24, 256, whole_every_s=0.1, changed_every=0.5, still_every=4.0))
    frames = _far_frames(16, range(16))
    finder.find(list(enumerate(frames[:8])), [])
    assert engine.video_detector.calls == 2  # the batch, then its later frames around the new face
    finder.find([(8 + k, f) for k, f in enumerate(frames[8:])], [])
    assert engine.video_detector.calls == 3  # followed from the start: one call
