"""Sign-in rate limit, shared by the API and the console: after 5 failures in a minute for one address
and user name, further attempts (even right ones) are refused until the minute has passed."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

FAILURES_PER_MINUTE = 5


class LoginLimiter:
    def __init__(self, failures: int = FAILURES_PER_MINUTE, window_s: float = 60.0) -> None:
        self.failures, self.window_s = failures, window_s
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        with self._lock:
            recent = self._recent[key]
            now = time.monotonic()
            while recent and now - recent[0] > self.window_s:
                recent.popleft()
            return len(recent) >= self.failures

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent[key].append(time.monotonic())
