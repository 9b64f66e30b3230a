"""Errors that reach users: each renders as one line naming the input and the reason.

Every error is of one *kind* (bad input, not found, conflict, refused, unavailable, limited, forbidden), fixed
by its class.
The interfaces turn a kind into an HTTP status or an exit code (``ERROR_STATUS``); nothing anywhere
looks at an error's wording to decide what to do, so a message can be reworded freely.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    BAD_INPUT = "bad_input"  # the request itself is wrong: a malformed id, an unreadable file, a weak password
    NOT_FOUND = "not_found"  # what it names does not exist
    CONFLICT = "conflict"  # it exists already, or was already done (confirmed, closed, cancelled)
    REFUSED = "refused"  # well formed, but the rules forbid it now (a case not active, a camera not allowed)
    UNAVAILABLE = "unavailable"  # something it needs cannot be reached (a stream, a model)
    LIMITED = "limited"  # too many attempts: wait, then try again
    STORAGE_FULL = "storage_full"  # the disk (or the database server's) is full: nothing was saved
    FORBIDDEN = "forbidden"  # not for this caller: a case they are not assigned to, a key where a person must act


# HTTP status per kind. A refusal is a 400, as a bad request: the caller may not retry it unchanged.
ERROR_STATUS: dict[ErrorKind, int] = {
    ErrorKind.BAD_INPUT: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.REFUSED: 400,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.LIMITED: 429,
    ErrorKind.STORAGE_FULL: 507,  # Insufficient Storage (RFC 4918)
    ErrorKind.FORBIDDEN: 403,
}


class FacesearchError(Exception):
    """Base of every error facesearch raises on purpose.

    ``subject`` is the thing at fault (a file name, a model name); ``reason`` says what is wrong.
    ``str(error)`` is the one-line message the CLI prints. ``kind`` comes from the class: raise a
    subclass of ``NotFoundError``, ``ConflictError``, ``RefusedError`` or ``UnavailableError`` for those.
    """

    kind: ClassVar[ErrorKind] = ErrorKind.BAD_INPUT

    def __init__(self, subject: str, reason: str, *, retry_after_s: int | None = None) -> None:
        self.subject = subject
        self.reason = reason
        self.retry_after_s = retry_after_s  # when to try again (an HTTP answer's Retry-After), if saying helps
        super().__init__(f"{subject}: {reason}")

    @property
    def http_status(self) -> int:
        return ERROR_STATUS[self.kind]


class BadInputError(FacesearchError):
    kind = ErrorKind.BAD_INPUT


class NotFoundError(FacesearchError):
    kind = ErrorKind.NOT_FOUND


class ConflictError(FacesearchError):
    kind = ErrorKind.CONFLICT


class RefusedError(FacesearchError):
    kind = ErrorKind.REFUSED


class UnavailableError(FacesearchError):
    kind = ErrorKind.UNAVAILABLE


class LimitedError(FacesearchError):
    kind = ErrorKind.LIMITED


class ForbiddenError(FacesearchError):
    """The caller may not do this, whatever the input: need to know (not assigned to the case), or an
    API key where only a person signed in with their own account may act (a review decision)."""

    kind = ErrorKind.FORBIDDEN


class ImageError(BadInputError):
    """An input could not be read as an image (missing, empty, truncated, not an image, too large)."""


class NoFaceError(BadInputError):
    """An image was read but holds no face where one was needed."""


class ModelError(UnavailableError):
    """A model is missing, damaged, or cannot run where it was asked to."""


class StorageFullError(FacesearchError):
    """A write failed because the disk is full (``ENOSPC``, SQLite's ``SQLITE_FULL``, PostgreSQL's 53100)."""

    kind = ErrorKind.STORAGE_FULL
