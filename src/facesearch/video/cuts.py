"""Shot cuts: where edited footage jumps to another view, the tracks there must end.

Without this, a face after a cut that happens to sit where a face sat before it continues that track,
and one track (one embedding, one sighting) mixes two people. A cut shows as a jump in the mean
absolute difference between small greyscale thumbnails of consecutive frames, far above the recent
level of change (motion, noise, compression). Cameras do not cut, so live streams rarely trigger it.

Edited footage can also fill only part of the picture: a screen in a camera's view, picture in picture,
a far camera's recording placed on a bigger canvas. So the level of change is measured over the part of
the picture that has been changing lately (its cells of the thumbnail), not over the whole: a still
background around an edited clip does not hide the clip's cuts, and a cut there ends the tracks there only.
In ordinary footage that part is the whole frame.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
from numpy.typing import NDArray

THUMBNAIL = (128, 72)
COARSE = (64, 36)  # the thumbnail the whole picture's change is measured on
HISTOGRAM_JUMP = 0.3  # share of the grey levels' histogram that moves at a cut (total variation distance)
CELL = 8  # thumbnail pixels per cell side: a 16x9 grid (an inset must be about a fifth of the frame wide)
STIRRING = 3.0  # grey levels: a cell whose mean change is above this has moved (not sensor noise)
MIN_ACTIVE_CELLS = 6  # fewer cells changing is a small movement, not a picture that can cut
INSET_FILL = 0.8  # an inset picture's changing cells fill this share of their rectangle at least
WHOLE_SHARE = 0.5  # a changing rectangle this big is the picture itself, judged as a whole
STEADY_FRAMES = 8  # an inset's cuts are judged once its usual change is known from this many frames

# A cut's place, in fractions of the frame: x0, y0, x1, y1.
Area = tuple[float, float, float, float]
WHOLE: Area = (0.0, 0.0, 1.0, 1.0)


class CutDetector:
    def __init__(self, min_jump: float = 20.0, ratio: float = 3.0, history: int = 15) -> None:
        self.min_jump = min_jump  # grey levels (0-255), mean over the part of the picture that changes
        self.ratio = ratio  # times the recent typical change
        self._previous: NDArray[np.float32] | None = None
        self._recent: deque[float] = deque(maxlen=history)
        self._recent_inset: deque[float] = deque(maxlen=history)
        self._histogram: NDArray[np.float32] | None = None
        self._recent_histogram: deque[float] = deque(maxlen=history)
        self._stirred: deque[NDArray[np.bool_]] = deque(maxlen=history)  # which cells changed, frame by frame

    def is_cut(self, pixels: NDArray[np.uint8]) -> bool:
        """Whether the picture (or a picture inset in it) cut to another view at this frame."""
        return bool(self.cuts(pixels))

    def cuts(self, pixels: NDArray[np.uint8]) -> list[Area]:
        """Where the picture cut to another view at this frame (RGB or grey): ``[WHOLE]``, an inset picture, or
        none."""
        if pixels.ndim == 3:
            pixels = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), np.uint8)
        grey = cv2.resize(pixels, THUMBNAIL, interpolation=cv2.INTER_AREA)
        thumb = grey.astype(np.float32)
        previous, self._previous = self._previous, thumb
        if previous is None:
            return []
        # The whole picture is judged on a coarser thumbnail: motion averages out there, a cut does not.
        whole_change = float(np.abs(cv2.resize(thumb, COARSE, interpolation=cv2.INTER_AREA)
                                    - cv2.resize(previous, COARSE, interpolation=cv2.INTER_AREA)).mean())
        if self._jumped(whole_change, self._recent):
            return [WHOLE]
        # At a low frame rate a moving camera changes most pixels between frames, and a cut hides in that; the
        # grey levels' histogram barely moves with motion and jumps at a cut.
        histogram = (np.bincount(grey.ravel() // 8, minlength=32) / grey.size).astype(np.float32)
        before, self._histogram = self._histogram, histogram
        if before is not None:
            shift = 0.5 * float(np.abs(histogram - before).sum())
            if shift < HISTOGRAM_JUMP:
                self._recent_histogram.append(shift)
            elif self._jumped(shift, self._recent_histogram, least=HISTOGRAM_JUMP):
                return [WHOLE]
        difference = np.abs(thumb - previous)
        rows, cols = THUMBNAIL[1] // CELL, THUMBNAIL[0] // CELL
        cells = difference.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3))
        self._stirred.append(cells > STIRRING)
        active = np.logical_or.reduce(self._stirred)
        area = _inset(active)
        if area is None:
            return []
        change = float(cells[active].mean())
        if len(self._recent_inset) < STEADY_FRAMES:  # its usual level of change is not known yet
            self._recent_inset.append(change)
            return []
        return [area] if self._jumped(change, self._recent_inset) else []

    def _jumped(self, change: float, recent: deque[float], least: float | None = None) -> bool:
        """Whether ``change`` is far above its recent level (and at least ``least``, grey levels by default); if
        not, it joins that level (a cut never does)."""
        typical = float(np.median(recent)) if recent else 0.0
        floor = self.min_jump if least is None else least
        if change >= floor and change >= self.ratio * max(typical, 1.0 if least is None else least / 3):
            return True
        recent.append(change)
        return False


def _inset(active: NDArray[np.bool_]) -> Area | None:
    """The rectangle of a picture inset in a still one, if the changing cells make one: enough of them,
    filling their bounding rectangle (people moving in a scene make ragged shapes), less than the frame."""
    rows, cols = np.flatnonzero(active.any(axis=1)), np.flatnonzero(active.any(axis=0))
    if active.sum() < MIN_ACTIVE_CELLS:
        return None
    box = active[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if box.mean() < INSET_FILL or box.size >= WHOLE_SHARE * active.size:
        return None
    height, width = active.shape
    return cols[0] / width, rows[0] / height, (cols[-1] + 1) / width, (rows[-1] + 1) / height
