"""The cases list, the console's home page (``/console``): a search over the reference or the title, a status
filter and pages, newest first. Officers and reviewers see only the cases they are assigned to
(``cases.listing.search_cases`` applies need to know before it matches anything).

Mounted by the package as a route at the router's own prefix (an included router may not declare an empty
path), so this module has no router of its own."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.console.pages import render
from facesearch.api.console.paging import page_links
from facesearch.api.deps import Ctx, may
from facesearch.cases.listing import search_cases
from facesearch.cases.service import CaseStatus
from facesearch.errors import FacesearchError
from facesearch.paging import QUERY_MAX, page_number

Reader = Annotated[Principal, Depends(may("cases.read"))]




def case_list(request: Request, ctx: Ctx, who: Reader, q: str = "", status: str = "",
              page: str = "") -> HTMLResponse:
    """Every case ``who`` may see that matches the search, a page at a time; bad input is one line on the
    page (status 400) above an empty list, never an error trace."""
    error, found = "", None
    try:
        found = search_cases(ctx.sessions, actor=who.actor, text=q, status=status, page=page_number(page))
    except FacesearchError as exc:
        error = str(exc)
    return render(request, "cases.html", who, status_code=400 if error else 200, title="Cases", found=found,
                  error=error, q=q[:QUERY_MAX],  # the box holds at most what a search accepts
                  status=status if status in set(CaseStatus) else "",
                  statuses=list(CaseStatus), can_write=allowed(who.role, "cases.write"),
                  links=page_links("/console", found.page, found.pages, q=q.strip(), status=status) if found else {})
