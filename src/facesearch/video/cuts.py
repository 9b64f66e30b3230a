"""Shot cuts: where edited footage jumps to another view, every track must end.

Without this, a face after a cut that happens to sit where a face sat before it continues that track,
and one track (one embedding, one sighting) mixes two people. A cut shows as a jump in the mean
absolute difference between small greyscale thumbnails of consecutive frames, far above the recent
level of change (motion, noise, compression). Cameras do not cut, so live streams rarely trigger it.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
from numpy.typing import NDArray

THUMBNAIL = (64, 36)


class CutDetector:
    def __init__(self, min_jump: float = 20.0, ratio: float = 3.0, history: int = 15) -> None:
        self.min_jump = min_jump  # grey levels (0-255), mean over the thumbnail
        self.ratio = ratio  # times the recent typical change
        self._previous: NDArray[np.float32] | None = None
        self._recent: deque[float] = deque(maxlen=history)

    def is_cut(self, pixels: NDArray[np.uint8]) -> bool:
        grey = cv2.cvtColor(cv2.resize(pixels, THUMBNAIL, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        thumb = grey.astype(np.float32)
        previous, self._previous = self._previous, thumb
        if previous is None:
            return False
        change = float(np.abs(thumb - previous).mean())
        typical = float(np.median(self._recent)) if self._recent else 0.0
        cut = change >= self.min_jump and change >= self.ratio * max(typical, 1.0)
        if not cut:
            self._recent.append(change)
        return cut
