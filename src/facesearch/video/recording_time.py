"""When a recording started: from the user, the container's metadata, the file name, or the file's
modification time, in that order of trust. Cases apply to footage recorded inside their validity, so
the answer says where it came from and every sighting carries it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# 20261126_143000, 20261126-143000, 20261126T143000, 2026-11-26_14-30-00, 2026-11-26 14.30.00, ...
_NAME_PATTERN = re.compile(
    r"(?<!\d)(?P<y>20\d\d)-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)[ _T-]?(?P<h>[0-2]\d)[-:.]?(?P<mi>[0-5]\d)[-:.]?"
    r"(?P<s>[0-5]\d)(?!\d)")


# Sources that are weak evidence of when a recording was made: a copy, a move or an edit resets a file's
# modification time. Sightings timed from one say so (``Sighting.time_weak``).
WEAK_SOURCES = frozenset({"file modified"})


@dataclass(frozen=True)
class RecordingStart:
    at: datetime
    source: str  # "given", "metadata", "file name", "file modified"

    @property
    def weak(self) -> bool:
        return self.source in WEAK_SOURCES


def from_metadata(metadata: dict[str, str]) -> datetime | None:
    text = metadata.get("creation_time") or metadata.get("date")
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.year < 2000:  # cameras without a clock write 1970 or 1904
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def from_file_name(name: str) -> datetime | None:
    """A date and time in the name, taken as UTC (recorders name files in local time; pass ``--start``
    with an offset when that matters)."""
    m = _NAME_PATTERN.search(name)
    if not m:
        return None
    try:
        return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]), tzinfo=UTC)
    except ValueError:
        return None


def recording_start(path: Path, metadata: dict[str, str], duration_s: float | None,
                    given: datetime | None = None) -> RecordingStart:
    if given is not None:
        return RecordingStart(given if given.tzinfo else given.replace(tzinfo=UTC), "given")
    if (at := from_metadata(metadata)) is not None:
        return RecordingStart(at, "metadata")
    if (at := from_file_name(path.name)) is not None:
        return RecordingStart(at, "file name")
    # A recorder writes the file until the recording ends: its modification time is about the end.
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return RecordingStart(modified - timedelta(seconds=duration_s or 0.0), "file modified")
