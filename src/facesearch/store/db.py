"""The database: SQLite under the data directory by default, PostgreSQL when a URL names one.

The schema comes from the Alembic migrations in ``migrations/`` (applied by ``migrate``), never from
``create_all``, so that an existing installation is upgraded the same way a new one is built. SQLite runs
with foreign keys on, WAL journalling and ``synchronous=FULL``: a committed transaction survives a
killed process, and an uncommitted one leaves nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from facesearch.errors import FacesearchError
from facesearch.files import private_dir, restrict

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseProblem(FacesearchError):
    """The database cannot be opened, is damaged, or is newer than this program."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling off: ``_begin_immediate`` starts every transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _private_sidecars(database: Path) -> Any:
    """A connect hook that keeps the WAL and shared-memory files beside ``database`` to their owner (0600).

    SQLite gives them the database file's mode as it makes them; this also tightens ones an older version
    left readable by others."""

    def hook(_dbapi_connection: Any, _record: Any) -> None:
        for suffix in ("-wal", "-shm"):
            try:
                restrict(database.with_name(database.name + suffix), 0o600)
            except OSError:
                pass  # not there (yet): SQLite makes it with the database file's mode

    return hook


_new_files: set[Path] = set()  # database files this process made (empty until the schema is written)


def _private_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names, made (empty: SQLite reads that as a new database) or tightened to mode
    0600 before SQLite opens it, in a data directory made 0700; ``None`` for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if path.is_file() and path.stat().st_size == 0 and path not in _new_files:
        # SQLite would take an empty file for a new database and facesearch would set up a new installation
        # in it: an installation whose database was truncated or replaced must say so instead.
        raise DatabaseProblem(str(path), "the database file exists but is empty (truncated or replaced?); restore "
                              "it from a backup, or move it away to start a new installation")
    try:
        private_dir(path.parent)
        if path.exists():
            old = restrict(path, 0o600) if path.is_file() else None
            if old is not None:
                log.info("%s: was mode %o (readable by others); now 600", path, old)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)  # the umask may have taken bits away from 0600 (it never adds any)
            os.close(fd)
            _new_files.add(path)
    except OSError as exc:  # a folder that cannot be made or written: SQLite says so as it opens (one line)
        log.debug("%s: cannot prepare the database file (%s)", path, exc)
    return path


def _begin_immediate(connection: Any) -> None:
    """Every SQLite transaction takes the write lock as it begins (waiting up to the busy timeout for it).

    A deferred transaction reads a snapshot and only asks for the lock at its first write; two of them that
    read the same audit head, or the same confirmation count, then both write: the second fails on the
    chain's unique sequence number, or loses an update. PostgreSQL locks the rows instead (``FOR UPDATE``).
    Readers still see committed data while a writer works (WAL); transactions here are short."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder (0700 when made here), mode 0600 (the file and its
    WAL and shared-memory files) and the pragmas above."""
    database = _private_sqlite_file(url) if url.startswith("sqlite:") else None
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if database is not None:
            event.listen(engine, "connect", _private_sidecars(database))
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
        known = {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
        if current is not None and current not in known:
            raise DatabaseProblem(where, f"schema revision {current} is newer than this facesearch; upgrade it")
        if current == head_revision():
            return
        cfg = _alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("%s: schema upgraded from %s to %s", where, current, head_revision())
    except DatabaseProblem:
        raise
    except (DatabaseError, OperationalError) as exc:
        reason = str(exc.orig) if exc.orig is not None else str(exc)
        raise DatabaseProblem(where, f"cannot open the database ({reason.splitlines()[0]})") from None


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed whole at the end, or rolled back whole on any error."""
    with sessions.begin() as session:
        yield session


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = open_engine(url)
    migrate(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
