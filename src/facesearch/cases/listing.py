"""The cases list as people browse it: a search over the reference (``C7``) or the title's words, a status
filter, and pages of ``PER_PAGE`` newest first.

Need to know holds before anything is matched: only the cases ``actor`` may see (``access.visible_case_ids``)
are read, so a search, its count and its pages say nothing about the others. Titles are sealed at rest
(``store.sealed_text``); a search opens the titles of those visible cases only, which the plain list shows
this actor anyway, and matches them in memory (a sealed title has no index to query).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.cases import access
from facesearch.cases.service import Case, CaseStatus, effective_status, to_case
from facesearch.paging import PageError, check_query, pages_for
from facesearch.refs import RefError, parse_case_ref
from facesearch.store import sealed_text
from facesearch.store.schema import CaseRow

PER_PAGE = 25


class ListingError(PageError):
    """A search or page that cannot be answered as asked (too long, an unknown status, no such page)."""


@dataclass(frozen=True)
class CasePage:
    """One page of the cases ``actor`` may see that match: ``total`` matches over ``pages`` pages (at least
    one, so that "page 1 of 1" reads well when nothing matched)."""

    items: list[Case]
    total: int
    page: int
    pages: int


def _words(text: str) -> list[str]:
    return sealed_text.normalise_name(text).split()




def _matches(s: Session, row: CaseRow, ref_id: int | None, words: list[str]) -> bool:
    if ref_id is not None and row.id == ref_id:
        return True
    title = " ".join(_words(sealed_text.get(s, row, "title") or ""))
    return all(w in title for w in words)


def search_cases(sessions: sessionmaker[Session], *, actor: str, text: str = "", status: str = "",
                 page: int = 1, per_page: int = PER_PAGE) -> CasePage:
    """The ``page``-th page of the cases ``actor`` may see, newest first, whose reference is ``text`` (``C7``,
    ``c7`` or ``7``) or whose title holds every word of ``text`` (case-folded), and whose effective status
    (a live case past its validity is ``expired``) is ``status`` (empty: any).

    >>> search_cases(sessions, actor="user:olga", text="harbour", status="active").total  # doctest: +SKIP
    2
    """
    text = check_query(text)
    wanted = None
    if status:
        try:
            wanted = CaseStatus(status)
        except ValueError:
            raise ListingError(f"status {status[:40]!r}", f"not one of {', '.join(CaseStatus)}") from None
    try:
        ref_id: int | None = parse_case_ref(text) if text else None
    except RefError:
        ref_id = None
    words = _words(text)
    with sessions() as s:
        query = select(CaseRow).order_by(CaseRow.id.desc())
        visible = access.visible_case_ids(s, actor)
        if visible is not None:
            query = query.where(CaseRow.id.in_(visible))
        found = [r for r in s.scalars(query) if (wanted is None or effective_status(r) == wanted)
                 and (not text or _matches(s, r, ref_id, words))]
        pages = pages_for(len(found), per_page, page)
        shown = found[(page - 1) * per_page:page * per_page]
        return CasePage([to_case(s, r) for r in shown], len(found), page, pages)
