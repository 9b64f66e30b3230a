"""References people type and read: ``C12`` (a case), ``P3`` (a person in the photo library), ``F40``
(a face in the library). One formatter and one parser for all three, so every interface agrees.

A reference is its letter (either case) and ASCII digits, or the bare digits; nothing else is taken:
``str.isdigit`` also accepts full-width and Arabic-Indic digits, which would let two spellings name one row.
"""

from __future__ import annotations

import re
from enum import StrEnum

from facesearch.errors import BadInputError

# The largest id a reference may carry: beyond it a database driver would overflow.
MAX_ID = 2**62
_DIGITS = re.compile(r"[0-9]{1,19}")


class RefKind(StrEnum):
    CASE = "C"
    PERSON = "P"
    FACE = "F"


_NOUN = {RefKind.CASE: "case", RefKind.PERSON: "person", RefKind.FACE: "face"}
_HINT = {RefKind.CASE: "e.g. C1", RefKind.PERSON: "as 'library people' shows",
         RefKind.FACE: "as 'library people' shows"}


class RefError(BadInputError):
    """Text that is not a reference of the kind expected."""


def format_ref(kind: RefKind, row_id: int) -> str:
    return f"{kind.value}{row_id}"


def parse_ref(text: str | int, kind: RefKind) -> int:
    """``C17``, ``c17`` or ``17`` -> 17 for a case; anything else is a one-line error naming the input."""
    raw = str(text).strip()
    body = raw[1:] if raw[:1].upper() == kind.value else raw
    if not _DIGITS.fullmatch(body) or not 1 <= int(body) <= MAX_ID:
        raise RefError(raw, f"not a {_NOUN[kind]} id (expected {kind.value}<number>, {_HINT[kind]})")
    return int(body)


def normalise_ref(text: str | int, kind: RefKind) -> str:
    """The canonical spelling of a reference: ``c07`` -> ``C7``."""
    return format_ref(kind, parse_ref(text, kind))


def case_ref(case_id: int) -> str:
    return format_ref(RefKind.CASE, case_id)


def parse_case_ref(text: str | int) -> int:
    return parse_ref(text, RefKind.CASE)


def person_ref(person_id: int) -> str:
    return format_ref(RefKind.PERSON, person_id)


def face_ref(face_id: int) -> str:
    return format_ref(RefKind.FACE, face_id)
