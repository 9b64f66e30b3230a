"""``facesearch serve``: the versioned HTTP API (FastAPI) and the web console, over one ``Context``.

This module only wires: the routes live in ``api.routes`` (one module per domain) and ``api.console``,
what they depend on in ``api.deps``, their bodies in ``api.schemas``. The app keeps the process's state
on ``app.state``, where the dependencies find it: ``context`` (settings, database, key, the shared face
engine), ``jobs`` (the scan worker), ``limiter`` (failed sign-ins) and ``metrics`` (Prometheus).

Programs authenticate with an API key (``Authorization: Bearer``), people with a session cookie from
``/v1/auth/login``; a request with a session cookie that changes anything must also carry the session's
CSRF token (``X-CSRF-Token``). Errors are JSON: ``{"error": "..."}``, with the error's ``kind`` when a
service refused (``bad_input``, ``not_found``, ``conflict``, ``refused``, ``unavailable``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from facesearch.accounts.limits import LoginLimiter
from facesearch.api.body_limit import BodyLimit
from facesearch.api.console import router as console_router
from facesearch.api.metrics import ApiMetrics
from facesearch.api.routes import ROUTERS
from facesearch.context import Context
from facesearch.errors import FacesearchError
from facesearch.retention import RetentionSweeper
from facesearch.video.jobs import JobRunner

log = logging.getLogger("facesearch.api")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def create_app(context: Context, *, run_jobs: bool = True) -> FastAPI:
    """The API and the console over ``context``. The background work (scan jobs, retention sweeps) runs while
    the app is served; ``run_jobs=False`` leaves it out (tests: submitted scans stay queued)."""
    app = FastAPI(title="facesearch", version="1", openapi_url="/v1/openapi.json", docs_url="/v1/docs",
                  redoc_url=None, lifespan=_lifespan(run_jobs), generate_unique_id_function=_operation_id)
    app.state.context = context
    # One worker for the process: it shares the context's engine (loaded once) and index cache with requests.
    app.state.jobs = JobRunner(context)
    app.state.limiter = LoginLimiter()
    app.state.metrics = ApiMetrics()  # each app its own registry: tests make several apps in one process
    # Bodies are capped before anything reads them (authentication included); the headers middleware, added
    # last, is the outermost, so refusals carry the security headers too.
    app.add_middleware(BodyLimit, multipart_bytes=context.settings.max_request_bytes)
    app.middleware("http")(_headers_and_metrics)
    app.add_exception_handler(FacesearchError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(console_router)
    return app


def _operation_id(route: APIRoute) -> str:
    """The handler's name (``get_case``): what generated clients name their functions after."""
    return route.name


def _lifespan(run_jobs: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs: JobRunner = app.state.jobs
        sweeper = RetentionSweeper(app.state.context)
        if run_jobs:
            sweeper.start()  # what the rules say must go goes before the first request, then every few minutes
            jobs.start()  # jobs a killed server left running resume here
        try:
            yield
        finally:
            jobs.stop()
            sweeper.stop()

    return lifespan


async def _headers_and_metrics(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Security headers on every answer; its count, latency and a log line, by route template (never the raw
    path, so ids do not explode the metrics' label set)."""
    began = time.perf_counter()
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    template = getattr(request.scope.get("route"), "path", "unmatched")
    metrics: ApiMetrics = request.app.state.metrics
    metrics.requests.labels(request.method, template, str(response.status_code)).inc()
    metrics.latency.labels(request.method, template).observe(time.perf_counter() - began)
    ms = round((time.perf_counter() - began) * 1e3, 1)
    log.info("%s %s %s %.1f ms", request.method, template, response.status_code, ms,
             extra={"method": request.method, "route": template, "status": response.status_code, "ms": ms})
    return response


def _service_error(_request: Request, exc: FacesearchError) -> JSONResponse:
    """A service's refusal: its status comes from the error's kind, never from its wording."""
    return JSONResponse({"error": str(exc), "kind": exc.kind}, status_code=exc.http_status)


def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
