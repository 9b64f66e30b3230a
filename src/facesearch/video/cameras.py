"""Cameras (or places) footage comes from. A stream URL is sealed at rest: it usually holds a password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.context import Context
from facesearch.errors import ConflictError, FacesearchError, NotFoundError
from facesearch.store.schema import CameraRow
from facesearch.text import require_plain
from facesearch.video.source import redact_url

CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_ID = re.compile(CAMERA_ID_PATTERN)


class CameraError(FacesearchError):
    """A camera cannot be added as given."""


class CameraNotFound(CameraError, NotFoundError):
    """No camera has this id."""


class CameraConflict(CameraError, ConflictError):
    """A camera with this id exists already."""


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    location: str | None
    url: str | None  # with its password; never printed as is (``shown_url``); not opened when listing
    has_url: bool = False  # whether a stream address is stored (listing does not open it)

    @property
    def shown_url(self) -> str | None:
        return None if self.url is None else redact_url(self.url)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "location": self.location, "url": self.shown_url}


def _purpose(camera_id: str) -> str:
    return f"camera-url:{camera_id}"


def add_camera(ctx: Context, camera_id: str, *, name: str, actor: str, url: str | None = None,
               location: str | None = None) -> Camera:
    """Register a camera; its stream address (which may hold a password) is sealed like templates."""
    if not _ID.match(camera_id):
        raise CameraError(camera_id, "not a camera id (letters, digits, '.', '_' or '-', up to 100)")
    require_plain("name", name)
    require_plain("location", location)
    sealer = ctx.sealer
    with ctx.sessions.begin() as s:
        if s.get(CameraRow, camera_id) is not None:
            raise CameraConflict(camera_id, "a camera with this id exists already")
        s.add(CameraRow(id=camera_id, name=name, location=location,
                        url_sealed=None if url is None else sealer.seal(url.encode(), _purpose(camera_id)),
                        created_at=datetime.now(UTC), created_by=actor))
        camera = Camera(camera_id, name, location, url, url is not None)
        audit.append(s, actor=actor, action=AuditAction.CAMERA_ADD, subject=f"camera:{camera_id}",
                     details=camera.to_json())
    return camera


def get_camera(ctx: Context, camera_id: str) -> Camera:
    """A registered camera with its stream address opened (for ``watch``; never shown as is)."""
    sealer = ctx.sealer
    with ctx.sessions() as s:
        row = s.get(CameraRow, camera_id)
        if row is None:
            raise CameraNotFound(camera_id, "no such camera (facesearch camera add)")
        url = None if row.url_sealed is None else sealer.open(row.url_sealed, _purpose(camera_id)).decode()
        return Camera(row.id, row.name, row.location, url, url is not None)


def list_cameras(sessions: sessionmaker[Session]) -> list[Camera]:
    with sessions() as s:
        rows = s.scalars(select(CameraRow).order_by(CameraRow.id))
        return [Camera(r.id, r.name, r.location, None, r.url_sealed is not None) for r in rows]
