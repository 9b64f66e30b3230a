"""The sign-in page: a kiosk (or an administrator trying it) signs a person in with the browser's camera. The page
asks the API for a challenge (the server picks which way to turn), records a short clip while it prompts, and
sends it to ``/v1/signin/{person}/verify`` with the session's CSRF token; the answer is drawn on the page.
Nothing of the clip is kept, here or by the service."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from facesearch.accounts.service import Principal
from facesearch.api.console.pages import API_DIR, render
from facesearch.api.deps import may
from facesearch.signin.capture import MAX_CLIP_S
from facesearch.signin.service import CHALLENGE_S

router = APIRouter()
# The clip the page records: time to turn the head, inside the service's limit with room for a slow encoder.
RECORD_S = min(2.5, MAX_CLIP_S / 2)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, who: Annotated[Principal, Depends(may("signin.verify"))]) -> HTMLResponse:
    return render(request, "signin.html", who, title="Sign in with your face", record_s=RECORD_S,
                  challenge_s=CHALLENGE_S)


@router.get("/static/signin.js")
def signin_script() -> Response:
    return Response((API_DIR / "static" / "signin.js").read_bytes(), media_type="text/javascript")
