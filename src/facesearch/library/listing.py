"""The library's people as the console browses them: a search over names (any part of a name, case-folded)
or the reference (``P3``), and pages of ``PER_PAGE`` tiles, largest people first.

Why a search opens names rather than asking the blind index: the index (``store.sealed_text.name_index``)
answers only "is the name exactly X", and people look for "ann" to find "Anna Berg". Opening the names here
is no wider than what the grid already does: ``list_people`` opens every name of the library to draw it, for
a person whose role reads this library (``library.read``), which is their own photo collection. Nothing
opened is stored, logged or audited; the matching happens in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from facesearch.library.people import PersonSummary, list_people
from facesearch.paging import check_query, pages_for
from facesearch.refs import RefError, RefKind, parse_ref
from facesearch.store.sealed_text import normalise_name

PER_PAGE = 60

@dataclass(frozen=True)
class PeoplePage:
    """One page of the people that match: ``total`` over ``pages`` pages (at least one), and what the grid
    says below the tiles (``hidden``: people seen only once and not shown; ``unsorted``: faces in nobody)."""

    items: list[PersonSummary]
    total: int
    page: int
    pages: int
    hidden: int
    unsorted: int


def _matches(person: PersonSummary, ref_id: int | None, words: list[str]) -> bool:
    if ref_id is not None and person.id == ref_id:
        return True
    name = normalise_name(person.name or "")
    return bool(name) and all(w in name for w in words)


def search_people(sessions: sessionmaker[Session], *, text: str = "", page: int = 1, everyone: bool = False,
                  per_page: int = PER_PAGE) -> PeoplePage:
    """The ``page``-th page of the library's people (``list_people``'s order) whose name holds every word of
    ``text`` (any part of it, case-folded) or whose reference is ``text`` (``P3`` or ``3``).

    >>> search_people(sessions, text="ann").items[0].name  # doctest: +SKIP
    'Anna Berg'
    """
    text = check_query(text)
    try:
        ref_id: int | None = parse_ref(text, RefKind.PERSON) if text else None
    except RefError:
        ref_id = None
    words = normalise_name(text).split()
    listing = list_people(sessions, everyone=everyone)
    found = [p for p in listing.people if not text or _matches(p, ref_id, words)]
    pages = pages_for(len(found), per_page, page)
    return PeoplePage(found[(page - 1) * per_page:page * per_page], len(found), page, pages, listing.hidden,
                      listing.unsorted)
