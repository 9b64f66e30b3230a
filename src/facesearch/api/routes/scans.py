"""Scans of footage in the media folder, run as background jobs: submit, follow, cancel."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from facesearch.accounts.service import Principal
from facesearch.api.deps import Ctx, Jobs, require
from facesearch.api.params import RowId, media_path
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import JobOut, ScanIn
from facesearch.cases.service import get_case
from facesearch.cases.watchlist import check_searchable

router = APIRouter(prefix="/v1/scans", tags=["scans"], responses={**DENIED})
Reader = Annotated[Principal, Depends(require("scans.read"))]
Writer = Annotated[Principal, Depends(require("scans.write"))]


@router.post("", status_code=202, response_model=JobOut)
def start_scan(body: ScanIn, ctx: Ctx, jobs: Jobs, who: Writer) -> dict[str, Any]:
    """Queue a scan of files or folders under the media folder (FACESEARCH_MEDIA_ROOT): a file that lies
    outside it when the job opens it (through a link) is reported as failed, and the scan goes on."""
    paths = []
    for raw in body.paths:
        path, problem = media_path(raw, ctx.settings.resolved_media_root)
        if path is None:
            raise HTTPException(400, problem)
        paths.append(str(path))
    get_case(ctx.sessions, body.case, actor=who.actor, contents=True)  # 404 or 403 now rather than in the job
    # Refused now (audited) rather than in the job: a case it may not search, a camera it does not allow or
    # none where the case names cameras (400), a camera not registered (404). The job checks again as it runs.
    check_searchable(ctx.sessions, body.case, camera=body.camera, actor=who.actor,
                     refusal_details={"source": ", ".join(paths)})
    return jobs.submit_scan(body.case, paths, camera=body.camera, actor=who.actor, start=body.start,
                            min_face=body.min_face).to_json()


@router.get("", response_model=list[JobOut])
def list_scans(jobs: Jobs, who: Reader) -> list[dict[str, Any]]:
    return [j.to_json() for j in jobs.list(actor=who.actor)]


@router.get("/{job_id}", response_model=JobOut)
def get_scan(job_id: RowId, jobs: Jobs, who: Reader) -> dict[str, Any]:
    return jobs.get(job_id, actor=who.actor).to_json()


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_scan(job_id: RowId, jobs: Jobs, who: Writer) -> dict[str, Any]:
    return jobs.cancel(job_id, actor=who.actor).to_json()
