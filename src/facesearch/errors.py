"""Errors that reach users: each renders as one line naming the input and the reason."""

from __future__ import annotations


class FacesearchError(Exception):
    """Base of every error facesearch raises on purpose.

    ``subject`` is the thing at fault (a file name, a model name); ``reason`` says what is wrong.
    ``str(error)`` is the one-line message the CLI prints.
    """

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class ImageError(FacesearchError):
    """An input could not be read as an image (missing, empty, truncated, not an image, too large)."""


class NoFaceError(FacesearchError):
    """An image was read but holds no face where one was needed."""


class ModelError(FacesearchError):
    """A model is missing, damaged, or cannot run where it was asked to."""
