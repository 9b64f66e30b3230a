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

API_DIR = Path(__file__).resolve().parent.parent  # templates/ and static/ sit beside the API's modules
TEMPLATES = Jinja2Templates(directory=str(API_DIR / "templates"))


def render(request: Request, name: str, who: Principal | None, *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """The template ``name`` for ``who`` (``None`` on the sign-in page); ``context['title']`` heads it."""

    def can(action: str) -> bool:  # the menu shows only the pages this person's role may open
        return who is not None and allowed(who.role, action)

    title = context.pop("title", name)
    return TEMPLATES.TemplateResponse(request, name, {"who": who, "title": title, "can": can, **context},
                                      status_code=status_code)


def back_to(path: str, **query: str | int) -> RedirectResponse:
    """A 303 to ``path`` (a GET, so reloading the answer does not post the form again), with the non-empty
    ``query`` values (``error=...``, ``note=...``) for the page to show."""
    shown = urlencode({k: v for k, v in query.items() if v != ""})
    return RedirectResponse(path + (f"?{shown}" if shown else ""), status_code=303)
