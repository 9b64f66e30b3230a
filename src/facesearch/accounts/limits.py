"""Sign-in and password-change limits, shared by the API and the console: after 5 failures in a minute for
one key (an address and a user name), further attempts, even right ones, are refused until the minute has
passed.

Memory is bounded whatever a client sends: a key is kept as a 16-byte hash (a 1 MB user name costs 16
bytes), only failures create entries, entries older than the window are dropped, and at most ``max_keys``
are kept (the least recently failed go first). A flood of fresh names could push a real name's count out
early; the flood itself is what the limit then sees.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque

FAILURES_PER_MINUTE = 5
MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, failures: int = FAILURES_PER_MINUTE, window_s: float = 60.0,
                 max_keys: int = MAX_KEYS) -> None:
        self.failures, self.window_s, self.max_keys = failures, window_s, max_keys
        self._recent: OrderedDict[bytes, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:16]

    def _fresh(self, digest: bytes, now: float) -> deque[float] | None:
        recent = self._recent.get(digest)
        if recent is None:
            return None
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if not recent:
            del self._recent[digest]
            return None
        return recent

    def blocked(self, key: str) -> bool:
        with self._lock:
            recent = self._fresh(self._digest(key), time.monotonic())
            return recent is not None and len(recent) >= self.failures

    def failed(self, key: str) -> None:
        digest, now = self._digest(key), time.monotonic()
        with self._lock:
            recent = self._fresh(digest, now)
            if recent is None:
                recent = self._recent[digest] = deque(maxlen=self.failures)
            recent.append(now)
            self._recent.move_to_end(digest)
            while len(self._recent) > self.max_keys:
                self._recent.popitem(last=False)

    def __len__(self) -> int:
        return len(self._recent)
