"""Change notices between processes through PostgreSQL's LISTEN/NOTIFY: a new sighting (the console's alerts),
a changed gallery (the index replicas of a cluster's nodes). A notice is sent inside the writing transaction
and delivered only when it commits, so nobody hears of a row they cannot read yet, and a rolled-back write
says nothing.

A notice carries ids only (never a name: a notice is no place for who is sought); whoever hears one reads the
database as usual, with its own rights. On SQLite there is no other server to tell, so ``notify`` does nothing
and readers keep polling. Notices are hints: a listener that was away reads what it missed from the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
PAYLOAD_MAX = 7000  # bytes: PostgreSQL refuses a payload of 8000 or more


class Channel(StrEnum):
    SIGHTINGS = "facesearch_sightings"
    GALLERY = "facesearch_gallery"
    # Something a running watch must look at again: a case closed, a person taken off a watchlist (even with
    # their templates kept for another case), a camera disabled or removed. Watches that hear it look at once;
    # watches that cannot hear it (SQLite) look every second anyway.
    WATCH = "facesearch_watch"


def notify(session: Session, channel: Channel, payload: str = "") -> None:
    """Tell every listener on ``channel`` when ``session``'s transaction commits (PostgreSQL); nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if len(payload.encode()) > PAYLOAD_MAX:
        raise ValueError(f"notice payload of {len(payload.encode())} bytes (at most {PAYLOAD_MAX})")
    session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": str(channel), "payload": payload})


def listen_url(sessions: sessionmaker[Session]) -> str | None:
    """The address a listener connects to for the database behind ``sessions``: ``None`` unless PostgreSQL."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        return None
    return str(bind.url.render_as_string(hide_password=False))


class Listener:
    """A thread that listens on ``channels`` of the PostgreSQL at ``url`` and calls ``on_notice(channel,
    payload)`` for each notice, reconnecting (with ``on_notice(channel, "")`` for every channel, "you may have
    missed something") after a lost connection. ``stop()`` ends it."""

    def __init__(self, url: str, channels: list[Channel], on_notice: Callable[[str, str], None], *,
                 retry_s: float = 1.0) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.channels, self.on_notice, self.retry_s = channels, on_notice, retry_s
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while connected and listening
        self._thread = threading.Thread(target=self._run, name="facesearch-listener", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        import psycopg

        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    for channel in self.channels:
                        conn.execute(f'LISTEN "{channel}"')  # the names are this module's constants
                    self.listening.set()
                    if not first:  # notices sent while we were away are lost: say so, so readers look
                        for channel in self.channels:
                            self.on_notice(str(channel), "")
                    first = False
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5, stop_after=100):
                            self.on_notice(notice.channel, notice.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("listening for changes: %s; trying again in %g s", str(exc).splitlines()[0],
                            self.retry_s)
                self._stop.wait(self.retry_s)
        self.listening.clear()


class Generation:
    """A count of the notices heard on ``channels`` (PostgreSQL), for readers that only need to know whether
    anything changed since they last looked: compare ``value()`` with the one seen then. While it cannot hear
    (SQLite, or between connections) ``value()`` changes every ``poll_s`` seconds, so readers fall back to
    looking that often: a missed notice costs at most one poll."""

    def __init__(self, sessions: sessionmaker[Session], channels: list[Channel], *, poll_s: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.poll_s = poll_s
        url = listen_url(sessions)
        self._listener = None if url is None else Listener(url, channels, self._heard)

    def _heard(self, _channel: str, _payload: str) -> None:
        with self._lock:
            self._count += 1

    @property
    def live(self) -> bool:
        return self._listener is not None and self._listener.listening.is_set()

    def value(self) -> tuple[int, int]:
        """(notices heard, the current poll slot while not hearing; 0 while hearing)."""
        with self._lock:
            count = self._count
        return count, 0 if self.live else int(time.monotonic() / self.poll_s)

    def start(self) -> Generation:
        if self._listener is not None:
            self._listener.start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
