"""Sign-in captures made in code, as an attacker would make them: a still photo moved in front of a camera, a
printed photo and a photo on a screen, each photographed again; and the camera's own pass over a real face."""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np


def moved_photo_frames(photo: Path, *, seconds: float = 2.0, fps: int = 15, size: tuple[int, int] = (640, 480),
                       swing: float = 0.0, frames: int | None = None) -> list[np.ndarray]:
    """RGB frames of ``photo`` held up to a camera and moved: carried across, turned in the picture's plane, brought
    closer, and swung about its vertical axis by ``swing`` (the perspective term: 0.0015 is a strong swing)."""
    image = np.ascontiguousarray(cv2.imread(str(photo))[:, :, ::-1])
    h, w = image.shape[:2]
    scale = 360 / max(h, w)
    n = frames or int(seconds * fps)
    out = []
    for k in range(n):
        t = k / max(n - 1, 1)
        angle = np.deg2rad(-12 + 24 * t)
        s = scale * (0.9 + 0.25 * t)
        rotate = np.array([[s * np.cos(angle), -s * np.sin(angle), 0], [s * np.sin(angle), s * np.cos(angle), 0],
                           [0, 0, 1.0]])
        perspective = np.array([[1, 0, 0], [0, 1, 0], [swing * np.sin(2 * np.pi * t), 0, 1.0]])
        shift = np.array([[1, 0, 320 + 120 * t - s * w / 2], [0, 1, 240 - s * h / 2], [0, 0, 1.0]])
        out.append(np.ascontiguousarray(cv2.warpPerspective(image, shift @ perspective @ rotate, size,
                                                            borderValue=(40, 40, 40))))
    return out


def moved_photo_clip(photo: Path, *, seconds: float = 2.0, fps: int = 15, size: tuple[int, int] = (640, 480),
                     swing: float = 0.0, frames: int | None = None) -> bytes:
    """An MP4 of ``moved_photo_frames``: the clip an attacker would send."""
    buffer = io.BytesIO()
    out = av.open(buffer, mode="w", format="mp4")
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    for frame in moved_photo_frames(photo, seconds=seconds, fps=fps, size=size, swing=swing, frames=frames):
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 15) -> Path:
    """``frames`` (RGB) as a YUV4MPEG2 file: what Chromium's fake camera plays (``--use-file-for-fake-video-capture``),
    over and over."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def _camera(pixels: np.ndarray, rng: np.random.Generator, *, blur: float, noise: float, quality: int) -> np.ndarray:
    """What a camera adds when it photographs something: lens softness, sensor noise, JPEG."""
    out = cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), blur) + rng.normal(0, noise, pixels.shape)
    ok, encoded = cv2.imencode(".jpg", np.clip(out, 0, 255).astype(np.uint8)[:, :, ::-1],
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def camera_photo(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """A bona fide capture: the face itself through a camera (slight softness, noise, JPEG)."""
    return _camera(rgb, np.random.default_rng(seed), blur=0.5, noise=2.0, quality=92)


def printed_photo(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """``rgb`` printed on paper and photographed: ink that reaches neither black nor white, a warm paper tint,
    a 45-degree halftone screen, paper grain, then the camera."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    ink = (30.0 + rgb.astype(np.float32) * (195.0 / 255.0)) * np.array([1.0, 0.97, 0.9], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx + yy) / np.sqrt(2), (yy - xx) / np.sqrt(2)
    halftone = np.cos(u * 2 * np.pi / 3.0) * np.cos(v * 2 * np.pi / 3.0)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2) * 6
    paper = ink * (1 + 0.12 * halftone[..., None]) + grain[..., None]
    return _camera(np.clip(paper, 0, 255), rng, blur=1.2, noise=3.0, quality=85)


def screen_replay(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """``rgb`` shown on a screen and photographed: each pixel lit as red, green and blue stripes that the camera
    resamples (moiré), the panel's gamma and cool white, a reflection of a light, then the camera."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    panel = cv2.resize(rgb, (w * 3, h * 3), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    stripes = np.zeros((3, 3, 3), np.float32)
    for channel in range(3):
        stripes[:, channel, channel] = 1.0
    lit = cv2.resize(panel * np.tile(stripes, (h, w, 1)) * 2.2, (w, h), interpolation=cv2.INTER_LINEAR)
    shown = 255 * (np.clip(lit, 0, 255) / 255) ** 0.8
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    glare = 60 * np.exp(-(((xx - 0.7 * w) / (0.25 * w)) ** 2 + ((yy - 0.3 * h) / (0.3 * h)) ** 2))
    shown = (shown + glare[..., None]) * np.array([0.92, 0.97, 1.08], np.float32)
    return _camera(np.clip(shown, 0, 255), rng, blur=0.8, noise=2.0, quality=85)
