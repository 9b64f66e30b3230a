"""The audit log (auditors): the newest 500 entries, one readable line each, and whether the hash chain
over the whole log is intact."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from facesearch.accounts.service import Principal
from facesearch.api.console.pages import render
from facesearch.api.deps import Ctx, may
from facesearch.audit import log as audit
from facesearch.audit.summary import summarise
from facesearch.audit.verification import verify as verify_log

router = APIRouter()
SHOWN = 500  # the page shows the newest entries; ``facesearch audit show`` and the API reach all of them


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, ctx: Ctx, who: Annotated[Principal, Depends(may("audit.read"))]) -> HTMLResponse:
    with ctx.sessions() as s:
        entries = list(audit.events(s))[-SHOWN:]
        chain = verify_log(s)
    return render(request, "audit.html", who, title="Audit", entries=entries[::-1], chain=chain, summary=summarise)
