"""A sign-in capture as the service takes it: one photo, or a short clip (1-3 s from a camera), read from bytes
within limits that a hostile upload cannot stretch: the clip's length, its frame count and each frame's pixels.

A clip gives frames with their times; a photo gives one frame at time 0. Which it is comes from the bytes, not
from a name or a declared type.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from facesearch.errors import BadInputError, FacesearchError
from facesearch.images import LoadedImage, load_image

MAX_CLIP_S = 5.0  # seconds of a clip read at most: a sign-in clip is 1-3 s
MAX_CLIP_FRAMES = 150  # frames decoded at most (5 s at 30 frames/s)
MAX_FRAME_PIXELS = 1920 * 1080  # a webcam's frame, at most
KEPT_FRAMES = 16  # frames of a clip looked at: spread over it, enough to see a turn of the head


class CaptureError(BadInputError):
    """A capture that is neither a readable photo nor a readable short clip, or one over the limits."""


@dataclass(frozen=True)
class Capture:
    """The frames of a capture, in order, with their times (seconds from its start)."""

    source: str
    kind: str  # "photo" or "clip"
    frames: list[LoadedImage]
    times: list[float]


def read_capture(data: bytes, source: str, *, max_pixels: int = 100_000_000) -> Capture:
    """The capture in ``data``: a photo (of at most ``max_pixels``) if it decodes as one, else a clip (frames of
    at most ``MAX_FRAME_PIXELS``); ``CaptureError`` naming ``source`` otherwise."""
    try:
        image = load_image(data, source=source, max_pixels=max_pixels)
    except FacesearchError as photo_problem:
        try:
            return _clip(data, source, min(max_pixels, MAX_FRAME_PIXELS))
        except CaptureError as clip_problem:
            if clip_problem.reason.startswith("not a video"):  # neither: say what a photo reader said
                raise CaptureError(source, f"neither a photo nor a video clip ({photo_problem.reason})") from None
            raise
    return Capture(source, "photo", [image], [0.0])


def _clip(data: bytes, source: str, max_pixels: int) -> Capture:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise CaptureError(source, f"not a video clip either ({type(exc).__name__})") from None
    frames: list[av.VideoFrame] = []  # as decoded (YUV): only those looked at are converted to RGB
    times: list[float] = []
    try:
        if not container.streams.video:
            raise CaptureError(source, "not a video: the file has no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            raise CaptureError(source, f"frames of {width}x{height} are too big for a sign-in clip "
                                       f"(at most {max_pixels:,} pixels)")
        for count, frame in enumerate(container.decode(stream)):
            if count >= MAX_CLIP_FRAMES:
                raise CaptureError(source, f"more than {MAX_CLIP_FRAMES} frames: a sign-in clip is a few seconds")
            if frame.width * frame.height > max_pixels:
                raise CaptureError(source, f"a frame of {frame.width}x{frame.height} is too big for a sign-in clip")
            at = float(frame.time) if frame.time is not None else count / float(stream.average_rate or 30)
            if times and at - times[0] > MAX_CLIP_S:
                raise CaptureError(source, f"longer than {MAX_CLIP_S:g} s: a sign-in clip is a few seconds")
            frames.append(frame)
            times.append(at)
    except av.FFmpegError as exc:
        raise CaptureError(source, f"the clip cannot be decoded ({type(exc).__name__})") from None
    finally:
        container.close()
    if not frames:
        raise CaptureError(source, "the clip holds no frame")
    keep = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), KEPT_FRAMES)).round().astype(int))
    start = times[0]
    return Capture(source, "clip", [LoadedImage(np.asarray(frames[i].to_ndarray(format="rgb24"), np.uint8),
                                                f"{source} at {times[i] - start:.2f} s") for i in keep],
                   [times[i] - start for i in keep])
