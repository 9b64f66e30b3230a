"""Paging links for the console's lists (cases, library people, the audit log): the addresses of the pages
either side, keeping the search. Page numbers and search texts are read by ``facesearch.paging``."""

from urllib.parse import urlencode


def page_links(path: str, page: int, pages: int, **query: str) -> dict[str, str]:
    """The addresses of the pages before and after ``page`` (``prev``/``next``; absent at either end), keeping
    the search (``query``'s non-empty values)."""
    kept = {k: v for k, v in query.items() if v}

    def at(n: int) -> str:
        shown = urlencode({**kept, **({"page": n} if n > 1 else {})})
        return path + (f"?{shown}" if shown else "")

    return {**({"prev": at(page - 1)} if page > 1 else {}), **({"next": at(page + 1)} if page < pages else {})}
