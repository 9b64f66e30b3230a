"""Work one server process takes on at once, bounded: face work on uploads, and live alert streams.

Face work (decoding an upload and detecting, aligning and embedding its faces) costs up to a few hundred MB
and a core while it runs. At most ``max_concurrent_decodes`` requests do it at once (default: one per core);
a request waits for a slot on the event loop, holding no worker thread, for up to ``decode_wait_s`` seconds,
then is answered 503 (``unavailable``) with ``Retry-After``. Its body, already parsed, waits in the spooled
upload (on disk past 1 MB), so a crowd of waiting requests costs little memory and no threads.

Live alert streams hold no worker thread either (``console/alerts.py``), but each is an open connection that
polls the database: one person holds at most ``max_streams_per_user`` (one more is 429, ``limited``), and
the process at most ``max_streams`` (one more is 503).
"""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request

from facesearch.errors import LimitedError, UnavailableError
from facesearch.settings import Settings


class WorkSlots:
    """At most ``size`` requests doing face work at once; the others wait up to ``wait_s`` seconds."""

    def __init__(self, size: int, wait_s: float) -> None:
        self.size, self.wait_s = size, wait_s
        self._free = threading.Semaphore(size)
        self._lock = threading.Lock()
        self.busy = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> "WorkSlots":
        return cls(settings.max_concurrent_decodes or os.cpu_count() or 1, settings.decode_wait_s)

    async def acquire(self) -> bool:
        """A slot, waited for without holding a thread (polled: the waiters of several event loops share it);
        ``False`` when none came free in time."""
        deadline, pause = time.monotonic() + self.wait_s, 0.005
        while not self._free.acquire(blocking=False):
            if time.monotonic() >= deadline:
                return False
            await anyio.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 0.05)
        with self._lock:
            self.busy += 1
        return True

    def release(self) -> None:
        with self._lock:
            self.busy -= 1
        self._free.release()


async def face_work(request: Request) -> AsyncIterator[None]:
    """A dependency: hold one of the process's face-work slots while the route runs (503 when none frees up)."""
    slots: WorkSlots = request.app.state.work
    if not await slots.acquire():
        raise UnavailableError(
            request.url.path, f"busy: {slots.size} uploads are being searched already and none finished within "
            f"{slots.wait_s:g} s; try again shortly", retry_after_s=max(1, round(slots.wait_s)))
    try:
        yield
    finally:
        slots.release()


# Put it after the caller's role check in a route's signature: an unauthenticated request never waits.
FaceWork = Annotated[None, Depends(face_work, scope="function")]


class StreamSlots:
    """Open streams per person (``per_user``) and in all (``total``)."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user, self.total = per_user, total
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "StreamSlots":
        return cls(settings.max_streams_per_user, settings.max_streams)

    def open(self, who: str) -> Callable[[], None]:
        """Count a stream for ``who``; returns what closes it (safe to call twice). Over a cap: ``LimitedError``
        (this person's) or ``UnavailableError`` (the process's)."""
        with self._lock:
            if self._open.get(who, 0) >= self.per_user:
                raise LimitedError(who, f"already has {self.per_user} alert streams open (the most one person may "
                                   "hold); close one first", retry_after_s=30)
            if sum(self._open.values()) >= self.total:
                raise UnavailableError("alert streams", f"{self.total} are open on this server already (its "
                                       "limit); try again later", retry_after_s=30)
            self._open[who] = self._open.get(who, 0) + 1
        closed = False

        def close() -> None:
            nonlocal closed
            with self._lock:
                if closed:
                    return
                closed = True
                left = self._open.get(who, 0) - 1
                if left > 0:
                    self._open[who] = left
                else:
                    self._open.pop(who, None)

        return close

    def count(self, who: str | None = None) -> int:
        with self._lock:
            return sum(self._open.values()) if who is None else self._open.get(who, 0)
