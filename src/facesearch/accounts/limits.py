"""Sign-in and password-change limits, shared by the API, the console and the CLI: after 5 failures in a minute
for one key (an address and a user name), further attempts, even right ones, are refused until the minute has
passed.

The failures live in the database (``sign_in_failures``), so the limit holds across processes: several
``serve`` replicas sharing one PostgreSQL, and CLI runs that each sign in once. A key is kept as a 16-byte hash
(a 1 MB user name costs 16 bytes), only failures create rows, and rows older than the window are deleted as
new ones are written: the table holds at most a minute of failures, whatever a client sends.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.store.schema import SignInFailureRow

FAILURES_PER_MINUTE = 5


class LoginLimiter:
    def __init__(self, sessions: sessionmaker[Session], failures: int = FAILURES_PER_MINUTE,
                 window_s: float = 60.0) -> None:
        self.sessions, self.failures, self.window = sessions, failures, timedelta(seconds=window_s)
        self.failed_sign_ins = FailedSignIns(window_s)  # how the failures this limiter counts reach the audit log

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def blocked(self, key: str) -> bool:
        since = datetime.now(UTC) - self.window
        with self.sessions() as s:
            count = s.scalar(select(func.count()).select_from(SignInFailureRow).where(
                SignInFailureRow.key_digest == self._digest(key), SignInFailureRow.at > since))
        return int(count or 0) >= self.failures

    def failed(self, key: str) -> None:
        now = datetime.now(UTC)
        with self.sessions.begin() as s:
            s.execute(delete(SignInFailureRow).where(SignInFailureRow.at <= now - self.window))
            s.add(SignInFailureRow(key_digest=self._digest(key), at=now))

    def __len__(self) -> int:
        """How many keys have failures in the window."""
        since = datetime.now(UTC) - self.window
        with self.sessions() as s:
            return int(s.scalar(select(func.count(func.distinct(SignInFailureRow.key_digest)))
                                .where(SignInFailureRow.at > since)) or 0)


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
