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
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction

FAILURES_PER_MINUTE = 5
MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, failures: int = FAILURES_PER_MINUTE, window_s: float = 60.0,
                 max_keys: int = MAX_KEYS) -> None:
        self.failures, self.window_s, self.max_keys = failures, window_s, max_keys
        self.failed_sign_ins = FailedSignIns(window_s)  # how the failures this limiter counts reach the audit log
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


AUDITED_SOURCES = 20  # addresses whose failed sign-ins are followed one by one in each window
_DISTINCT = 1000  # distinct names (or addresses) counted per tally; past it the count says "at least"


def _short_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8]


@dataclass
class _Tally:
    failures: int = 0
    names: set[bytes] = field(default_factory=set)
    addresses: set[bytes] = field(default_factory=set)

    def add(self, name: str, address: str) -> None:
        self.failures += 1
        for seen, value in ((self.names, name), (self.addresses, address)):
            if len(seen) < _DISTINCT:
                seen.add(_short_digest(value))


class FailedSignIns:
    """Failed sign-ins in the audit log, in bounded number whatever a client sends.

    The log keeps showing that failures happen and how many, without one entry per attempt (a client can make
    about a hundred a second): in each window (a minute), an address's first failure is written as it
    happens (the name tried, the address), and its further failures are counted in memory and written as one
    summary entry (how many in the window, how many names) when the window ends, at the first failure after
    it or at the server's flush (every window, and as it stops). Past ``max_sources`` addresses in a window,
    failures are counted together in one more summary. A window thus holds at most ``2 x max_sources + 1``
    entries, and the memory kept is a few kB whatever the names.
    """

    def __init__(self, window_s: float = 60.0, max_sources: int = AUDITED_SOURCES) -> None:
        self.window_s, self.max_sources = window_s, max_sources
        self._lock = threading.Lock()
        self._began, self._began_at = time.monotonic(), datetime.now(UTC)
        self._sources: dict[str, _Tally] = {}  # address -> failures after its first, in this window
        self._others = _Tally()  # failures from addresses past max_sources

    def record(self, session: Session, name: str, address: str) -> None:
        """One failed sign-in of ``name`` from ``address``, in ``session``'s transaction: written when it is the
        address's first in the window, else counted; a finished window's summaries are written first."""
        address = address[:100]
        with self._lock:
            ended = self._take_if_ended(time.monotonic())
            tally = self._sources.get(address)
            first = tally is None and len(self._sources) < self.max_sources
            if first:
                tally = self._sources[address] = _Tally()
            (tally or self._others).add(name, address)
        self._write(session, ended)
        if first:
            audit.append(session, actor=name[:100], action=AuditAction.ACCOUNT_SIGN_IN_FAILED,
                         details={"address": address})

    def flush(self, sessions: sessionmaker[Session], *, force: bool = False) -> int:
        """Write the summaries of a finished window (of the current one too, with ``force``: the server is
        stopping); returns how many entries were written."""
        with self._lock:
            ended = self._take_if_ended(time.monotonic(), force=force)
        if ended is None or not _counted(ended):
            return 0
        with sessions.begin() as s:
            return self._write(s, ended)

    def _take_if_ended(self, now: float, *, force: bool = False) -> _Window | None:
        if not force and now - self._began < self.window_s:
            return None
        ended = _Window(self._began_at, datetime.now(UTC), self._sources, self._others)
        self._began, self._began_at = now, datetime.now(UTC)
        self._sources, self._others = {}, _Tally()
        return ended

    @staticmethod
    def _write(session: Session, ended: _Window | None) -> int:
        if ended is None:
            return 0
        written = 0
        window = {"from": ended.began.isoformat(timespec="seconds"), "to": ended.ended.isoformat(timespec="seconds")}
        for address, tally in ended.sources.items():
            if tally.failures > 1:  # the first is written already; the count is the window's, the first included
                audit.append(session, actor="anonymous", action=AuditAction.ACCOUNT_SIGN_IN_FAILED, details={
                    "summary": True, "address": address, "failures": tally.failures,
                    "names": _distinct(tally.names), **window})
                written += 1
        if ended.others.failures:
            audit.append(session, actor="anonymous", action=AuditAction.ACCOUNT_SIGN_IN_FAILED, details={
                "summary": True, "address": "(others)", "failures": ended.others.failures,
                "addresses": _distinct(ended.others.addresses), "names": _distinct(ended.others.names), **window})
            written += 1
        return written


@dataclass(frozen=True)
class _Window:
    began: datetime
    ended: datetime
    sources: dict[str, _Tally]
    others: _Tally


def _counted(window: _Window) -> bool:
    return window.others.failures > 0 or any(t.failures > 1 for t in window.sources.values())


def _distinct(seen: set[bytes]) -> str | int:
    return f"at least {_DISTINCT}" if len(seen) >= _DISTINCT else len(seen)
