"""The audit log, for auditors: its entries (all, or those a filter matches) and a check of the whole hash chain."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import AuditEntryOut, CaseEnd, CaseStart, ChainOut
from facesearch.audit.query import AuditFilter, matching
from facesearch.audit.verification import verify as verify_log

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses={**DENIED})
Auditor = Annotated[Principal, Depends(require("audit.read"))]


# The same filters as the console's audit page (``facesearch.audit.query``); times by the one date rule.
ActorPart = Annotated[str | None, Query(description="Any part of the actor, in any letter case (rita: user:rita).")]
ActionOrPrefix = Annotated[str | None, Query(description="An action, or a prefix ending in '.' or '*' (case.*).")]
Since = Annotated[CaseStart | None, Query(alias="from", description="Entries from then (a bare date: its start).")]
Until = Annotated[CaseEnd | None, Query(description="Entries until then (a bare date: through its end).")]


@router.get("", response_model=list[AuditEntryOut])
def audit_entries(ctx: Ctx, _who: Auditor, case: str | None = None, actor: ActorPart = None,
                  action: ActionOrPrefix = None, since: Since = None, until: Until = None) -> list[dict[str, Any]]:
    """Every entry the filters match, oldest first (the console's audit page pages through the same search)."""
    wanted = AuditFilter.of(case=case, actor=actor, action=action, since=since, until=until)
    with ctx.sessions() as s:
        return [e.to_json() for e in matching(s, wanted)]


@router.get("/verify", response_model=ChainOut)
def verify_audit_chain(ctx: Ctx, _who: Auditor) -> dict[str, Any]:
    with ctx.sessions() as s:
        result = verify_log(s)
    return result.to_json()
