"""Where in each frame to look for faces, so that every face from a minimum size up is found at the cost of
a few small detector inputs per frame instead of the whole frame at full resolution.

Three kinds of view, all in source pixels with the scale each is searched at:

* the **whole frame, reduced**: finds big faces on every frame (a new face close to the camera);
* **tiles** at the scale where the smallest face asked for is one the detector finds reliably. Searching a
  whole 1080p frame that way on every frame would cost more than the rest of the pipeline together, so only
  the areas whose picture changed are searched again (widened by more than the largest face the reduced view
  could miss, so that such a face lies whole inside one), once a few frames have passed, and every area after
  a longer while regardless (someone standing still);
* **around each tracked face**: once found, a small face is followed on every frame in a crop around where
  the tracker expects it, searched at a scale that puts the face at a comfortable size for the detector.

The views of one frame are detected together and merged (``merge_views``) before tracking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

TILE_SIDE = 640  # detector input per tile (px): big enough that the overlap wastes little, small enough to skip
TRACKED_FACE_PX = 48  # a tracked face is searched at this size in its crop (precise landmarks, small input)
TRACKED_CONTEXT = 3.0  # a tracked face's crop is this many face heights on a side, plus its motion
CROP_STEP = 64  # crop inputs are rounded up to a multiple of this, so that crops batch together
CHANGE_LEVEL = 12  # grey levels: a pixel of the reduced frame differing by more has changed
NEW_SCENE = 0.6  # this share of the pixels changed from one frame to the next, and not the frame before: a cut


REDUCED_SHARE = 4  # the reduced view is at least a quarter of the frame's size: see ``reduced_side``


def reduced_side(detect_side: int, longer: int) -> int:
    """The longer side of a frame's reduced view: ``detect_side``, or a quarter of the frame when that is more.
    The tiles must overlap by the largest face the reduced view can miss, which grows as the view shrinks
    against the frame: at 384 px a 4K frame's tiles would overlap by 260 px and search the frame three times
    over; at a quarter, by about 100 px, whatever the frame's size."""
    return min(longer, max(detect_side, -(-longer // REDUCED_SHARE)))


@dataclass(frozen=True)
class Region:
    """A rectangle of the frame (source pixels, ``x1``/``y1`` exclusive) searched at ``scale``."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float  # detector input pixels per source pixel

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the detector input made from this region."""
        return max(round((self.y1 - self.y0) * self.scale), 1), max(round((self.x1 - self.x0) * self.scale), 1)


@dataclass(frozen=True)
class KnownFace:
    """A tracked face as the tracker last saw it, to be searched for where it will be."""

    frame: int  # where it was last seen: the frame's position among those fed to the search
    box: NDArray[np.float32]  # x1, y1, x2, y2 there
    velocity: NDArray[np.float32]  # (dx, dy) source pixels per frame


def tile_grid(height: int, width: int, scale: float, overlap: float) -> list[Region]:
    """Tiles covering the frame, each ``TILE_SIDE`` input pixels on a side at most, neighbours overlapping by
    at least ``overlap`` source pixels, spread evenly."""
    side = TILE_SIDE / scale  # in source pixels
    overlap = min(overlap, side / 2)

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = math.ceil((length - overlap) / (side - overlap))
        step = (length - side) / (count - 1)
        return [round(k * step) for k in range(count)]

    s = round(side)
    return [Region(x, y, min(x + s, width), min(y + s, height), scale) for y in starts(height) for x in starts(width)]


def around(face: KnownFace, frame: int, height: int, width: int, most_scale: float) -> Region:
    """The square to search for ``face`` on ``frame``: centred where its motion takes it, wide enough for
    the face and the distance it may have strayed since it was seen, at a scale that shows it at
    ``TRACKED_FACE_PX`` (never above ``most_scale``)."""
    ahead = frame - face.frame
    size = max(float(face.box[2] - face.box[0]), float(face.box[3] - face.box[1]), 1.0)
    cx = (face.box[0] + face.box[2]) / 2 + face.velocity[0] * ahead
    cy = (face.box[1] + face.box[3]) / 2 + face.velocity[1] * ahead
    drift = float(np.hypot(*face.velocity)) * ahead
    half = TRACKED_CONTEXT * size / 2 + drift
    scale = min(most_scale, TRACKED_FACE_PX / size)
    side = math.ceil(2 * half * scale / CROP_STEP) * CROP_STEP  # input pixels, a multiple of CROP_STEP
    half = side / scale / 2
    x0, y0 = max(round(cx - half), 0), max(round(cy - half), 0)
    return Region(x0, y0, min(round(cx + half), width), min(round(cy + half), height), scale)


class ChangedAreas:
    """Which parts of the frame to search at tile scale on each frame: every area whose picture changed since
    it was last searched (once ``changed_every`` seconds of footage have passed), widened by ``margin`` so that
    a face any part of which changed lies whole inside, and every area after ``still_every`` seconds regardless.
    A static camera's frame is mostly still: the walking people are searched, not the walls. Seconds, not
    frames: a stream searched at 8 frames a second is searched as often as a file at 30.

    Change is measured on a small grey picture of each frame; the areas are returned in source pixels, big ones
    cut into overlapping tiles, all rounded up to sizes that batch together."""

    def __init__(self, size: tuple[int, int], scale: float, margin: float, changed_every: float,
                 still_every: float) -> None:
        self.size = size
        self.scale = scale
        self.margin = margin
        self.changed_every = changed_every
        self.still_every = still_every
        self._searched_at: NDArray[np.float64] | None = None  # per pixel of the grey picture, seconds
        self._seen: NDArray[np.uint8] | None = None  # the grey picture where last searched
        self._last: NDArray[np.uint8] | None = None  # the previous frame's grey picture
        self._last_jump = 0.0  # the share of it that changed from the frame before
        self._last_search = -np.inf  # seconds of the last frame where any area was searched

    def due(self, seconds: float, grey: NDArray[np.uint8]) -> list[Region]:
        """The areas to search in the frame at ``seconds`` into the footage, given a small grey picture of it
        (the same size on every frame); they count as searched."""
        if (self._seen is None or self._searched_at is None or self._seen.shape != grey.shape
                or seconds < self._last_search):  # a clock that went back: everything searched anew
            self._seen = grey.copy()
            self._searched_at = np.full(grey.shape, -np.inf)
        waited = seconds - self._searched_at
        changed = cv2.absdiff(grey, self._seen) > CHANGE_LEVEL
        # Most of the picture new at once (a cut, a camera turned): a new scene, searched now, not in a while.
        jump = 0.0 if self._last is None else float((cv2.absdiff(grey, self._last) > CHANGE_LEVEL).mean())
        self._last = grey.copy()
        if not (jump >= NEW_SCENE and self._last_jump < NEW_SCENE / 2):
            changed &= waited >= self.changed_every
        self._last_jump = jump
        # Lone changed pixels are noise (compression, sensor): a face, even a far one, is a few pixels wide.
        changed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
        due = changed | (waited >= self.still_every)
        if not due.any():
            return []
        k = grey.shape[1] / self.size[1]  # reduced pixels per source pixel
        reach = max(math.ceil(self.margin * k), 1)
        widened = cv2.dilate(due.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
        count, _, boxes, _ = cv2.connectedComponentsWithStats(widened, connectivity=8)
        regions: list[Region] = []
        for x, y, w, h, _area in boxes[1:count]:
            self._searched_at[y : y + h, x : x + w] = seconds
            self._last_search = seconds
            self._seen[y : y + h, x : x + w] = grey[y : y + h, x : x + w]
            regions += self._pieces(math.floor(x / k), math.floor(y / k), math.ceil((x + w) / k),
                                    math.ceil((y + h) / k))
        return regions

    def _pieces(self, x0: int, y0: int, x1: int, y1: int) -> list[Region]:
        """The source area ``[x0, x1) x [y0, y1)`` as regions of at most ``TILE_SIDE`` input pixels a side,
        overlapping by ``margin``, each grown to a multiple of ``CROP_STEP`` input pixels where the frame allows."""
        height, width = self.size
        x1, y1 = min(x1, width), min(y1, height)
        out = []
        for tile in tile_grid(y1 - y0, x1 - x0, self.scale, self.margin):
            step = CROP_STEP / self.scale
            w = min(math.ceil((tile.x1 - tile.x0) / step) * step, width)
            h = min(math.ceil((tile.y1 - tile.y0) / step) * step, height)
            left = min(x0 + tile.x0, width - round(w))
            top = min(y0 + tile.y0, height - round(h))
            out.append(Region(left, top, left + round(w), top + round(h), self.scale))
        return out
