"""Sign-in captures made in code: a still photo moved in front of a camera, as an attacker would film one."""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np


def moved_photo_clip(photo: Path, *, seconds: float = 2.0, fps: int = 15, size: tuple[int, int] = (640, 480),
                     swing: float = 0.0, frames: int | None = None) -> bytes:
    """An MP4 of ``photo`` held up to a camera and moved: carried across, turned in the picture's plane, brought
    closer, and swung about its vertical axis by ``swing`` (the perspective term: 0.0015 is a strong swing)."""
    image = np.ascontiguousarray(cv2.imread(str(photo))[:, :, ::-1])
    h, w = image.shape[:2]
    scale = 360 / max(h, w)
    buffer = io.BytesIO()
    out = av.open(buffer, mode="w", format="mp4")
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    n = frames or int(seconds * fps)
    for k in range(n):
        t = k / max(n - 1, 1)
        angle = np.deg2rad(-12 + 24 * t)
        s = scale * (0.9 + 0.25 * t)
        rotate = np.array([[s * np.cos(angle), -s * np.sin(angle), 0], [s * np.sin(angle), s * np.cos(angle), 0],
                           [0, 0, 1.0]])
        perspective = np.array([[1, 0, 0], [0, 1, 0], [swing * np.sin(2 * np.pi * t), 0, 1.0]])
        shift = np.array([[1, 0, 320 + 120 * t - s * w / 2], [0, 1, 240 - s * h / 2], [0, 0, 1.0]])
        frame = cv2.warpPerspective(image, shift @ perspective @ rotate, size, borderValue=(40, 40, 40))
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buffer.getvalue()
