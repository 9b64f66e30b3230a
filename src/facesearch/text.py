"""Text for people: control characters shown as visible escapes, and refused in names.

A name, title or sign-in attempt may hold characters that move the cursor or reorder what follows: a
newline forges a second log line, U+202E (right-to-left override) shows ``txt.exe`` as ``exe.txt``.
Everything printed for people goes through ``visible``, so one entry stays one line and reads as stored;
names and titles people give are refused with ``require_plain`` when they hold such characters.

The characters: C0 (U+0000-U+001F, tab and newline included), DEL, C1 (U+0080-U+009F), the line and
paragraph separators U+2028/U+2029, the bidirectional embeddings, overrides and isolates
U+202A-U+202E and U+2066-U+2069, and lone surrogates U+D800-U+DFFF (not text at all: printing one fails).
"""

from __future__ import annotations

import re

from facesearch.errors import BadInputError

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # not text at all: a JSON escape or undecodable bytes (surrogateescape)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (see the module's list)."""
    return _CONTROL.search(text) is not None


def visible(text: str) -> str:
    """``text`` with every control character written as an escape: ``\\x0a`` for a newline, ``\\u202e`` for
    a right-to-left override. Text without them comes back unchanged; escaping twice changes nothing more."""
    return _CONTROL.sub(_escape, text)


class ControlCharacters(BadInputError):
    """A name or text field holds control characters."""


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (U+D800-U+DFFF), which no UTF-8 text can carry."""
    return _SURROGATE.search(text) is not None


def require_plain(field: str, value: str | None) -> None:
    """Refuse ``value`` (bad input naming ``field``) when it holds control characters or lone surrogates;
    ``None`` passes."""
    if value is not None and has_surrogate(value):
        raise ControlCharacters(field, "is not valid Unicode text (a lone surrogate)")
    if value is not None and has_control(value):
        raise ControlCharacters(field, "contains control characters")
