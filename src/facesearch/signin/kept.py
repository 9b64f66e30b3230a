"""Sign-in captures kept, where the installation says so (``signin_keep_captures``; off by default): each one
sealed with the data key and bound to its person and its own hash, one file per attempt under
``<home>/signin-captures/<person id>/``, deleted with the person's enrolment. They are for looking into a
disputed attempt; reading them is an administrator's action, audited by the service."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facesearch.context import Context
from facesearch.errors import BadInputError
from facesearch.files import atomic_write

_FILE = re.compile(r"^(?P<at>\d{8}T\d{6}\d{6})-(?P<sha>[0-9a-f]{64})\.sealed$")


@dataclass(frozen=True)
class KeptCapture:
    file: str
    sha256: str
    at: datetime
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "at": self.at.isoformat(), "bytes": self.bytes}


def folder(ctx: Context, person_id: int) -> Path:
    return ctx.settings.home / "signin-captures" / str(int(person_id))


def _purpose(person_id: int, digest: str) -> str:
    return f"signin-capture:{person_id}:{digest}"


def keep(ctx: Context, person_id: int, data: bytes, digest: str) -> str:
    """Seal and store one attempt's capture; its file's name (the time, then the capture's SHA-256)."""
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{digest}.sealed"
    atomic_write(folder(ctx, person_id) / name, ctx.sealer.seal(data, _purpose(person_id, digest)))
    return name


def listed(ctx: Context, person_id: int) -> list[KeptCapture]:
    """The person's kept captures, oldest first."""
    where = folder(ctx, person_id)
    found = []
    for path in sorted(where.iterdir()) if where.is_dir() else []:
        match = _FILE.match(path.name)
        if match:
            at = datetime.strptime(match["at"], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
            found.append(KeptCapture(path.name, match["sha"], at, path.stat().st_size))
    return found


def opened(ctx: Context, person_id: int, file: str) -> bytes:
    """One kept capture, unsealed and checked against its hash; ``BadInputError`` for a name not kept."""
    match = _FILE.match(file)
    path = folder(ctx, person_id) / file
    if match is None or not path.is_file():
        raise BadInputError(file[:100], "no such kept capture of this person")
    data = ctx.sealer.open(path.read_bytes(), _purpose(person_id, match["sha"]))
    if hashlib.sha256(data).hexdigest() != match["sha"]:
        raise BadInputError(file[:100], "the capture does not match its hash")
    return data


def delete(ctx: Context, person_id: int) -> int:
    """Delete every kept capture of the person; how many there were."""
    count = len(listed(ctx, person_id))
    shutil.rmtree(folder(ctx, person_id), ignore_errors=True)
    return count
