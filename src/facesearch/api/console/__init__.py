"""The web console: server-rendered pages (Jinja2, a little htmx) over the same services, request models and
role matrix as the API, one module per part of the work.

Forms post back with the session's CSRF token as a hidden field; pages need a signed-in person (an API key
is for programs, not for the console). Everything a page needs comes through ``api.deps`` (the process's
``Context``, the job runner, the sign-in limiter), so this router is a plain module-level value:
``app.include_router(router)``.
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from facesearch.api.console import (
    accounts,
    alerts,
    audit,
    auth,
    cameras,
    case_list,
    cases,
    enrol,
    library,
    review,
    scans,
    signin,
    watchlist,
)

router = APIRouter(prefix="/console", include_in_schema=False)
# The home page sits at the prefix itself, which an included router may not declare (an empty path).
router.add_api_route("", case_list.case_list, methods=["GET"], response_class=HTMLResponse)
# Order matters where paths overlap: each module lists its fixed paths (``/cases/new``, ``/library/faces/...``)
# before the ones with parameters that would also match them.
for part in (library, auth, cases, watchlist, cameras, accounts, review, alerts, scans, enrol, audit, signin):
    router.include_router(part.router)

__all__ = ["router"]
