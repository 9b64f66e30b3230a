"""Footage made from a real clip the way a far camera would see it: the clip scaled and placed on a bigger canvas
(1920x1080, 3840x2160) over a still, blurred background, or scaled up whole.

Used by the small-face acceptance tests and by ``benchmarks/video_scan.py``; the frames are made one at a time,
so a 4K variant never holds more than one frame in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Placement:
    """The clip at ``scale`` with its top-left corner at ``at`` on a ``canvas`` (width, height)."""

    name: str
    canvas: tuple[int, int]
    scale: float
    at: tuple[int, int] = (0, 0)

    def face_px(self, source_px: float) -> float:
        """How tall a face of ``source_px`` in the clip is in this footage."""
        return source_px * self.scale


def _background(first: NDArray[np.uint8], canvas: tuple[int, int]) -> NDArray[np.uint8]:
    """A still scene with no face in it: the clip's first frame stretched over the canvas and blurred away."""
    stretched = cv2.resize(first, canvas, interpolation=cv2.INTER_LINEAR)
    return np.asarray(cv2.GaussianBlur(stretched, (0, 0), sigmaX=canvas[0] / 60), np.uint8)


def placed_frames(clip: Path, placement: Placement) -> Iterator[NDArray[np.uint8]]:
    """The clip's frames (RGB) placed as ``placement`` says."""
    with av.open(str(clip)) as src:
        background: NDArray[np.uint8] | None = None
        for decoded in src.decode(video=0):
            frame = decoded.to_ndarray(format="rgb24")
            if background is None:
                background = _background(frame, placement.canvas)
            h, w = frame.shape[:2]
            size = (round(w * placement.scale), round(h * placement.scale))
            interpolation = cv2.INTER_AREA if placement.scale < 1 else cv2.INTER_CUBIC
            scaled = cv2.resize(frame, size, interpolation=interpolation)
            out = background.copy()
            x, y = placement.at
            out[y : y + size[1], x : x + size[0]] = scaled[: out.shape[0] - y, : out.shape[1] - x]
            yield out


def write_footage(clip: Path, placement: Placement, out: Path, crf: int = 20) -> Path:
    """The placed clip encoded as H.264 at the clip's frame rate (as a camera's recorder would store it)."""
    with av.open(str(clip)) as src:
        rate = src.streams.video[0].average_rate
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as dst:
        stream = dst.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
        stream.width, stream.height = placement.canvas
        stream.pix_fmt = "yuv420p"
        for rgb in placed_frames(clip, placement):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    tmp.rename(out)
    return out
