"""How every console page is drawn: the Jinja2 templates, the menu trimmed to the person's role, and the
redirect back to a page with a one-line message (the pattern every form follows after a POST)."""

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal

# The menu: each page with the action a role needs to open it (only those a person may open are shown).
MENU = [("/console", "Cases", "cases.read"), ("/console/enrol", "Enrol", "identities.enrol"),
        ("/console/scans", "Scans", "scans.read"), ("/console/cameras", "Cameras", "cameras.read"),
        ("/console/review", "Review", "sightings.review"), ("/console/audit", "Audit", "audit.read"),
        ("/console/accounts", "Accounts", "accounts.write"), ("/console/library", "People", "library.read"),
        ("/console/signin", "Face sign-in", "signin.verify")]
API_DIR = Path(__file__).resolve().parent.parent  # templates/ and static/ sit beside the API's modules
TEMPLATES = Jinja2Templates(directory=str(API_DIR / "templates"))


def render(request: Request, name: str, who: Principal | None, *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """The template ``name`` for ``who`` (``None`` on the sign-in page); ``context['title']`` heads it."""

    def can(action: str) -> bool:  # the menu shows only the pages this person's role may open
        return who is not None and allowed(who.role, action)

    title = context.pop("title", name)
    return TEMPLATES.TemplateResponse(request, name, {"who": who, "title": title, "can": can, "menu": MENU,
                                                      **context}, status_code=status_code)


def home_of(who: Principal | None) -> str:
    """The first page of the menu ``who`` may open (the sign-in page for nobody)."""
    if who is None:
        return "/console/login"
    return next((href for href, _, action in MENU if allowed(who.role, action)), "/console/password")


ERROR_TITLES = {403: "Not allowed", 404: "Not found"}


def error_page(request: Request, who: Principal | None, status_code: int, reason: str) -> HTMLResponse:
    """A refusal on a console page as a page in the console's layout: what was refused, why, and a way back."""
    title = ERROR_TITLES.get(status_code, "Refused")
    return render(request, "error.html", who, status_code=status_code, title=title, reason=reason,
                  code=status_code, path=request.url.path, home=home_of(who))


def back_to(path: str, **query: str | int) -> RedirectResponse:
    """A 303 to ``path`` (a GET, so reloading the answer does not post the form again), with the non-empty
    ``query`` values (``error=...``, ``note=...``) for the page to show."""
    shown = urlencode({k: v for k, v in query.items() if v != ""})
    return RedirectResponse(path + (f"?{shown}" if shown else ""), status_code=303)


def is_console_page(request: Request, status: int) -> bool:
    """Whether a refusal goes to a person in the console (an HTML page) rather than to a program (JSON)."""
    path = request.url.path
    return status in (403, 404) and (path == "/console" or path.startswith("/console/"))


def refusal_page(request: Request, status: int, reason: str) -> HTMLResponse:
    """A 403 or 404 on a console route as a page in the console's layout, for whoever is signed in."""
    from facesearch.accounts import service as accounts
    from facesearch.api.deps import SESSION_COOKIE

    token = request.cookies.get(SESSION_COOKIE)
    try:
        who = accounts.by_session(request.app.state.context.sessions, token) if token else None
    except Exception:  # the database away: the page still says why, without the menu
        who = None
    return error_page(request, who, status, reason)
