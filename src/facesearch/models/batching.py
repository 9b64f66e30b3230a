"""Embedding many cameras' faces in shared batches: the embedding pool of a node.

A node runs several cameras in threads over one face engine. Each camera's ended tracks bring a few chips at a
time; a model call has a fixed cost besides its per-chip cost (far larger on a GPU), so the calls that arrive
together are run as one. A ``BatchingRecognizer`` wraps a recognizer: the first caller to find it idle runs the
batch of every request waiting then, and whoever arrives while a batch runs waits for the next one, which that
same caller runs as well. No thread of its own and no added wait: one camera alone gets its batches at once.

Each request's rows come back exactly as its own call would have returned them (the mirror pass and
normalisation are per chip)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_BATCH_CHIPS = 512  # more per call gains little even on a GPU, and holds the callers longer


@dataclass
class _Request:
    chips: NDArray[np.uint8]
    done: threading.Event = field(default_factory=threading.Event)
    result: NDArray[np.float32] | None = None
    error: BaseException | None = None


@dataclass
class BatchStats:
    calls: int = 0  # model calls made
    requests: int = 0  # embed() calls served
    chips: int = 0
    largest: int = 0  # chips in the largest call

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "requests": self.requests, "chips": self.chips, "largest_batch": self.largest,
                "mean_batch": round(self.chips / self.calls, 2) if self.calls else 0.0}


class BatchingRecognizer:
    """A recognizer whose concurrent ``embed`` calls share model calls; everything else is the wrapped one's."""

    def __init__(self, inner: Any, max_batch: int = MAX_BATCH_CHIPS) -> None:
        self.inner, self.max_batch = inner, max_batch
        self.stats = BatchStats()
        self._lock = threading.Lock()
        self._waiting: list[_Request] = []
        self._running = False

    def __getattr__(self, name: str) -> Any:  # spec, name, template, flip, raw...: the wrapped recognizer's
        return getattr(self.inner, name)

    def embed(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        request = _Request(chips)
        with self._lock:
            self._waiting.append(request)
            lead = not self._running
            self._running = True
        if lead:
            self._serve()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _serve(self) -> None:
        """Run batches until nobody waits; then the next caller leads."""
        while True:
            with self._lock:
                batch: list[_Request] = []
                size = 0
                while self._waiting and (not batch or size + len(self._waiting[0].chips) <= self.max_batch):
                    request = self._waiting.pop(0)
                    batch.append(request)
                    size += len(request.chips)
                if not batch:
                    self._running = False
                    return
            self._run(batch, size)

    def _run(self, batch: list[_Request], size: int) -> None:
        try:
            out = self.inner.embed(np.concatenate([r.chips for r in batch])) if size else None
        except BaseException as exc:  # every caller of the batch gets the failure, not only the leader
            for request in batch:
                request.error = exc
                request.done.set()
            return
        start = 0
        for request in batch:
            n = len(request.chips)
            request.result = out[start:start + n] if out is not None else self.inner.embed(request.chips)
            start += n
            request.done.set()
        with self._lock:
            self.stats.calls += 1
            self.stats.requests += len(batch)
            self.stats.chips += size
            self.stats.largest = max(self.stats.largest, size)
