"""Pages of a list, one rule wherever a list is paged (cases, library people, the audit log): numbered from 1,
at least one page even when nothing matches, a page outside them refused as one line, and a search text
checked the same way before anything is matched against it."""

from __future__ import annotations

from facesearch.errors import BadInputError
from facesearch.text import require_plain

QUERY_MAX = 200  # characters of search text
PAGE_DIGITS = 9  # a page number longer than this is no page anyone reached by the links


class PageError(BadInputError):
    """A search or a page that cannot be answered as asked (too long, not plain text, no such page)."""


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill: at least one, so that an empty result is one empty page."""
    return max(1, -(-total // per_page))


def pages_for(total: int, per_page: int, page: int) -> int:
    """``page_count``, refusing a ``page`` outside the pages (the message says how many there are)."""
    pages = page_count(total, per_page)
    if not 1 <= page <= pages:
        there = "there is 1 page" if pages == 1 else f"there are {pages} pages"
        raise PageError(f"page {page}", there)
    return pages


def page_number(text: str) -> int:
    """A page number as typed in an address (``1`` when empty): refused unless a positive whole number of at
    most ``PAGE_DIGITS`` ASCII digits (a huge one would only ever say "no such page")."""
    raw = text.strip()
    if not raw:
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > PAGE_DIGITS or int(raw) < 1:
        raise PageError(f"page {raw[:20]!r}", "not a page number (1, 2, ...)")
    return int(raw)


def check_query(text: str) -> str:
    """A search text, stripped; refused when longer than ``QUERY_MAX`` or not plain text."""
    if len(text) > QUERY_MAX:
        raise PageError("search", f"at most {QUERY_MAX} characters")
    require_plain("search", text)
    return text.strip()
