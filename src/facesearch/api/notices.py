"""What wakes the console's alert streams. On PostgreSQL a listener hears each new sighting at its commit
(``store.notify``), from any process or machine, and a stream looks at the database at once; with no listener
(SQLite, or the listener between connections) the streams poll as they always did. A notice only wakes: the
stream still reads the sightings with its reader's rights."""

from __future__ import annotations

import threading

from facesearch.context import Context
from facesearch.store.notify import Channel, Listener, listen_url


class SightingNotices:
    def __init__(self, context: Context) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        url = listen_url(context.sessions)
        self._listener = None if url is None else Listener(url, [Channel.SIGHTINGS], self._heard)

    def _heard(self, _channel: str, _payload: str) -> None:
        with self._lock:
            self._generation += 1

    @property
    def generation(self) -> int:
        """Grows by one with each notice heard: a stream compares it with the value it last saw."""
        with self._lock:
            return self._generation

    @property
    def live(self) -> bool:
        """Whether notices are being heard now (else a stream must poll)."""
        return self._listener is not None and self._listener.listening.is_set()

    def start(self) -> None:
        if self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
