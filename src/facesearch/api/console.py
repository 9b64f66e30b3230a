"""The web console: server-rendered pages (Jinja2) over the same services and role matrix as the API.

Forms post back with the session's CSRF token as a hidden field; pages need a signed-in person (an
API key is for programs, not for the console). Evidence images are served only as stored: redacted.
"""

# No ``from __future__ import annotations``: FastAPI reads these signatures at run time.
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts import service as accounts
from facesearch.accounts.limits import LoginLimiter
from facesearch.accounts.roles import allowed
from facesearch.accounts.service import Principal
from facesearch.api.params import RowId, media_path, read_upload
from facesearch.errors import FacesearchError
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
COOKIE = "fs_session"


def console_router(sessions: sessionmaker[Session], sealer: Sealer, *, jobs: Any, engine: Callable[[], Any],
                   settings: Settings, cache: Callable[[], Any], limiter: LoginLimiter) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    def person(request: Request) -> Principal:
        token = request.cookies.get(COOKIE)
        who = accounts.by_session(sessions, token) if token else None
        if who is None:
            raise HTTPException(303, headers={"Location": "/console/login"})
        return who

    def may(action: str) -> Callable[[Principal], Principal]:
        def check(who: Annotated[Principal, Depends(person)]) -> Principal:
            if not allowed(who.role, action):
                raise HTTPException(403, f"role {who.role!r} may not {action}")
            return who
        return check

    def csrf(who: Principal, token: str) -> None:
        if token != who.csrf_token:
            raise HTTPException(403, "missing or wrong CSRF token")

    def page(request: Request, name: str, who: Principal | None, **context: Any) -> HTMLResponse:
        # The menu shows only the pages this person's role may open.
        def can(action: str) -> bool:
            return who is not None and allowed(who.role, action)

        return TEMPLATES.TemplateResponse(request, name, {"who": who, "title": context.pop("title", name),
                                                          "can": can, **context})

    from facesearch.api.console_library import add_library_pages

    add_library_pages(router, sessions, sealer, engine=engine, may=may, csrf=csrf, page=page)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", None, title="Sign in")

    @router.post("/login")
    def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
        key = f"{request.client.host if request.client else '?'}:{username}"
        if limiter.blocked(key):
            return page(request, "login.html", None, title="Sign in",
                        error="Too many failed sign-ins: wait a minute.")
        signed = accounts.sign_in(sessions, username, password)
        if signed is None:
            limiter.failed(key)
            return page(request, "login.html", None, title="Sign in", error="Wrong user name or password.")
        token, signed_in = signed
        # Each role lands on its first page: the library role has no cases to see.
        home = "/console" if allowed(signed_in.role, "cases.read") else "/console/library"
        response = RedirectResponse(home, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            max_age=accounts.SESSION_HOURS * 3600)
        return response

    @router.get("/password", response_class=HTMLResponse)
    def password_page(request: Request, who: Annotated[Principal, Depends(person)], error: str = "",
                      note: str = "") -> HTMLResponse:
        return page(request, "password.html", who, title="Password", error=error, note=note)

    @router.post("/password")
    def change_password(request: Request, csrf_token: Annotated[str, Form()], current: Annotated[str, Form()],
                        new: Annotated[str, Form()], who: Annotated[Principal, Depends(person)]) -> Response:
        from urllib.parse import urlencode

        csrf(who, csrf_token)
        try:
            accounts.change_password(sessions, who.name, current, new, keep_token=request.cookies.get(COOKIE))
        except FacesearchError as exc:
            return RedirectResponse("/console/password?" + urlencode({"error": str(exc)}), status_code=303)
        return RedirectResponse("/console/password?" + urlencode({"note": "Password changed; your other "
                                                                          "sessions have ended."}), status_code=303)

    @router.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form()],
               who: Annotated[Principal, Depends(person)]) -> Response:
        csrf(who, csrf_token)
        accounts.sign_out(sessions, request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("", response_class=HTMLResponse)
    def cases(request: Request, who: Annotated[Principal, Depends(may("cases.read"))]) -> HTMLResponse:
        from facesearch.cases.service import list_cases

        found = list_cases(sessions, newest_first=True)
        return page(request, "cases.html", who, title="Cases", cases=found, can_write=allowed(who.role, "cases.write"))

    @router.get("/cases/new", response_class=HTMLResponse)
    def new_case(request: Request, who: Annotated[Principal, Depends(may("cases.write"))],
                 error: str = "") -> HTMLResponse:
        from facesearch.cases.service import PURPOSES

        return page(request, "case_new.html", who, title="New case", purposes=PURPOSES, error=error)

    @router.post("/cases")
    def create(request: Request, csrf_token: Annotated[str, Form()], title: Annotated[str, Form()],
               purpose: Annotated[str, Form()], valid_until: Annotated[str, Form()],
               who: Annotated[Principal, Depends(may("cases.write"))],
               valid_from: Annotated[str, Form()] = "", purpose_text: Annotated[str, Form()] = "",
               legal_basis: Annotated[str, Form()] = "", authorisation_ref: Annotated[str, Form()] = "",
               authorised_by: Annotated[str, Form()] = "", authorising_authority: Annotated[str, Form()] = "",
               cameras: Annotated[str, Form()] = "", reviewers: Annotated[int, Form()] = 2) -> Response:
        from datetime import UTC, datetime, time, timedelta
        from urllib.parse import urlencode

        from facesearch.cases.service import create_case

        csrf(who, csrf_token)
        try:
            until = datetime.combine(datetime.fromisoformat(valid_until).date(), time.max, UTC)
            start = datetime.fromisoformat(valid_from).replace(tzinfo=UTC) if valid_from else None
            created = create_case(sessions, title=title, purpose=purpose, actor=who.name, valid_until=until,
                                  valid_from=start, purpose_text=purpose_text or None,
                                  cameras=[c.strip() for c in cameras.split(",") if c.strip()],
                                  reviewers_required=reviewers, max_span=timedelta(days=settings.max_case_days),
                                  legal_basis=legal_basis or None, authorisation_ref=authorisation_ref or None,
                                  authorised_by=authorised_by or None,
                                  authorising_authority=authorising_authority or None)
        except (FacesearchError, ValueError) as exc:
            return RedirectResponse("/console/cases/new?" + urlencode({"error": str(exc)}), status_code=303)
        return RedirectResponse(f"/console/cases/{created.ref}", status_code=303)

    @router.post("/cases/{ref}/export")
    def export(ref: str, csrf_token: Annotated[str, Form()],
               who: Annotated[Principal, Depends(may("exports.write"))]) -> Response:
        from facesearch.review.export import download

        csrf(who, csrf_token)
        return download(sessions, sealer, ref, actor=who.name)

    @router.get("/cases/{ref}", response_class=HTMLResponse)
    def case(ref: str, request: Request, who: Annotated[Principal, Depends(may("cases.read"))]) -> HTMLResponse:
        from facesearch.cases.service import get_case
        from facesearch.video.sightings import list_sightings

        found = get_case(sessions, ref)
        with sessions() as s:
            sightings = list_sightings(s, ref) if allowed(who.role, "sightings.read") else []
        from facesearch.video.report import timeline_svg

        return page(request, "case.html", who, title=found.ref, case=found, sightings=sightings,
                    can_write=allowed(who.role, "cases.write"), can_export=allowed(who.role, "exports.write"),
                    timeline=timeline_svg(sightings) if sightings else "")

    @router.post("/cases/{ref}/authorise")
    def authorise(ref: str, csrf_token: Annotated[str, Form()], who: Annotated[Principal, Depends(may("cases.write"))],
                  legal_basis: Annotated[str, Form()] = "", authorisation_ref: Annotated[str, Form()] = "",
                  authorised_by: Annotated[str, Form()] = "") -> Response:
        from facesearch.cases.service import authorise_case

        csrf(who, csrf_token)
        authorise_case(sessions, ref, actor=who.name, legal_basis=legal_basis or None,
                       authorisation_ref=authorisation_ref or None, authorised_by=authorised_by or None)
        return RedirectResponse(f"/console/cases/{ref}", status_code=303)

    @router.get("/cameras", response_class=HTMLResponse)
    def cameras(request: Request, who: Annotated[Principal, Depends(may("cameras.read"))],
                error: str = "") -> HTMLResponse:
        from sqlalchemy import select

        from facesearch.store.schema import CameraRow

        with sessions() as s:
            rows = [{"id": r.id, "name": r.name, "location": r.location, "has_url": r.url_sealed is not None}
                    for r in s.scalars(select(CameraRow).order_by(CameraRow.id))]
        return page(request, "cameras.html", who, title="Cameras", cameras=rows, error=error,
                    can_write=allowed(who.role, "cameras.write"))

    @router.post("/cameras")
    def add_camera(csrf_token: Annotated[str, Form()], camera_id: Annotated[str, Form()], name: Annotated[str, Form()],
                   who: Annotated[Principal, Depends(may("cameras.write"))], location: Annotated[str, Form()] = "",
                   url: Annotated[str, Form()] = "") -> Response:
        from urllib.parse import urlencode

        from facesearch.video.cameras import add_camera as add

        csrf(who, csrf_token)
        try:
            add(sessions, sealer, camera_id, name=name, url=url or None, location=location or None, actor=who.name)
        except FacesearchError as exc:
            return RedirectResponse("/console/cameras?" + urlencode({"error": str(exc)}), status_code=303)
        return RedirectResponse("/console/cameras", status_code=303)

    def accounts_page(request: Request, who: Principal, *, error: str = "", new_key: dict[str, str] | None = None,
                      status_code: int = 200) -> HTMLResponse:
        from facesearch.accounts.roles import ROLES

        answer = page(request, "accounts.html", who, title="Accounts", users=accounts.list_users(sessions),
                      keys=accounts.list_api_keys(sessions), roles=ROLES, error=error, new_key=new_key)
        answer.status_code = status_code
        return answer

    @router.get("/accounts", response_class=HTMLResponse)
    def accounts_view(request: Request, who: Annotated[Principal, Depends(may("accounts.write"))],
                      error: str = "") -> HTMLResponse:
        return accounts_page(request, who, error=error)

    @router.post("/accounts/users")
    def add_user(request: Request, csrf_token: Annotated[str, Form()], username: Annotated[str, Form()],
                 password: Annotated[str, Form()], role: Annotated[str, Form()],
                 who: Annotated[Principal, Depends(may("accounts.write"))]) -> Response:
        csrf(who, csrf_token)
        try:
            accounts.add_user(sessions, username, password, role, actor=who.name)
        except FacesearchError as exc:
            return accounts_page(request, who, error=str(exc), status_code=400)
        return RedirectResponse("/console/accounts", status_code=303)

    @router.post("/accounts/users/{username}/{action}")
    def user_action(request: Request, username: str, action: str, csrf_token: Annotated[str, Form()],
                    who: Annotated[Principal, Depends(may("accounts.write"))]) -> Response:
        csrf(who, csrf_token)
        if action not in ("disable", "enable"):
            raise HTTPException(404, f"no such action {action!r}")
        try:
            accounts.set_user_disabled(sessions, username, action == "disable", actor=who.name)
        except FacesearchError as exc:
            return accounts_page(request, who, error=str(exc), status_code=400)
        return RedirectResponse("/console/accounts", status_code=303)

    @router.post("/accounts/keys", response_class=HTMLResponse)
    def add_key(request: Request, csrf_token: Annotated[str, Form()], name: Annotated[str, Form()],
                role: Annotated[str, Form()], who: Annotated[Principal, Depends(may("accounts.write"))]) -> Response:
        csrf(who, csrf_token)
        try:
            key = accounts.add_api_key(sessions, name, role, actor=who.name)
        except FacesearchError as exc:
            return accounts_page(request, who, error=str(exc), status_code=400)
        # The key is shown in this answer only (never in a URL or a log); it is stored as its hash.
        return accounts_page(request, who, new_key={"name": name, "key": key})

    @router.post("/accounts/keys/{name}/revoke")
    def revoke_key(request: Request, name: str, csrf_token: Annotated[str, Form()],
                   who: Annotated[Principal, Depends(may("accounts.write"))]) -> Response:
        csrf(who, csrf_token)
        try:
            accounts.revoke_api_key(sessions, name, actor=who.name)
        except FacesearchError as exc:
            return accounts_page(request, who, error=str(exc), status_code=400)
        return RedirectResponse("/console/accounts", status_code=303)

    @router.post("/cases/{ref}/{action}")
    def case_action(ref: str, action: str, csrf_token: Annotated[str, Form()],
                    who: Annotated[Principal, Depends(may("cases.write"))]) -> Response:
        from facesearch.cases.service import activate_case, close_case

        csrf(who, csrf_token)
        if action not in ("activate", "close"):
            raise HTTPException(404, f"no such action {action!r}")
        (activate_case if action == "activate" else close_case)(sessions, ref, actor=who.name)
        return RedirectResponse(f"/console/cases/{ref}", status_code=303)

    @router.get("/review", response_class=HTMLResponse)
    def review_queue(request: Request, who: Annotated[Principal, Depends(may("sightings.review"))],
                     message: str = "", error: bool = False) -> HTMLResponse:
        from sqlalchemy import select

        from facesearch.store.schema import CaseRow
        from facesearch.video.sightings import list_sightings

        with sessions() as s:
            refs = [f"C{i}" for i in s.scalars(select(CaseRow.id).order_by(CaseRow.id))]
            waiting = [x for ref in refs for x in list_sightings(s, ref) if x.status == "candidate"]
        return page(request, "review.html", who, title="Review", waiting=waiting, message=message, error=error)

    @router.post("/review/{sighting_id}")
    def decide(sighting_id: RowId, decision: Annotated[str, Form()], csrf_token: Annotated[str, Form()],
               who: Annotated[Principal, Depends(may("sightings.review"))],
               note: Annotated[str, Form()] = "") -> Response:
        from urllib.parse import urlencode

        from facesearch.review.service import review

        csrf(who, csrf_token)
        try:
            outcome = review(sessions, sighting_id, reviewer=who.name, decision=decision, note=note or None)
            text, bad = (f"Sighting {sighting_id}: {decision}ed; now {outcome.status} ({outcome.confirmations} of "
                         f"{outcome.required} confirmations)."), False
        except FacesearchError as exc:
            text, bad = str(exc), True
        return RedirectResponse("/console/review?" + urlencode({"message": text, "error": int(bad)}),
                                status_code=303)

    @router.get("/evidence/{sighting_id}/{kind}.jpg")
    def evidence(sighting_id: RowId, kind: str, _who: Annotated[Principal, Depends(may("sightings.read"))]) -> Response:
        from facesearch.video.sightings import open_evidence

        with sessions() as s:
            found = open_evidence(s, sealer, sighting_id, (kind,))
        if kind not in found:
            raise HTTPException(404, f"no {kind} evidence for sighting {sighting_id}")
        return Response(found[kind], media_type="image/jpeg")

    @router.get("/enrolment/{sighting_id}.jpg")
    def enrolment(sighting_id: RowId, _who: Annotated[Principal, Depends(may("sightings.review"))]) -> Response:
        from facesearch.gallery.service import enrolment_photos
        from facesearch.store.schema import SightingRow

        with sessions() as s:
            row = s.get(SightingRow, sighting_id)
            identity = None if row is None else row.identity_id
        photos = [] if identity is None else enrolment_photos(sessions, sealer, identity)
        if not photos:
            raise HTTPException(404, f"no enrolment photo for sighting {sighting_id} (deleted with the watchlist?)")
        return Response(photos[0], media_type="image/jpeg")

    @router.get("/static/alerts.js")
    def alerts_script() -> Response:
        return Response((Path(__file__).parent / "static" / "alerts.js").read_bytes(), media_type="text/javascript")

    @router.get("/alerts")
    def alerts(who: Annotated[Principal, Depends(may("sightings.read"))], poll_s: float = 1.0,
               limit_s: float = 3600.0) -> Response:
        """Server-sent events: each new sighting, as it is stored (polled from the database, so sightings
        from any process, scan jobs and ``watch`` alike, arrive)."""
        import json
        import time

        from sqlalchemy import func, select

        from facesearch.store.schema import IdentityRow, SightingRow

        with sessions() as s:
            last = int(s.scalar(select(func.max(SightingRow.id))) or 0)

        def stream() -> Iterator[str]:
            nonlocal last
            yield ": connected\n\n"
            deadline = time.monotonic() + min(max(limit_s, 1.0), 3600.0)
            while time.monotonic() < deadline:
                with sessions() as s:
                    rows = s.execute(select(SightingRow, IdentityRow.name)
                                     .join(IdentityRow, IdentityRow.id == SightingRow.identity_id)
                                     .where(SightingRow.id > last).order_by(SightingRow.id)).all()
                for row, name in rows:
                    last = row.id
                    data = {"id": row.id, "case": f"C{row.case_id}", "name": name, "camera": row.camera_id,
                            "score": round(row.score, 4), "status": row.status}
                    yield f"event: sighting\nid: {row.id}\ndata: {json.dumps(data)}\n\n"
                if not rows:
                    yield ": idle\n\n"  # a comment: writing it is how a closed connection is noticed
                time.sleep(min(max(poll_s, 0.2), 10.0))

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    @router.get("/static/htmx.min.js")
    def htmx() -> Response:
        from facesearch.api.assets import htmx_path

        path = htmx_path(settings.home)
        if not path.is_file():
            raise HTTPException(404, "htmx is not installed (facesearch assets install)")
        return Response(path.read_bytes(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    def scans_context(who: Principal) -> dict[str, Any]:
        return {"jobs": [j.to_json() for j in jobs.list()], "can_write": allowed(who.role, "scans.write"),
                "media_root": settings.resolved_media_root}

    @router.get("/scans", response_class=HTMLResponse)
    def scans(request: Request, who: Annotated[Principal, Depends(may("scans.read"))], error: str = "") -> HTMLResponse:
        return page(request, "scans.html", who, title="Scans", error=error, **scans_context(who))

    @router.get("/scans/table", response_class=HTMLResponse)
    def scans_table(request: Request, who: Annotated[Principal, Depends(may("scans.read"))]) -> HTMLResponse:
        return page(request, "scans_table.html", who, **scans_context(who))

    @router.post("/scans")
    def start_scan(csrf_token: Annotated[str, Form()], case: Annotated[str, Form()], paths: Annotated[str, Form()],
                   who: Annotated[Principal, Depends(may("scans.write"))],
                   camera: Annotated[str, Form()] = "") -> Response:
        from urllib.parse import urlencode

        from facesearch.cases.service import get_case

        csrf(who, csrf_token)
        wanted, bad = [], []
        for raw in (p.strip() for p in paths.splitlines() if p.strip()):
            path, _ = media_path(raw, settings.resolved_media_root)
            if path is not None:
                wanted.append(path)
            else:
                bad.append(raw if "\0" not in raw else repr(raw))
        try:
            get_case(sessions, case)
        except FacesearchError as exc:
            bad.append(str(exc))
        if bad or not wanted:
            text = "; ".join(bad) or "no recordings given"
            return RedirectResponse("/console/scans?" + urlencode({"error": f"not started: {text}"}), status_code=303)
        jobs.submit_scan(case, [str(p) for p in wanted], camera=camera or None, actor=who.name)
        return RedirectResponse("/console/scans", status_code=303)

    @router.post("/scans/{job_id}/cancel")
    def cancel_scan(job_id: RowId, csrf_token: Annotated[str, Form()],
                    who: Annotated[Principal, Depends(may("scans.write"))]) -> Response:
        csrf(who, csrf_token)
        jobs.cancel(job_id, actor=who.name)
        return RedirectResponse("/console/scans", status_code=303)

    @router.get("/enrol", response_class=HTMLResponse)
    def enrol_page(request: Request, who: Annotated[Principal, Depends(may("identities.enrol"))]) -> HTMLResponse:
        return page(request, "enrol.html", who, title="Enrol")

    @router.post("/enrol", response_class=HTMLResponse)
    def enrol(request: Request, csrf_token: Annotated[str, Form()], name: Annotated[str, Form()],
              photos: list[UploadFile], who: Annotated[Principal, Depends(may("identities.enrol"))],
              case: Annotated[str, Form()] = "") -> HTMLResponse:
        from facesearch.gallery.service import enrol as run_enrol

        csrf(who, csrf_token)
        try:
            uploads = [read_upload(f, settings.max_upload_bytes) for f in photos]
        except HTTPException as exc:
            return page(request, "enrol.html", who, title="Enrol", error=str(exc.detail))
        try:
            report = run_enrol(engine(), sessions, sealer, name, uploads, actor=who.name, case_id=case or None,
                               cache=cache())
        except FacesearchError as exc:
            return page(request, "enrol.html", who, title="Enrol", error=str(exc))
        named = [p.__class__(f.filename or p.source, p.accepted, p.reason, p.similar_to)
                 for p, f in zip(report.photos, photos, strict=True)]
        return page(request, "enrol.html", who, title="Enrol", report=report.__class__(report.identity_id,
                                                                                       report.name, named))

    @router.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, who: Annotated[Principal, Depends(may("audit.read"))]) -> HTMLResponse:
        from facesearch.audit import log as audit
        from facesearch.cli.commands_audit import summarise

        with sessions() as s:
            entries = list(audit.events(s))[-500:]
            chain = audit.verify(s)
        return page(request, "audit.html", who, title="Audit", entries=entries[::-1], chain=chain, summary=summarise)

    return router
