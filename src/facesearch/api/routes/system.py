"""Outside ``/v1``, where probes and scrapers expect them: ``/health`` (no sign-in) and ``/metrics``
(Prometheus text, for the ``metrics.read`` role)."""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from facesearch.accounts.service import Principal
from facesearch.api.deps import Jobs, require
from facesearch.api.metrics import ApiMetrics
from facesearch.api.routes.errors import DENIED
from facesearch.api.schemas import HealthOut

router = APIRouter(tags=["system"])
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


Metrics = Annotated[ApiMetrics, Depends(get_metrics)]


@router.get("/health", response_model=HealthOut)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", response_class=Response, responses={
    200: {"content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}},
          "description": "Prometheus metrics (text exposition format)"}, **DENIED})
def prometheus(_who: Annotated[Principal, Depends(require("metrics.read"))], jobs: Jobs, metrics: Metrics) -> Response:
    counts = jobs.counts()  # the queue's depth is read when scraped, not kept up to date
    metrics.queue.set(counts.get("queued", 0))
    metrics.running.set(counts.get("running", 0))
    return Response(metrics.render(), media_type=PROMETHEUS_TEXT)
