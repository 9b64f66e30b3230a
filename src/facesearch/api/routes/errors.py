"""The error bodies routes document: every failure answers ``{"error": "...", "kind": ...}`` (``ErrorOut``),
so a generated client parses any 4xx into one type."""

from typing import Any

from facesearch.api.schemas import ErrorOut

Responses = dict[int | str, dict[str, Any]]

# Any route may refuse its input (a 422 for a malformed request is FastAPI's own, documented apart).
REFUSED: Responses = {
    "4XX": {"model": ErrorOut, "description": "Refused: ``error`` says why in one line, ``kind`` is the service's "
                                              "error kind (not_found, conflict, ...) when a service refused"},
}
# Every route behind the role matrix can also answer these two.
DENIED: Responses = {
    401: {"model": ErrorOut, "description": "Not signed in, or an unknown API key"},
    403: {"model": ErrorOut, "description": "The caller's role may not do this (or a session's CSRF token is "
                                            "missing)"},
    **REFUSED,
}
