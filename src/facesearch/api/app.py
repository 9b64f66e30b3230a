"""``facesearch serve``: the versioned HTTP API (FastAPI) and the web console, over one ``Context``.

This module only wires: the routes live in ``api.routes`` (one module per domain) and ``api.console``,
what they depend on in ``api.deps``, their bodies in ``api.schemas``. The app keeps the process's state
on ``app.state``, where the dependencies find it: ``context`` (settings, database, key, the shared face
engine), ``jobs`` (the scan worker), ``limiter`` (failed sign-ins) and ``metrics`` (Prometheus).

Programs authenticate with an API key (``Authorization: Bearer``), people with a session cookie from
``/v1/auth/login``; a request with a session cookie that changes anything must also carry the session's
CSRF token (``X-CSRF-Token``). Errors are JSON (``{"error": "...", "kind": ...}``; kinds in ``errors.py``),
except a console 403 or 404, which is a page.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from facesearch.accounts.limits import LoginLimiter
from facesearch.api.body_limit import BodyLimit
from facesearch.api.console import router as console_router
from facesearch.api.console.pages import is_console_page, refusal_page
from facesearch.api.lifespan import lifespan
from facesearch.api.metrics import ApiMetrics
from facesearch.api.notices import SightingNotices
from facesearch.api.routes import ROUTERS
from facesearch.api.slots import StreamSlots, WorkSlots
from facesearch.context import Context
from facesearch.errors import FacesearchError
from facesearch.store.failures import STORAGE_EXCEPTIONS, as_service_error
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
                  redoc_url=None, lifespan=lifespan(run_jobs), generate_unique_id_function=_operation_id)
    app.state.context = context
    # One worker for the process: it shares the context's engine (loaded once) and index cache with requests.
    app.state.jobs = JobRunner(context)
    app.state.limiter = LoginLimiter(context.sessions)
    app.state.work = WorkSlots.from_settings(context.settings)  # face work on uploads, a few at once
    app.state.streams = StreamSlots.from_settings(context.settings)  # live alert streams, per person and in all
    app.state.notices = SightingNotices(context)  # alerts woken by NOTIFY
    app.state.metrics = ApiMetrics()  # each app its own registry: tests make several apps in one process
    # Bodies are capped before anything reads them (authentication included); the headers middleware, added
    # last, is the outermost, so refusals carry the security headers too.
    app.add_middleware(BodyLimit, multipart_bytes=context.settings.max_request_bytes)
    app.middleware("http")(_headers_and_metrics)
    app.add_exception_handler(FacesearchError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]  # no such route
    for failure in STORAGE_EXCEPTIONS:  # a full disk 507, a damaged database 503, a name too long 400
        app.add_exception_handler(failure, _storage_error)
    app.add_exception_handler(UnicodeError, _not_text)
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(console_router)
    return app


def _operation_id(route: APIRoute) -> str:
    """The handler's name (``get_case``): what generated clients name their functions after."""
    return route.name


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


def _service_error(request: Request, exc: FacesearchError) -> Response:
    """A service's refusal: its status comes from the error's kind, never from its wording."""
    if is_console_page(request, exc.http_status):
        return refusal_page(request, exc.http_status, str(exc))
    headers = None if exc.retry_after_s is None else {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse({"error": str(exc), "kind": exc.kind}, status_code=exc.http_status, headers=headers)


def _storage_error(request: Request, exc: Exception) -> Response:
    """A failure of the disk or the database, as the service error it amounts to (one line, never a trace)."""
    error = as_service_error(exc)
    if error is None:
        log.error("%s %s: storage failure", request.method, getattr(request.scope.get("route"), "path", "?"),
                  exc_info=exc)
        return JSONResponse({"error": "internal error: storage failure"}, status_code=500)
    log.warning("%s", error)
    return _service_error(request, error)


def _invalid_request(_request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 without the refused input (a body may hold a password, or a megabyte), written with every
    non-ASCII character escaped: a lone surrogate, which UTF-8 cannot encode, made the default handler fail."""
    errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
    body = json.dumps({"detail": jsonable_encoder(errors)}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


def _not_text(_request: Request, _exc: Exception) -> JSONResponse:
    """Text that is not Unicode (a lone surrogate, from a JSON escape) that no field check caught."""
    return JSONResponse({"error": "a text field holds a lone surrogate (\\ud800-\\udfff): not valid Unicode",
                         "kind": "bad_input"}, status_code=400)


def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if is_console_page(request, exc.status_code):
        return refusal_page(request, exc.status_code, str(exc.detail))
    if not isinstance(exc, HTTPException):  # Starlette's own (no route matched): its usual answer, as before
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
