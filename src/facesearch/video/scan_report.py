"""What a scan reports, file by file: the scan's result types, apart from the pipeline that makes them, so
that reading or printing a report (the API's schemas, a job's status) loads no model runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FileStatus(StrEnum):
    SCANNED = "scanned"
    SKIPPED = "skipped"  # done before: a rerun does not search it again
    FAILED = "failed"  # could not be read at all
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FileOutcome:
    path: str
    status: FileStatus
    frames: int = 0
    seconds: float = 0.0  # footage searched
    elapsed_s: float = 0.0
    sightings: int = 0
    problem: str | None = None
    time_source: str | None = None
    position: tuple[int, int] = (0, 0)  # this is file k of n, for progress lines
    smallest_face: float = 0.0  # px: faces from this size up were searched for
    too_small: int = 0  # tracks seen whose face never reached that size: counted, not identified

    @property
    def realtime_factor(self) -> float:
        return self.seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "frames": self.frames, "seconds": round(self.seconds, 3),
                "elapsed_s": round(self.elapsed_s, 3), "realtime_factor": round(self.realtime_factor, 2),
                "sightings": self.sightings, "problem": self.problem, "time_source": self.time_source,
                "smallest_face_px": round(self.smallest_face, 1), "too_small_tracks": self.too_small}


@dataclass
class ScanReport:
    case: str
    camera: str | None
    files: list[FileOutcome] = field(default_factory=list)
    sighting_ids: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the scan ended early (the case expired, ...), for people
    cancelled: bool = False  # stopped on request (callers decide on this, not on the wording of ``stopped``)

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "camera": self.camera, "files": [f.to_json() for f in self.files],
                "sightings": len(self.sighting_ids), "stopped": self.stopped}
