"""The calibration every search uses: which one is in force (a site calibration, or the shipped one), the site
calibrations stored, and withdrawing the one in force. Measuring and putting one in force is the CLI's
(``facesearch calibrate --save``): it reads the deployer's photos where they lie."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, require
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import CalibrationChangeOut, CalibrationStateOut, ErrorOut
from facesearch.calibration_store import in_force
from facesearch.eval.site_force import history, withdraw

router = APIRouter(prefix="/v1/calibration", tags=["calibration"], responses=DENIED)
Manager = Annotated[Principal, Depends(require("calibration.manage"))]


@router.get("", response_model=CalibrationStateOut)
def calibration_state(ctx: Ctx, _who: Manager) -> dict[str, Any]:
    """The calibration in force for the installation's profile, and every site calibration stored."""
    engine = ctx.engine()
    now = in_force(ctx.sessions, engine.profile, engine.calibration)
    return {"profile": engine.profile, "in_force": now.label, "site_calibration": now.site_id,
            "stored": [r.to_json() for r in history(ctx)]}


@router.delete("/in-force", response_model=CalibrationChangeOut, responses={
    409: {"model": ErrorOut, "description": "No site calibration is in force"}})
def calibration_withdraw(ctx: Ctx, who: Manager) -> dict[str, Any]:
    """Withdraw the site calibration in force: searches go back to the shipped one (audited, with the
    thresholds before and after)."""
    return withdraw(ctx, actor=who.actor).to_json()
