"""Reading the console's forms with the API's request models (``api.schemas``), so a form and a JSON body
are held to the same limits, and a refusal becomes the one readable line a page shows."""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


def blank_is_none(value: str) -> str | None:
    """An optional form field: an empty (or all-space) box means "not given", as a missing JSON key does."""
    return value if value.strip() else None


def comma_list(value: str) -> list[str]:
    """A comma-separated form field (``cam-1, cam-2``) as its items, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _field(loc: tuple[int | str, ...], labels: Mapping[str, str]) -> str:
    if not loc:
        return "the form"
    name = labels.get(str(loc[0]), str(loc[0]).replace("_", " "))
    item = [p for p in loc[1:] if isinstance(p, int)]
    return f"{name} #{item[0] + 1}" if item else name


def _problem(error: Mapping[str, Any], field: str) -> str:
    kind, limits, value = error["type"], error.get("ctx") or {}, error.get("input")
    shown = repr(value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value)
    if kind == "missing":
        return f"{field} is missing"
    if kind == "string_too_short":
        n = limits.get("min_length", 1)
        return f"{field} is empty" if n <= 1 else f"{field} too short (at least {n} characters)"
    if kind == "string_too_long":
        return f"{field} too long (at most {limits.get('max_length', 0):,} characters)"
    if kind == "string_pattern_mismatch":
        return f"{field} {shown} holds characters that are not allowed (it must match {limits.get('pattern')})"
    if kind == "too_short":
        n = limits.get("min_length", 1)
        return f"no {field} given" if n <= 1 else f"{field}: too few (at least {n})"
    if kind == "too_long":
        return f"{field}: too many (at most {limits.get('max_length', 0):,})"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = limits.get("ge", limits.get("le"))
        return f"{field} must be {'at least' if kind == 'greater_than_equal' else 'at most'} {bound}"
    return f"{field}: {error['msg']}"


def one_line(error: ValidationError, *, subject: str = "", labels: Mapping[str, str] | None = None) -> str:
    """The first problem of ``error`` as one line naming the field (``labels`` renames fields for people:
    ``{"new": "new password"}``), after ``subject`` (what the form was about) as the services write theirs:
    ``"sam: password too short (at least 12 characters)"``; not when the subject is itself what is wrong.
    Long inputs are never echoed whole (the line may travel in a redirect's URL)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    line = _problem(first, _field(tuple(first["loc"]), labels or {}))
    if len(problems) > 1:
        more = len(problems) - 1
        line += f" (and {more} more problem{'s' if more > 1 else ''})"
    return f"{subject[:100]}: {line}" if subject and first.get("input") != subject else line
