"""A running watch's numbers, kept while it runs so that whoever supervises it (a cluster's status, a test) can
read how it is doing without stopping it: frames per second, how far behind live it is, tracks and sightings.

The watch writes, anyone reads: every field is a plain value replaced whole, so a reader in another thread sees
one frame's numbers or the next one's, never a half-written mixture that matters."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LiveStats:
    state: str = "starting"  # starting, connected, retrying, database away, stopped
    frames: int = 0  # searched, over every connection
    tracks: int = 0  # ended tracks (each one a face followed through the frames)
    matched: int = 0  # tracks that matched someone on a watchlist
    faces: int = 0  # faces detected
    sightings: int = 0
    connections: int = 0
    lag_s: float = 0.0  # how far the searched frame is behind the stream's own clock
    embed_s: float = 0.0  # wall time spent embedding and matching
    hurried: int = 0  # tracks embedded from their best views only, because the search was behind live
    last_error: str = ""
    stopped: str = ""
    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=512), repr=False)
    _connected_at: float = 0.0
    _first_frame_s: float | None = None
    # frames, faces, tracks, matched, embed_s and hurried before this connection
    _base: tuple[int, int, int, int, float, int] = (0, 0, 0, 0, 0.0, 0)

    def connected(self) -> None:
        self.state, self.connections = "connected", self.connections + 1
        self._connected_at, self._first_frame_s = time.monotonic(), None
        self._base = (self.frames, self.faces, self.tracks, self.matched, self.embed_s, self.hurried)

    def frame(self, seconds: float, progress: Any) -> None:
        """One frame about to be searched (``seconds`` on the stream's clock) and the search's running totals."""
        now = time.monotonic()
        if self._first_frame_s is None:
            self._first_frame_s = seconds
        # The stream runs in real time from the first frame: the wall time since then, less the stream time
        # reached, is how far behind the search is.
        self.lag_s = max(0.0, (now - self._connected_at) - (seconds - self._first_frame_s))
        frames, faces, tracks, matched, embed_s, hurried = self._base
        self.frames, self.faces = frames + progress.frames, faces + progress.faces
        self.tracks, self.matched = tracks + progress.tracks, matched + progress.matched
        self.embed_s, self.hurried = embed_s + progress.embed_s, hurried + progress.hurried
        self._samples.append((now, self.frames))

    def fps(self, window_s: float = 5.0) -> float:
        """Frames searched per second over about the last ``window_s`` seconds (frames are searched in batches,
        so a shorter window would swing between bursts and pauses)."""
        now = time.monotonic()
        recent = [(t, n) for t, n in list(self._samples) if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        (first_t, first_n), (last_t, last_n) = recent[0], recent[-1]
        return (last_n - first_n) / max(last_t - first_t, 1e-6) if last_t > first_t else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "frames": self.frames, "fps": round(self.fps(), 2), "lag_s": round(self.lag_s, 2),
                "faces": self.faces, "tracks": self.tracks, "matched": self.matched,
                "sightings": self.sightings, "connections": self.connections, "embed_s": round(self.embed_s, 3),
                "hurried": self.hurried, "last_error": self.last_error, "stopped": self.stopped}
