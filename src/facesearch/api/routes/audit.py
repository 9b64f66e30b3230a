"""The audit log, for auditors: its entries (all, or one case's) and a check of the whole hash chain."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import AuditEntryOut, ChainOut
from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.refs import RefKind, normalise_ref

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses={**DENIED})
Auditor = Annotated[Principal, Depends(require("audit.read"))]


@router.get("", response_model=list[AuditEntryOut])
def audit_entries(ctx: Ctx, _who: Auditor, case: str | None = None) -> list[dict[str, Any]]:
    with ctx.sessions() as s:
        return [e.to_json() for e in audit.events(s, case_id=normalise_ref(case, RefKind.CASE) if case else None)]


@router.get("/verify", response_model=ChainOut)
def verify_audit_chain(ctx: Ctx, _who: Auditor) -> dict[str, Any]:
    with ctx.sessions() as s:
        result = verify_log(s)
    return result.to_json()
