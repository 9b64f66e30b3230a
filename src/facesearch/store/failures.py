"""What storage failures mean to a caller: a full disk (507 / one line), a damaged database (503 / one line),
a file name too long (400), instead of a traceback or a server error.

Failures are told apart by their codes, never by their wording: ``errno`` for the operating system, SQLite's
result code (``sqlite_errorcode``) and PostgreSQL's SQLSTATE for the databases.
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy.exc import DBAPIError

from facesearch.errors import BadInputError, FacesearchError, StorageFullError, UnavailableError

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_FULL = 13
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_IOERR = 10
# PostgreSQL SQLSTATEs: class 53 "insufficient resources" (disk_full), class XX data_corrupted/index_corrupted.
_PG_FULL = {"53100"}
_PG_CORRUPT = {"XX001", "XX002"}

# The exceptions ``as_service_error`` may translate (the API registers a handler for each).
STORAGE_EXCEPTIONS: tuple[type[Exception], ...] = (OSError, DBAPIError, sqlite3.DatabaseError)


class DatabaseDamaged(UnavailableError):
    """The database file is damaged (corrupted pages): restore it from a backup."""


class NameTooLong(BadInputError):
    """A path names a file or folder longer than the file system allows (255 bytes a name)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def as_service_error(exc: BaseException) -> FacesearchError | None:
    """``exc`` as the service error it amounts to, or ``None`` when it is none of the failures above."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        where = exc.filename if isinstance(exc.filename, str) else "storage"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFullError(_short(where), "no space left on the disk: nothing was saved; free some space")
        if exc.errno == errno.ENAMETOOLONG:
            return NameTooLong(_short(where), "a file or folder name is longer than 255 bytes")
        return None
    orig: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
    if orig is None:
        return None
    if isinstance(orig, sqlite3.Error):
        code = (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF
        if code == _SQLITE_FULL:
            return StorageFullError("database", "the disk is full: nothing was saved; free some space")
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return DatabaseDamaged("database", f"damaged ({_first_line(orig)}); restore it from a backup")
        if code == _SQLITE_IOERR:
            return UnavailableError("database", f"cannot be read or written ({_first_line(orig)})")
        return None
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in _PG_FULL:
        return StorageFullError("database", "the database server's disk is full: nothing was saved")
    if state in _PG_CORRUPT:
        return DatabaseDamaged("database", f"damaged ({_first_line(orig)}); restore it from a backup")
    return None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
