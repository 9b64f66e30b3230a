"""One readable line per audit entry, for people (the CLI's ``audit show`` and the console's audit page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facesearch.text import visible


def _short(value: Any) -> str:
    if isinstance(value, str):
        return value[:12] + "…" if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else value
    if isinstance(value, list):
        return f"[{len(value)}]" if len(value) > 3 else "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def summarise(details: Mapping[str, Any], width: int = 160) -> str:
    """One readable line of an entry's details: hashes shortened, long lists counted, control characters as
    escapes (a value holding a newline cannot start a forged entry); ``--json`` has all."""
    text = visible("; ".join(f"{k}={_short(v)}" for k, v in details.items() if v not in (None, [], {}, "")))
    return text if len(text) <= width else text[: width - 1] + "…"
