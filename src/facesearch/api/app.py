"""``facesearch serve``: the versioned HTTP API (FastAPI), every route behind the role matrix.

Handlers are plain functions, which FastAPI runs in its thread pool: database work and inference
never block the event loop. Programs authenticate with an API key (``Authorization: Bearer``), people
with a session cookie from ``/v1/auth/login``; a request with a session cookie that changes anything
must also carry the session's CSRF token (``X-CSRF-Token``). Errors are JSON: ``{"error": "..."}``.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route signatures at run time, and
# their dependencies are closures over this app's database.
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts import service as accounts
from facesearch.accounts.limits import LoginLimiter
from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.metrics import ApiMetrics
from facesearch.api.params import RowId, media_path, read_upload
from facesearch.errors import FacesearchError
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer

log = logging.getLogger("facesearch.api")
SESSION_COOKIE = "fs_session"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class CaseIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    purpose: str
    valid_until: datetime
    valid_from: datetime | None = None
    purpose_text: str | None = None
    legal_basis: str | None = None
    authorisation_ref: str | None = None
    authorising_authority: str | None = None
    authorised_by: str | None = None
    cameras: list[str] = Field(default_factory=list)
    reviewers_required: int = 2


class ReviewIn(BaseModel):
    decision: str
    note: str | None = Field(default=None, max_length=2000)


class CameraIn(BaseModel):
    id: str
    name: str = Field(min_length=1, max_length=300)
    url: str | None = None
    location: str | None = None


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


def _status_for(exc: FacesearchError) -> int:
    reason = exc.reason
    if reason.startswith("no such"):
        return 404
    if "already" in reason or "exists" in reason:
        return 409
    return 400


class PasswordIn(BaseModel):
    current: str = Field(min_length=1, max_length=1000)
    new: str = Field(min_length=12, max_length=1000)


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=12, max_length=1000)
    role: str


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: str


class ScanIn(BaseModel):
    case: str
    paths: list[str] = Field(min_length=1, max_length=1000)
    camera: str | None = None


def create_app(sessions: sessionmaker[Session], sealer: Sealer, *, settings: Settings | None = None,
               engine: Callable[[], Any] | None = None, run_jobs: bool = True) -> FastAPI:
    """The app over one database; ``engine`` makes the (shared, lazily loaded) face engine."""
    from contextlib import asynccontextmanager
    from datetime import timedelta

    from facesearch.gallery.cache import IndexCache
    from facesearch.video.jobs import JobRunner

    settings = settings or Settings()
    lock = threading.Lock()
    loaded: list[Any] = []

    def face_engine() -> Any:
        with lock:  # models load once, on first use
            if not loaded:
                from facesearch.engine import Engine

                loaded.append(engine() if engine is not None else Engine())
            return loaded[0]

    def cache() -> IndexCache:
        return IndexCache(settings.home / "index", sealer)

    jobs = JobRunner(sessions, sealer, face_engine, cache)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_jobs:
            jobs.start()
        try:
            yield
        finally:
            jobs.stop()

    app = FastAPI(title="facesearch", version="1", openapi_url="/v1/openapi.json", docs_url="/v1/docs",
                  redoc_url=None, lifespan=lifespan)
    max_case_days = settings.max_case_days

    def upload(file: UploadFile) -> bytes:
        return read_upload(file, settings.max_upload_bytes)

    def photo(file: UploadFile) -> Any:
        """An uploaded photo decoded (size, pixel count and type checked), errors naming the upload."""
        return face_engine().load(upload(file), source=file.filename or "upload").pixels
    limiter = LoginLimiter()

    @app.exception_handler(FacesearchError)
    def facesearch_error(_request: Request, exc: FacesearchError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=_status_for(exc))

    metrics = ApiMetrics()

    @app.middleware("http")
    async def headers_and_metrics(request: Request, call_next: Callable[[Request], Any]) -> Response:
        began = time.perf_counter()
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.latency.labels(request.method, template).observe(time.perf_counter() - began)
        ms = round((time.perf_counter() - began) * 1e3, 1)
        log.info("%s %s %s %.1f ms", request.method, template, response.status_code, ms,
                 extra={"method": request.method, "route": template, "status": response.status_code, "ms": ms})
        return response

    def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            found = accounts.by_api_key(sessions, header[7:].strip())
            if found is None:
                raise HTTPException(401, "invalid API key")
            return found
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            person = accounts.by_session(sessions, token)
            if person is None:
                raise HTTPException(401, "session expired or signed out")
            if request.method in UNSAFE and request.headers.get("x-csrf-token") != person.csrf_token:
                raise HTTPException(403, "missing or wrong CSRF token")
            return person
        raise HTTPException(401, "sign in, or send an API key as 'Authorization: Bearer <key>'")

    def require(action: str) -> Callable[[Principal], Principal]:
        def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
            if not allowed(who.role, action):
                raise HTTPException(403, f"role {who.role!r} may not {action}")
            return who
        return check

    @app.exception_handler(HTTPException)
    def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    from facesearch.api.console import console_router
    from facesearch.api.library_routes import library_router

    app.include_router(library_router(sessions, sealer, face_engine, require))

    app.include_router(console_router(sessions, sealer, jobs=jobs, engine=face_engine, settings=settings,
                                      cache=cache, limiter=limiter))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/auth/login")
    def login(body: LoginIn, request: Request, response: Response) -> dict[str, str]:
        key = f"{request.client.host if request.client else '?'}:{body.username}"
        if limiter.blocked(key):
            raise HTTPException(429, "too many failed sign-ins; wait a minute", headers={"Retry-After": "60"})
        signed = accounts.sign_in(sessions, body.username, body.password)
        if signed is None:
            limiter.failed(key)
            raise HTTPException(401, "wrong user name or password")
        token, who = signed
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=accounts.SESSION_HOURS * 3600)
        return {"user": who.name, "role": who.role, "csrf_token": who.csrf_token or ""}

    @app.post("/v1/auth/logout")
    def logout(request: Request, response: Response, _who: Annotated[Principal, Depends(principal)]) -> dict[str, str]:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            accounts.sign_out(sessions, token)
        response.delete_cookie(SESSION_COOKIE)
        return {"status": "signed out"}

    @app.post("/v1/auth/password")
    def change_password(body: PasswordIn, request: Request, who: Annotated[Principal, Depends(principal)]
                        ) -> dict[str, str]:
        """Change your own password (people only); your other sessions end."""
        if who.kind != "user":
            raise HTTPException(403, "API keys have no password: revoke the key and make a new one")
        accounts.change_password(sessions, who.name, body.current, body.new,
                                 keep_token=request.cookies.get(SESSION_COOKIE))
        return {"status": "password changed"}

    @app.get("/v1/cases")
    def list_cases(_who: Annotated[Principal, Depends(require("cases.read"))]) -> list[dict[str, Any]]:
        from facesearch.cases.service import list_cases as all_cases

        return [c.to_json() for c in all_cases(sessions)]

    @app.post("/v1/cases", status_code=201)
    def create_case(body: CaseIn, who: Annotated[Principal, Depends(require("cases.write"))]) -> dict[str, Any]:
        from facesearch.cases.service import create_case as create

        fields = body.model_dump()
        case = create(sessions, actor=who.name, max_span=timedelta(days=max_case_days),
                      title=fields.pop("title"), purpose=fields.pop("purpose"), valid_until=fields.pop("valid_until"),
                      valid_from=fields.pop("valid_from"), purpose_text=fields.pop("purpose_text"),
                      cameras=fields.pop("cameras"), reviewers_required=fields.pop("reviewers_required"), **fields)
        return case.to_json()

    @app.get("/v1/cases/{ref}")
    def get_case(ref: str, _who: Annotated[Principal, Depends(require("cases.read"))]) -> dict[str, Any]:
        from facesearch.cases.service import get_case as get

        return get(sessions, ref).to_json()

    @app.post("/v1/cases/{ref}/activate")
    def activate(ref: str, who: Annotated[Principal, Depends(require("cases.write"))]) -> dict[str, Any]:
        from facesearch.cases.service import activate_case

        return activate_case(sessions, ref, actor=who.name).to_json()

    @app.post("/v1/cases/{ref}/close")
    def close(ref: str, who: Annotated[Principal, Depends(require("cases.write"))]) -> dict[str, Any]:
        from facesearch.cases.service import close_case

        return close_case(sessions, ref, actor=who.name).to_json()

    @app.get("/v1/cameras")
    def cameras(_who: Annotated[Principal, Depends(require("cameras.read"))]) -> list[dict[str, Any]]:
        from facesearch.video.cameras import list_cameras

        return [c.to_json() for c in list_cameras(sessions)]

    @app.post("/v1/cameras", status_code=201)
    def add_camera(body: CameraIn, who: Annotated[Principal, Depends(require("cameras.write"))]) -> dict[str, Any]:
        from facesearch.video.cameras import add_camera as add

        return add(sessions, sealer, body.id, name=body.name, url=body.url, location=body.location,
                   actor=who.name).to_json()

    @app.get("/v1/sightings")
    def sightings(case: str, _who: Annotated[Principal, Depends(require("sightings.read"))]) -> list[dict[str, Any]]:
        from facesearch.video.sightings import list_sightings

        with sessions() as s:
            return [x.to_json() for x in list_sightings(s, case)]

    @app.post("/v1/sightings/{sighting_id}/review")
    def review(sighting_id: RowId, body: ReviewIn,
               who: Annotated[Principal, Depends(require("sightings.review"))]) -> dict[str, Any]:
        from facesearch.review.service import review as decide

        return decide(sessions, sighting_id, reviewer=who.name, decision=body.decision, note=body.note).to_json()

    @app.post("/v1/verify")
    def verify(a: UploadFile, b: UploadFile,
               _who: Annotated[Principal, Depends(require("search.verify"))]) -> dict[str, Any]:
        result = face_engine().verify(photo(a), photo(b), channels="rgb")
        metrics.faces.labels("/v1/verify").inc(2)
        return {"same": result.same, "score": result.score, "fmr": result.fmr, "threshold": result.threshold}

    @app.post("/v1/identify")
    def identify(image: Annotated[UploadFile, File(alias="photo")], case: Annotated[str, Form()],
                 who: Annotated[Principal, Depends(require("search.identify"))],
                 camera: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        from facesearch.cases.identify import identify as run_identify

        data = upload(image)
        face_engine().load(data, source=image.filename or "upload")  # a bad upload is named in the error
        return run_identify(face_engine(), sessions, sealer, case, data, actor=who.name, camera=camera,
                            cache=cache()).to_json()

    @app.post("/v1/identities", status_code=201)
    def enrol(name: Annotated[str, Form(min_length=1, max_length=300)], photos: list[UploadFile],
              who: Annotated[Principal, Depends(require("identities.enrol"))],
              case: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        from facesearch.gallery.service import enrol as run_enrol

        report = run_enrol(face_engine(), sessions, sealer, name, [upload(p) for p in photos], actor=who.name,
                           case_id=case, cache=cache())
        return {"identity_id": report.identity_id, "name": report.name, "case": case,
                "photos": [{"source": f.source, "accepted": f.accepted, "reason": f.reason,
                            "similar_to": f.similar_to} for f in report.photos]}

    @app.get("/v1/users")
    def users(_who: Annotated[Principal, Depends(require("accounts.write"))]) -> list[dict[str, object]]:
        return [u.to_json() for u in accounts.list_users(sessions)]

    @app.post("/v1/users", status_code=201)
    def add_user(body: UserIn, who: Annotated[Principal, Depends(require("accounts.write"))]) -> dict[str, str]:
        accounts.add_user(sessions, body.username, body.password, body.role, actor=who.name)
        return {"username": body.username, "role": body.role}

    @app.post("/v1/apikeys", status_code=201)
    def add_key(body: KeyIn, who: Annotated[Principal, Depends(require("accounts.write"))]) -> dict[str, str]:
        """A new API key: shown in this answer only, stored as its hash."""
        return {"name": body.name, "role": body.role,
                "key": accounts.add_api_key(sessions, body.name, body.role, actor=who.name)}

    @app.post("/v1/users/{username}/disable")
    def disable_user(username: str, who: Annotated[Principal, Depends(require("accounts.write"))]) -> dict[str, object]:
        """Disable a person's account; their sessions end at once."""
        accounts.set_user_disabled(sessions, username, True, actor=who.name)
        return {"username": username, "disabled": True}

    @app.post("/v1/users/{username}/enable")
    def enable_user(username: str, who: Annotated[Principal, Depends(require("accounts.write"))]) -> dict[str, object]:
        accounts.set_user_disabled(sessions, username, False, actor=who.name)
        return {"username": username, "disabled": False}

    @app.get("/v1/apikeys")
    def api_keys(_who: Annotated[Principal, Depends(require("accounts.write"))]) -> list[dict[str, object]]:
        """Programs' keys: names, roles and whether revoked (the keys themselves are never stored)."""
        return [k.to_json() for k in accounts.list_api_keys(sessions)]

    @app.post("/v1/apikeys/{name}/revoke")
    def revoke_key(name: str, who: Annotated[Principal, Depends(require("accounts.write"))]) -> dict[str, object]:
        accounts.revoke_api_key(sessions, name, actor=who.name)
        return {"name": name, "revoked": True}

    @app.get("/v1/identities")
    def identities(_who: Annotated[Principal, Depends(require("identities.read"))],
                   case: str | None = None) -> list[dict[str, Any]]:
        """Enrolled people (of one case's watchlist, when given), with how many templates they have."""
        from sqlalchemy import func, select

        from facesearch.cases.service import parse_ref
        from facesearch.store.schema import CaseTargetRow, IdentityRow, TemplateRow

        query = (select(IdentityRow, func.count(TemplateRow.id)).outerjoin(TemplateRow)
                 .group_by(IdentityRow.id).order_by(IdentityRow.id))
        if case is not None:
            query = query.join(CaseTargetRow, CaseTargetRow.identity_id == IdentityRow.id).where(
                CaseTargetRow.case_id == parse_ref(case))
        with sessions() as s:
            return [{"id": r.id, "name": r.name, "templates": int(n), "created_by": r.created_by,
                     "created_at": r.created_at} for r, n in s.execute(query)]

    @app.post("/v1/scans", status_code=202)
    def start_scan(body: ScanIn, who: Annotated[Principal, Depends(require("scans.write"))]) -> dict[str, Any]:
        from facesearch.cases.service import get_case as get

        paths = []
        for raw in body.paths:
            path, problem = media_path(raw, settings.resolved_media_root)
            if path is None:
                raise HTTPException(400, problem)
            paths.append(str(path))
        get(sessions, body.case)  # 404 for an unknown case, now rather than in the job
        return jobs.submit_scan(body.case, paths, camera=body.camera, actor=who.name).to_json()

    @app.get("/v1/scans")
    def list_scans(_who: Annotated[Principal, Depends(require("scans.read"))]) -> list[dict[str, Any]]:
        return [j.to_json() for j in jobs.list()]

    @app.get("/v1/scans/{job_id}")
    def get_scan(job_id: RowId, _who: Annotated[Principal, Depends(require("scans.read"))]) -> dict[str, Any]:
        return jobs.get(job_id).to_json()

    @app.post("/v1/scans/{job_id}/cancel")
    def cancel_scan(job_id: RowId, who: Annotated[Principal, Depends(require("scans.write"))]) -> dict[str, Any]:
        return jobs.cancel(job_id, actor=who.name).to_json()

    @app.get("/metrics")
    def prometheus(_who: Annotated[Principal, Depends(require("metrics.read"))]) -> Response:
        counts = jobs.counts()
        metrics.queue.set(counts.get("queued", 0))
        metrics.running.set(counts.get("running", 0))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/exports", status_code=201)
    def export(case: str, who: Annotated[Principal, Depends(require("exports.write"))]) -> Response:
        """The redacted evidence package (zip) of the case's confirmed sightings."""
        from facesearch.review.export import download

        return download(sessions, sealer, case, actor=who.name, status_code=201)

    @app.get("/v1/audit")
    def audit_entries(_who: Annotated[Principal, Depends(require("audit.read"))],
                      case: str | None = None) -> list[dict[str, Any]]:
        from facesearch.audit import log as audit

        with sessions() as s:
            return [e.payload() | {"hash": e.hash} for e in audit.events(s, case_id=case.upper() if case else None)]

    @app.get("/v1/audit/verify")
    def audit_verify(_who: Annotated[Principal, Depends(require("audit.read"))]) -> dict[str, Any]:
        from facesearch.audit import log as audit

        with sessions() as s:
            result = audit.verify(s)
        return {"ok": result.ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq,
                "reason": result.reason}

    return app
