"""Cameras (or places) footage comes from. A stream URL is sealed at rest: it usually holds a password.

An administrator may disable a camera (nothing is scanned, identified or watched on it until it is enabled:
``cases.service.require_registered_camera`` refuses, naming it; a running watch notices within a second and
stops) and remove one. Removal keeps the row, marked removed and with its stream address deleted, because
sightings and scanned files name cameras by id; a removed camera is never searched again and its id is not
reused. There is no reliable record of running watches (a watch is a process of its own that may die without
a word), so removal is refused, with the reason, while a live case (authorised or active, inside its validity)
names the camera, or a queued or running scan job uses it: take it off the case (or let the case end) first,
or disable it, which stops its watches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.service import LIVE, as_utc
from facesearch.context import Context
from facesearch.errors import ConflictError, FacesearchError, NotFoundError
from facesearch.refs import case_ref
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import CameraRow, CaseRow, JobRow
from facesearch.text import require_plain
from facesearch.video.face_size import check_min_face
from facesearch.video.source import redact_url

CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_ID = re.compile(CAMERA_ID_PATTERN)


class CameraError(FacesearchError):
    """A camera cannot be added as given."""


class CameraNotFound(CameraError, NotFoundError):
    """No camera has this id."""


class CameraConflict(CameraError, ConflictError):
    """A camera with this id exists already, or is in use (removal refused), or was removed."""


STATUSES = ("enabled", "disabled", "removed")


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    location: str | None
    url: str | None  # with its password; never printed as is (``shown_url``); not opened when listing
    has_url: bool = False  # whether a stream address is stored (listing does not open it)
    status: str = "enabled"  # enabled, disabled or removed
    min_face: float | None = None  # px: the smallest face its live searches look for (None: the default)

    @property
    def shown_url(self) -> str | None:
        return None if self.url is None else redact_url(self.url)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "location": self.location, "url": self.shown_url,
                "status": self.status, "min_face": self.min_face}


def _purpose(camera_id: str) -> str:
    return f"camera-url:{camera_id}"


def add_camera(ctx: Context, camera_id: str, *, name: str, actor: str, url: str | None = None,
               location: str | None = None, min_face: float | None = None) -> Camera:
    """Register a camera; its stream address (which may hold a password) is sealed like templates.
    ``min_face``: the smallest face its live searches look for (a far camera's faces are small; a doorway's
    are big, and searching for small ones there costs time for nothing)."""
    if not _ID.match(camera_id):
        raise CameraError(camera_id, "not a camera id (letters, digits, '.', '_' or '-', up to 100)")
    require_plain("name", name)
    require_plain("location", location)
    if min_face is not None:
        min_face = check_min_face(min_face)
    sealer = ctx.sealer
    with ctx.sessions.begin() as s:
        if s.get(CameraRow, camera_id) is not None:
            raise CameraConflict(camera_id, "a camera with this id exists already")
        s.add(CameraRow(id=camera_id, name=name, location=location,
                        url_sealed=None if url is None else sealer.seal(url.encode(), _purpose(camera_id)),
                        created_at=datetime.now(UTC), created_by=actor, min_face=min_face))
        camera = Camera(camera_id, name, location, url, url is not None, min_face=min_face)
        audit.append(s, actor=actor, action=AuditAction.CAMERA_ADD, subject=f"camera:{camera_id}",
                     details=camera.to_json())
    return camera


def get_camera(ctx: Context, camera_id: str) -> Camera:
    """A registered camera with its stream address opened (for ``watch``; never shown as is)."""
    sealer = ctx.sealer
    with ctx.sessions() as s:
        row = s.get(CameraRow, camera_id)
        if row is None or row.status == "removed":
            raise CameraNotFound(camera_id, "was removed" if row else "no such camera (facesearch camera add)")
        url = None if row.url_sealed is None else sealer.open(row.url_sealed, _purpose(camera_id)).decode()
        return Camera(row.id, row.name, row.location, url, url is not None, row.status, row.min_face)


def camera_min_face(sessions: sessionmaker[Session], camera_id: str) -> float | None:
    """The smallest face camera ``camera_id`` was registered to be searched for (None: the default, or no such
    camera)."""
    with sessions() as s:
        row = s.get(CameraRow, camera_id) if len(camera_id) <= 100 else None
        return None if row is None else row.min_face


def list_cameras(sessions: sessionmaker[Session], *, removed: bool = False) -> list[Camera]:
    """The registered cameras (and the removed ones, with ``removed``)."""
    with sessions() as s:
        query = select(CameraRow).order_by(CameraRow.id)
        if not removed:
            query = query.where(CameraRow.status != "removed")
        return [_shown(r) for r in s.scalars(query)]


def _existing(s: Session, camera_id: str) -> CameraRow:
    row = s.get(CameraRow, camera_id, with_for_update=True) if len(camera_id) <= 100 else None
    if row is None:
        raise CameraNotFound(camera_id[:100], "no such camera (facesearch camera add)")
    if row.status == "removed":
        raise CameraConflict(camera_id, "was removed")
    return row


def _shown(row: CameraRow) -> Camera:
    return Camera(row.id, row.name, row.location, None, row.url_sealed is not None, row.status, row.min_face)


def set_camera_enabled(sessions: sessionmaker[Session], camera_id: str, enabled: bool, *, actor: str) -> Camera:
    """Disable a camera (nothing is searched on it) or enable it again, audited; doing it twice changes nothing
    and writes no second entry."""
    with sessions.begin() as s:
        row = _existing(s, camera_id)
        status = "enabled" if enabled else "disabled"
        if row.status != status:
            row.status = status
            audit.append(s, actor=actor, action=AuditAction.CAMERA_ENABLE if enabled else AuditAction.CAMERA_DISABLE,
                         subject=f"camera:{camera_id}")
            notify(s, Channel.WATCH, camera_id)  # its running watches stop now
        return _shown(row)


def camera_users(s: Session, camera_id: str, now: datetime | None = None) -> list[str]:
    """What uses the camera now: live cases inside their validity that name it, queued or running scan jobs."""
    moment = now or datetime.now(UTC)
    cases = [case_ref(r.id) for r in s.scalars(select(CaseRow).where(CaseRow.status.in_(LIVE)).order_by(CaseRow.id))
             if camera_id in (r.cameras or []) and as_utc(r.valid_until) >= moment]
    jobs = [f"scan job {j.id}" for j in s.scalars(select(JobRow).where(JobRow.status.in_(("queued", "running")))
                                                   .order_by(JobRow.id))
            if (j.params or {}).get("camera") == camera_id]
    return [*(f"case {c}" for c in cases), *jobs]


def remove_camera(sessions: sessionmaker[Session], camera_id: str, *, actor: str) -> Camera:
    """Remove a camera, audited: its row is kept, marked removed, its stream address deleted (sightings name it).
    Refused (``CameraConflict``, with the reason) while a live case names it or a scan job uses it."""
    with sessions.begin() as s:
        row = _existing(s, camera_id)
        users = camera_users(s, camera_id)
        if users:
            raise CameraConflict(camera_id, f"in use by {', '.join(users[:10])}"
                                 + (f" and {len(users) - 10} more" if len(users) > 10 else "")
                                 + ": a live case naming a camera may be watching it; remove it from the case, "
                                 "let the case end, or disable the camera instead")
        had_url = row.url_sealed is not None
        row.status, row.url_sealed = "removed", None
        notify(s, Channel.WATCH, camera_id)
        audit.append(s, actor=actor, action=AuditAction.CAMERA_REMOVE, subject=f"camera:{camera_id}",
                     details={"stream_address_deleted": had_url})
        return _shown(row)
