"""Evidence images that show the matched person and nobody else.

The best frame of a sighting is kept with everything outside the matched face's box pixelated and
blurred: not just the other *detected* faces, since a face the detector missed (small, turned, in the
dark) would otherwise reach a report unblurred. The scene's layout stays recognisable; no bystander's
face does.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
from numpy.typing import NDArray


def redact_frame(pixels: NDArray[np.uint8], keep_box: NDArray[np.float32] | list[float],
                 margin: float = 0.25) -> NDArray[np.uint8]:
    """``pixels`` (RGB) with everything outside ``keep_box`` (grown by ``margin`` of its size) made
    unrecognisable: pixelated to blocks of ~1/40 of the frame, then blurred."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in keep_box)
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    x0, y0 = max(int(x0 - mx), 0), max(int(y0 - my), 0)
    x1, y1 = min(int(np.ceil(x1 + mx)), w), min(int(np.ceil(y1 + my)), h)
    block = max(min(h, w) // 40, 4)
    # Pixelated, blurred by one block and enlarged again, all at the blocks' size: the same picture as blurring
    # the full-size blocks by ``block`` px, at a cost that does not grow with the blur (that took 3 s per 4K
    # frame, on the search's own thread, for every sighting stored).
    small = cv2.resize(pixels, (max(w // block, 1), max(h // block, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 1.0, borderType=cv2.BORDER_REPLICATE)
    out = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8)
    out[y0:y1, x0:x1] = pixels[y0:y1, x0:x1]
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
