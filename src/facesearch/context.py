"""The process's wiring: settings, the database's sessions, the sealer, the index cache and the face
engine, built once (by the CLI for a command, by ``serve`` for the server) and handed to the services.

Opening a context only opens: it runs no retention and writes nothing (``serve``, ``watch`` and
``retention run`` run retention themselves, at start-up), except once after an upgrade: names, titles and
notes an older version stored in clear are sealed (``store.sealed_text.seal_plaintext``).

Example:
    >>> ctx = Context.open()
    >>> cases = list_cases(ctx.sessions)
    >>> enrol_into_case(ctx, "C1", "J. Doe", [Path("a.jpg")], actor="olga")
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit_log
from facesearch.audit.checkpoints import CheckpointLog
from facesearch.audit.keys import AuditKey, load_audit_key
from facesearch.index.cache import IndexCache
from facesearch.settings import Settings, get_settings
from facesearch.store.crypto import Sealer, load_key
from facesearch.store.db import open_database
from facesearch.store.sealed_text import bind, seal_plaintext

if TYPE_CHECKING:
    from facesearch.engine import Engine


def _default_engine() -> Engine:
    from facesearch.engine import Engine  # the models load on first use, not when a context opens

    return Engine()


@dataclass
class Context:
    """Everything a service needs from the process, in one value.

    ``engine()`` loads the face engine on first use and shares it between threads (the server's
    request handlers and its job worker); ``make_engine`` chooses which (a model profile, a test's).

    The sessions append to the audit log with ``audit_key`` and checkpoint to the settings' checkpoint folder.
    ``Context.open`` passes the installation's key; a context built directly without one (a test's, a
    benchmark's) gets a key of its own, so its entries verify only within that process.
    """

    settings: Settings
    sessions: sessionmaker[Session]
    sealer: Sealer
    make_engine: Callable[[], Engine] = _default_engine
    audit_key: AuditKey | None = None
    _engine: Engine | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not audit_log.attached(self.sessions):
            key = self.audit_key or AuditKey.generate()
            checkpoints = CheckpointLog(self.settings.resolved_audit_checkpoints,
                                        self.settings.audit_checkpoint_command)
            audit_log.attach(self.sessions, audit_log.AuditTrail(key, checkpoints))
        bind(self.sessions, self.sealer)  # after attach (which sets the sessions' info): names are sealed with the key

    @classmethod
    def open(cls, settings: Settings | None = None, *, make_engine: Callable[[], Engine] | None = None) -> Context:
        """The context of this installation: its database (migrated to the current schema), its data key and its
        audit key."""
        settings = settings or get_settings()
        sessions = open_database(settings.resolved_database_url)[1]
        sealer, audit_key = load_key(settings.home), load_audit_key(settings.home)
        seal_plaintext(sessions, sealer)  # names an older version stored in clear: sealed once, then a no-op
        return cls(settings, sessions, sealer, make_engine or _default_engine, audit_key)

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self.make_engine()
            return self._engine

    def index_cache(self) -> IndexCache:
        """The sealed search indexes on disk (derived data, rebuilt when stale)."""
        return IndexCache(self.settings.home / "index", self.sealer)
