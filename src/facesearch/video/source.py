"""Decoded frames from a video file or a live stream, through PyAV (FFmpeg), with frame sampling.

A frame carries its time from the start of the recording (its presentation timestamp), so sightings
can say when someone appeared however many frames were skipped. A file damaged part way is decoded up
to the damage; the reader then stops and keeps the reason in ``problem`` instead of raising, so the
frames before it still count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from facesearch.errors import BadInputError, UnavailableError
from facesearch.video.frame_plan import reduced_side

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class VideoError(BadInputError):
    """A video or stream cannot be opened or decoded at all."""


class StreamUnavailable(VideoError, UnavailableError):
    """A live stream cannot be reached, or was lost."""


def is_stream(source: str | Path) -> bool:
    return str(source).lower().startswith(STREAM_SCHEMES)


def redact_url(url: str) -> str:
    """The URL without its password (``rtsp://user:***@host/...``), for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, host = rest.partition("@")
    user = auth.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


class VideoFrame:
    """One decoded frame. The full-resolution ``pixels`` are converted to RGB only when asked, which a search
    does for the few frames whose faces it keeps; ``region`` converts a part of it, ``small`` (RGB, the search's
    reduced view, longer side ``reduced_side``) scales and converts in one pass, and ``grey`` reads a small grey
    picture straight from the luma plane, for measuring change on every frame at almost no cost."""

    def __init__(self, index: int, seconds: float, decoded: Any, small: NDArray[np.uint8] | None = None,
                 reformatter: Any = None, reduced_side: int | None = None, small_reformatter: Any = None) -> None:
        self.index = index  # the frame's number among the decoded frames (0-based, counting skipped ones)
        self.seconds = seconds  # from the start of the recording
        self._decoded = decoded  # an av.VideoFrame, or an RGB array
        self._pixels: NDArray[np.uint8] | None = decoded if isinstance(decoded, np.ndarray) else None
        self._reformatter = reformatter  # one per reader and thread: it keeps its scaler between frames
        self._small = small
        self._reduced_side = reduced_side
        self._small_reformatter = small_reformatter  # used by the one thread that asks for ``small``
        self._planes: list[NDArray[np.uint8]] | None = None  # the YUV planes, read once if regions are asked for

    @property
    def small(self) -> NDArray[np.uint8] | None:
        """The reduced view (RGB, longer side ``reduced_side``), made on first use; None when the frame is no
        bigger than that."""
        if self._small is None and self._reduced_side:
            h, w = self.size
            longer = max(h, w)
            if longer > self._reduced_side:
                scale = self._reduced_side / longer
                width, height = max(round(w * scale), 1), max(round(h * scale), 1)
                if self._pixels is None and self._small_reformatter is not None:
                    small = self._small_reformatter.reformat(self._decoded, width=width, height=height,
                                                             format="rgb24", interpolation="BILINEAR")
                    self._small = np.asarray(small.to_ndarray(), np.uint8)
                else:
                    self._small = np.asarray(cv2.resize(self.pixels, (width, height), interpolation=cv2.INTER_AREA),
                                             np.uint8)
        return self._small

    def grey(self, side: int) -> NDArray[np.uint8]:
        """A grey picture of about ``side`` px on its longer side (every n-th pixel, for measuring change)."""
        h, w = self.size
        step = max(1, max(h, w) // side)
        if self._pixels is None and self._decoded.format.name in ("yuv420p", "yuvj420p"):
            luma = self._yuv_planes()[0]
            return np.ascontiguousarray(luma[:h:step, :w:step])
        grey = cv2.cvtColor(self.pixels, cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(grey[::step, ::step])

    def _yuv_planes(self) -> list[NDArray[np.uint8]]:
        if self._planes is None:
            self._planes = [np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                            for plane in self._decoded.planes]
        return self._planes

    @property
    def pixels(self) -> NDArray[np.uint8]:
        """RGB, height x width x 3, full resolution."""
        if self._pixels is None:
            rgb = (self._reformatter.reformat(self._decoded, format="rgb24") if self._reformatter is not None
                   else self._decoded.reformat(format="rgb24"))
            self._pixels = np.asarray(rgb.to_ndarray(), np.uint8)
            self._decoded = None
            self._planes = None
        return self._pixels

    def region(self, x0: int, y0: int, x1: int, y1: int) -> NDArray[np.uint8]:
        """RGB pixels of the rectangle ``[x0, x1) x [y0, y1)`` at full resolution (clipped to the frame).

        Only that rectangle is converted to RGB when the frame is still 4:2:0 YUV and has not been converted
        whole: a 4K frame's conversion costs ~6 ms, a tile's or a face's neighbourhood a fraction of it.
        """
        h, w = self.size
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if self._pixels is not None or self._decoded.format.name != "yuv420p":
            return self.pixels[y0:y1, x0:x1]
        # Chroma is sampled per 2x2 block: widen to even bounds, convert, and trim back.
        ex0, ey0, ex1, ey1 = x0 & ~1, y0 & ~1, min((x1 + 1) & ~1, w & ~1), min((y1 + 1) & ~1, h & ~1)
        if ex1 <= ex0 or ey1 <= ey0:
            return self.pixels[y0:y1, x0:x1]
        luma, cb, cr = self._yuv_planes()
        i420 = np.concatenate([luma[ey0:ey1, ex0:ex1].ravel(), cb[ey0 // 2 : ey1 // 2, ex0 // 2 : ex1 // 2].ravel(),
                               cr[ey0 // 2 : ey1 // 2, ex0 // 2 : ex1 // 2].ravel()])
        rgb = cv2.cvtColor(i420.reshape((ey1 - ey0) * 3 // 2, ex1 - ex0), cv2.COLOR_YUV2RGB_I420)
        return np.asarray(rgb[y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0], np.uint8)

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` at full resolution."""
        if self._pixels is not None:
            return int(self._pixels.shape[0]), int(self._pixels.shape[1])
        return int(self._decoded.height), int(self._decoded.width)


@dataclass(frozen=True)
class VideoInfo:
    name: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float | None  # None for a live stream
    metadata: dict[str, str]


class VideoReader:
    """Iterate a video's frames, every frame or ``fps`` of them per second.

    ``timeout_s`` bounds how long a network read may block (a dead stream raises ``VideoError`` after it).
    """

    def __init__(self, source: str | Path, *, fps: float | None = None, timeout_s: float = 10.0,
                 threads: int = 0, detect_side: int | None = None) -> None:
        import av

        self.source = str(source)
        self.name = redact_url(self.source) if is_stream(source) else self.source
        self.fps = fps
        self.detect_side = detect_side
        self.problem: str | None = None
        from av.video.reformatter import VideoReformatter

        # Scaling contexts are costly to set up: a reformatter keeps its own from frame to frame (one for the
        # reduced views, made in the detector's thread, one for full-resolution frames wherever they are asked for).
        self._small_reformatter = VideoReformatter()
        self._full_reformatter = VideoReformatter()
        options = {}
        if is_stream(source):
            # TCP (no lost packets on a busy host); a socket timeout in microseconds, so that a stream that
            # hangs raises instead of blocking forever; a short probe, so that opening takes ~0.1 s, not ~1 s.
            options = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1e6)), "analyzeduration": "200000",
                       "probesize": "65536"}
        elif not Path(source).is_file():
            raise VideoError(self.name, "no such file")
        try:
            self._container = av.open(self.source, options=options, timeout=(timeout_s, timeout_s))
        except (av.error.FFmpegError, OSError) as exc:
            if is_stream(source):
                raise StreamUnavailable(self.name, f"cannot connect: {_reason(exc)}") from None
            raise VideoError(self.name, f"cannot be read as a video ({_reason(exc)}): damaged, truncated before "
                             "its index, or not a video") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(self.name, "has no video stream")
        self._stream = self._container.streams.video[0]
        ctx = self._stream.codec_context
        if ctx is None or ctx.codec is None:
            tag = getattr(self._stream, "codec_tag", "") or "unknown"
            self._container.close()
            raise VideoError(self.name, f"unsupported video codec ({tag}): no decoder for it")
        self._stream.thread_type = "AUTO"
        if threads:
            ctx.thread_count = threads
        rate = self._stream.average_rate or self._stream.guessed_rate
        duration = None
        if self._stream.duration is not None and self._stream.time_base is not None:
            duration = float(self._stream.duration * self._stream.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1e6
        self.info = VideoInfo(self.name, ctx.codec.name, ctx.width, ctx.height, float(rate) if rate else 0.0,
                              None if is_stream(source) else duration, dict(self._container.metadata))

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(self, start_index: int = 0) -> Iterator[VideoFrame]:
        """Decoded RGB frames from ``start_index`` on. Stops at the end, or at damage (``problem`` set)."""
        import av

        step = 1.0 / self.fps if self.fps else 0.0
        next_time = 0.0
        index = -1
        seconds = 0.0
        first_pts: float | None = None
        try:
            for frame in self._container.decode(self._stream):
                index += 1
                if frame.pts is None or frame.time_base is None:
                    seconds = index / (self.info.fps or 30.0)
                else:
                    seconds = float(frame.pts * frame.time_base)
                if first_pts is None:
                    # Times count from the first frame, as players show them (an MP4's first frame often
                    # carries a non-zero timestamp after its edit list).
                    first_pts = seconds
                seconds -= first_pts
                if index < start_index or (step and seconds + 1e-6 < next_time):
                    continue
                next_time = seconds + step if step else 0.0
                side = reduced_side(self.detect_side, max(frame.width, frame.height)) if self.detect_side else None
                yield VideoFrame(index, seconds, frame, None, self._full_reformatter, side, self._small_reformatter)
        except av.error.EOFError:
            return
        except (av.error.FFmpegError, OSError) as exc:
            if is_stream(self.source):
                raise StreamUnavailable(self.name, f"stream lost: {_reason(exc)}") from None
            self.problem = f"damaged after frame {index} ({_reason(exc)}); frames before it were processed"
        if is_stream(self.source) or self.problem is not None:
            return
        if index < 0:
            self.problem = "no frame could be decoded"
        elif self.info.duration_s and seconds + 0.5 < self.info.duration_s - 2.0 / (self.info.fps or 30.0):
            # The decoder met no error, but the frames stop well before the length the file declares.
            self.problem = (f"ends after {seconds:.1f} s of the {self.info.duration_s:.1f} s it declares: truncated "
                            "or damaged; the frames before were processed")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())
